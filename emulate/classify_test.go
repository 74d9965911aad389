package emulate

import "testing"

func TestSMTPClasses(t *testing.T) {
	d := smtpDialect{hostname: "lab.local", users: map[string]bool{"postmaster": true}}
	tests := []struct{ line, cmd, arg string }{
		// Honeybee's recipient classes: user class x bracket style.
		{"RCPT TO:<postmaster@lab.local>", "RCPT", "to:angle:known"},
		{"RCPT TO:postmaster@lab.local", "RCPT", "to:bare:known"},
		{"RCPT TO:<postmaster@lab.local", "RCPT", "to:open:known"},
		{"RCPT TO:postmaster@lab.local>", "RCPT", "to:close:known"},
		{"rcpt to:<Nobody@LAB.local>", "RCPT", "to:angle:unknown"},
		{"RCPT TO:<x@example.com>", "RCPT", "to:angle:remote"},
		{"RCPT TO:<postmaster>", "RCPT", "to:angle:nodomain-known"},
		{"RCPT TO:<>", "RCPT", "to:empty"},
		{"RCPT TO: <x@example.com>", "RCPT", "to:angle:remote+space"},
		{"RCPT FROM:<x@example.com>", "RCPT", "bad"},
		{"RCPT", "RCPT", ""},
		{"MAIL FROM:<a@b.example> SIZE=10", "MAIL", "from:angle+params"},
		{"MAIL FROM:<>", "MAIL", "from:empty"},
		{"EHLO client.example", "EHLO", "domain"},
		{"EHLO [127.0.0.1]", "EHLO", "literal"},
		{"HELO bad!name", "HELO", "bad"},
		{"helo x", "HELO", "word"},
		{"AUTH PLAIN AGZvbwBiYXI=", "AUTH", "plain+initial"},
		{"AUTH GSSAPI", "AUTH", "unknown"},
		{"XyzZy", "UNKNOWN", "word"},
		{"x-1 y", "UNKNOWN", "other"},
		{"GET / HTTP/1.0", "GET", ""},
		{"", "EMPTY", ""},
		{"\x16\x03\x01\x00\x05", "BINARY", "tls-hello"},
		{"caf\xc3\xa9", "BINARY", ""},
	}
	for _, tt := range tests {
		p := d.classify("greeted", []byte(tt.line), false)
		if p.Command != tt.cmd || p.Arg != tt.arg {
			t.Errorf("%q: got %s %q, want %s %q", tt.line, p.Command, p.Arg, tt.cmd, tt.arg)
		}
	}
	if p := d.classify("data", []byte("."), false); p.Command != "DATA-END" {
		t.Errorf("dot in data: %+v", p)
	}
	if p := d.classify("data", []byte("QUIT"), false); p.Command != "DATA-LINE" || !p.NoReply {
		t.Errorf("QUIT in data is data: %+v", p)
	}
	if p := d.classify("init", []byte("AAAA"), true); p.Command != "OVERLONG" {
		t.Errorf("overlong: %+v", p)
	}
}

func TestSMTPTransitions(t *testing.T) {
	d := smtpDialect{}
	steps := []struct {
		state, line, outcome, want string
	}{
		{"init", "EHLO x.example", outcomeOK, "greeted"},
		{"init", "MAIL FROM:<a@b>", outcomeError, "init"},
		{"greeted", "MAIL FROM:<a@b>", outcomeOK, "mail"},
		{"mail", "RCPT TO:<a@b>", outcomeOK, "rcpt"},
		{"rcpt", "DATA", outcomeMore, "data"},
		{"rcpt", "RSET", outcomeOK, "greeted"},
		{"greeted", "STARTTLS", outcomeOK, "init"},
		{"greeted", "AUTH PLAIN", outcomeMore, "auth"},
	}
	for _, s := range steps {
		p := d.classify(s.state, []byte(s.line), false)
		if got := d.next(s.state, p, s.outcome); got != s.want {
			t.Errorf("%s + %q (%s) -> %s, want %s", s.state, s.line, s.outcome, got, s.want)
		}
	}
}

func TestFTPClasses(t *testing.T) {
	d := ftpDialect{}
	tests := []struct{ line, cmd, arg string }{
		{"TYPE A", "TYPE", "valid"},
		{"TYPE X", "TYPE", "invalid"},
		{"TYPE", "TYPE", ""},
		{"CWD", "CWD", ""},
		{"EPRT |1|127.0.0.1|5000|", "EPRT", "valid"},
		{"EPRT |9|x|", "EPRT", "invalid"},
		{"PORT 127,0,0,1,10,10", "PORT", "valid"},
		{"USER anonymous", "USER", "anonymous"},
		{"USER bob", "USER", "other"},
		{"SITE HELP", "SITE", "help"},
		{"SITE FOO", "SITE", "unknown"},
		{"AUTH TLS", "AUTH", "tls"},
		{"site chmod 777 x", "SITE", "chmod"},
	}
	for _, tt := range tests {
		p := d.classify("init", []byte(tt.line), false)
		if p.Command != tt.cmd || p.Arg != tt.arg {
			t.Errorf("%q: got %s %q, want %s %q", tt.line, p.Command, p.Arg, tt.cmd, tt.arg)
		}
	}
	if got := d.next("init", d.classify("init", []byte("USER bob"), false), outcomeMore); got != "user" {
		t.Errorf("USER 331 -> %s", got)
	}
	if got := d.next("user", d.classify("user", []byte("PASS x"), false), outcomeError); got != "init" {
		t.Errorf("PASS 530 -> %s", got)
	}
}

