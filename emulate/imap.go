package emulate

import (
	"bytes"
	"strings"
)

// imapDialect classifies IMAP4rev1 commands (RFC 3501) before login: the
// tag and command are parsed, and lines without a command, with an unknown
// command or with bad arguments get their own classes.
//
// States: notauth (before login), sasl (inside AUTHENTICATE). The
// authenticated state needs a password and is never recorded.
type imapDialect struct{}

var imapVerbs = set("CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN", "ID", "ENABLE",
	"SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB",
	"STATUS", "APPEND", "CHECK", "CLOSE", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "UID",
	"IDLE", "NAMESPACE", "COMPRESS", "GETQUOTA", "XLIST", "UNSELECT",
	"GET", "POST", "HEAD", "EHLO", "HELO", "USER", "HELP")

func (imapDialect) initial() string { return "notauth" }

func (imapDialect) sticky() []string { return []string{"tag"} }

func (imapDialect) classify(state string, line []byte, overlong bool) Parsed {
	if state == "sasl" {
		return saslResponse(line)
	}
	if p, ok := generic(line, overlong); ok {
		return p
	}
	s := string(line)
	tag, rest := splitVerb(s)
	verb, arg := splitVerb(rest)
	p := Parsed{Fields: map[string]string{"line": s, "tag": tag, "verb": verb, "arg": arg}}
	switch {
	case rest == "":
		p.Command = "NOCMD"
		if imapVerbs[strings.ToUpper(tag)] {
			p.Arg = "verb-as-tag"
		}
		return p
	case !validTag(tag):
		p.Command = "BADTAG"
		return p
	}
	p.Command = verbClass(verb, imapVerbs)
	a := strings.TrimSpace(arg)
	switch p.Command {
	case "LOGIN":
		n := len(strings.Fields(a))
		switch {
		case a == "":
		case strings.HasSuffix(a, "}"):
			p.Arg = "literal"
		case n == 1:
			p.Arg = "one"
		case n == 2:
			p.Arg = "two"
		default:
			p.Arg = "many"
		}
	case "AUTHENTICATE":
		mech, ir, _ := strings.Cut(a, " ")
		switch m := strings.ToUpper(mech); {
		case m == "":
		case m == "PLAIN" || m == "LOGIN" || m == "CRAM-MD5":
			p.Arg = strings.ToLower(m)
			if ir != "" {
				p.Arg += "+initial"
			}
		default:
			p.Arg = "unknown"
		}
	case "ID":
		switch {
		case a == "":
		case strings.EqualFold(a, "NIL"):
			p.Arg = "nil"
		case strings.HasPrefix(a, "("):
			p.Arg = "list"
		default:
			p.Arg = "invalid"
		}
	case "UNKNOWN":
		p.Arg = wordClass(verb, arg)
	case "GET", "POST", "HEAD":
	default:
		if a != "" {
			p.Arg = "arg"
		}
	}
	return p
}

// validTag: an IMAP tag is ASTRING-CHARs without "+" (RFC 3501 9).
func validTag(t string) bool {
	if t == "" {
		return false
	}
	for _, c := range t {
		if c <= ' ' || c > '~' || strings.ContainsRune("(){%*\"\\]+", c) {
			return false
		}
	}
	return true
}

func (imapDialect) outcome(p Parsed, reply []byte) string {
	tag := p.Fields["tag"]
	for _, l := range bytes.Split(reply, []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		if bytes.HasPrefix(l, []byte("+")) {
			return outcomeMore
		}
		if tag != "" && bytes.HasPrefix(l, []byte(tag+" ")) {
			st := bytes.ToUpper(bytes.TrimPrefix(l, []byte(tag+" ")))
			if bytes.HasPrefix(st, []byte("OK")) {
				return outcomeOK
			}
			return outcomeError
		}
	}
	return outcomeError
}

func (imapDialect) next(state string, p Parsed, outcome string) string {
	switch p.Command {
	case "AUTHENTICATE", "AUTH-RESPONSE":
		if outcome == outcomeMore {
			return "sasl"
		}
		if outcome == outcomeOK {
			return "authenticated"
		}
		return "notauth"
	case "LOGIN":
		if outcome == outcomeOK {
			return "authenticated"
		}
	}
	return state
}

func (imapDialect) startTLS(p Parsed, outcome string) bool {
	return p.Command == "STARTTLS" && outcome == outcomeOK
}

// replyDone: a tagged status line, a continuation request, or (for lines
// without a usable tag) any complete line.
func (imapDialect) replyDone(p Parsed, buf []byte) bool {
	if len(buf) == 0 || buf[len(buf)-1] != '\n' {
		return false
	}
	tag := p.Fields["tag"]
	for _, l := range bytes.Split(bytes.TrimRight(buf, "\r\n"), []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		if bytes.HasPrefix(l, []byte("+ ")) || string(l) == "+" {
			return true
		}
		if tag != "" && p.Command != "NOCMD" && p.Command != "BADTAG" && bytes.HasPrefix(l, []byte(tag+" ")) {
			return true
		}
		if bytes.HasPrefix(l, []byte("* BYE")) {
			return true
		}
	}
	switch p.Command {
	case "NOCMD", "BADTAG", "EMPTY", "BINARY", "OVERLONG", "GET", "POST", "HEAD":
		return true
	}
	return false
}

var imapTests = []string{
	"a1 CAPABILITY", "a1 CAPABILITY portraitarg", "a1 NOOP", "a1 ID NIL", "a1 ID (\"name\" \"portrait\")", "a1 ID", "a1 ID x",
	"a1 ENABLE UTF8=ACCEPT", "a1 NAMESPACE", "a1 SELECT INBOX", "a1 EXAMINE INBOX", "a1 LIST \"\" *", "a1 LSUB \"\" *",
	"a1 STATUS INBOX (MESSAGES)", "a1 CREATE portrait", "a1 FETCH 1 BODY[]", "a1 UID FETCH 1 BODY[]", "a1 CLOSE",
	"a1 IDLE", "a1 COMPRESS DEFLATE", "a1 GETQUOTA \"\"", "a1 XLIST \"\" *", "a1 UNSELECT",
	"a1 AUTHENTICATE", "a1 AUTHENTICATE PLAIN AHBvcnRyYWl0AHBvcnRyYWl0", "a1 AUTHENTICATE XYZZYMECH",
	"a1 LOGIN", "a1 LOGIN portraituser", "a1 LOGIN portraituser portraitpass", "a1 LOGIN a b c",
	"a1 XyzZy", "a1 XyzZy portraitarg", "a1 x-1",
	"CAPABILITY", "a1", "* CAPABILITY", "+ NOOP", "a(1 NOOP",
	"GET / HTTP/1.0", "EHLO portrait.example", "USER portraituser", "HELP",
	"", "\x00\x01\x02\xfe\xff",
	"a1 STARTTLS portraitarg",
	"a1 AUTHENTICATE PLAIN",
	"a1 STARTTLS", "a1 LOGOUT", "a1 LOGOUT portraitarg",
}

var imapSetup = map[string][]string{
	"notauth": nil,
	"sasl":    {"a0 AUTHENTICATE PLAIN"},
}

var imapModeTests = map[string][]string{
	"sasl": {"*", "AHBvcnRyYWl0AHBvcnRyYWl0"},
}
