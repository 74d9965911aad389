// Package nvd reads CVE records in the shape of NVD's CVE API 2.0: single
// "cve" objects (as stored one per file), API responses and the 2.0 JSON
// feed files ({"vulnerabilities": [{"cve": {...}}, ...]}), gzip-compressed
// or not, and several objects one after another. It keeps what matching and
// reporting need: description, best CVSS metric, weaknesses, CISA KEV
// fields, configurations (the CPE applicability statements) and
// references. Sync (sync.go) pulls records from the API incrementally.
//
// Records are streamed: a feed file is never held in memory whole.
package nvd

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// CVE is one vulnerability record, reduced to what portrait uses.
type CVE struct {
	ID           string   `json:"id"`
	Published    string   `json:"published,omitempty"`
	LastModified string   `json:"last_modified,omitempty"`
	Status       string   `json:"status,omitempty"` // vulnStatus
	Description  string   `json:"description,omitempty"`
	CVSS         *CVSS    `json:"cvss,omitempty"`
	CWEs         []string `json:"cwes,omitempty"`
	// CISA KEV fields as NVD copies them (cisaExploitAdd...).
	KEVAdded  string `json:"kev_added,omitempty"`
	KEVDue    string `json:"kev_due,omitempty"`
	KEVAction string `json:"kev_action,omitempty"`
	KEVName   string `json:"kev_name,omitempty"`
	// Configurations say which products (CPE names and version ranges) are
	// affected.
	Configurations []Config `json:"configurations,omitempty"`
	References     []string `json:"references,omitempty"`
}

// CVSS is the metric chosen for a record: v3.1 before v3.0 before v4.0
// before v2, NVD's own (Primary) before others.
type CVSS struct {
	Version  string  `json:"version"`
	Vector   string  `json:"vector"`
	Score    float64 `json:"score"`
	Severity string  `json:"severity"` // lower case: critical, high, medium, low, none
	Source   string  `json:"source,omitempty"`
}

// Config is one applicability statement: its nodes combine with Operator
// ("AND" pairs a vulnerable product with the platform it runs on; empty
// or "OR" means any node).
type Config struct {
	Operator string `json:"operator,omitempty"`
	Negate   bool   `json:"negate,omitempty"`
	Nodes    []Node `json:"nodes"`
}

// Node is a set of CPE matches combined with Operator (OR by default).
type Node struct {
	Operator string  `json:"operator,omitempty"`
	Negate   bool    `json:"negate,omitempty"`
	Matches  []Match `json:"cpe_match"`
}

// Match is one cpeMatch: a CPE name, possibly with version bounds.
type Match struct {
	Vulnerable bool   `json:"vulnerable"`
	Criteria   string `json:"criteria"`
	StartIncl  string `json:"start_including,omitempty"`
	StartExcl  string `json:"start_excluding,omitempty"`
	EndIncl    string `json:"end_including,omitempty"`
	EndExcl    string `json:"end_excluding,omitempty"`
}

