package vuln

import (
	"fmt"
	"sort"
	"strings"

	"github.com/portrait-scanner/portrait/vuln/nvd"
)

// Kinds of finding.
const (
	KindVulnerability = "vulnerability"    // a CVE, matched by version or shown by behaviour
	KindMisconfig     = "misconfiguration" // a setting, shown by the service's own answers
	KindEOL           = "end-of-life"      // a release branch or OS past its end of life
)

// Status of a finding.
const (
	// Confirmed: the evidence shows the condition (a version inside an
	// affected range on an upstream build, a server that answered without
	// authentication).
	Confirmed = "confirmed"
	// Potential: the evidence fits but cannot settle it: a distribution
	// build that may carry a backported fix, a flaw in the product's client
	// side, a condition on a platform the scan did not observe.
	Potential = "potential"
)

// Finding is the "finding" record.
type Finding struct {
	Type      string `json:"type"` // "finding"
	ID        string `json:"id"`   // CVE id, or the check name ("redis-no-auth")
	Host      string `json:"host"`
	Hostname  string `json:"hostname,omitempty"`
	Port      int    `json:"port,omitempty"`
	Transport string `json:"transport,omitempty"`
	Service   string `json:"service,omitempty"`

	Kind  string `json:"kind"`
	Check string `json:"check"` // "cve" for version matches, else the check name
	CVE   string `json:"cve,omitempty"`
	Title string `json:"title"`
	// Description says what was seen and why it matters.
	Description string   `json:"description,omitempty"`
	Severity    string   `json:"severity"` // critical, high, medium, low, info
	CVSS        *CVSS    `json:"cvss,omitempty"`
	CWEs        []string `json:"cwe,omitempty"`
	KEV         *KEV     `json:"kev,omitempty"`
	EPSS        *EPSS    `json:"epss,omitempty"`

	Status        string   `json:"status"`
	StatusReasons []string `json:"status_reasons,omitempty"`
	Confidence    int      `json:"confidence"`

	Product string `json:"product,omitempty"`
	Version string `json:"version,omitempty"` // the version detected
	CPE     string `json:"cpe,omitempty"`
	// Affected is the affected range that matched (">= 8.6, < 9.8").
	Affected string `json:"affected,omitempty"`
	FixedIn  string `json:"fixed_in,omitempty"`

	// Evidence holds the service's evidence fields that support the
	// finding (and, for active checks, what the server answered).
	Evidence    map[string]string `json:"evidence,omitempty"`
	Remediation string            `json:"remediation,omitempty"`
	References  []string          `json:"references,omitempty"`
	Published   string            `json:"published,omitempty"`
	Source      string            `json:"source"` // builtin, vulndb, check, probe, eol
	Tags        []string          `json:"tags,omitempty"`

	// Risk is filled by the risk stage.
	Risk *Risk `json:"risk,omitempty"`
	// Compliance lists the controls the finding violates
	// ("pci-dss:2.2.7"), filled by the risk stage with --compliance.
	Compliance []string `json:"compliance,omitempty"`
}

// RecordType implements scan.Record.
func (f *Finding) RecordType() string { return "finding" }

// RecordHost implements scan.Record.
func (f *Finding) RecordHost() string { return f.Host }

// CVSS is a finding's CVSS metric.
type CVSS struct {
	Version string  `json:"version"`
	Vector  string  `json:"vector"`
	Score   float64 `json:"score"`
	Source  string  `json:"source,omitempty"`
}

// KEV says CISA lists the CVE as exploited in the wild.
type KEV struct {
	DateAdded  string `json:"date_added,omitempty"`
	DueDate    string `json:"due_date,omitempty"`
	Ransomware string `json:"ransomware,omitempty"` // "Known" when used in ransomware campaigns
	Action     string `json:"required_action,omitempty"`
}

// EPSS is FIRST's exploit prediction for the CVE.
type EPSS struct {
	Score      float64 `json:"score"`
	Percentile float64 `json:"percentile"`
	Date       string  `json:"date,omitempty"`
}

// Risk is the documented risk score of a finding (see the risk package).
type Risk struct {
	Score   float64            `json:"score"` // 0-100
	Level   string             `json:"level"` // critical, high, medium, low, info
	Factors map[string]float64 `json:"factors"`
	// Explain spells the formula out with the values used.
	Explain string `json:"explain"`
}

func cvssOf(c *nvd.CVSS) *CVSS {
	if c == nil {
		return nil
	}
	return &CVSS{Version: c.Version, Vector: c.Vector, Score: c.Score, Source: c.Source}
}

// SeverityRank orders severities: critical 4 ... info 0, unknown -1.
func SeverityRank(s string) int {
	switch strings.ToLower(s) {
	case "critical":
		return 4
	case "high":
		return 3
	case "medium":
		return 2
	case "low":
		return 1
	case "info", "none":
		return 0
	}
	return -1
}

// Sort orders findings: port, then severity (highest first), then id.
func Sort(fs []*Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		if ra, rb := SeverityRank(a.Severity), SeverityRank(b.Severity); ra != rb {
			return ra > rb
		}
		return a.ID < b.ID
	})
}

func addTag(tags []string, t string) []string {
	for _, x := range tags {
		if x == t {
			return tags
		}
	}
	return append(tags, t)
}

// TableLine is the finding's line in portrait's table output.
func (f *Finding) TableLine() string {
	where := f.Host
	if f.Port > 0 {
		where = fmt.Sprintf("%s:%d/%s", f.Host, f.Port, f.Transport)
	}
	status := ""
	if f.Status != "" && f.Status != "confirmed" {
		status = " (" + f.Status + ")"
	}
	return fmt.Sprintf("%-8s %-24s %s: %s%s", f.Severity, where, f.ID, f.Title, status)
}
