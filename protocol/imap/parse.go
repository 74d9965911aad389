package imap

import (
	"bytes"
	"regexp"
	"strings"
)

// Bounds on what the parsers keep: real servers send a handful of lines and
// an ID list of a few pairs.
const (
	maxLines   = 256
	maxIDPairs = 32
	maxIDValue = 256
)

// Greeting classifies the server's first line (RFC 9051 §7.1: "* OK",
// "* PREAUTH", "* BYE"). It returns "" for anything else.
func Greeting(line string) string {
	for _, k := range []string{"OK", "PREAUTH", "BYE"} {
		if len(line) >= 3+len(k) && line[:2] == "* " && strings.EqualFold(line[2:2+len(k)], k) &&
			(len(line) == 2+len(k) || line[2+len(k)] == ' ' || line[2+len(k)] == '\r' || line[2+len(k)] == '\n') {
			return k
		}
	}
	return ""
}

var capCode = regexp.MustCompile(`(?i)\[CAPABILITY ([^\]]*)\]`)

// GreetingCapabilities returns the capabilities a greeting carries in a
// "[CAPABILITY ...]" response code.
func GreetingCapabilities(line string) string {
	if m := capCode.FindStringSubmatch(line); m != nil {
		return strings.TrimSpace(m[1])
	}
	return ""
}

// TaggedEnd returns the length of b up to and including the tagged line for
// tag, or -1 when it has not arrived. After maxLines lines it gives up and
// returns the length read so far (the caller treats it as an answer without
// a tagged line).
func TaggedEnd(b []byte, tag string) int {
	off := 0
	for n := 0; n < maxLines; n++ {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return -1
		}
		line := b[off : off+i]
		off += i + 1
		if len(line) > len(tag) && string(line[:len(tag)]) == tag && line[len(tag)] == ' ' {
			return off
		}
	}
	return off
}

// Lines splits a response into lines without CR LF.
func Lines(b []byte) []string {
	s := strings.TrimRight(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	if s == "" {
		return nil
	}
	l := strings.Split(s, "\n")
	if len(l) > maxLines {
		l = l[:maxLines]
	}
	return l
}

// Untagged returns the text after "* NAME " of the first untagged line of
// that name ("* CAPABILITY IMAP4rev1 ..." → "IMAP4rev1 ...").
func Untagged(lines []string, name string) (string, bool) {
	p := "* " + name
	for _, l := range lines {
		if len(l) >= len(p) && strings.EqualFold(l[:len(p)], p) && (len(l) == len(p) || l[len(p)] == ' ') {
			return strings.TrimSpace(l[len(p):]), true
		}
	}
	return "", false
}

// Tagged returns the status ("OK", "NO", "BAD") and text of the tagged line.
func Tagged(lines []string, tag string) (status, text string) {
	for _, l := range lines {
		if strings.HasPrefix(l, tag+" ") {
			status, text, _ = strings.Cut(strings.TrimSpace(l[len(tag)+1:]), " ")
			return strings.ToUpper(status), text
		}
	}
	return "", ""
}

// ParseID parses the parameter list of an ID response (RFC 2971:
// "(" *(string SP nstring) ")" or NIL) into key/value pairs in order.
// Keys are lower-cased; NIL values are empty.
func ParseID(s string) [][2]string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "(") {
		return nil
	}
	toks := idTokens(s[1:])
	var out [][2]string
	for i := 0; i+1 < len(toks) && len(out) < maxIDPairs; i += 2 {
		k := strings.ToLower(toks[i])
		if k == "" {
			continue
		}
		out = append(out, [2]string{k, toks[i+1]})
	}
	return out
}

// idTokens reads quoted strings and atoms (NIL) until ")" or the end.
func idTokens(s string) []string {
	var toks []string
	for i := 0; i < len(s) && len(toks) < 2*maxIDPairs; {
		switch c := s[i]; {
		case c == ' ':
			i++
		case c == ')':
			return toks
		case c == '"':
			var b strings.Builder
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				if b.Len() < maxIDValue {
					b.WriteByte(s[i])
				}
				i++
			}
			i++ // closing quote
			toks = append(toks, b.String())
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != ')' {
				j++
			}
			atom := s[i:j]
			if strings.EqualFold(atom, "NIL") {
				atom = ""
			}
			if len(atom) > maxIDValue {
				atom = atom[:maxIDValue]
			}
			toks = append(toks, atom)
			i = j
		}
	}
	return toks
}

// fieldKey makes an ID key safe as a field name part: lower case letters,
// digits, "-" and "_"; anything else becomes "_".
func fieldKey(k string) string {
	b := []byte(k)
	if len(b) > 32 {
		b = b[:32]
	}
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// hasCap reports whether a space-separated capability list holds c.
func hasCap(caps, c string) bool {
	for _, x := range strings.Fields(caps) {
		if strings.EqualFold(x, c) {
			return true
		}
	}
	return false
}
