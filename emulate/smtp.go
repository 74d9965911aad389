package emulate

import (
	"strings"
)

// smtpDialect classifies SMTP commands (RFC 5321) the way Honeybee's SMTP
// parser did: recipients by user (known, unknown, remote, no domain) and
// by bracket style (angle, bare, open, close), HELO names by shape,
// commands out of order by state.
//
// States: init (after the greeting), greeted (HELO/EHLO accepted), mail
// (MAIL accepted), rcpt (a recipient accepted), data (inside DATA), auth
// (inside an AUTH exchange).
type smtpDialect struct {
	// hostname and users decide the recipient classes.
	hostname string
	users    map[string]bool
}

var smtpVerbs = set("HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "HELP", "VRFY",
	"EXPN", "ETRN", "TURN", "STARTTLS", "AUTH", "BDAT", "XCLIENT", "XFORWARD",
	// foreign verbs some MTAs treat specially (Postfix hangs up on them)
	"GET", "POST", "CONNECT", "HEAD", "USER", "PASS")

func (smtpDialect) initial() string { return "init" }

func (smtpDialect) sticky() []string { return nil }

func (d smtpDialect) classify(state string, line []byte, overlong bool) Parsed {
	switch state {
	case "data":
		if string(line) == "." {
			return Parsed{Command: "DATA-END", Fields: map[string]string{}}
		}
		return Parsed{Command: "DATA-LINE", NoReply: true, Fields: map[string]string{}}
	case "auth":
		return saslResponse(line)
	}
	if p, ok := generic(line, overlong); ok {
		return p
	}
	s := string(line)
	verb, arg := splitVerb(s)
	p := Parsed{Command: verbClass(verb, smtpVerbs), Fields: map[string]string{"line": s, "verb": verb, "arg": arg}}
	switch p.Command {
	case "HELO", "EHLO":
		p.Arg = heloClass(arg)
	case "MAIL":
		p.Arg = d.pathClass(arg, "FROM:", p.Fields)
	case "RCPT":
		p.Arg = d.pathClass(arg, "TO:", p.Fields)
	case "VRFY", "EXPN":
		switch {
		case arg == "":
		default:
			addr, _ := addrOf(arg)
			p.Fields["addr"] = addr
			p.Arg = d.userClass(addr)
		}
	case "AUTH":
		mech, ir, _ := strings.Cut(strings.TrimSpace(arg), " ")
		switch m := strings.ToUpper(mech); {
		case m == "":
		case m == "PLAIN" || m == "LOGIN" || m == "CRAM-MD5" || m == "XOAUTH2":
			p.Arg = strings.ToLower(m)
			if ir != "" {
				p.Arg += "+initial"
			}
		default:
			p.Arg = "unknown"
		}
	case "UNKNOWN":
		p.Arg = wordClass(verb, arg)
	case "GET", "POST", "HEAD", "CONNECT":
		p.Arg = ""
	default:
		if strings.TrimSpace(arg) != "" {
			p.Arg = "arg"
		}
	}
	return p
}

// heloClass: "" none, domain, word (no dot), literal ([addr]), bad.
func heloClass(arg string) string {
	a := strings.TrimSpace(arg)
	switch {
	case a == "":
		return ""
	case strings.HasPrefix(a, "[") && strings.HasSuffix(a, "]"):
		return "literal"
	case strings.ContainsAny(a, " !\"#$%&'()*+,/;<=>?@\\^`{|}~"):
		return "bad"
	case strings.Contains(a, "."):
		return "domain"
	}
	return "word"
}

// wordClass classifies an unknown command: a plain word or not.
func wordClass(verb, arg string) string {
	for _, c := range verb {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return "other"
		}
	}
	if arg != "" {
		return "word+arg"
	}
	return "word"
}

// pathClass classifies "FROM:<a@b> params" and "TO:<a@b>".
func (d smtpDialect) pathClass(arg, prefix string, f map[string]string) string {
	a := arg
	if a == "" {
		return ""
	}
	if len(a) < len(prefix) || !strings.EqualFold(a[:len(prefix)], prefix) {
		return "bad"
	}
	rest := a[len(prefix):]
	space := ""
	if strings.HasPrefix(rest, " ") {
		space = "+space"
		rest = strings.TrimLeft(rest, " ")
	}
	if rest == "" {
		return strings.ToLower(prefix) + "none"
	}
	addr, style := addrOf(rest)
	f["addr"] = addr
	cls := strings.ToLower(prefix) + style
	if style != "empty" && prefix == "TO:" {
		cls += ":" + d.userClass(addr)
	}
	// Parameters after the address (SIZE=, BODY=).
	if i := strings.IndexByte(rest, ' '); i >= 0 && strings.TrimSpace(rest[i:]) != "" {
		cls += "+params"
	}
	return cls + space
}

// userClass: known (a local user), unknown (a local address nobody has),
// remote (another domain), nodomain.
func (d smtpDialect) userClass(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		if d.users[strings.ToLower(local)] {
			return "nodomain-known"
		}
		return "nodomain"
	}
	dom := strings.ToLower(domain)
	if dom != strings.ToLower(d.hostname) && dom != "localhost" {
		return "remote"
	}
	if d.users[strings.ToLower(local)] {
		return "known"
	}
	return "unknown"
}

