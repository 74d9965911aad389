package nmapprobes

import (
	"fmt"
	"strings"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// ConvertTemplate turns an nmap version-info template into the engine's
// template syntax (docs/rules.md):
//
//	$1 .. $9              -> {1} .. {9}
//	$P(3)                 -> {P(3)}              printable characters of group 3
//	$SUBST(1,"_",".")     -> {SUBST(1,"_",".")}  group 1 with every "_" replaced
//	$I(2,">")             -> {I(2,">")}          group 2 read as a big-endian
//	                                              ("<": little-endian) unsigned integer
//
// A "$" that starts none of these stays literal. Braces have a meaning in
// engine templates, so a template that contains one is refused.
func ConvertTemplate(s string) (string, error) {
	if !strings.ContainsAny(s, "${}") {
		return s, nil
	}
	if strings.ContainsAny(s, "{}") {
		return "", fmt.Errorf("template %q: braces are not supported", s)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		rest := s[i+1:]
		switch {
		case rest[0] >= '1' && rest[0] <= '9':
			b.WriteString("{" + rest[:1] + "}")
			i++
		case strings.HasPrefix(rest, "P("), strings.HasPrefix(rest, "SUBST("), strings.HasPrefix(rest, "I("):
			call, n, err := parseCall(rest)
			if err != nil {
				return "", fmt.Errorf("template %q: %w", s, err)
			}
			b.WriteString("{" + call + "}")
			i += n
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), nil
}

// parseCall reads P(n), SUBST(n,"a","b") or I(n,"<") at the start of s and
// returns it normalised, with the number of bytes read.
func parseCall(s string) (string, int, error) {
	name, _, _ := strings.Cut(s, "(")
	i := len(name) + 1
	if i >= len(s) || s[i] < '1' || s[i] > '9' {
		return "", 0, fmt.Errorf("$%s needs a group number 1-9", name)
	}
	group := s[i : i+1]
	i++
	var args []string
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	skip()
	for i < len(s) && s[i] == ',' {
		i++
		skip()
		if i >= len(s) || s[i] != '"' {
			return "", 0, fmt.Errorf("$%s: arguments must be quoted", name)
		}
		end := strings.IndexByte(s[i+1:], '"')
		if end < 0 {
			return "", 0, fmt.Errorf("$%s: unterminated string", name)
		}
		// Arguments take C escapes ("\r\n"); the engine matches Latin-1 text.
		arg, err := Unescape(s[i+1 : i+1+end])
		if err != nil {
			return "", 0, fmt.Errorf("$%s: %w", name, err)
		}
		if strings.ContainsAny(string(arg), `"`) {
			return "", 0, fmt.Errorf("$%s: a quote inside an argument is not supported", name)
		}
		args = append(args, fingerprint.Latin1(arg))
		i += end + 2
		skip()
	}
	if i >= len(s) || s[i] != ')' {
		return "", 0, fmt.Errorf("$%s: missing )", name)
	}
	want := map[string]int{"P": 0, "SUBST": 2, "I": 1}[name]
	if len(args) != want {
		return "", 0, fmt.Errorf("$%s takes %d string arguments", name, want)
	}
	if name == "I" && args[0] != "<" && args[0] != ">" {
		return "", 0, fmt.Errorf(`$I endianness must be "<" or ">"`)
	}
	out := name + "(" + group
	for _, a := range args {
		out += `,"` + a + `"`
	}
	return out + ")", i + 1, nil
}