func TestIMAPClasses(t *testing.T) {
	d := imapDialect{}
	tests := []struct{ line, cmd, arg, tag string }{
		{"a1 CAPABILITY", "CAPABILITY", "", "a1"},
		{"A001 login bob secret", "LOGIN", "two", "A001"},
		{"a1 LOGIN {3}", "LOGIN", "literal", "a1"},
		{"CAPABILITY", "NOCMD", "verb-as-tag", "CAPABILITY"},
		{"a(1 NOOP", "BADTAG", "", "a(1"},
		{"a1 FROB", "UNKNOWN", "word", "a1"},
		{"a1 ID NIL", "ID", "nil", "a1"},
	}
	for _, tt := range tests {
		p := d.classify("notauth", []byte(tt.line), false)
		if p.Command != tt.cmd || p.Arg != tt.arg || p.Fields["tag"] != tt.tag {
			t.Errorf("%q: got %s %q tag %q", tt.line, p.Command, p.Arg, p.Fields["tag"])
		}
	}
	p := d.classify("notauth", []byte("a7 NOOP"), false)
	if got := d.outcome(p, []byte("* 1 EXISTS\r\na7 OK done\r\n")); got != outcomeOK {
		t.Errorf("outcome = %s", got)
	}
	if !d.replyDone(p, []byte("a7 OK done\r\n")) || d.replyDone(p, []byte("* 1 EXISTS\r\n")) {
		t.Error("replyDone wrong")
	}
}

func TestHTTPClasses(t *testing.T) {
	tests := []struct{ req, cmd, arg string }{
		{"GET / HTTP/1.0\r\n\r\n", "GET", "root 1.0"},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "GET", "root 1.1 close"},
		{"GET / HTTP/1.1\r\n\r\n", "GET", "root 1.1 nohost"},
		{"GET /favicon.ico HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/favicon.ico 1.1"},
		{"GET /a/b?c HTTP/1.0\r\n\r\n", "GET", "missing 1.0"},
		{"GET /x/../../etc HTTP/1.0\r\n\r\n", "GET", "dotdot 1.0"},
		{"GET /%zz HTTP/1.0\r\n\r\n", "GET", "badpct 1.0"},
		{"OPTIONS / RTSP/1.0\r\n\r\n", "OPTIONS", "root rtsp"},
		{"OPTIONS * HTTP/1.0\r\n\r\n", "OPTIONS", "asterisk 1.0"},
		{"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n", "GET", "absolute 1.1"},
		{"GET / HTTP/9.9\r\n\r\n", "GET", "root unsupported"},
		{"GET / XTTP/1.0\r\n\r\n", "GET", "root bad"},
		{"GET /\r\n", "GET", "root 0.9"},
		{"FROB / HTTP/1.0\r\n\r\n", "UNKNOWN-METHOD", "root 1.0"},
		{"G(T / HTTP/1.0\r\n\r\n", "BAD-METHOD", "root 1.0"},
		{"G\x01T / HTTP/1.1\r\n\r\n", "BINARY", ""},
		{"\r\n\r\n", "EMPTY", ""},
		{"HELP\r\n", "BAD-REQUEST", "one-word"},
		{"\x16\x03\x00\x00S\x01", "BINARY", "tls-hello"},
	}
	for _, tt := range tests {
		p := classifyHTTP([]byte(tt.req))
		if p.Command != tt.cmd || p.Arg != tt.arg {
			t.Errorf("%q: got %s %q, want %s %q", tt.req, p.Command, p.Arg, tt.cmd, tt.arg)
		}
	}
}

func TestSSHIdentClasses(t *testing.T) {
	for line, want := range map[string]string{
		"SSH-2.0-OpenSSH_9.2": "SSH2", "SSH-1.99-x": "SSH2", "SSH-1.5-x": "SSH1", "SSH-3.0-x": "BAD-VERSION",
		"GET / HTTP/1.0": "BAD-IDENT", "": "EMPTY", "\x00\x01": "BINARY",
	} {
		if got := sshIdentClass([]byte(line)).Command; got != want {
			t.Errorf("%q: %s, want %s", line, got, want)
		}
	}
}
