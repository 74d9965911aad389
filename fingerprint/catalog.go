package fingerprint

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

//go:embed rules/*.yaml
var builtinRules embed.FS

// Catalog is the compiled set of rules behind the one matcher. Every rule
// source (builtin YAML, user YAML, later recog and nmap files) compiles into
// it, so adding a source never adds a matching path.
type Catalog struct {
	rules   []*compiledRule
	byField map[string][]*compiledPattern
	names   map[string]bool
	// dialects maps Pattern.Dialect to a regex compiler: "" and "re2" are
	// Go's regexp; loaders add others (for example "pcre") with RegisterDialect.
	dialects map[string]RegexCompiler
}

// RegisterDialect adds a regex dialect for the rules added after it.
func (c *Catalog) RegisterDialect(name string, compile RegexCompiler) { c.dialects[name] = compile }

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog {
	return &Catalog{byField: map[string][]*compiledPattern{}, names: map[string]bool{},
		dialects: map[string]RegexCompiler{"": compileRE2, "re2": compileRE2, "pcre": PCRE}}
}

// Builtin compiles the rules embedded in the binary.
func Builtin() (*Catalog, error) {
	c := NewCatalog()
	entries, err := fs.ReadDir(builtinRules, "rules")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := builtinRules.ReadFile(path.Join("rules", e.Name()))
		if err != nil {
			return nil, err
		}
		rules, err := ParseRules(bytes.NewReader(b), "builtin:"+e.Name())
		if err != nil {
			return nil, err
		}
		if err := c.Add(rules...); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// LoadFile adds the rules of a user file. Rule names that collide with
// existing ones are errors: custom rules add to the builtins, never replace them.
func (c *Catalog) LoadFile(name string) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read rules: %w", err)
	}
	rules, err := ParseRules(bytes.NewReader(b), name)
	if err != nil {
		return fmt.Errorf("parse rules: %w", err)
	}
	if len(rules) == 0 {
		return fmt.Errorf("%s: no fingerprints in file", name)
	}
	return c.Add(rules...)
}

// Add compiles and adds rules.
func (c *Catalog) Add(rules ...Rule) error {
	for _, r := range rules {
		cr, err := compileRule(r, c.dialects)
		if err != nil {
			if r.source != "" {
				return fmt.Errorf("%s: %w", r.source, err)
			}
			return err
		}
		if c.names[r.Name] {
			return fmt.Errorf("%s: rule %q defined twice", r.source, r.Name)
		}
		c.names[r.Name] = true
		c.rules = append(c.rules, cr)
		for _, p := range cr.patterns {
			for _, f := range p.fields {
				c.byField[f] = append(c.byField[f], p)
			}
		}
	}
	return nil
}

// Len is the number of rules.
func (c *Catalog) Len() int { return len(c.rules) }

// Rules returns the rules in load order.
func (c *Catalog) Rules() []Rule {
	out := make([]Rule, len(c.rules))
	for i, r := range c.rules {
		out[i] = r.Rule
	}
	return out
}

// Match runs every rule whose patterns read a field present in the evidence
// and returns one match per rule (the most confident of its patterns), best first.
func (c *Catalog) Match(fields map[string]string) []Match {
	best := map[*compiledRule]Match{}
	names := make([]string, 0, len(fields))
	for f, v := range fields {
		if v != "" && len(c.byField[f]) > 0 {
			names = append(names, f)
		}
	}
	sort.Strings(names) // deterministic winner among equal matches
	for _, f := range names {
		v := fields[f]
		var low string
		lower := func() string {
			if low == "" {
				t := v
				if len(t) > 1<<16 {
					t = t[:1<<16]
				}
				low = strings.ToLower(t)
			}
			return low
		}
		for _, p := range c.byField[f] {
			if !requiresMet(p.rule, fields) {
				continue
			}
			m, ok := p.match(f, v, lower)
			if !ok {
				continue
			}
			if old, seen := best[p.rule]; !seen || better(m, old) {
				best[p.rule] = m
			}
		}
	}
	out := make([]Match, 0, len(best))
	for _, m := range best {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Confidence != out[j].Confidence {
			return out[i].Confidence > out[j].Confidence
		}
		if (out[i].Version != "") != (out[j].Version != "") {
			return out[i].Version != ""
		}
		return out[i].Rule < out[j].Rule
	})
	return out
}

func better(a, b Match) bool {
	if a.Confidence != b.Confidence {
		return a.Confidence > b.Confidence
	}
	return len(a.Version) > len(b.Version)
}

func requiresMet(r *compiledRule, fields map[string]string) bool {
	for _, f := range r.Requires {
		if fields[f] == "" {
			return false
		}
	}
	return true
}

// ExampleFailure says why one rule example did not identify as it claims.
type ExampleFailure struct {
	Rule   string
	Source string
	Index  int
	Reason string
}

func (e ExampleFailure) Error() string {
	return fmt.Sprintf("%s: rule %s example %d: %s", e.Source, e.Rule, e.Index+1, e.Reason)
}

// CheckExamples runs every rule's examples through the whole catalog: an
// example passes when its rule matches with the stated version and OS.
func (c *Catalog) CheckExamples() (passed int, failures []ExampleFailure) {
	for _, r := range c.rules {
		if len(r.Examples) == 0 {
			failures = append(failures, ExampleFailure{Rule: r.Name, Source: r.source, Index: -1, Reason: "rule has no examples"})
			continue
		}
		for i, ex := range r.Examples {
			if reason := c.checkExample(r, ex); reason != "" {
				failures = append(failures, ExampleFailure{Rule: r.Name, Source: r.source, Index: i, Reason: reason})
			} else {
				passed++
			}
		}
	}
	return passed, failures
}

func (c *Catalog) checkExample(r *compiledRule, ex Example) string {
	fields := map[string]string{}
	for k, v := range ex.Fields {
		fields[k] = v
	}
	if ex.Banner != "" {
		fields["banner"] = ex.Banner
	}
	if len(fields) == 0 {
		return "example has no fields"
	}
	for _, m := range c.Match(fields) {
		if m.Rule != r.Name {
			continue
		}
		if ex.Product != "" && ex.Product != m.Product {
			return fmt.Sprintf("product %q, example says %q", m.Product, ex.Product)
		}
		if ex.Version != "" && ex.Version != m.Version {
			return fmt.Sprintf("version %q, example says %q", m.Version, ex.Version)
		}
		if ex.OS != "" && !strings.EqualFold(ex.OS, m.OS) {
			return fmt.Sprintf("os %q, example says %q", m.OS, ex.OS)
		}
		if ex.Info != "" && ex.Info != m.Info {
			return fmt.Sprintf("info %q, example says %q", m.Info, ex.Info)
		}
		return ""
	}
	return "rule did not match"
}
