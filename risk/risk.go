// Package risk is stage 7 of the pipeline: it scores every finding and
// every host, and judges hosts against compliance frameworks.
//
// Finding score (0-100), shown with its factors on each finding:
//
//	risk = min(100, 5 × S × E × X ÷ M)
//
//	S  severity: the CVSS base score (0-10) when the finding has one, else
//	   the middle of its severity band: critical 9.5, high 8, medium 5.5,
//	   low 2.5, info 0.5
//	E  exploitability, 1 to 2: 1, plus 0.5 when CISA lists the CVE as
//	   exploited (KEV), plus 0.5 × the EPSS probability
//	X  exposure: 1 for an internet-facing address, 0.6 for an internal one
//	   (RFC 1918, loopback, link-local, CGNAT, IPv6 ULA, or the ranges given
//	   with --internal-ranges)
//	M  mitigation divisor: 1, or 2 when the finding is only "potential"
//	   (a distribution build that backports fixes, a client-side flaw, an
//	   unobserved platform condition)
//
// Levels: critical ≥ 70, high ≥ 40, medium ≥ 20, low ≥ 5, else info.
//
// Host score: the highest finding score plus a tenth of the others' sum,
// the bonus capped at 30 (many medium findings raise a host, but never
// above what one critical finding means):
//
//	host = min(100, max_i r_i + min(30, 0.1 × Σ_{others} r_i))
//
// With compliance frameworks given, each host gets one "compliance" record
// per framework listing every control and the findings that violate it.
package risk

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"

	"github.com/portrait-scanner/portrait/compliance"
	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/profile"
	"github.com/portrait-scanner/portrait/scan"
	"github.com/portrait-scanner/portrait/vuln"
)

// Exposure factors.
const (
	ExposureInternet = 1.0
	ExposureInternal = 0.6
)

// DefaultInternal are the ranges that are not internet-facing.
var DefaultInternal = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fc00::/7"), netip.MustParsePrefix("fe80::/10"),
}

// Config configures the stage.
type Config struct {
	// Internal are the ranges scored as internal; nil means DefaultInternal.
	Internal []netip.Prefix
	// Frameworks are the compliance mappings to judge hosts against.
	Frameworks []*compliance.Framework
}

// Stage scores hosts.
type Stage struct{ cfg Config }

// New returns the stage.
func New(cfg Config) *Stage {
	if cfg.Internal == nil {
		cfg.Internal = DefaultInternal
	}
	return &Stage{cfg: cfg}
}

// Name implements scan.Stage.
func (*Stage) Name() string { return "risk" }

// Record is the "compliance" record: one framework's verdict on one host.
type Record struct {
	Type      string          `json:"type"` // "compliance"
	Host      string          `json:"host"`
	Hostname  string          `json:"hostname,omitempty"`
	Framework string          `json:"framework"`
	Name      string          `json:"name"`
	Version   string          `json:"version,omitempty"`
	Failed    int             `json:"failed"`
	Passed    int             `json:"passed"`
	Controls  []ControlResult `json:"controls"`
}

// ControlResult is one control's verdict.
type ControlResult struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status string `json:"status"` // "fail" or "pass" (no violation found by this scan)
	// Findings lists the violating findings as "id@port".
	Findings []string `json:"findings,omitempty"`
}

// RecordType implements scan.Record.
func (r *Record) RecordType() string { return "compliance" }

// RecordHost implements scan.Record.
func (r *Record) RecordHost() string { return r.Host }

// Host implements scan.Stage: it scores the findings and the asset the
// earlier stages produced (in place: records are written after all stages
// ran) and returns the compliance records.
func (st *Stage) Host(_ context.Context, h scan.HostRecord, _ []*fingerprint.Service, earlier []scan.Record) []scan.Record {
	var findings []*vuln.Finding
	var asset *profile.Asset
	for _, r := range earlier {
		switch v := r.(type) {
		case *vuln.Finding:
			findings = append(findings, v)
		case *profile.Asset:
			asset = v
		}
	}
	exposure := st.Exposure(h.Host)
	for _, f := range findings {
		f.Risk = Score(f, exposure)
	}
	hr := HostScore(findings)
	if asset != nil {
		asset.Exposure = exposureName(exposure)
		asset.Risk = hr
	}
	var out []scan.Record
	for _, fw := range st.cfg.Frameworks {
		out = append(out, Judge(fw, h, findings, exposureName(exposure)))
	}
	return out
}

// Exposure returns the exposure factor of an address.
func (st *Stage) Exposure(host string) float64 {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return ExposureInternet
	}
	a = a.Unmap()
	for _, p := range st.cfg.Internal {
		if p.Contains(a) {
			return ExposureInternal
		}
	}
	return ExposureInternet
}

func exposureName(x float64) string {
	if x < ExposureInternet {
		return "internal"
	}
	return "internet"
}

