// Package version orders the version strings that real software prints, so
// that CVE ranges ("versionEndExcluding 9.8") can be checked against what a
// banner said ("9.2p1").
//
// A version is split into segments: runs of digits (compared as numbers, of
// any length), runs of letters (compared as text) and separators
// (".-_+()" and friends). The rules that make real versions order right:
//
//   - numbers compare numerically: 2.4.41 > 2.4.9;
//   - missing trailing zeros do not count: 1.0 == 1.0.0;
//   - a letter suffix after the last number makes a later release:
//     9.3p1 > 9.3, 1.1.1l > 1.1.1k > 1.1.1;
//   - pre-release words make an earlier one: 1.0rc1 < 1.0, 2.0-beta2 < 2.0,
//     with dev < alpha < beta < pre < rc ("a1", "b2" too, but a lone
//     letter at the end is a fix release: 1.1.1a > 1.1.1); Debian's "~"
//     does the same;
//   - a number beats letters at the same place: 1.0.1 > 1.0a (rpm's rule);
//   - a leading "v" and an "N:" epoch are ignored.
//
// Detected versions can be less precise than a bound: PostgreSQL may only
// say "15". Split reports whether a bound falls inside the family a short
// version stands for (15.3 inside "15"), which callers treat as unknown.
package version

import (
	"strings"
)

// maxSegments bounds the work per version: real versions have fewer than
// 20 segments; hostile strings are cut.
const maxSegments = 64

// maxLen bounds the input length considered.
const maxLen = 256

type kind uint8

const (
	num kind = iota
	word
	pre // a pre-release word, or anything after "~"
)

type seg struct {
	k kind
	s string // digits without leading zeros, or the lower-cased word
}

// preRank orders pre-release words; unknown words are not pre-releases.
var preRank = map[string]int{
	"dev": 1, "snapshot": 1, "nightly": 1,
	"a": 2, "alpha": 2,
	"b": 3, "beta": 3,
	"m": 4, "milestone": 4,
	"pre": 5, "preview": 5,
	"rc": 6, "cr": 6,
}

// parse splits v into segments.
func parse(v string) []seg {
	v = strings.ToLower(strings.TrimSpace(v))
	if len(v) > maxLen {
		v = v[:maxLen]
	}
	v = strings.TrimPrefix(v, "v")
	// An epoch "N:" in front (Debian, RPM) is ignored: detected versions are
	// upstream versions.
	if i := strings.IndexByte(v, ':'); i > 0 && allDigits(v[:i]) {
		v = v[i+1:]
	}
	var out []seg
	tilde := false
	for i := 0; i < len(v) && len(out) < maxSegments; {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			j := i
			for j < len(v) && v[j] >= '0' && v[j] <= '9' {
				j++
			}
			d := strings.TrimLeft(v[i:j], "0")
			if d == "" {
				d = "0"
			}
			out = append(out, seg{k: num, s: d})
			i = j
		case c >= 'a' && c <= 'z':
			j := i
			for j < len(v) && v[j] >= 'a' && v[j] <= 'z' {
				j++
			}
			w := v[i:j]
			k := word
			if _, ok := preRank[w]; ok || tilde {
				k = pre
				// A lone letter is a pre-release only when a number follows
				// ("2.0a1", "3.0b2"); "1.1.1a" is OpenSSL's first fix release.
				if len(w) == 1 && !tilde && (j >= len(v) || v[j] < '0' || v[j] > '9') {
					k = word
				}
			}
			out = append(out, seg{k: k, s: w})
			i = j
		case c == '~':
			tilde = true
			i++
		default:
			i++
		}
	}
	return out
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Compare returns -1, 0 or +1 as a is older than, the same as, or newer
// than b.
func Compare(a, b string) int {
	return compareSegs(parse(a), parse(b))
}

func compareSegs(x, y []seg) int {
	n := len(x)
	if len(y) > n {
		n = len(y)
	}
	for i := 0; i < n; i++ {
		switch {
		case i >= len(x):
			return -tail(y[i:])
		case i >= len(y):
			return tail(x[i:])
		}
		if c := compareSeg(x[i], y[i]); c != 0 {
			return c
		}
	}
	return 0
}

