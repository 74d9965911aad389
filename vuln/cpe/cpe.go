// Package cpe parses CPE 2.3 formatted strings ("cpe:2.3:a:openbsd:openssh:9.3:p1:*:*:*:*:*:*"),
// the names NVD's configurations and the fingerprint rules use for
// products. Only what matching needs is kept: part, vendor, product,
// version and update, unescaped ("erlang\/otp" becomes "erlang/otp").
package cpe

import (
	"errors"
	"strings"
)

// Any is the wildcard value ("*"); NA is "not applicable" ("-").
const (
	Any = "*"
	NA  = "-"
)

// Name is a parsed CPE 2.3 name. Values are unescaped and lower-cased;
// an empty component is Any.
type Name struct {
	Part    string // "a" application, "o" operating system, "h" hardware
	Vendor  string
	Product string
	Version string
	Update  string
	Rest    []string // edition, language, sw_edition, target_sw, target_hw, other
}

// ErrNotCPE is returned for strings that are not CPE 2.3 formatted names.
var ErrNotCPE = errors.New("cpe: not a CPE 2.3 formatted string")

// maxLen bounds what is parsed; NVD names are under 300 bytes.
const maxLen = 1024

// Parse reads a CPE 2.3 formatted string. Backslash escapes protect ":"
// inside components; they are removed from the values.
func Parse(s string) (Name, error) {
	if len(s) > maxLen || !strings.HasPrefix(strings.ToLower(s), "cpe:2.3:") {
		return Name{}, ErrNotCPE
	}
	comps := split(s[len("cpe:2.3:"):])
	if len(comps) < 2 {
		return Name{}, ErrNotCPE
	}
	for len(comps) < 11 {
		comps = append(comps, Any)
	}
	n := Name{Part: comps[0], Vendor: comps[1], Product: comps[2], Version: comps[3], Update: comps[4], Rest: comps[5:11]}
	if n.Part != "a" && n.Part != "o" && n.Part != "h" && n.Part != Any {
		return Name{}, ErrNotCPE
	}
	return n, nil
}

// split cuts at unescaped ":" and unescapes each component.
func split(s string) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == ':':
			out = append(out, norm(b.String()))
			b.Reset()
		default:
			b.WriteByte(c)
		}
		if len(out) > 16 {
			break
		}
	}
	out = append(out, norm(b.String()))
	return out
}

func norm(v string) string {
	v = strings.ToLower(v)
	if v == "" {
		return Any
	}
	return v
}

// Key is "vendor:product", the index the vulnerability store uses.
func (n Name) Key() string { return n.Vendor + ":" + n.Product }

// String formats the name back as CPE 2.3 (escaping ":" and "\" only).
func (n Name) String() string {
	comps := []string{n.Part, n.Vendor, n.Product, n.Version, n.Update}
	comps = append(comps, n.Rest...)
	for len(comps) < 11 {
		comps = append(comps, Any)
	}
	for i, c := range comps {
		if c == "" {
			c = Any
		}
		c = strings.ReplaceAll(c, `\`, `\\`)
		comps[i] = strings.ReplaceAll(c, ":", `\:`)
	}
	return "cpe:2.3:" + strings.Join(comps, ":")
}

// WithVersion returns n with a concrete version, for evidence.
func (n Name) WithVersion(v string) Name {
	n.Version = strings.ToLower(v)
	return n
}

// FullVersion joins version and update the way products print them:
// openssh 9.3 with update p1 is "9.3p1". Wildcard and NA updates add
// nothing.
func (n Name) FullVersion() string {
	if n.Update == Any || n.Update == NA || n.Update == "" {
		return n.Version
	}
	return n.Version + n.Update
}
