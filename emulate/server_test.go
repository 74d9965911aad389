package emulate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/emulate/personalities"
)

// syncBuffer is a log sink tests can read while sessions write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) events(t *testing.T) []Event {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Event
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, e)
	}
	return out
}

func shipped(t testing.TB, name string) *Personality {
	t.Helper()
	b, ok := personalities.Get(name)
	if !ok {
		t.Fatalf("no shipped personality %q", name)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// serve runs s on a loopback port until the test ends.
func serve(t testing.TB, s *Server) (addr string, log *syncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log = &syncBuffer{}
	if s.Log == nil {
		s.Log = NewLogger(log)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), log
}

// client is a line-protocol test client.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// reply reads one numeric (SMTP/FTP) reply.
func (c *client) reply() string {
	c.t.Helper()
	var out []string
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v (so far %q)", err, out)
		}
		l = strings.TrimRight(l, "\r\n")
		out = append(out, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(out, "\n")
		}
	}
}

func (c *client) line() string {
	c.t.Helper()
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s+"\r\n"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) cmd(s string) string {
	c.t.Helper()
	c.send(s)
	return c.reply()
}

func TestShippedPersonalitiesValidate(t *testing.T) {
	names := personalities.Names()
	if len(names) < 10 {
		t.Errorf("only %d shipped personalities: %v", len(names), names)
	}
	for _, n := range names {
		p := shipped(t, n)
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		p2, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: re-parse: %v", n, err)
		}
		if len(p2.Replies) != len(p.Replies) {
			t.Errorf("%s: round trip lost replies", n)
		}
	}
}

func TestSMTPSession(t *testing.T) {
	s := &Server{P: shipped(t, "postfix"), NoDelay: true, Vars: map[string]string{"hostname": "mx.portrait.example"}}
	addr, log := serve(t, s)
	c := dial(t, addr)
	if g := c.reply(); g != "220 mx.portrait.example ESMTP Postfix (Debian/GNU)" {
		t.Errorf("greeting %q", g)
	}
	if r := c.cmd("RCPT TO:<postmaster@mx.portrait.example>"); !strings.HasPrefix(r, "503 5.5.1 Error: need MAIL command") {
		t.Errorf("RCPT before MAIL: %q", r)
	}
	if r := c.cmd("EHLO client.example"); !strings.Contains(r, "250-mx.portrait.example\n250-PIPELINING") {
		t.Errorf("EHLO: %q", r)
	}
	if r := c.cmd("MAIL FROM:<a@b.example>"); r != "250 2.1.0 Ok" {
		t.Errorf("MAIL: %q", r)
	}
	if r := c.cmd("RCPT TO:<nobody@mx.portrait.example>"); r != "550 5.1.1 <nobody@mx.portrait.example>: Recipient address rejected: User unknown in local recipient table" {
		t.Errorf("RCPT unknown: %q", r)
	}
	if r := c.cmd("RCPT TO:<root@mx.portrait.example>"); r != "250 2.1.5 Ok" {
		t.Errorf("RCPT known: %q", r)
	}
	if r := c.cmd("DATA"); !strings.HasPrefix(r, "354 ") {
		t.Errorf("DATA: %q", r)
	}
	c.send("Subject: hello")
	c.send("QUIT is data here")
	if r := c.cmd("."); !strings.HasPrefix(r, "250 2.0.0 Ok: queued as ") {
		t.Errorf("end of data: %q", r)
	}
	if r := c.cmd("QUIT"); r != "221 2.0.0 Bye" {
		t.Errorf("QUIT: %q", r)
	}
	if _, err := c.br.ReadByte(); err == nil {
		t.Error("session open after QUIT")
	}
	time.Sleep(50 * time.Millisecond)
	evs := log.events(t)
	if evs[0].Event != "connect" || evs[len(evs)-1].Event != "close" || evs[len(evs)-1].Reason != "quit" {
		t.Errorf("log: %+v", evs)
	}
}

func TestSMTPStartTLSAndErrorLimit(t *testing.T) {
	p := shipped(t, "postfix")
	addr, _ := serve(t, &Server{P: p, NoDelay: true})
	c := dial(t, addr)
	c.reply()
	c.cmd("EHLO x.example")
	if r := c.cmd("STARTTLS"); !strings.HasPrefix(r, "220 ") {
		t.Fatalf("STARTTLS: %q", r)
	}
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	cert := tc.ConnectionState().PeerCertificates[0]
	if cert.Subject.String() != p.TLS.Subject || hexSerial(cert) != p.TLS.Serial {
		t.Errorf("certificate %s %x, want %s %s", cert.Subject, cert.SerialNumber, p.TLS.Subject, p.TLS.Serial)
	}
	tcl := &client{t: t, c: tc, br: bufio.NewReader(tc)}
	if r := tcl.cmd("EHLO x.example"); strings.Contains(r, "STARTTLS") {
		t.Errorf("EHLO inside TLS offers STARTTLS: %q", r)
	}
	// Postfix hangs up after 20 refused commands, at the 21st.
	for i := 0; i < p.Limits.MaxErrors; i++ {
		if r := tcl.cmd("XyzZy"); !strings.HasPrefix(r, "500 ") {
			t.Fatalf("error %d: %q", i, r)
		}
	}
	if r := tcl.cmd("XyzZy"); !strings.HasPrefix(r, "421 4.7.0 ") {
		t.Errorf("after %d errors: %q", p.Limits.MaxErrors, r)
	}
	if _, err := tcl.br.ReadByte(); err == nil {
		t.Error("still open after the error limit")
	}
}

func hexSerial(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }

func TestFTPSessions(t *testing.T) {
	addr, _ := serve(t, &Server{P: shipped(t, "pure-ftpd"), NoDelay: true})
	a := dial(t, addr)
	ga := a.reply()
	b := dial(t, addr)
	gb := b.reply()
	if !strings.Contains(ga, "You are user number 1 of 50") || !strings.Contains(gb, "You are user number 2 of 50") {
		t.Errorf("session counter: %q / %q", ga, gb)
	}
	_, port, _ := net.SplitHostPort(addr)
	if !strings.Contains(ga, "Server port: "+port+".") {
		t.Errorf("port not filled: %q", ga)
	}
	if r := a.cmd("USER portraitfan"); r != "331 User portraitfan OK. Password required" {
		t.Errorf("USER: %q", r)
	}
	if r := a.cmd("PASS secret"); !strings.HasPrefix(r, "530 ") {
		t.Errorf("PASS: %q", r)
	}
	if r := a.cmd("PASS secret"); !strings.HasPrefix(r, "503 ") && !strings.HasPrefix(r, "530 ") {
		t.Errorf("PASS again: %q", r)
	}

	addr, _ = serve(t, &Server{P: shipped(t, "proftpd"), NoDelay: true})
	c := dial(t, addr)
	c.reply()
	if r := c.cmd("frobnicate now"); r != "500 FROBNICATE not understood" {
		t.Errorf("ProFTPD echo: %q", r)
	}
	if r := c.cmd("TYPE X"); !strings.HasPrefix(r, "5") {
		t.Errorf("TYPE X: %q", r)
	}
}

func TestIMAPTag(t *testing.T) {
	addr, _ := serve(t, &Server{P: shipped(t, "dovecot-imap"), NoDelay: true})
	c := dial(t, addr)
	if g := c.line(); !strings.HasPrefix(g, "* OK [CAPABILITY IMAP4rev1") {
		t.Errorf("greeting %q", g)
	}
	c.send("x77 CAPABILITY")
	if l := c.line(); !strings.HasPrefix(l, "* CAPABILITY ") {
		t.Errorf("untagged: %q", l)
	}
	if l := c.line(); !strings.HasPrefix(l, "x77 OK ") {
		t.Errorf("tagged: %q", l)
	}
	c.send("z9 LOGOUT")
	if l := c.line(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("LOGOUT: %q", l)
	}
}

func TestHTTPSession(t *testing.T) {
	addr, _ := serve(t, &Server{P: shipped(t, "nginx"), NoDelay: true})
	c := dial(t, addr)
	// Two requests on one keep-alive connection.
	for i := 0; i < 2; i++ {
		fmt.Fprintf(c.c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Server") != "nginx/1.22.1" || len(body) != 615 {
			t.Errorf("request %d: %d %q %d bytes", i, resp.StatusCode, resp.Header.Get("Server"), len(body))
		}
		if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || time.Since(d) > time.Minute {
			t.Errorf("Date %q", resp.Header.Get("Date"))
		}
	}
	c = dial(t, addr)
	fmt.Fprintf(c.c, "HEAD /some/where HTTP/1.0\r\n\r\n")
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 404 {
		t.Errorf("HEAD missing: %d", resp.StatusCode)
	}
	if rest, _ := io.ReadAll(c.br); len(rest) != 0 {
		t.Errorf("HEAD answered with a body: %q", rest)
	}

	addr, _ = serve(t, &Server{P: shipped(t, "apache"), NoDelay: true})
	c = dial(t, addr)
	c.c.Write([]byte("\x16\x03\x00\x00S\x01\x00\x00O\x03\x00"))
	resp, err = http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "Server at lab.local Port") {
		t.Errorf("TLS hello to Apache: %d %q", resp.StatusCode, body)
	}
	if resp.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(body))
	}
}

func TestSSHSession(t *testing.T) {
	p := shipped(t, "openssh")
	addr, _ := serve(t, &Server{P: p, NoDelay: true})
	c := dial(t, addr)
	if id := c.line(); id != p.SSH.Ident {
		t.Errorf("ident %q", id)
	}
	c.send("SSH-2.0-test")
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c.br, hdr); err != nil {
		t.Fatal(err)
	}
	n := int(binary.BigEndian.Uint32(hdr))
	pkt := make([]byte, n-1)
	if _, err := io.ReadFull(c.br, pkt); err != nil {
		t.Fatal(err)
	}
	k, err := parseKexInit(pkt[:len(pkt)-int(hdr[4])])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(k.Kex, ",") != strings.Join(p.SSH.KexInit.Kex, ",") || strings.Join(k.MACsS2C, ",") != strings.Join(p.SSH.KexInit.MACsS2C, ",") {
		t.Errorf("KEXINIT %+v", k)
	}
	if (n+4)%8 != 0 {
		t.Errorf("packet not padded to 8: %d", n+4)
	}
	// Our KEXINIT: the emulator ends the exchange as OpenSSH ends one it
	// cannot agree with: it hangs up.
	c.c.Write(clientKexInit())
	if _, err := c.br.ReadByte(); err == nil {
		t.Error("still talking after the client's KEXINIT")
	}
	c = dial(t, addr)
	c.line()
	c.send("GET / HTTP/1.0")
	if l := c.line(); l != "Invalid SSH identification string." {
		t.Errorf("bad ident: %q", l)
	}
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// readReply reads a numeric reply without failing the test (for goroutines).
func readReply(c *client) (string, error) {
	var out []string
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			return strings.Join(out, "\n"), err
		}
		l = strings.TrimRight(l, "\r\n")
		out = append(out, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(out, "\n"), nil
		}
	}
}
