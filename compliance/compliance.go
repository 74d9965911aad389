// Package compliance maps findings to the controls of security frameworks.
// The mappings are data (data/*.yaml, embedded): each control lists the
// portrait checks and finding kinds that violate it, optionally narrowed
// by a minimum severity and by exposure (internet-facing or internal).
//
// Shipped frameworks: pci-dss (PCI DSS 4.0, requirements 2, 4, 6, 11),
// cis (CIS Controls v8), nist-800-53 (SP 800-53 Rev. 5, CM/SC/SI).
// A user's own mapping file in the same format can be loaded with LoadFile.
package compliance

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed data/*.yaml
var data embed.FS

// Framework is one mapping file.
type Framework struct {
	ID       string    `yaml:"framework"`
	Name     string    `yaml:"name"`
	Version  string    `yaml:"version"`
	Controls []Control `yaml:"controls"`
}

// Control is one requirement and what violates it.
type Control struct {
	ID          string   `yaml:"id"`
	Title       string   `yaml:"title"`
	Checks      []string `yaml:"checks"`
	Kinds       []string `yaml:"kinds"`
	MinSeverity string   `yaml:"min_severity"`
	Exposure    string   `yaml:"exposure"` // "internet", "internal" or "" (any)
}

// Subject is what a control is judged on: a finding's check, kind,
// severity and the exposure of its host.
type Subject struct {
	Check    string
	Kind     string
	Severity string
	Exposure string
}

var sevRank = map[string]int{"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

// Violates reports whether a finding violates the control.
func (c *Control) Violates(s Subject) bool {
	hit := false
	for _, k := range c.Checks {
		if k == s.Check {
			hit = true
		}
	}
	for _, k := range c.Kinds {
		if k == s.Kind {
			hit = true
		}
	}
	if !hit {
		return false
	}
	if c.MinSeverity != "" && sevRank[s.Severity] < sevRank[c.MinSeverity] {
		return false
	}
	if c.Exposure != "" && c.Exposure != s.Exposure {
		return false
	}
	return true
}

// Names lists the builtin frameworks.
func Names() []string {
	ents, _ := data.ReadDir("data")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// aliases lets users type the common short names.
var aliases = map[string]string{"pci": "pci-dss", "pcidss": "pci-dss", "cis-controls": "cis", "nist": "nist-800-53", "800-53": "nist-800-53"}

// Load returns the builtin framework called name, or reads name as a file
// when it is a path to a YAML mapping.
func Load(name string) (*Framework, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := aliases[n]; ok {
		n = a
	}
	b, err := data.ReadFile("data/" + n + ".yaml")
	if err != nil {
		if strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") || strings.ContainsRune(name, os.PathSeparator) {
			return LoadFile(name)
		}
		return nil, fmt.Errorf("compliance: unknown framework %q (builtin: %s; or a path to a mapping file)", name, strings.Join(Names(), ", "))
	}
	return parse(b, n)
}

// LoadFile reads a mapping file.
func LoadFile(path string) (*Framework, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("compliance: %w", err)
	}
	return parse(b, path)
}

func parse(b []byte, where string) (*Framework, error) {
	var f Framework
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("compliance %s: %w", where, err)
	}
	if f.ID == "" || len(f.Controls) == 0 {
		return nil, fmt.Errorf("compliance %s: want a framework id and controls", where)
	}
	for _, c := range f.Controls {
		if c.ID == "" || (len(c.Checks) == 0 && len(c.Kinds) == 0) {
			return nil, fmt.Errorf("compliance %s: control %q needs an id and checks or kinds", where, c.ID)
		}
		if c.MinSeverity != "" {
			if _, ok := sevRank[c.MinSeverity]; !ok {
				return nil, fmt.Errorf("compliance %s: control %s: bad min_severity %q", where, c.ID, c.MinSeverity)
			}
		}
		if c.Exposure != "" && c.Exposure != "internet" && c.Exposure != "internal" {
			return nil, fmt.Errorf("compliance %s: control %s: exposure must be internet or internal", where, c.ID)
		}
	}
	return &f, nil
}

// LoadList loads a comma-separated list ("pci-dss,cis").
func LoadList(list string) ([]*Framework, error) {
	var out []*Framework
	for _, n := range strings.Split(list, ",") {
		if strings.TrimSpace(n) == "" {
			continue
		}
		f, err := Load(n)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