// tail says how a version compares with its own prefix when these segments
// are what it has more: zeros change nothing, a pre-release makes it older,
// anything else newer.
func tail(rest []seg) int {
	for _, s := range rest {
		switch s.k {
		case pre:
			return -1
		case word:
			return 1
		case num:
			if s.s != "0" {
				return 1
			}
		}
	}
	return 0
}

func compareSeg(a, b seg) int {
	if a.k == num && b.k == num {
		return compareDigits(a.s, b.s)
	}
	if a.k == pre || b.k == pre {
		if a.k != pre {
			return 1
		}
		if b.k != pre {
			return -1
		}
		ra, rb := preRank[a.s], preRank[b.s]
		if ra != rb {
			return cmpInt(ra, rb)
		}
		return strings.Compare(a.s, b.s)
	}
	if a.k == num {
		return 1 // 1.0.1 > 1.0a
	}
	if b.k == num {
		return -1
	}
	return strings.Compare(a.s, b.s)
}

// compareDigits compares decimal strings without leading zeros, of any
// length (no overflow).
func compareDigits(a, b string) int {
	if len(a) != len(b) {
		return cmpInt(len(a), len(b))
	}
	return strings.Compare(a, b)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Split reports whether bound lies strictly inside the family of versions
// that the short version v stands for: v's segments are a proper prefix of
// bound's and bound goes on with a number ("15" and "15.3", "1.22" and
// "1.22.1"). A range check against such a bound cannot be decided from v:
// 15.2 and 15.18 both print as "15". Trailing zero segments of bound do not
// count ("15" does not split "15.0"), and a letter after the prefix is a
// different release, not a longer spelling ("9.2" does not split "9.2p1").
func Split(v, bound string) bool {
	x, y := parse(v), parse(bound)
	for len(y) > 0 && y[len(y)-1].k == num && y[len(y)-1].s == "0" {
		y = y[:len(y)-1]
	}
	if len(x) == 0 || len(x) >= len(y) || y[len(x)].k != num {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// Base reports whether v is base followed by a patch-level suffix that
// starts with a letter: "9.8p1" on base "9.8", "1.1.1k" on "1.1.1". NVD
// writes OpenSSH 9.8p1 as version 9.8 with update p1, so its ranges compare
// the base: "< 9.8" excludes 9.8p1 and "<= 7.7" includes 7.7p1.
func Base(v, base string) bool {
	x, y := parse(v), parse(base)
	for len(y) > 0 && y[len(y)-1].k == num && y[len(y)-1].s == "0" && len(y) > 1 {
		y = y[:len(y)-1]
	}
	if len(y) == 0 || len(x) <= len(y) || x[len(y)].k != word {
		return false
	}
	for i := range y {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// Valid reports whether s looks like a version at all: it starts with a
// digit (after an optional "v") and has at least one number.
func Valid(s string) bool {
	s = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "v")
	return s != "" && s[0] >= '0' && s[0] <= '9'
}

// Clean extracts the version a fingerprint reported from the text around
// it: "2.4.71" stays, "5.5.5-10.11.19-MariaDB-0+deb12u1" is left to the
// caller, "2.5 or later" and "2.2.X - 2.3.X" are refused (ok=false: a range
// is not a version), "8.0.x" becomes the family "8.0". Whitespace ends the
// version.
func Clean(s string) (v string, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.Contains(s, " or ") || strings.Contains(s, " - ") || strings.HasSuffix(s, "+") {
		return "", false
	}
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		s = s[:i]
	}
	if !Valid(s) {
		return "", false
	}
	// A wildcard component ends the precise part: "8.0.x" -> "8.0".
	parts := strings.Split(s, ".")
	for i, p := range parts {
		if p == "x" || p == "X" || p == "*" {
			if i == 0 {
				return "", false
			}
			return strings.Join(parts[:i], "."), true
		}
	}
	return s, true
}
