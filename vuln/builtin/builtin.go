// Package builtin is the vulnerability knowledge that ships inside the
// binary, so that a fresh install finds something real before any
// `portrait vulndb sync`:
//
//   - cves.json: a small set of CVE records for products the lab and most
//     networks run (OpenSSH, Apache httpd, nginx, vsftpd, ProFTPD, Exim,
//     Redis, Tomcat, PostgreSQL, MySQL, OpenSSL, Log4j, Spring). The facts
//     (dates, CVSS, CWE, KEV dates and the CPE configurations) are those of
//     NVD's records; the titles, scopes and remediation texts are written
//     here. TestBuiltinMatchesNVD checks the facts against NVD's files.
//   - eol.yaml: end-of-life dates of release branches and operating systems.
//   - aliases: CPE vendor names NVD used for the same product over time.
//   - scope: records that affect a product's client side only (ssh-agent,
//     the ssh client), which a listening server does not expose.
package builtin

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/portrait-scanner/portrait/vuln/kev"
	"github.com/portrait-scanner/portrait/vuln/nvd"
	"github.com/portrait-scanner/portrait/vuln/version"
	"github.com/portrait-scanner/portrait/vuln/vulndb"
)

//go:embed cves.json
var cvesJSON []byte

//go:embed eol.yaml
var eolYAML []byte

// Record is a builtin CVE record with the texts written here.
type Record struct {
	nvd.CVE
	Title string `json:"title"`
	// Scope is "client" when the flaw is in the product's client side
	// (ssh, ssh-agent) rather than in the server a scan sees.
	Scope       string `json:"scope,omitempty"`
	Remediation string `json:"remediation,omitempty"`
}

var (
	loadOnce sync.Once
	records  []Record
	byID     map[string]*Record
	eolData  eolFile
	loadErr  error
)

func load() {
	loadOnce.Do(func() {
		if err := json.Unmarshal(cvesJSON, &records); err != nil {
			loadErr = fmt.Errorf("builtin cves.json: %w", err)
			return
		}
		byID = map[string]*Record{}
		for i := range records {
			byID[records[i].ID] = &records[i]
		}
		if err := yaml.Unmarshal(eolYAML, &eolData); err != nil {
			loadErr = fmt.Errorf("builtin eol.yaml: %w", err)
		}
	})
}

// Err reports a problem with the embedded data (a build that shipped a
// broken file); tests assert it is nil.
func Err() error { load(); return loadErr }

// Records returns the builtin records.
func Records() []Record { load(); return records }

// Info returns the texts written here for a CVE, whatever source the record
// came from.
func Info(id string) (r *Record, ok bool) {
	load()
	r, ok = byID[id]
	return r, ok
}

// Source serves the builtin records as a vulndb.Source.
type Source struct{}

// Lookup returns the builtin records that mark any of keys vulnerable.
func (Source) Lookup(_ context.Context, keys []string) ([]vulndb.Entry, error) {
	load()
	if loadErr != nil {
		return nil, loadErr
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[strings.ToLower(k)] = true
	}
	var out []vulndb.Entry
	for i := range records {
		r := &records[i]
		for _, k := range vulndb.ProductKeys(&r.CVE) {
			if want[k] {
				c := r.CVE
				e := vulndb.Entry{CVE: &c, Source: "builtin"}
				if c.KEVAdded != "" {
					e.KEV = &kev.Entry{CVE: c.ID, Name: c.KEVName, DateAdded: c.KEVAdded, DueDate: c.KEVDue, Action: c.KEVAction}
				}
				out = append(out, e)
				break
			}
		}
	}
	return out, nil
}

// aliasGroups are CPE "vendor:product" names NVD used for one product.
var aliasGroups = [][]string{
	{"f5:nginx", "nginx:nginx", "igor_sysoev:nginx"},
	{"beasts:vsftpd", "vsftpd_project:vsftpd"},
	{"redis:redis", "redislabs:redis"},
	{"vmware:rabbitmq", "pivotal_software:rabbitmq"},
	{"apple:cups", "openprinting:cups"},
	{"oracle:mysql", "mysql:mysql"},
}

// Aliases returns key and the other names of the same product, key first.
func Aliases(key string) []string {
	key = strings.ToLower(key)
	for _, g := range aliasGroups {
		for _, k := range g {
			if k == key {
				out := []string{key}
				for _, o := range g {
					if o != key {
						out = append(out, o)
					}
				}
				return out
			}
		}
	}
	return []string{key}
}

type eolFile struct {
	Products []EOLProduct `yaml:"products"`
	OS       []OSEOL      `yaml:"os"`
}

// EOLProduct is a product's branch table.
type EOLProduct struct {
	CPE    string     `yaml:"cpe"`
	Name   string     `yaml:"name"`
	Source string     `yaml:"source"`
	Cycles []EOLCycle `yaml:"cycles"`
}

// EOLCycle is one release branch.
type EOLCycle struct {
	Cycle string    `yaml:"cycle"`
	EOL   time.Time `yaml:"eol"`
}

// OSEOL is one operating system release.
type OSEOL struct {
	Distribution string    `yaml:"distribution"`
	Release      string    `yaml:"release"`
	EOL          time.Time `yaml:"eol"`
	Source       string    `yaml:"source"`
}

// ProductEOL returns the branch of a product version that has reached its
// end of life at now (nil when supported or unknown). keys are the
// product's CPE names.
func ProductEOL(keys []string, v string, now time.Time) (*EOLProduct, *EOLCycle) {
	load()
	for i := range eolData.Products {
		p := &eolData.Products[i]
		hit := false
		for _, k := range keys {
			for _, a := range Aliases(p.CPE) {
				if a == k {
					hit = true
				}
			}
		}
		if !hit {
			continue
		}
		for j := range p.Cycles {
			c := &p.Cycles[j]
			if inCycle(v, c.Cycle) && now.After(c.EOL) {
				return p, c
			}
		}
	}
	return nil, nil
}

// inCycle reports whether version v belongs to the branch cycle ("1.22"
// holds 1.22 and 1.22.1, not 1.220).
func inCycle(v, cycle string) bool {
	if v == cycle {
		return true
	}
	if !strings.HasPrefix(v, cycle) {
		return false
	}
	rest := v[len(cycle):]
	// The next character must end the component: "." or a letter suffix
	// ("1.0.2k" is in 1.0.2), never a digit.
	return rest != "" && (rest[0] < '0' || rest[0] > '9') && version.Valid(cycle)
}

// OSReleaseEOL returns the operating system release past its end of life
// at now (nil when supported or unknown).
func OSReleaseEOL(distribution, release string, now time.Time) *OSEOL {
	load()
	for i := range eolData.OS {
		o := &eolData.OS[i]
		if strings.EqualFold(o.Distribution, distribution) && strings.EqualFold(o.Release, release) && now.After(o.EOL) {
			return o
		}
	}
	return nil
}

// EOLProducts lists the product tables (documentation, tests).
func EOLProducts() []EOLProduct {
	load()
	out := append([]EOLProduct(nil), eolData.Products...)
	sort.Slice(out, func(i, j int) bool { return out[i].CPE < out[j].CPE })
	return out
}
