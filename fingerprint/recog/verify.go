package recog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// Verification is the outcome of running every recog example.
type Verification struct {
	Total    int
	Passed   int
	ByDB     map[string][2]int // file → {passed, total}
	Failures []string          // one line per failed example, with the reason
}

// Rate is the share of examples that passed.
func (v Verification) Rate() float64 {
	if v.Total == 0 {
		return 0
	}
	return float64(v.Passed) / float64(v.Total)
}

// Verify runs every <example> of dbs through cat, which must hold the
// rules Load made from the same databases. An example passes when
//
//   - its text, written into the evidence field as the module would write
//     it, makes the catalog return the fingerprint's own rule with the
//     version and OS the example asserts, and
//   - every param the example asserts (host.name, hw.product, ...) has the
//     asserted value when computed from that same match as recog does.
func Verify(cat *fingerprint.Catalog, dbs []*Database, opts Options) Verification {
	v := Verification{ByDB: map[string][2]int{}}
	for _, db := range dbs {
		src, ok := sourceFor(db, opts)
		if !ok {
			continue
		}
		compile := compilerFor(src)
		for _, c := range convertDB(db, src) {
			f := c.fp
			var re fingerprint.Regex
			convErr := c.err
			if convErr == nil && !c.shield {
				var err error
				if re, err = compile(c.rule.Patterns[0].Regex); err != nil {
					convErr = err
				}
			}
			ps := fpParams{}
			for _, p := range f.Params {
				ps[p.Name] = p
			}
			for j, ex := range f.Examples {
				var reason string
				switch {
				case c.shield:
					reason = verifyShield(cat, db, src, ex)
				case convErr != nil:
					reason = "fingerprint not loaded: " + convErr.Error()
				default:
					reason = verifyExample(cat, c.rule, re, ps, src, ex, j)
				}
				n := v.ByDB[db.File]
				n[1]++
				v.Total++
				if reason == "" {
					n[0]++
					v.Passed++
				} else {
					text, _, _ := ex.Decode()
					v.Failures = append(v.Failures, fmt.Sprintf("%s: %q example %d %q: %s", db.File, f.Description, j+1, clip(text), reason))
				}
				v.ByDB[db.File] = n
			}
		}
	}
	return v
}

// verifyShield checks an example of a fingerprint that names nothing: no
// rule of its database may claim the text (recog stops at the shield).
func verifyShield(cat *fingerprint.Catalog, db *Database, src source, ex Example) string {
	text, asserts, err := ex.Decode()
	if err != nil {
		return err.Error()
	}
	value := text
	if src.render != nil {
		value = src.render(text)
	}
	prefix := "recog:" + dbStem(db.File) + ":"
	for _, m := range cat.Match(map[string]string{src.field: value}) {
		if strings.HasPrefix(m.Rule, prefix) {
			return fmt.Sprintf("names nothing, but rule %s matched", m.Rule)
		}
	}
	for name := range asserts {
		return fmt.Sprintf("asserts %s, which portrait does not report from recog", name)
	}
	return ""
}

func verifyExample(cat *fingerprint.Catalog, r fingerprint.Rule, re fingerprint.Regex, ps fpParams, src source, ex Example, j int) string {
	text, asserts, err := ex.Decode()
	if err != nil {
		return err.Error()
	}
	if j >= len(r.Examples) {
		return "example not converted"
	}
	want := r.Examples[j]
	value := want.Fields[src.field]
	// The catalog: the rule's own match, with the stated version and OS.
	var got *fingerprint.Match
	for _, m := range cat.Match(want.Fields) {
		if m.Rule == r.Name {
			m := m
			got = &m
			break
		}
	}
	if got == nil {
		return fmt.Sprintf("rule %s did not match %q", r.Name, clip(value))
	}
	if want.Version != "" && got.Version != want.Version {
		return fmt.Sprintf("version %q, example says %q", got.Version, want.Version)
	}
	if want.OS != "" && !strings.EqualFold(got.OS, want.OS) {
		return fmt.Sprintf("os %q, example says %q", got.OS, want.OS)
	}
	// The params, computed as recog does from the same regex on the field.
	idx := re.FindStringSubmatchIndex(value)
	if idx == nil {
		return "regex did not match the field (but the catalog did?)"
	}
	groups := make([]string, len(idx)/2)
	for g := range groups {
		if idx[2*g] >= 0 {
			groups[g] = value[idx[2*g]:idx[2*g+1]]
		}
	}
	names := make([]string, 0, len(asserts))
	for k := range asserts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if !ps.has(name) {
			return fmt.Sprintf("example asserts %s but the fingerprint has no such param", name)
		}
		if g := strings.TrimSpace(ps.value(name, groups)); g != strings.TrimSpace(asserts[name]) {
			return fmt.Sprintf("%s = %q, example says %q", name, g, asserts[name])
		}
	}
	_ = text
	return ""
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
