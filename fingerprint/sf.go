package fingerprint

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Version is written into SF fingerprints (V=).
var Version = "0.1.0"

const (
	sfMaxResponse = 1024 // bytes of one response kept in the fingerprint
	sfMaxTotal    = 4096 // bytes of escaped responses in all
	sfLine        = 77   // characters per SF: line after the prefix
)

// SF renders an nmap-style service fingerprint of the responses an
// unidentified service gave, ready to become a custom rule.
func SF(port int, transport string, xs []Exchange) string {
	now := time.Now().UTC()
	var b strings.Builder
	fmt.Fprintf(&b, "SF-Port%d-%s:V=%s%%I=7%%D=%d/%d%%Time=%X%%P=%s-%s", port, strings.ToUpper(transport),
		Version, int(now.Month()), now.Day(), now.Unix(), runtime.GOARCH, runtime.GOOS)
	total := 0
	for _, x := range xs {
		if len(x.Response) == 0 || total >= sfMaxTotal {
			continue
		}
		resp := x.Response
		if len(resp) > sfMaxResponse {
			resp = resp[:sfMaxResponse]
		}
		esc := SFEscape(resp)
		if total+len(esc) > sfMaxTotal {
			esc = esc[:sfMaxTotal-total]
			// Never cut an escape sequence in half.
			if i := strings.LastIndexByte(esc, '\\'); i >= 0 && len(esc)-i < 4 {
				esc = esc[:i]
			}
		}
		total += len(esc)
		name := x.Probe
		if x.TLS {
			name = "SSL:" + name
		}
		fmt.Fprintf(&b, "%%r(%s,%X,\"%s\")", name, len(x.Response), esc)
	}
	b.WriteString(";")
	return wrapSF(b.String())
}

// SFEscape escapes bytes the way nmap prints responses in fingerprints.
func SFEscape(p []byte) string {
	var b strings.Builder
	for _, c := range p {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == 0:
			b.WriteString(`\0`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// wrapSF splits the fingerprint into lines joined by "\nSF:" as nmap does.
func wrapSF(s string) string {
	first := strings.IndexByte(s, '%')
	if first < 0 || len(s) <= sfLine {
		return s
	}
	var b strings.Builder
	head := s
	if len(head) > sfLine+3 {
		head = s[:sfLine+3]
	}
	b.WriteString(head)
	for rest := s[len(head):]; len(rest) > 0; {
		n := sfLine
		if n > len(rest) {
			n = len(rest)
		}
		b.WriteString("\nSF:")
		b.WriteString(rest[:n])
		rest = rest[n:]
	}
	return b.String()
}