var severityMid = map[string]float64{"critical": 9.5, "high": 8, "medium": 5.5, "low": 2.5, "info": 0.5, "none": 0}

// Score computes a finding's risk.
func Score(f *vuln.Finding, exposure float64) *vuln.Risk {
	s, sWhy := severityMid[strings.ToLower(f.Severity)], f.Severity+" severity"
	if f.CVSS != nil && f.CVSS.Score > 0 {
		s, sWhy = f.CVSS.Score, "CVSS "+f.CVSS.Version
	}
	e, eWhy := 1.0, []string{}
	if f.KEV != nil {
		e += 0.5
		eWhy = append(eWhy, "KEV")
	}
	if f.EPSS != nil {
		e += 0.5 * f.EPSS.Score
		eWhy = append(eWhy, fmt.Sprintf("EPSS %.3f", f.EPSS.Score))
	}
	if e > 2 {
		e = 2
	}
	if len(eWhy) == 0 {
		eWhy = []string{"no KEV or EPSS data"}
	}
	m, mWhy := 1.0, "no mitigation"
	if f.Status == vuln.Potential {
		m, mWhy = 2, "potential"
	}
	raw := 5 * s * e * exposure / m
	score := math.Min(100, round1(raw))
	return &vuln.Risk{
		Score:   score,
		Level:   Level(score),
		Factors: map[string]float64{"severity": s, "exploitability": round2(e), "exposure": exposure, "mitigation": m},
		Explain: fmt.Sprintf("5 × %.1f (%s) × %.2f (%s) × %.1f (%s address) ÷ %.0f (%s) = %.1f",
			s, sWhy, e, strings.Join(eWhy, ", "), exposure, exposureName(exposure), m, mWhy, score),
	}
}

// Level names a score's band.
func Level(score float64) string {
	switch {
	case score >= 70:
		return "critical"
	case score >= 40:
		return "high"
	case score >= 20:
		return "medium"
	case score >= 5:
		return "low"
	}
	return "info"
}

// HostScore sums a host's findings up.
func HostScore(fs []*vuln.Finding) *profile.HostRisk {
	hr := &profile.HostRisk{Findings: map[string]int{}, Level: "none"}
	if len(fs) == 0 {
		return hr
	}
	type scored struct {
		id string
		r  float64
	}
	var list []scored
	for _, f := range fs {
		hr.Findings[f.Severity]++
		r := 0.0
		if f.Risk != nil {
			r = f.Risk.Score
		}
		list = append(list, scored{fmt.Sprintf("%s@%d", f.ID, f.Port), r})
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].r > list[j].r })
	rest := 0.0
	for _, x := range list[1:] {
		rest += x.r
	}
	bonus := math.Min(30, 0.1*rest)
	hr.Score = math.Min(100, round1(list[0].r+bonus))
	hr.Level = Level(hr.Score)
	hr.Factors = map[string]float64{"max": list[0].r, "others_bonus": round1(bonus)}
	for i := 0; i < len(list) && i < 5; i++ {
		hr.Top = append(hr.Top, list[i].id)
	}
	return hr
}

// Judge builds one framework's compliance record for a host.
func Judge(fw *compliance.Framework, h scan.HostRecord, fs []*vuln.Finding, exposure string) *Record {
	rec := &Record{Type: "compliance", Host: h.Host, Hostname: h.Hostname, Framework: fw.ID, Name: fw.Name, Version: fw.Version}
	for i := range fw.Controls {
		c := &fw.Controls[i]
		cr := ControlResult{ID: c.ID, Title: c.Title, Status: "pass"}
		for _, f := range fs {
			if c.Violates(compliance.Subject{Check: f.Check, Kind: f.Kind, Severity: f.Severity, Exposure: exposure}) {
				cr.Findings = append(cr.Findings, fmt.Sprintf("%s@%d", f.ID, f.Port))
				tag := fw.ID + ":" + c.ID
				if !contains(f.Compliance, tag) {
					f.Compliance = append(f.Compliance, tag)
				}
			}
		}
		if len(cr.Findings) > 0 {
			cr.Status = "fail"
			rec.Failed++
		} else {
			rec.Passed++
		}
		rec.Controls = append(rec.Controls, cr)
	}
	return rec
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
func round2(x float64) float64 { return math.Round(x*100) / 100 }

// ParseRanges reads a comma-separated list of CIDR prefixes (or single
// addresses).
func ParseRanges(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, x := range strings.Split(s, ",") {
		x = strings.TrimSpace(x)
		if x == "" {
			continue
		}
		if !strings.Contains(x, "/") {
			a, err := netip.ParseAddr(x)
			if err != nil {
				return nil, fmt.Errorf("internal range %q: %w", x, err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(x)
		if err != nil {
			return nil, fmt.Errorf("internal range %q: %w", x, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
