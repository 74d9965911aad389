package emulate

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/emulate/personalities"
)

// seedLines adds the recorded test lines of the shipped personalities.
func seedLines(f *testing.F, protocol string) {
	for _, n := range personalities.Names() {
		b, _ := personalities.Get(n)
		p, err := Parse(b)
		if err != nil || (protocol != "" && p.Protocol != protocol) {
			continue
		}
		for _, e := range p.Replies {
			if e.Sent != "" && !strings.HasPrefix(e.Sent, "<") {
				f.Add([]byte(e.Sent))
			}
		}
	}
	f.Add([]byte("\x16\x03\x01\x00\x05hello"))
	f.Add([]byte(""))
}

func FuzzClassify(f *testing.F) {
	seedLines(f, "")
	ds := map[string]dialect{"smtp": smtpDialect{hostname: "lab.local", users: map[string]bool{"postmaster": true}},
		"ftp": ftpDialect{}, "pop3": pop3Dialect{}, "imap": imapDialect{}}
	f.Fuzz(func(t *testing.T, line []byte) {
		for proto, d := range ds {
			for _, st := range append(stateOrder[proto], "loggedin", "transaction") {
				p := d.classify(st, line, len(line) > 4096)
				if p.Command == "" {
					t.Fatalf("%s/%s: no class for %q", proto, st, line)
				}
				for _, out := range []string{outcomeOK, outcomeMore, outcomeError} {
					_ = d.next(st, p, out)
					_ = d.startTLS(p, out)
				}
				_ = d.outcome(p, line)
				_ = d.replyDone(p, line)
			}
		}
		_ = sshIdentClass(line)
	})
}

func FuzzClassifyHTTP(f *testing.F) {
	for _, t := range httpTests {
		f.Add([]byte(t))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		p := classifyHTTP(head)
		if p.Command == "" {
			t.Fatalf("no class for %q", head)
		}
		_ = httpKeepAlive(head)
		_ = httpResponseDone(head, false)
		_, _ = parseHTTPResponse(head)
	})
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"220 ${hostname} ESMTP ${date:rfc2822}", "$$${x}", "${rand:hex:12}", "${verb:upper}", "${", "$"} {
		f.Add(s, "value")
	}
	f.Fuzz(func(t *testing.T, tpl, val string) {
		v := Vars{Text: map[string]string{"hostname": val, "verb": val, "line": val}}
		out := Expand(tpl, v)
		if len(out) > maxExpand+len(tpl) {
			t.Fatalf("expanded to %d bytes", len(out))
		}
		if CheckTemplate(Escape(tpl)) != nil || Expand(Escape(tpl), v) != tpl {
			t.Fatalf("escape round trip broke %q", tpl)
		}
	})
}

func FuzzParsePersonality(f *testing.F) {
	for _, n := range personalities.Names() {
		b, _ := personalities.Get(n)
		f.Add(b)
	}
	f.Add([]byte("format: 1\nprotocol: smtp\ngreeting: {lines: ['220 ${hostname}']}\nreplies: []\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		if _, err := p.Marshal(); err != nil {
			t.Fatal(err)
		}
		s := &Server{P: p}
		if err := s.init(); err != nil {
			t.Fatalf("valid personality refused by the server: %v", err)
		}
	})
}

func FuzzSSHPacket(f *testing.F) {
	f.Add(clientKexInit())
	f.Add([]byte("\xff\xff\xff\xff\x00"))
	f.Add([]byte{0, 0, 0, 12, 10, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, _, need, err := splitPacket(b)
		if err == nil && need == 0 {
			if k, err := parseKexInit(payload); err == nil {
				_ = kexMatch(k, k)
				_ = k.marshal()
			}
		}
	})
}

// FuzzSession feeds arbitrary client bytes to a session of each shipped
// personality: it must end, whatever comes.
func FuzzSession(f *testing.F) {
	f.Add([]byte("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<postmaster@lab.local>\r\nDATA\r\n.\r\nQUIT\r\n"))
	f.Add([]byte("USER x\r\nPASS y\r\nAUTH TLS\r\n"))
	f.Add([]byte("a1 CAPABILITY\r\na2 AUTHENTICATE PLAIN\r\n*\r\n"))
	f.Add([]byte("EHLO x\r\nSTARTTLS\r\n\x16\x03\x01\x00\x10"))
	f.Add([]byte("SSH-2.0-x\r\n\x00\x00\x00\x10\x04\x14"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\n\r\n"))
	servers := map[string]*Server{}
	for _, n := range personalities.Names() {
		b, _ := personalities.Get(n)
		p, err := Parse(b)
		if err != nil {
			f.Fatal(err)
		}
		s := &Server{P: p, NoDelay: true, IdleTimeout: 200 * time.Millisecond, SessionTimeout: 2 * time.Second}
		if err := s.init(); err != nil {
			f.Fatal(err)
		}
		servers[n] = s
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var wg sync.WaitGroup
		for _, s := range servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fuzzSession(t, s, in)
			}()
		}
		wg.Wait()
	})
}

func fuzzSession(t *testing.T, s *Server, in []byte) {
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.session(context.Background(), a, 1)
	}()
	go func() {
		_ = b.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = b.Write(in)
	}()
	_ = b.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, _ = io.Copy(io.Discard, b)
	b.Close()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Errorf("%s: session did not end", s.P.Name)
	}
}
