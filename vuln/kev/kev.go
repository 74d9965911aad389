// Package kev reads CISA's Known Exploited Vulnerabilities catalog (the
// JSON at cisa.gov/known-exploited-vulnerabilities-catalog), streaming its
// "vulnerabilities" array.
package kev

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/portrait-scanner/portrait/vuln/nvd"
)

// Entry is one catalog entry.
type Entry struct {
	CVE        string `json:"cveID"`
	Vendor     string `json:"vendorProject"`
	Product    string `json:"product"`
	Name       string `json:"vulnerabilityName"`
	DateAdded  string `json:"dateAdded"`
	DueDate    string `json:"dueDate"`
	Action     string `json:"requiredAction"`
	Ransomware string `json:"knownRansomwareCampaignUse"` // "Known" or "Unknown"
	Notes      string `json:"notes"`
}

// Catalog is the header of the file.
type Catalog struct {
	Title   string
	Version string // catalogVersion ("2025.08.25")
	Count   int
}

// ErrNotKEV is returned for JSON that is not the KEV catalog.
var ErrNotKEV = errors.New("kev: not CISA's KEV catalog (want an object with a \"vulnerabilities\" array of cveID entries)")

// Decode reads the catalog (gzip or not) and calls fn per entry.
func Decode(r io.Reader, fn func(Entry) error) (Catalog, int, error) {
	var cat Catalog
	br, err := nvd.MaybeGunzip(r)
	if err != nil {
		return cat, 0, err
	}
	dec := json.NewDecoder(br)
	t, err := dec.Token()
	if err != nil {
		return cat, 0, fmt.Errorf("kev: %w", err)
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return cat, 0, ErrNotKEV
	}
	n := 0
	found := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return cat, n, fmt.Errorf("kev: %w", err)
		}
		switch key, _ := t.(string); key {
		case "title":
			_ = dec.Decode(&cat.Title)
		case "catalogVersion":
			_ = dec.Decode(&cat.Version)
		case "count":
			_ = dec.Decode(&cat.Count)
		case "vulnerabilities":
			found = true
			if t, err := dec.Token(); err != nil {
				return cat, n, fmt.Errorf("kev: %w", err)
			} else if d, ok := t.(json.Delim); !ok || d != '[' {
				return cat, n, ErrNotKEV
			}
			for dec.More() {
				var e Entry
				if err := dec.Decode(&e); err != nil {
					return cat, n, fmt.Errorf("kev: entry %d: %w", n, err)
				}
				e.CVE = strings.ToUpper(strings.TrimSpace(e.CVE))
				if !strings.HasPrefix(e.CVE, "CVE-") {
					continue
				}
				n++
				if err := fn(e); err != nil {
					return cat, n, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return cat, n, fmt.Errorf("kev: %w", err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return cat, n, fmt.Errorf("kev: %w", err)
			}
		}
	}
	if !found {
		return cat, 0, ErrNotKEV
	}
	return cat, n, nil
}
