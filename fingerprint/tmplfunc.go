package fingerprint

import (
	"strconv"
	"strings"
)

// Template functions, for rule sources whose version templates do more than
// copy a group (nmap-service-probes' $P, $SUBST and $I):
//
//	{P(n)}                 group n with only its printable ASCII characters
//	{SUBST(n,"from","to")} group n with every "from" replaced by "to"
//	{I(n,">")}             group n (1-8 bytes) as an unsigned integer,
//	                       big-endian; "<" for little-endian
//
// They see the group untrimmed, as nmap does (a space can be a byte of $I).

// maxSubstOut caps the text one SUBST may produce, so a template cannot
// multiply a large group into an unbounded string.
const maxSubstOut = 4096

// templateCall evaluates the template function at the start of s (which
// begins with "{"). raw returns the untrimmed text of group n. It returns
// the value and the number of bytes of s used; ok is false when s does not
// start with a well-formed function call.
func templateCall(s string, raw func(int) string) (val string, n int, ok bool) {
	name, _, found := strings.Cut(s[1:], "(")
	if !found || (name != "P" && name != "SUBST" && name != "I") {
		return "", 0, false
	}
	i := 1 + len(name) + 1
	if i >= len(s) || s[i] < '1' || s[i] > '9' {
		return "", 0, false
	}
	g := int(s[i] - '0')
	i++
	var args []string
	for i < len(s) && s[i] == ',' {
		i++
		if i >= len(s) || s[i] != '"' {
			return "", 0, false
		}
		end := strings.IndexByte(s[i+1:], '"')
		if end < 0 {
			return "", 0, false
		}
		args = append(args, s[i+1:i+1+end])
		i += end + 2
	}
	if !strings.HasPrefix(s[i:], ")}") {
		return "", 0, false
	}
	n = i + 2
	text := raw(g)
	switch name {
	case "P":
		if len(args) != 0 {
			return "", 0, false
		}
		var b strings.Builder
		for _, r := range text {
			if r >= 0x20 && r < 0x7f {
				b.WriteRune(r)
			}
		}
		return b.String(), n, true
	case "SUBST":
		if len(args) != 2 {
			return "", 0, false
		}
		if args[0] == "" {
			return text, n, true
		}
		out := strings.ReplaceAll(text, args[0], args[1])
		if len(out) > maxSubstOut {
			out = out[:maxSubstOut]
		}
		return out, n, true
	default: // I
		if len(args) != 1 || (args[0] != "<" && args[0] != ">") {
			return "", 0, false
		}
		// The text is Latin-1 decoded: one rune per byte of the response.
		var bs []byte
		for _, r := range text {
			if r > 0xff || len(bs) == 8 {
				return "", n, true // not an integer nmap could unpack
			}
			bs = append(bs, byte(r))
		}
		if len(bs) == 0 {
			return "", n, true
		}
		var v uint64
		for k := range bs {
			b := bs[k]
			if args[0] == "<" {
				b = bs[len(bs)-1-k]
			}
			v = v<<8 | uint64(b)
		}
		return strconv.FormatUint(v, 10), n, true
	}
}
