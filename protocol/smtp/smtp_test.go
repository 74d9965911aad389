package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestRecordLab(t *testing.T) {
	prototest.SkipUnlessRecord(t)
	prototest.Record(t, New(), prototest.Recording{Name: "postfix_25.json", Port: 25, Note: "lab 127.0.0.1:25 Postfix 3.7.11 (Debian 12)", Text: true, Timeout: 5 * time.Second})
	prototest.Record(t, New(), prototest.Recording{Name: "postfix_25_starttls.json", Port: 25, Note: "lab 127.0.0.1:25 Postfix 3.7.11 (Debian 12), STARTTLS", StartTLS: true, Text: true, Timeout: 5 * time.Second})
	prototest.Record(t, New(), prototest.Recording{Name: "exim_2525.json", Port: 2525, Note: "lab 127.0.0.1:2525 Exim 4.96 (Debian 12)", Text: true, Timeout: 5 * time.Second})
	prototest.Record(t, New(), prototest.Recording{Name: "exim_2525_starttls.json", Port: 2525, Note: "lab 127.0.0.1:2525 Exim 4.96 (Debian 12), STARTTLS", StartTLS: true, Text: true, Timeout: 5 * time.Second})
	// FTP servers given the SMTP dialogue (greeting hidden, see stepAside).
	prototest.Record(t, stepAside{New()}, prototest.Recording{Name: "vsftpd_21.json", Port: 21, Note: "lab 127.0.0.1:21 vsftpd 3.0.3 answering SMTP commands", Text: true, Timeout: 5 * time.Second})
	prototest.Record(t, stepAside{New()}, prototest.Recording{Name: "pureftpd_3021.json", Port: 3021, Note: "lab 127.0.0.1:3021 Pure-FTPd 1.0.50 answering SMTP commands", Text: true, Timeout: 5 * time.Second})
}

// stepAside hides an FTP greeting (the module would stop at once) to make
// the module speak, and turns its ErrNotThisProtocol into success so that
// Record writes the transcript.
type stepAside struct{ protocol.Module }

func (w stepAside) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	res, err := w.Module.Run(ctx, conn, []byte("220 host.example.com ready\r\n"), env)
	if errors.Is(err, protocol.ErrNotThisProtocol) {
		return &protocol.Result{}, nil
	}
	return res, err
}

const postfixEHLO = "250-lab.local\n250-PIPELINING\n250-SIZE 10240000\n250-VRFY\n250-ETRN\n250-STARTTLS\n250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250-DSN\n250-SMTPUTF8\n250 CHUNKING"

func TestLabTranscripts(t *testing.T) {
	cases := []struct {
		file     string
		startTLS bool
		want     map[string]string
	}{
		{"postfix_25.json", false, map[string]string{
			"smtp.banner":     "220 lab.local ESMTP Postfix (Debian/GNU)",
			"smtp.hostname":   "lab.local",
			"smtp.ehlo":       postfixEHLO,
			"smtp.extensions": "PIPELINING,SIZE,VRFY,ETRN,STARTTLS,ENHANCEDSTATUSCODES,8BITMIME,DSN,SMTPUTF8,CHUNKING",
			"smtp.help":       "500 5.5.2 Error: command not recognized",
			"smtp.starttls":   "offered",
		}},
		{"postfix_25_starttls.json", true, map[string]string{
			"smtp.ehlo":           postfixEHLO,
			"smtp.starttls":       "true",
			"smtp.starttls.reply": "220 2.0.0 Ready to start TLS",
		}},
		{"exim_2525.json", false, map[string]string{
			"smtp.extensions": "SIZE,8BITMIME,PIPELINING,PIPECONNECT,CHUNKING,STARTTLS,SMTPUTF8,HELP",
			"smtp.help":       "214-Commands supported:\n214 AUTH STARTTLS HELO EHLO MAIL RCPT DATA BDAT NOOP QUIT RSET HELP",
			"smtp.starttls":   "offered",
		}},
		{"exim_2525_starttls.json", true, map[string]string{
			"smtp.starttls":       "true",
			"smtp.starttls.reply": "220 TLS go ahead",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			res, err := prototest.RunTranscript(t, New(), prototest.LoadTranscript(t, tc.file), prototest.Options{Exact: true, Claim: true, StartTLS: tc.startTLS})
			if err != nil {
				t.Fatal(err)
			}
			prototest.CheckFields(t, res, tc.want)
			if res.Service != "smtp" || res.Confidence != 95 {
				t.Errorf("service %q confidence %d", res.Service, res.Confidence)
			}
			if tc.startTLS && res.Fields["tls.version"] == "" {
				t.Error("no TLS fields merged")
			}
		})
	}
	t.Run("exim hello", func(t *testing.T) {
		res, _ := prototest.RunTranscript(t, New(), prototest.LoadTranscript(t, "exim_2525.json"), prototest.Options{Exact: true, Claim: true})
		if !strings.HasPrefix(res.Fields["smtp.ehlo"], "250-lab.local Hello portrait.invalid [127.0.0.1]\n") {
			t.Errorf("ehlo %q", res.Fields["smtp.ehlo"])
		}
		if !strings.Contains(res.Fields["smtp.banner"], "Exim 4.96") {
			t.Errorf("banner %q", res.Fields["smtp.banner"])
		}
	})
	for _, file := range []string{"vsftpd_21.json", "pureftpd_3021.json"} {
		t.Run(file, func(t *testing.T) {
			tr := prototest.LoadTranscript(t, file)
			for _, greeting := range []string{tr.Conns[0][0].Got, "220 host.example.com ready\r\n"} {
				tr.Conns[0][0].Got = greeting
				// FTP greetings are not claimed: no Claim check.
				_, err := prototest.RunTranscript(t, New(), tr, prototest.Options{Loose: true})
				if !errors.Is(err, protocol.ErrNotThisProtocol) {
					t.Errorf("greeting %q: err = %v, want ErrNotThisProtocol", greeting, err)
				}
			}
		})
	}
}