// Severity ranks, for sorting and thresholds.
var severityRank = map[string]int{"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

// SeverityRank orders severities ("critical" highest); unknown is -1.
func SeverityRank(s string) int {
	if r, ok := severityRank[strings.ToLower(s)]; ok {
		return r
	}
	return -1
}

// SeverityFromScore maps a CVSS v3 base score to its qualitative rating.
func SeverityFromScore(score float64) string {
	switch {
	case score >= 9:
		return "critical"
	case score >= 7:
		return "high"
	case score >= 4:
		return "medium"
	case score > 0:
		return "low"
	}
	return "none"
}

// The wire shapes (only the keys read).
type rawCVE struct {
	ID             string                 `json:"id"`
	Published      string                 `json:"published"`
	LastModified   string                 `json:"lastModified"`
	VulnStatus     string                 `json:"vulnStatus"`
	CISAExploitAdd string                 `json:"cisaExploitAdd"`
	CISAActionDue  string                 `json:"cisaActionDue"`
	CISARequired   string                 `json:"cisaRequiredAction"`
	CISAVulnName   string                 `json:"cisaVulnerabilityName"`
	Descriptions   []langValue            `json:"descriptions"`
	Metrics        map[string][]rawMetric `json:"metrics"`
	Weaknesses     []struct {
		Description []langValue `json:"description"`
	} `json:"weaknesses"`
	Configurations []rawConfig `json:"configurations"`
	References     []struct {
		URL string `json:"url"`
	} `json:"references"`
}

type langValue struct {
	Lang  string `json:"lang"`
	Value string `json:"value"`
}

type rawMetric struct {
	Source   string `json:"source"`
	Type     string `json:"type"`
	CVSSData struct {
		Version      string  `json:"version"`
		VectorString string  `json:"vectorString"`
		BaseScore    float64 `json:"baseScore"`
		BaseSeverity string  `json:"baseSeverity"`
	} `json:"cvssData"`
	BaseSeverity string `json:"baseSeverity"` // v2 keeps it outside cvssData
}

type rawConfig struct {
	Operator string `json:"operator"`
	Negate   bool   `json:"negate"`
	Nodes    []struct {
		Operator string `json:"operator"`
		Negate   bool   `json:"negate"`
		CPEMatch []struct {
			Vulnerable            bool   `json:"vulnerable"`
			Criteria              string `json:"criteria"`
			VersionStartIncluding string `json:"versionStartIncluding"`
			VersionStartExcluding string `json:"versionStartExcluding"`
			VersionEndIncluding   string `json:"versionEndIncluding"`
			VersionEndExcluding   string `json:"versionEndExcluding"`
		} `json:"cpeMatch"`
	} `json:"nodes"`
}

// Limits on what one record may carry (NVD's largest are far below).
const (
	maxReferences  = 40
	maxDescription = 8 << 10
)

// metric preference: key order, then Primary before Secondary.
var metricKeys = []string{"cvssMetricV31", "cvssMetricV30", "cvssMetricV40", "cvssMetricV2"}

func (r *rawCVE) convert() *CVE {
	c := &CVE{
		ID:           r.ID,
		Published:    r.Published,
		LastModified: r.LastModified,
		Status:       r.VulnStatus,
		KEVAdded:     r.CISAExploitAdd,
		KEVDue:       r.CISAActionDue,
		KEVAction:    r.CISARequired,
		KEVName:      r.CISAVulnName,
	}
	for _, d := range r.Descriptions {
		if d.Lang == "en" {
			c.Description = d.Value
			break
		}
	}
	if len(c.Description) > maxDescription {
		c.Description = c.Description[:maxDescription]
	}
	c.CVSS = bestMetric(r.Metrics)
	seen := map[string]bool{}
	for _, w := range r.Weaknesses {
		for _, d := range w.Description {
			if strings.HasPrefix(d.Value, "CWE-") && !seen[d.Value] {
				seen[d.Value] = true
				c.CWEs = append(c.CWEs, d.Value)
			}
		}
	}
	sort.Strings(c.CWEs)
	for _, rc := range r.Configurations {
		cf := Config{Operator: strings.ToUpper(rc.Operator), Negate: rc.Negate}
		for _, rn := range rc.Nodes {
			n := Node{Operator: strings.ToUpper(rn.Operator), Negate: rn.Negate}
			for _, m := range rn.CPEMatch {
				n.Matches = append(n.Matches, Match{
					Vulnerable: m.Vulnerable, Criteria: m.Criteria,
					StartIncl: m.VersionStartIncluding, StartExcl: m.VersionStartExcluding,
					EndIncl: m.VersionEndIncluding, EndExcl: m.VersionEndExcluding,
				})
			}
			cf.Nodes = append(cf.Nodes, n)
		}
		c.Configurations = append(c.Configurations, cf)
	}
	urls := map[string]bool{}
	for _, ref := range r.References {
		if ref.URL == "" || urls[ref.URL] || len(c.References) >= maxReferences {
			continue
		}
		urls[ref.URL] = true
		c.References = append(c.References, ref.URL)
	}
	return c
}

func bestMetric(m map[string][]rawMetric) *CVSS {
	for _, key := range metricKeys {
		list := m[key]
		if len(list) == 0 {
			continue
		}
		best := list[0]
		for _, x := range list {
			if x.Type == "Primary" && best.Type != "Primary" {
				best = x
			}
			if x.Type == "Primary" && x.Source == "nvd@nist.gov" {
				best = x
				break
			}
		}
		sev := best.CVSSData.BaseSeverity
		if sev == "" {
			sev = best.BaseSeverity
		}
		if sev == "" {
			sev = SeverityFromScore(best.CVSSData.BaseScore)
		}
		v := best.CVSSData.Version
		if v == "" {
			v = strings.TrimPrefix(strings.TrimPrefix(key, "cvssMetricV"), "")
		}
		return &CVSS{Version: v, Vector: best.CVSSData.VectorString, Score: best.CVSSData.BaseScore,
			Severity: strings.ToLower(sev), Source: best.Source}
	}
	return nil
}

// Severity returns the record's severity ("" when it has no metric).
func (c *CVE) Severity() string {
	if c.CVSS == nil {
		return ""
	}
	return c.CVSS.Severity
}

// ErrNoRecords is returned by Decode when the input held no CVE record.
var ErrNoRecords = errors.New("nvd: no CVE records found (want NVD CVE API 2.0 JSON: a cve object, an API response or a 2.0 feed)")

// Open opens a file for Decode, transparently gunzipping it.
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := MaybeGunzip(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{r, f}, nil
}

// MaybeGunzip returns a reader that decompresses r when it starts with the
// gzip magic bytes, and r itself otherwise.
func MaybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(2)
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	}
	return br, nil
}

