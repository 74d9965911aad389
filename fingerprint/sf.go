package fingerprint

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Version is written into SF fingerprints (V=).
var Version = "0.1.0"

// The shape of nmap's service fingerprints, kept identical so that tools
// and people who read nmap's fingerprints read portrait's:
const (
	sfMaxResponse = 900  // bytes of one response written (its full length is still given)
	sfMaxTotal    = 2200 // no further response is added once the fingerprint is this long
	sfWrap        = 74   // characters per line, "SF:" prefix included
)

// SF renders an nmap-style service fingerprint of the responses an
// unidentified service gave, ready to become a custom rule:
//
//	SF-Port<port>-<TCP|UDP>:V=<version>[%T=SSL]%I=7%D=<month>/<day>%Time=<unix time, hex>%P=<platform>
//	%r(<probe>,<response length, hex>,"<escaped response>") ... ;
//
// wrapped into lines of 74 characters, every line after the first starting
// with "SF:" (nmap's wrapping, which may cut an escape in two). When the
// port spoke TLS only the answers inside TLS are written, with %T=SSL.
// Each probe appears once (its first answer); a response is cut at 900
// bytes and no response is added once the text passed 2200 characters.
func SF(port int, transport string, xs []Exchange) string {
	now := time.Now()
	f := &SFPrint{Port: port, Transport: strings.ToUpper(transport), Version: Version, Intensity: 7,
		Month: int(now.Month()), Day: now.Day(), Time: now.Unix(), Platform: sfPlatform()}
	for _, x := range xs {
		if x.TLS && len(x.Response) > 0 {
			f.TLS = true
		}
	}
	seen := map[string]bool{}
	for _, x := range xs {
		if len(x.Response) == 0 || x.TLS != f.TLS || seen[x.Probe] {
			continue
		}
		seen[x.Probe] = true
		data := x.Response
		if len(data) > sfMaxResponse {
			data = data[:sfMaxResponse]
		}
		f.Responses = append(f.Responses, SFResponse{Probe: x.Probe, Length: len(x.Response), Data: data})
	}
	return f.String()
}

// SFPrint is one service fingerprint, as SF writes it and ParseSF reads it.
type SFPrint struct {
	Port      int
	Transport string // "TCP" or "UDP"
	Version   string // V=: the scanner's version
	TLS       bool   // %T=SSL: the responses came through TLS
	Intensity int    // I=
	Month     int    // D=month/day
	Day       int
	Time      int64  // Time=: Unix time of the scan
	Platform  string // P=
	Responses []SFResponse
}

// SFResponse is one probe's answer in a fingerprint.
type SFResponse struct {
	Probe  string
	Length int    // the answer's full length
	Data   []byte // the bytes written (at most its first 900)
}

// Truncated says whether the fingerprint holds only the start of the answer.
func (r SFResponse) Truncated() bool { return len(r.Data) < r.Length }

// String renders the fingerprint in nmap's format (see SF).
func (f *SFPrint) String() string {
	w := &sfWriter{}
	ssl := ""
	if f.TLS {
		ssl = "%T=SSL"
	}
	w.add(fmt.Sprintf("SF-Port%d-%s:V=%s%s%%I=%d%%D=%d/%d%%Time=%X%%P=%s", f.Port, f.Transport,
		f.Version, ssl, f.Intensity, f.Month, f.Day, f.Time, f.Platform))
	for _, r := range f.Responses {
		if w.n > sfMaxTotal {
			break
		}
		w.add(fmt.Sprintf("%%r(%s,%X,\"", sfProbeName(r.Probe), r.Length))
		w.add(SFEscape(r.Data))
		w.add("\")")
	}
	w.b.WriteByte(';') // the terminator is never wrapped
	return w.b.String()
}

// sfWriter wraps as nmap does: before a character lands at a position p
// (counting every character already written, line breaks included) with
// p % 75 == 74, "\nSF:" is inserted.
type sfWriter struct {
	b strings.Builder
	n int
}

func (w *sfWriter) add(s string) {
	for i := 0; i < len(s); i++ {
		if w.n%(sfWrap+1) == sfWrap {
			w.b.WriteString("\nSF:")
			w.n += 4
		}
		w.b.WriteByte(s[i])
		w.n++
	}
}

// sfProbeName keeps a probe name from breaking the %r(...) syntax.
func sfProbeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ',' || r == '(' || r == ')' || r == '%' || r == '"' || r <= ' ' || r > '~' {
			return '_'
		}
		return r
	}, s)
}

// sfPlatform names the scanning platform the way nmap's P= does.
func sfPlatform() string {
	arch := map[string]string{"amd64": "x86_64", "386": "i686", "arm64": "aarch64", "arm": "arm"}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	return arch + "-unknown-" + runtime.GOOS
}

// sfMeta are the bytes nmap escapes with a backslash: what a PCRE would
// otherwise read as syntax, so an escaped response is almost a regex.
const sfMeta = `\?"[]().*+$^|`

// SFEscape escapes bytes the way nmap prints responses in fingerprints:
// letters and digits as they are; the regex metacharacters \ ? " [ ] ( ) .
// * + $ ^ | after a backslash; other punctuation as it is; \r \n \t; a NUL
// as \0 (as \x00 before a digit, which would make it octal); everything
// else, space included, as \xHH.
func SFEscape(p []byte) string {
	var b strings.Builder
	b.Grow(len(p) * 2)
	for i, c := range p {
		switch {
		case isAlnumByte(c):
			b.WriteByte(c)
		case c == 0:
			if i+1 < len(p) && p[i+1] >= '0' && p[i+1] <= '9' {
				b.WriteString(`\x00`)
			} else {
				b.WriteString(`\0`)
			}
		case strings.IndexByte(sfMeta, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c > ' ' && c < 0x7f: // the rest of ASCII punctuation
			b.WriteByte(c)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

func isAlnumByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
