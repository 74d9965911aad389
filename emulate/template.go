package emulate

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Placeholders. A reply holds ${name}, ${name:modifier} or ${name:kind:n};
// "$$" stands for a literal "$" (written only where a "$" is followed by
// "$" or "{", so ordinary text keeps its dollars). The names:
//
//	${hostname}                 the server's name (vars.hostname)
//	${client_ip} ${client_port} the peer of the session
//	${server_ip} ${server_port} the emulator's own address
//	${sessions}                 sessions open now (Pure-FTPd's "user number N")
//	${line} ${verb} ${arg}      the command line, its verb and its argument as the client sent them
//	${addr}                     the address inside <...> (SMTP) or after "TO:"/"FROM:"
//	${tag}                      the IMAP tag
//	${user}                     the user name given earlier in the session (FTP, POP3)
//	${method} ${target} ${path} the HTTP request's method, target and path
//	${host}                     the HTTP request's Host header, without its port
//	${content_length}           the length of the HTTP body after expansion
//	${date:FORMAT}              the current time: http, rfc2822, rfc2822_short, ctime, time_hm, time_hms, iso
//	${rand:KIND:N}              N random characters: hex, HEX, digits, alnum
//
// Text names take :upper or :lower (${verb:upper}).

// dateFormats maps the date placeholder formats to Go layouts.
var dateFormats = map[string]string{
	"http":          "Mon, 02 Jan 2006 15:04:05 GMT",
	"rfc2822":       "Mon, 02 Jan 2006 15:04:05 -0700",
	"rfc2822_short": "Mon, 2 Jan 2006 15:04:05 -0700",
	"ctime":         "Mon Jan _2 15:04:05 2006",
	"time_hm":       "15:04",
	"time_hms":      "15:04:05",
	"iso":           "2006-01-02T15:04:05Z07:00",
}

var textNames = map[string]bool{
	"hostname": true, "client_ip": true, "client_port": true, "server_ip": true, "server_port": true,
	"sessions": true, "line": true, "verb": true, "arg": true, "addr": true, "tag": true, "user": true,
	"method": true, "target": true, "path": true, "host": true, "content_length": true,
}

const maxRand = 256

type placeholder struct {
	name, mod string
	n         int
}

func parsePlaceholder(body string) (placeholder, error) {
	parts := strings.Split(body, ":")
	ph := placeholder{name: parts[0]}
	switch {
	case parts[0] == "date":
		if len(parts) != 2 {
			return ph, fmt.Errorf("${%s}: want ${date:FORMAT}", body)
		}
		if _, ok := dateFormats[parts[1]]; !ok {
			return ph, fmt.Errorf("${%s}: unknown date format %q", body, parts[1])
		}
		ph.mod = parts[1]
	case parts[0] == "rand":
		if len(parts) != 3 {
			return ph, fmt.Errorf("${%s}: want ${rand:KIND:N}", body)
		}
		switch parts[1] {
		case "hex", "HEX", "digits", "alnum":
		default:
			return ph, fmt.Errorf("${%s}: unknown kind %q", body, parts[1])
		}
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 1 || n > maxRand {
			return ph, fmt.Errorf("${%s}: length must be 1-%d", body, maxRand)
		}
		ph.mod, ph.n = parts[1], n
	case textNames[parts[0]]:
		if len(parts) > 2 || (len(parts) == 2 && parts[1] != "upper" && parts[1] != "lower") {
			return ph, fmt.Errorf("${%s}: modifier must be upper or lower", body)
		}
		if len(parts) == 2 {
			ph.mod = parts[1]
		}
	default:
		return ph, fmt.Errorf("unknown placeholder ${%s}", body)
	}
	return ph, nil
}

// walk calls lit for literal text and ph for each placeholder.
func walk(s string, lit func(string), ph func(placeholder)) error {
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			lit(s)
			return nil
		}
		lit(s[:i])
		switch s[i+1] {
		case '$':
			lit("$")
			s = s[i+2:]
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return fmt.Errorf("unterminated placeholder in %q", trunc(s[i:], 40))
			}
			p, err := parsePlaceholder(s[i+2 : i+end])
			if err != nil {
				return err
			}
			ph(p)
			s = s[i+end+1:]
		default:
			lit("$")
			s = s[i+1:]
		}
	}
}

// CheckTemplate reports a malformed or unknown placeholder.
func CheckTemplate(s string) error {
	return walk(s, func(string) {}, func(placeholder) {})
}

// Escape makes literal text safe to store as a template.
func Escape(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && (s[i+1] == '$' || s[i+1] == '{') {
			b.WriteByte('$')
		}
	}
	return b.String()
}

// Vars are the values placeholders expand to in one reply.
type Vars struct {
	Text map[string]string
	Now  time.Time
	// Loc is the time zone of dates other than http (default UTC).
	Loc *time.Location
}

// maxExpand caps one expanded reply: echoes of client input are bounded by
// the line limit, but a template echoing ${line} many times must not grow
// without end.
const maxExpand = 1 << 20

// Expand fills the placeholders of a template. A malformed template
// expands to itself (Validate rejects those files before serving).
func Expand(s string, v Vars) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	err := walk(s, func(t string) {
		if b.Len()+len(t) <= maxExpand {
			b.WriteString(t)
		}
	}, func(p placeholder) {
		var out string
		switch p.name {
		case "date":
			t := v.Now
			if t.IsZero() {
				t = time.Now()
			}
			if p.mod == "http" {
				t = t.UTC()
			} else if v.Loc != nil {
				t = t.In(v.Loc)
			} else {
				t = t.UTC()
			}
			out = t.Format(dateFormats[p.mod])
		case "rand":
			out = randString(p.mod, p.n)
		default:
			out = v.Text[p.name]
			switch p.mod {
			case "upper":
				out = strings.ToUpper(out)
			case "lower":
				out = strings.ToLower(out)
			}
		}
		if b.Len()+len(out) <= maxExpand {
			b.WriteString(out)
		}
	})
	if err != nil {
		return s
	}
	return b.String()
}

func randString(kind string, n int) string {
	var set string
	switch kind {
	case "hex":
		set = "0123456789abcdef"
	case "HEX":
		set = "0123456789ABCDEF"
	case "digits":
		set = "0123456789"
	default:
		set = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	}
	out := make([]byte, n)
	max := big.NewInt(int64(len(set)))
	for i := range out {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			out[i] = set[0]
			continue
		}
		out[i] = set[k.Int64()]
	}
	return string(out)
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
