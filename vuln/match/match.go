// Package match decides whether a fingerprinted product is affected by a
// CVE record, from the record's configurations (CPE names with version
// ranges, combined by AND/OR nodes).
//
// The answer has three values. True: the product and version fall in a
// vulnerable range. False: they do not. Unknown: the record may apply but
// the scan cannot tell, because the detected version is shorter than a
// bound ("15" against "< 15.3") or because the configuration also requires
// a platform or component that was not observed (an AND with "running on
// Debian 10"). Callers report Unknown as "potential", or not at all.
package match

import (
	"strings"

	"github.com/portrait-scanner/portrait/vuln/cpe"
	"github.com/portrait-scanner/portrait/vuln/nvd"
	"github.com/portrait-scanner/portrait/vuln/version"
)

// Tri is a three-valued truth.
type Tri int8

// The three values.
const (
	False Tri = iota
	Unknown
	True
)

func (t Tri) String() string {
	switch t {
	case True:
		return "true"
	case Unknown:
		return "unknown"
	}
	return "false"
}

func not(t Tri) Tri {
	switch t {
	case True:
		return False
	case False:
		return True
	}
	return Unknown
}

// Target is the product found on a port.
type Target struct {
	// Keys are the "vendor:product" names the product is known under (the
	// fingerprint's CPE and its aliases).
	Keys []string
	// Version is the upstream version detected ("9.2p1").
	Version string
	// Platform answers for CPE names of other products that a configuration
	// requires beside the vulnerable one (the OS it runs on). Nil, or
	// Unknown, when the scan did not observe them.
	Platform func(n cpe.Name) Tri
}

func (t Target) has(key string) bool {
	for _, k := range t.Keys {
		if k == key {
			return true
		}
	}
	return false
}

// Result explains a decision.
type Result struct {
	Affected Tri
	// Range is the affected range that decided, readable (">= 8.6, < 9.8",
	// "= 2.4.49", "all versions").
	Range string
	// FixedIn is the first fixed version when the range has an exclusive
	// upper bound.
	FixedIn string
	// Criteria is the CPE name of the deciding match.
	Criteria string
	// Reasons say why the answer is Unknown (a too-short version, an
	// unobserved platform).
	Reasons []string
}

// Evaluate decides whether t is affected by a record with these
// configurations. A configuration counts only when one of its vulnerable
// matches names the target's product.
func Evaluate(configs []nvd.Config, t Target) Result {
	best := Result{Affected: False}
	for _, c := range configs {
		if !mentions(c, t) {
			continue
		}
		var r Result
		r.Affected = evalConfig(c, t, &r)
		if c.Negate {
			r.Affected = not(r.Affected)
		}
		if r.Affected > best.Affected || (r.Affected == best.Affected && best.Range == "" && r.Range != "") {
			best = r
		}
		if best.Affected == True {
			break
		}
	}
	return best
}

// Mentions reports whether any configuration names the target's product
// as vulnerable (the index the store keeps).
func Mentions(configs []nvd.Config, t Target) bool {
	for _, c := range configs {
		if mentions(c, t) {
			return true
		}
	}
	return false
}

func mentions(c nvd.Config, t Target) bool {
	for _, n := range c.Nodes {
		for _, m := range n.Matches {
			if !m.Vulnerable {
				continue
			}
			if name, err := cpe.Parse(m.Criteria); err == nil && t.has(name.Key()) {
				return true
			}
		}
	}
	return false
}

func evalConfig(c nvd.Config, t Target, r *Result) Tri {
	and := c.Operator == "AND"
	acc := False
	if and {
		acc = True
	}
	for _, n := range c.Nodes {
		v := evalNode(n, t, r)
		if and {
			acc = min(acc, v)
		} else {
			acc = max(acc, v)
		}
	}
	return acc
}

func evalNode(n nvd.Node, t Target, r *Result) Tri {
	and := n.Operator == "AND"
	acc := False
	if and {
		acc = True
	}
	for _, m := range n.Matches {
		v := evalMatch(m, t, and, r)
		if and {
			acc = min(acc, v)
		} else {
			acc = max(acc, v)
		}
	}
	if n.Negate {
		acc = not(acc)
	}
	return acc
}