// Decode reads CVE records from r and calls fn for each, in order. It
// accepts a bare cve object, {"cve": {...}}, an API response or feed with a
// "vulnerabilities" array, and any sequence of those. fn's error stops the
// decoding and is returned. The count of records is returned.
func Decode(r io.Reader, fn func(*CVE) error) (int, error) {
	dec := json.NewDecoder(r)
	n := 0
	for {
		t, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("nvd: %w", err)
		}
		if d, ok := t.(json.Delim); !ok || d != '{' {
			return n, fmt.Errorf("nvd: want a JSON object, found %v", t)
		}
		k, _, err := decodeObject(dec, fn)
		n += k
		if err != nil {
			return n, err
		}
	}
	if n == 0 {
		return 0, ErrNoRecords
	}
	return n, nil
}

// decodeObject reads the members of an object whose "{" was consumed. A
// "vulnerabilities" array is streamed; other members are kept (raw) and, if
// they make a bare cve object, decoded at the end. The other members are
// returned (an API response's totalResults).
func decodeObject(dec *json.Decoder, fn func(*CVE) error) (int, map[string]json.RawMessage, error) {
	n := 0
	rest := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return n, rest, fmt.Errorf("nvd: %w", err)
		}
		key, _ := t.(string)
		switch key {
		case "vulnerabilities":
			k, err := decodeArray(dec, fn)
			n += k
			if err != nil {
				return n, rest, err
			}
		case "CVE_Items":
			return n, rest, errors.New("nvd: this is an NVD 1.1 feed (CVE_Items); portrait reads the CVE API 2.0 shape (NVD's 2.0 feeds or API)")
		case "cve":
			var rc rawCVE
			if err := dec.Decode(&rc); err != nil {
				return n, rest, fmt.Errorf("nvd: cve: %w", err)
			}
			if rc.ID != "" {
				n++
				if err := fn(rc.convert()); err != nil {
					return n, rest, err
				}
			}
		default:
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return n, rest, fmt.Errorf("nvd: %s: %w", key, err)
			}
			rest[key] = raw
		}
	}
	if _, err := dec.Token(); err != nil { // the closing "}"
		return n, rest, fmt.Errorf("nvd: %w", err)
	}
	if id, ok := rest["id"]; ok && bytes.HasPrefix(bytes.TrimSpace(id), []byte(`"CVE-`)) {
		b, err := json.Marshal(rest)
		if err != nil {
			return n, rest, err
		}
		var rc rawCVE
		if err := json.Unmarshal(b, &rc); err != nil {
			return n, rest, fmt.Errorf("nvd: cve: %w", err)
		}
		n++
		if err := fn(rc.convert()); err != nil {
			return n, rest, err
		}
	}
	return n, rest, nil
}

// decodeArray streams the elements of a "vulnerabilities" array.
func decodeArray(dec *json.Decoder, fn func(*CVE) error) (int, error) {
	t, err := dec.Token()
	if err != nil {
		return 0, fmt.Errorf("nvd: vulnerabilities: %w", err)
	}
	if d, ok := t.(json.Delim); !ok || d != '[' {
		return 0, fmt.Errorf("nvd: vulnerabilities: want an array, found %v", t)
	}
	n := 0
	for dec.More() {
		var item struct {
			CVE *rawCVE `json:"cve"`
		}
		if err := dec.Decode(&item); err != nil {
			return n, fmt.Errorf("nvd: vulnerabilities[%d]: %w", n, err)
		}
		if item.CVE == nil || item.CVE.ID == "" {
			continue
		}
		n++
		if err := fn(item.CVE.convert()); err != nil {
			return n, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return n, fmt.Errorf("nvd: vulnerabilities: %w", err)
	}
	return n, nil
}

// DecodeFile decodes one file (gzip or not).
func DecodeFile(path string, fn func(*CVE) error) (int, error) {
	rc, err := Open(path)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := Decode(rc, fn)
	if err != nil {
		return n, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}