func TestClaim(t *testing.T) {
	for _, tc := range []struct {
		banner string
		want   bool
	}{
		{"220 lab.local ESMTP Postfix (Debian/GNU)\r\n", true},
		{"220 lab.local ESMTP Exim 4.96 Sun, 22 Nov 2026 23:15:23 +0000\r\n", true},
		{"220-mx.example.com ESMTP\r\n220 ready\r\n", true},
		{"220 host ready\r\n", true},
		{"220 ftp.example.com ESMTP Postfix\r\n", true},
		{"220 mail.example.com FTP server ready\r\n", false},
		{"554 5.7.1 No SMTP service here\r\n", true},
		{"421 4.3.2 mail service not available\r\n", true},
		{"220 (vsFTPd 3.0.3)\r\n", false},
		{"220 ProFTPD Server (Lab FTP) [127.0.0.1]\r\n", false},
		{"220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n", false},
		{"421 Too many connections\r\n", false},
		{"+OK ready\r\n", false},
	} {
		if got := New().Claim([]byte(tc.banner)); got != tc.want {
			t.Errorf("Claim(%q) = %v, want %v", tc.banner, got, tc.want)
		}
	}
}

func TestScripted(t *testing.T) {
	t.Run("ehlo refused, helo accepted", func(t *testing.T) {
		addr := prototest.Serve(t, prototest.Replay([]byte("220 old.example.com SMTP ready\r\n"),
			[]byte("500 Command unrecognized\r\n"),
			[]byte("250 old.example.com\r\n"),
			[]byte("214 qmail home page: http://pobox.com/~djb/qmail.html\r\n")))
		res, err := prototest.Run(t, New(), addr)
		if err != nil {
			t.Fatal(err)
		}
		if res.Confidence != 90 || res.Fields["smtp.helo"] != "250 old.example.com" || !strings.Contains(res.Fields["smtp.help"], "qmail") {
			t.Errorf("res %+v", res)
		}
	})
	t.Run("proftpd hangs up on EHLO", func(t *testing.T) {
		addr := prototest.Serve(t, func(c net.Conn) {
			c.Write([]byte("220 FTP Server ready.\r\n"))
			c.Read(make([]byte, 100))
		})
		ctx := context.Background()
		conn, _ := net.Dial("tcp", addr)
		defer conn.Close()
		_, err := New().Run(ctx, conn, nil, protocol.Env{Timeout: time.Second})
		if !errors.Is(err, protocol.ErrNotThisProtocol) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no service", func(t *testing.T) {
		addr := prototest.Serve(t, prototest.Replay([]byte("554 5.7.1 mx.example.com ESMTP not accepting connections\r\n")))
		res, err := prototest.Run(t, New(), addr)
		if err != nil || res.Service != "smtp" || res.Confidence != 60 {
			t.Errorf("res %+v err %v", res, err)
		}
	})
	t.Run("endless ehlo", func(t *testing.T) {
		addr := prototest.Serve(t, func(c net.Conn) {
			c.Write([]byte("220 mx ESMTP\r\n"))
			c.Read(make([]byte, 100))
			for i := 0; i < 100000; i++ {
				if _, err := c.Write([]byte("250-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n")); err != nil {
					return
				}
			}
		})
		start := time.Now()
		res, _ := prototest.Run(t, New(), addr)
		if time.Since(start) > 6*time.Second {
			t.Errorf("took %v", time.Since(start))
		}
		if res != nil && len(res.Fields["smtp.extensions"]) > 128*50 {
			t.Errorf("extensions unbounded")
		}
	})
}

// TestStartTLSFailure: a failed handshake still reports the TLS fields the
// StartTLS function gathered (Exim refuses HTTP ALPN with alert 120).
func TestStartTLSFailure(t *testing.T) {
	tr := prototest.LoadTranscript(t, "exim_2525_starttls.json")
	addr := prototest.ServeTranscript(t, tr, prototest.Options{Loose: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	env := protocol.Env{Timeout: 2 * time.Second, MaxRead: 64 << 10,
		StartTLS: func(ctx context.Context, c net.Conn) (*tls.Conn, map[string]string, error) {
			return nil, map[string]string{"tls.alert": "120"}, errors.New("tls handshake: remote error: tls: no application protocol")
		}}
	res, err := New().Run(ctx, conn, prototest.ReadBanner(conn), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Fields["smtp.starttls"] != "failed" || res.Fields["tls.alert"] != "120" || res.Fields["smtp.starttls.error"] == "" {
		t.Errorf("fields %v", res.Fields)
	}
}