func evalMatch(m nvd.Match, t Target, inAnd bool, r *Result) Tri {
	name, err := cpe.Parse(m.Criteria)
	if err != nil {
		return False
	}
	if !t.has(name.Key()) {
		// Another product. A vulnerable alternative in an OR node says
		// nothing about ours; a required platform (vulnerable=false) or a
		// product required beside ours is a condition.
		if m.Vulnerable && !inAnd {
			return False
		}
		v := Unknown
		if t.Platform != nil {
			v = t.Platform(name)
		}
		if v == Unknown {
			r.Reasons = appendOnce(r.Reasons, "requires "+m.Criteria+describeRange(m, ""))
		}
		return v
	}
	v, rng, fixed, why := versionIn(m, name, t.Version)
	if v != False && r.Range == "" {
		r.Range, r.FixedIn, r.Criteria = rng, fixed, m.Criteria
	}
	if v == Unknown && why != "" {
		r.Reasons = appendOnce(r.Reasons, why)
	}
	return v
}

// versionIn checks the detected version against one match of our product.
func versionIn(m nvd.Match, name cpe.Name, v string) (Tri, string, string, string) {
	switch name.Version {
	case cpe.NA:
		return False, "", "", ""
	case cpe.Any:
	default:
		full := name.FullVersion()
		rng := "= " + full
		if v == "" {
			return Unknown, rng, "", "no version detected"
		}
		if version.Split(v, full) {
			return Unknown, rng, "", "detected version " + v + " is too short to compare with " + full
		}
		// A wildcard update accepts any patch suffix ("9.3" with update
		// "*" covers 9.3p1); "-" means none.
		if version.Compare(v, full) == 0 || (name.Update == cpe.Any && version.Base(v, full)) {
			return True, rng, "", ""
		}
		return False, "", "", ""
	}
	// A wildcard version with bounds; a concrete update (openssh "*:p2"
	// with "<= 7.2") belongs to the bounds.
	suffix := ""
	if name.Update != cpe.Any && name.Update != cpe.NA {
		suffix = name.Update
	}
	bound := func(b string) string {
		if b == "" || suffix == "" {
			return b
		}
		if c := b[len(b)-1]; c >= '0' && c <= '9' {
			return b + suffix
		}
		return b
	}
	si, se, ei, ee := bound(unescape(m.StartIncl)), bound(unescape(m.StartExcl)), bound(unescape(m.EndIncl)), bound(unescape(m.EndExcl))
	rng := strings.TrimSpace(describeRange(m, suffix))
	if rng == "" {
		rng = "all versions"
	}
	if v == "" {
		return Unknown, rng, ee, "no version detected"
	}
	for _, b := range []string{si, se, ei, ee} {
		if b != "" && version.Split(v, b) {
			return Unknown, rng, ee, "detected version " + v + " is too short to compare with " + b
		}
	}
	if si != "" && cmp(v, si) < 0 {
		return False, "", "", ""
	}
	if se != "" && cmp(v, se) <= 0 {
		return False, "", "", ""
	}
	if ei != "" && cmp(v, ei) > 0 {
		return False, "", "", ""
	}
	if ee != "" && cmp(v, ee) >= 0 {
		return False, "", "", ""
	}
	return True, rng, ee, ""
}

// cmp compares a detected version with a range bound the way NVD's CPE
// ranges mean it: a patch suffix that NVD keeps in the CPE update field
// ("9.8p1" is 9.8 update p1) does not move the version past its base.
func cmp(v, bound string) int {
	if version.Base(v, bound) {
		return 0
	}
	return version.Compare(v, bound)
}

// describeRange writes a match's bounds readably, with a leading space.
func describeRange(m nvd.Match, suffix string) string {
	add := func(b string) string {
		if b == "" || suffix == "" {
			return b
		}
		if c := b[len(b)-1]; c >= '0' && c <= '9' {
			return b + suffix
		}
		return b
	}
	var parts []string
	if m.StartIncl != "" {
		parts = append(parts, ">= "+add(unescape(m.StartIncl)))
	}
	if m.StartExcl != "" {
		parts = append(parts, "> "+add(unescape(m.StartExcl)))
	}
	if m.EndIncl != "" {
		parts = append(parts, "<= "+add(unescape(m.EndIncl)))
	}
	if m.EndExcl != "" {
		parts = append(parts, "< "+add(unescape(m.EndExcl)))
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.TrimSpace(strings.Join(parts, ", "))
}

// unescape removes CPE-style backslash escapes from a bound ("12.6\(1\)").
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	if len(list) >= 8 {
		return list
	}
	return append(list, s)
}
