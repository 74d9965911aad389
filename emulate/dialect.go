package emulate

import (
	"bytes"
	"strings"
)

// Parsed is one client line put into its classes, the key under which the
// personality stores the server's answer. The recorder and the emulator
// classify with the same code, so an emulated session looks up exactly the
// keys a recording wrote.
type Parsed struct {
	// Command is the command class: the upper-case verb of a known
	// command, or UNKNOWN, EMPTY, BINARY, OVERLONG, or a mode's own class
	// (DATA-LINE, DATA-END, AUTH-RESPONSE...).
	Command string
	// Arg is the argument class ("" when the command has none).
	Arg string
	// Fields are the values echoed by placeholders (line, verb, arg,
	// addr, tag, user).
	Fields map[string]string
	// NoReply: the server answers nothing to this line (a line of mail
	// data, an IMAP literal).
	NoReply bool
}

// Reply outcome classes a dialect reads from a server's answer.
const (
	outcomeOK    = "ok"    // positive completion
	outcomeMore  = "more"  // positive intermediate (331, 334, 354, "+ ")
	outcomeError = "error" // refused, unknown, syntax error
)

// dialect is one line protocol's knowledge: how client lines are
// classified, how replies end, and how the session state moves.
type dialect interface {
	// initial is the state after the greeting.
	initial() string
	// classify puts a line (without its line end) into classes. overlong
	// means the line was cut at the line limit.
	classify(state string, line []byte, overlong bool) Parsed
	// outcome reads a reply's first line.
	outcome(p Parsed, reply []byte) string
	// next is the state after a reply with that outcome.
	next(state string, p Parsed, outcome string) string
	// startTLS says whether this command with this outcome starts TLS.
	startTLS(p Parsed, outcome string) bool
	// replyDone says whether buf holds a complete reply to p.
	replyDone(p Parsed, buf []byte) bool
	// sticky names the fields that outlive their line (IMAP tag, FTP user).
	sticky() []string
}

func dialectFor(protocol string) dialect {
	switch protocol {
	case "smtp":
		return smtpDialect{}
	case "ftp":
		return ftpDialect{}
	case "pop3":
		return pop3Dialect{}
	case "imap":
		return imapDialect{}
	}
	return nil
}

// saslResponse classifies a line sent during a SASL exchange (AUTH,
// AUTHENTICATE): "*" cancels it, anything else is response data.
func saslResponse(line []byte) Parsed {
	f := map[string]string{"line": latin1(line)}
	if strings.TrimSpace(string(line)) == "*" {
		return Parsed{Command: "AUTH-RESPONSE", Arg: "cancel", Fields: f}
	}
	return Parsed{Command: "AUTH-RESPONSE", Arg: "data", Fields: f}
}

// generic classifies the lines every line protocol treats alike: too long,
// empty, binary. ok is false when the line is an ordinary command.
func generic(line []byte, overlong bool) (Parsed, bool) {
	f := map[string]string{"line": latin1(line)}
	switch {
	case overlong:
		return Parsed{Command: "OVERLONG", Fields: f}, true
	case len(bytes.TrimSpace(line)) == 0:
		return Parsed{Command: "EMPTY", Fields: f}, true
	case len(line) >= 3 && line[0] == 0x16 && line[1] == 0x03:
		return Parsed{Command: "BINARY", Arg: "tls-hello", Fields: f}, true
	case !printable(line):
		return Parsed{Command: "BINARY", Fields: f}, true
	}
	return Parsed{}, false
}

// printable reports whether a line is ASCII text (tabs allowed).
func printable(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c > 0x7e {
			return false
		}
	}
	return true
}

// splitVerb returns the first word and the rest after one space.
func splitVerb(line string) (verb, arg string) {
	verb, arg, _ = strings.Cut(line, " ")
	return verb, arg
}

// verbClass returns the upper-case verb when known, else UNKNOWN.
func verbClass(verb string, known map[string]bool) string {
	u := strings.ToUpper(verb)
	if known[u] {
		return u
	}
	return "UNKNOWN"
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// latin1 turns bytes into a string one rune per byte, so that no byte a
// client sent is lost in a log or an echo.
func latin1(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// codeReplyDone reports whether buf holds a complete numeric reply
// (SMTP, FTP): the last line starts with the code and a space.
func codeReplyDone(buf []byte) bool {
	if len(buf) == 0 || buf[len(buf)-1] != '\n' {
		return false
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\r\n"), "\n")
	first := strings.TrimRight(lines[0], "\r")
	if len(first) < 3 || !isDigits(first[:3]) {
		return true // not a numeric reply: one line is all there is
	}
	code := first[:3]
	for _, l := range lines {
		l = strings.TrimRight(l, "\r")
		if len(l) == 3 && l == code {
			return true
		}
		if len(l) >= 4 && l[:3] == code && l[3] == ' ' {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// codeOutcome reads a numeric reply's outcome.
func codeOutcome(reply []byte) string {
	if len(reply) < 3 || !isDigits(string(reply[:3])) {
		return outcomeError
	}
	switch reply[0] {
	case '2':
		return outcomeOK
	case '1', '3':
		return outcomeMore
	}
	return outcomeError
}

// addrOf returns the address of "TO:<a@b>" style arguments and the
// bracket style: angle, bare, open (no ">"), close (no "<"), empty ("<>").
func addrOf(arg string) (addr, style string) {
	a := strings.TrimSpace(arg)
	if i := strings.IndexByte(a, ' '); i >= 0 && strings.HasPrefix(a, "<") && strings.Contains(a[:i], ">") {
		a = a[:i] // parameters after the address
	} else if i >= 0 && !strings.HasPrefix(a, "<") {
		a = a[:i]
	}
	open, close := strings.HasPrefix(a, "<"), strings.HasSuffix(a, ">")
	switch {
	case a == "<>":
		return "", "empty"
	case open && close:
		return a[1 : len(a)-1], "angle"
	case open:
		return a[1:], "open"
	case close:
		return a[:len(a)-1], "close"
	}
	return a, "bare"
}
