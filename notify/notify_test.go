package notify

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func events() []Event {
	return []Event{
		{ID: "e1", Kind: "port-opened", Source: "diff", Severity: "medium", Host: "127.0.0.1", Port: 3306, Transport: "tcp", Title: "port opened: mysql MariaDB 10.11.11", Tags: []string{"diff", "prod"}, Scan: "B", Previous: "A"},
		{ID: "e2", Kind: "version-changed", Source: "diff", Severity: "low", Host: "127.0.0.1", Port: 80, Title: "http nginx 1.22.1 -> http nginx 1.24.0", Tags: []string{"diff"}, Scan: "B"},
		{ID: "e3", Kind: "policy/denied-port", Source: "policy", Severity: "high", Host: "127.0.0.1", Port: 23, Title: "23/tcp is open <telnet> & more", Tags: []string{"policy", "prod"}, Scan: "B"},
	}
}

func one(n int) *int { return &n }

// receiver is a local webhook endpoint that fails its first `fail`
// requests with 500, then accepts, checking the signature.
type receiver struct {
	mu       sync.Mutex
	secret   string
	fail     int
	requests int
	accepted []WebhookPayload
	badSig   int
	events   map[string]int // event id -> times accepted
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if r.secret != "" && !Verify(r.secret, body, req.Header.Get("X-Portrait-Signature")) {
		r.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if r.fail > 0 {
		r.fail--
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	var p WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil || p.Delivery != req.Header.Get("X-Portrait-Delivery") {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.accepted = append(r.accepted, p)
	for _, e := range p.Events {
		r.events[e.ID]++
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestWebhookExactlyOnce(t *testing.T) {
	rcv := &receiver{secret: "s3cret", fail: 2, events: map[string]int{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	cfg := &Config{
		Channels: []Channel{{Name: "hook", Type: "webhook", URL: srv.URL, Secret: "s3cret", Retries: one(3), Backoff: time.Millisecond, Headers: map[string]string{"X-Team": "ops"}}},
		Rules:    []Rule{{Name: "all medium+", Channels: []string{"hook"}, MinSeverity: "medium"}, {Name: "prod", Channels: []string{"hook"}, Tags: []string{"prod"}}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), LogFile)
	n, err := New(cfg, logPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Send(context.Background(), events())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Events != 2 || res[0].Attempts != 3 {
		t.Fatalf("results %+v (want 2 events in 3 attempts: two 500s, then accepted)", res)
	}
	if rcv.badSig != 0 || len(rcv.accepted) != 1 || rcv.events["e1"] != 1 || rcv.events["e3"] != 1 || rcv.events["e2"] != 0 {
		t.Fatalf("receiver: badSig %d, accepted %d, events %v", rcv.badSig, len(rcv.accepted), rcv.events)
	}
	// The same events again, from a new notifier reading the log: nothing sent.
	n2, _ := New(cfg, logPath, nil)
	res, err = n2.Send(context.Background(), events())
	if err != nil || len(res) != 1 || res[0].Events != 0 || res[0].Skipped != 2 {
		t.Fatalf("second send: %+v %v", res, err)
	}
	// A new event goes alone.
	more := append(events(), Event{ID: "e4", Kind: "port-opened", Severity: "high", Host: "127.0.0.2", Title: "x"})
	if _, err := n2.Send(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	if len(rcv.accepted) != 2 || len(rcv.accepted[1].Events) != 1 || rcv.accepted[1].Events[0].ID != "e4" {
		t.Fatalf("third delivery: %+v", rcv.accepted)
	}
	for id, k := range rcv.events {
		if k != 1 {
			t.Errorf("event %s delivered %d times", id, k)
		}
	}
}

func TestWebhookGivesUpThenRetriesNextRun(t *testing.T) {
	rcv := &receiver{fail: 100, events: map[string]int{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	cfg := &Config{
		Channels: []Channel{{Name: "hook", Type: "webhook", URL: srv.URL, Retries: one(2), Backoff: time.Millisecond}},
		Rules:    []Rule{{Channels: []string{"hook"}}},
	}
	logPath := filepath.Join(t.TempDir(), LogFile)
	n, _ := New(cfg, logPath, nil)
	res, err := n.Send(context.Background(), events()[:1])
	if err == nil || res[0].Attempts != 3 || rcv.requests != 3 {
		t.Fatalf("want 3 failed attempts: %+v %v (requests %d)", res, err, rcv.requests)
	}
	rcv.mu.Lock()
	rcv.fail = 0
	rcv.mu.Unlock()
	n2, _ := New(cfg, logPath, nil)
	if _, err := n2.Send(context.Background(), events()[:1]); err != nil {
		t.Fatal(err)
	}
	if rcv.events["e1"] != 1 {
		t.Errorf("e1 delivered %d times", rcv.events["e1"])
	}
	// A 4xx is final: no retry.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }))
	defer bad.Close()
	cfg.Channels[0].URL = bad.URL
	n3, _ := New(cfg, "", nil)
	res, err = n3.Send(context.Background(), events()[:1])
	if err == nil || res[0].Attempts != 1 {
		t.Errorf("403 retried: %+v %v", res, err)
	}
}

func TestSlack(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ Text string }
		json.NewDecoder(r.Body).Decode(&p)
		got = append(got, p.Text)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	cfg := &Config{Channels: []Channel{{Name: "chat", Type: "slack", URL: srv.URL}},
		Rules: []Rule{{Channels: []string{"chat"}, Kinds: []string{"policy"}}}}
	n, _ := New(cfg, "", nil)
	if _, err := n.Send(context.Background(), events()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.Contains(got[0], "*portrait*: 1 event") || !strings.Contains(got[0], "&lt;telnet&gt; &amp; more") || strings.Contains(got[0], "3306") {
		t.Errorf("slack text %q", got)
	}
}

func TestConfig(t *testing.T) {
	var doc struct {
		N yaml.Node `yaml:"notifications"`
	}
	src := `
notifications:
  channels:
    - {name: hook, type: webhook, url: "http://127.0.0.1:1/x", secret: s}
    - {name: mail, type: email, smtp: {host: 127.0.0.1, port: 2525, starttls: opportunistic}, from: a@b, to: [c@d]}
  rules:
    - {name: r, channels: [hook, mail], min_severity: high, kinds: [port-opened]}
`
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(&doc.N)
	if err != nil || len(c.Channels) != 2 || c.Rules[0].MinSeverity != "high" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{
		"channels: [{name: x, type: fax}]",
		"channels: [{name: x, type: webhook, url: ftp://x}]",
		"channels: [{name: x, type: email, smtp: {host: h}}]",
		"rules: [{name: r, channels: [nope]}]",
		"channels: [{name: x, type: webhook, url: http://x, colour: red}]",
	} {
		var n yaml.Node
		yaml.Unmarshal([]byte(bad), &n)
		if _, err := ParseConfig(n.Content[0]); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	r := Rule{MinSeverity: "high", Kinds: []string{"port-opened"}}
	if r.Matches(events()[0]) || !r.Matches(Event{Kind: "port-opened", Severity: "critical"}) {
		t.Error("rule matching")
	}
}

// smtpServer is a small ESMTP server for the test: STARTTLS with a
// self-signed certificate, AUTH PLAIN, and the messages it accepted.
type smtpServer struct {
	ln       net.Listener
	tls      *tls.Config
	user     string
	pass     string
	failData int // answer the first DATA ends with 451
	mu       sync.Mutex
	msgs     []smtpMsg
}

type smtpMsg struct {
	from    string
	to      []string
	data    string
	tls     bool
	authed  bool
	session int
}

func newSMTPServer(t *testing.T, user, pass string) *smtpServer {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, user: user, pass: pass,
		tls: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	go s.serve()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *smtpServer) serve() {
	session := 0
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		session++
		go s.handle(c, session)
	}
}

func (s *smtpServer) handle(c net.Conn, session int) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(l string) { io.WriteString(c, l+"\r\n") }
	say("220 test ESMTP")
	var m smtpMsg
	m.session = session
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimSpace(line)
		verb := strings.ToUpper(strings.SplitN(cmd, " ", 2)[0])
		switch verb {
		case "EHLO", "HELO":
			if m.tls {
				say("250-test\r\n250-AUTH PLAIN\r\n250 8BITMIME")
			} else {
				say("250-test\r\n250-STARTTLS\r\n250 8BITMIME")
			}
		case "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(c, s.tls)
			if tc.Handshake() != nil {
				return
			}
			c, r, m.tls = tc, bufio.NewReader(tc), true
			say = func(l string) { io.WriteString(c, l+"\r\n") }
		case "AUTH":
			parts := strings.Fields(cmd)
			dec, _ := base64.StdEncoding.DecodeString(parts[len(parts)-1])
			if len(parts) == 3 && string(dec) == "\x00"+s.user+"\x00"+s.pass {
				m.authed = true
				say("235 ok")
			} else {
				say("535 bad credentials")
			}
		case "MAIL":
			if s.user != "" && !m.authed {
				say("530 auth first")
				continue
			}
			m.from = cmd
			say("250 ok")
		case "RCPT":
			m.to = append(m.to, cmd)
			say("250 ok")
		case "DATA":
			say("354 go")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			if s.failData > 0 {
				s.failData--
				s.mu.Unlock()
				say("451 try again later")
				continue
			}
			m.data = b.String()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		case "RSET", "NOOP":
			say("250 ok")
		default:
			say("502 what")
		}
	}
}

func TestEmailSTARTTLSAuth(t *testing.T) {
	srv := newSMTPServer(t, "portrait", "pw")
	srv.failData = 1 // the first attempt is told to come back later
	port := srv.ln.Addr().(*net.TCPAddr).Port
	cfg := &Config{
		Channels: []Channel{{Name: "mail", Type: "email", From: "portrait@lab.test", To: []string{"soc@lab.test", "ops@lab.test"}, Backoff: time.Millisecond,
			SMTP: SMTP{Host: "127.0.0.1", Port: port, Username: "portrait", Password: "pw", InsecureSkipVerify: true}}},
		Rules: []Rule{{Channels: []string{"mail"}, MinSeverity: "medium"}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), LogFile)
	n, _ := New(cfg, logPath, nil)
	res, err := n.Send(context.Background(), events())
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Attempts != 2 {
		t.Errorf("attempts %d, want 2 (451 then accepted)", res[0].Attempts)
	}
	srv.mu.Lock()
	msgs := append([]smtpMsg(nil), srv.msgs...)
	srv.mu.Unlock()
	if len(msgs) != 1 {
		t.Fatalf("%d messages accepted, want 1", len(msgs))
	}
	m := msgs[0]
	if !m.tls || !m.authed || len(m.to) != 2 || !strings.Contains(m.from, "portrait@lab.test") {
		t.Errorf("session: %+v", m)
	}
	for _, want := range []string{"Subject: [portrait] 2 events: 1 port-opened, 1 policy/denied-port", "X-Portrait-Delivery: ", "3306/tcp", "23/tcp is open <telnet> & more", "Scan: B"} {
		if !strings.Contains(m.data, want) {
			t.Errorf("message lacks %q:\n%s", want, m.data)
		}
	}
	// Once only.
	n2, _ := New(cfg, logPath, nil)
	if res, err := n2.Send(context.Background(), events()); err != nil || res[0].Events != 0 {
		t.Errorf("resent: %+v %v", res, err)
	}
	srv.mu.Lock()
	if len(srv.msgs) != 1 {
		t.Errorf("%d messages after the second send", len(srv.msgs))
	}
	srv.mu.Unlock()

	// Without STARTTLS on offer, "required" refuses to send in clear.
	plain, _ := net.Listen("tcp", "127.0.0.1:0")
	defer plain.Close()
	go func() {
		c, err := plain.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		io.WriteString(c, "220 x\r\n")
		r.ReadString('\n')
		io.WriteString(c, "250 x\r\n")
		r.ReadString('\n')
	}()
	cfg.Channels[0].SMTP.Port = plain.Addr().(*net.TCPAddr).Port
	n3, _ := New(cfg, "", nil)
	if _, err := n3.Send(context.Background(), events()); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("clear text sent: %v", err)
	}
}
