package emulate

import (
	"bytes"
	"strings"
)

// pop3Dialect classifies POP3 commands (RFC 1939, 2449, 2595, 5034).
//
// States: auth (the AUTHORIZATION state), user (USER accepted), sasl
// (inside an AUTH exchange). The TRANSACTION state needs a mailbox
// password and is never recorded: the emulator lets nobody in.
type pop3Dialect struct{}

var pop3Verbs = set("USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "QUIT", "NOOP", "STAT", "LIST",
	"RETR", "DELE", "RSET", "TOP", "UIDL", "UTF8", "LANG", "XCLIENT",
	"GET", "POST", "HEAD", "EHLO", "HELO", "HELP")

// pop3Multi are the commands whose positive answer is a dot-terminated list.
var pop3Multi = set("CAPA", "LIST", "UIDL", "TOP", "RETR", "HELP", "AUTH", "LANG")

func (pop3Dialect) initial() string { return "auth" }

func (pop3Dialect) sticky() []string { return []string{"user"} }

func (pop3Dialect) classify(state string, line []byte, overlong bool) Parsed {
	if state == "sasl" {
		return saslResponse(line)
	}
	if p, ok := generic(line, overlong); ok {
		return p
	}
	s := string(line)
	verb, arg := splitVerb(s)
	p := Parsed{Command: verbClass(verb, pop3Verbs), Fields: map[string]string{"line": s, "verb": verb, "arg": arg}}
	a := strings.TrimSpace(arg)
	switch p.Command {
	case "USER":
		p.Fields["user"] = a
		if a != "" {
			p.Arg = "any"
		}
	case "AUTH":
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
	case "LIST", "RETR", "DELE", "UIDL", "TOP":
		switch {
		case a == "":
		case isDigits(strings.ReplaceAll(a, " ", "")):
			p.Arg = "number"
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

func (pop3Dialect) outcome(_ Parsed, reply []byte) string {
	switch {
	case bytes.HasPrefix(reply, []byte("+OK")):
		return outcomeOK
	case bytes.HasPrefix(reply, []byte("+")):
		return outcomeMore
	}
	return outcomeError
}

func (pop3Dialect) next(state string, p Parsed, outcome string) string {
	switch p.Command {
	case "USER":
		if outcome == outcomeOK {
			return "user"
		}
		return "auth"
	case "PASS", "APOP":
		if outcome == outcomeOK {
			return "transaction"
		}
		return "auth"
	case "AUTH", "AUTH-RESPONSE":
		if outcome == outcomeMore {
			return "sasl"
		}
		if outcome == outcomeOK && p.Command == "AUTH-RESPONSE" {
			return "transaction"
		}
		if state == "sasl" {
			return "auth"
		}
	}
	return state
}

func (pop3Dialect) startTLS(p Parsed, outcome string) bool {
	return p.Command == "STLS" && outcome == outcomeOK
}

func (pop3Dialect) replyDone(p Parsed, buf []byte) bool {
	if len(buf) == 0 || buf[len(buf)-1] != '\n' {
		return false
	}
	if pop3Multi[p.Command] && bytes.HasPrefix(buf, []byte("+OK")) && !(p.Command == "AUTH" && p.Arg != "") &&
		!(p.Arg == "number" && (p.Command == "LIST" || p.Command == "UIDL")) {
		return bytes.HasSuffix(buf, []byte("\n.\r\n")) || bytes.HasSuffix(buf, []byte("\n.\n"))
	}
	return true
}

var pop3Tests = []string{
	"CAPA", "CAPA portraitarg", "HELP", "NOOP", "STAT", "LIST", "LIST 1", "LIST x", "RETR 1", "RETR", "DELE 1",
	"RSET", "TOP 1 0", "UIDL", "UIDL 1", "LANG", "UTF8",
	"AUTH", "AUTH PLAIN", "AUTH PLAIN AHBvcnRyYWl0AHBvcnRyYWl0", "AUTH LOGIN", "AUTH XYZZYMECH",
	"APOP portraituser 0123456789abcdef0123456789abcdef", "APOP",
	"XyzZy", "XyzZy portraitarg", "x-1",
	"GET / HTTP/1.0", "EHLO portrait.example",
	"", "\x00\x01\x02\xfe\xff",
	"PASS portraitpass", "PASS",
	"USER portraituser", "USER",
	"STLS portraitarg", "STLS", "QUIT", "QUIT portraitarg",
}

var pop3Setup = map[string][]string{
	"auth": nil,
	"user": {"USER portraituser"},
	"sasl": {"AUTH PLAIN"},
}

var pop3ModeTests = map[string][]string{
	"sasl": {"*", "AHBvcnRyYWl0AHBvcnRyYWl0"},
}