func (smtpDialect) outcome(_ Parsed, reply []byte) string { return codeOutcome(reply) }

func (smtpDialect) next(state string, p Parsed, outcome string) string {
	switch p.Command {
	case "HELO", "EHLO":
		if outcome == outcomeOK {
			return "greeted"
		}
	case "MAIL":
		if outcome == outcomeOK {
			return "mail"
		}
	case "RCPT":
		if outcome == outcomeOK {
			return "rcpt"
		}
	case "DATA":
		if outcome == outcomeMore {
			return "data"
		}
	case "DATA-END":
		return "greeted"
	case "RSET":
		if outcome == outcomeOK && state != "init" {
			return "greeted"
		}
	case "AUTH", "AUTH-RESPONSE":
		if outcome == outcomeMore {
			return "auth"
		}
		if state == "auth" {
			return "greeted"
		}
	case "STARTTLS":
		if outcome == outcomeOK {
			return "init"
		}
	}
	return state
}

func (smtpDialect) startTLS(p Parsed, outcome string) bool {
	return p.Command == "STARTTLS" && outcome == outcomeOK
}

func (smtpDialect) replyDone(_ Parsed, buf []byte) bool { return codeReplyDone(buf) }

// smtpTests is the recorder's test set: one representative per command
// class and argument class, in every state. %h is the server's hostname.
var smtpTests = []string{
	"EHLO client.portrait.example", "EHLO", "EHLO portraitclient", "EHLO [192.0.2.7]", "EHLO bad!name.example",
	"HELO client.portrait.example", "HELO", "HELO portraitclient", "HELO [192.0.2.7]", "HELO bad!name.example",
	"MAIL FROM:<sender@portrait.example>", "MAIL FROM:sender@portrait.example", "MAIL FROM:<>",
	"MAIL FROM:<sender@portrait.example", "MAIL FROM:sender@portrait.example>",
	"MAIL FROM:<sender@portrait.example> SIZE=1000", "MAIL FROM: <sender@portrait.example>",
	"MAIL", "MAIL TO:<sender@portrait.example>", "MAIL FROM:",
	"RCPT TO:<postmaster@%h>", "RCPT TO:postmaster@%h", "RCPT TO:<postmaster@%h", "RCPT TO:postmaster@%h>",
	"RCPT TO:<nosuchuser7q@%h>", "RCPT TO:nosuchuser7q@%h", "RCPT TO:<nosuchuser7q@%h", "RCPT TO:nosuchuser7q@%h>",
	"RCPT TO:<someone@portrait.example>", "RCPT TO:someone@portrait.example", "RCPT TO:<someone@portrait.example", "RCPT TO:someone@portrait.example>",
	"RCPT TO:<postmaster>", "RCPT TO:<nosuchuser7q>", "RCPT TO:<>", "RCPT", "RCPT FROM:<postmaster@%h>", "RCPT TO: <postmaster@%h>",
	"VRFY postmaster", "VRFY nosuchuser7q", "VRFY", "EXPN postmaster", "EXPN",
	"NOOP", "NOOP portraitarg", "RSET", "RSET portraitarg", "HELP", "HELP MAIL",
	"ETRN", "ETRN portrait.example", "TURN", "BDAT 0 LAST",
	"AUTH", "AUTH PLAIN", "AUTH PLAIN AHBvcnRyYWl0AHBvcnRyYWl0", "AUTH LOGIN", "AUTH XYZZYMECH",
	"STARTTLS portraitarg",
	"XyzZy", "XyzZy portraitarg", "x-1",
	"GET / HTTP/1.0", "POST / HTTP/1.0", "CONNECT portrait.example:25 HTTP/1.0", "USER portraituser",
	"", "\x00\x01\x02\xfe\xff", "\x16\x03\x01\x00\x05hello",
	"DATA", "DATA portraitarg",
	"STARTTLS", "QUIT", "QUIT portraitarg",
}

// smtpSetup is how the recorder reaches each state from init.
var smtpSetup = map[string][]string{
	"init":    nil,
	"greeted": {"EHLO client.portrait.example"},
	"mail":    {"EHLO client.portrait.example", "MAIL FROM:<sender@portrait.example>"},
	"rcpt":    {"EHLO client.portrait.example", "MAIL FROM:<sender@portrait.example>", "RCPT TO:<postmaster@%h>"},
	"data":    {"EHLO client.portrait.example", "MAIL FROM:<sender@portrait.example>", "RCPT TO:<postmaster@%h>", "DATA"},
	"auth":    {"EHLO client.portrait.example", "AUTH PLAIN"},
}

// smtpModeTests are the lines tried in the special states.
var smtpModeTests = map[string][]string{
	"data": {"Subject: portrait"}, // never "." : the recorder delivers no mail
	"auth": {"*", "cG9ydHJhaXQ="},
}
