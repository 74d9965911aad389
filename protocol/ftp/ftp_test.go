package ftp

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/internal/reply"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestRecordLab(t *testing.T) {
	prototest.SkipUnlessRecord(t)
	prototest.Record(t, New(), prototest.Recording{Name: "vsftpd_21.json", Port: 21, Note: "lab 127.0.0.1:21 vsftpd 3.0.3 (Debian 12)", Text: true, Timeout: 5 * time.Second})
	prototest.Record(t, New(), prototest.Recording{Name: "proftpd_2121.json", Port: 2121, Note: "lab 127.0.0.1:2121 ProFTPD 1.3.8 (Debian 12)", Text: true, Timeout: 5 * time.Second})
	prototest.Record(t, New(), prototest.Recording{Name: "pureftpd_3021.json", Port: 3021, Note: "lab 127.0.0.1:3021 Pure-FTPd 1.0.50 (Debian 12)", Text: true, Timeout: 5 * time.Second})
	// Exim on an FTP-ish dialogue: the module must step aside.
	recordSMTP(t, 2525, "lab 127.0.0.1:2525 Exim 4.96 answering FTP commands", "exim_2525.json")
	recordSMTP(t, 25, "lab 127.0.0.1:25 Postfix 3.7.11 answering FTP commands", "postfix_25.json")
}

// recordSMTP records a mail server's answers to the FTP dialogue. stepAside
// hides the greeting (which names the mail server, so the module would stop
// at once) to make the module speak, and turns its ErrNotThisProtocol into
// success so that Record writes the transcript.
func recordSMTP(t *testing.T, port int, source, file string) {
	t.Helper()
	prototest.Record(t, stepAside{New()}, prototest.Recording{Name: file, Port: port, Note: source, Text: true, Timeout: 5 * time.Second})
}

type stepAside struct{ protocol.Module }

func (w stepAside) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	res, err := w.Module.Run(ctx, conn, []byte("220 mx.example.com ready\r\n"), env)
	if errors.Is(err, protocol.ErrNotThisProtocol) {
		return &protocol.Result{}, nil
	}
	return res, err
}

func fastPass(t *testing.T) {
	old := passWait
	passWait = 300 * time.Millisecond
	t.Cleanup(func() { passWait = old })
}

func TestLabTranscripts(t *testing.T) {
	fastPass(t)
	cases := []struct {
		file string
		want map[string]string
	}{
		{"vsftpd_21.json", map[string]string{
			"ftp.banner":    "220 (vsFTPd 3.0.3)",
			"ftp.syst":      "530 Please login with USER and PASS.",
			"ftp.feat":      "EPRT,EPSV,MDTM,PASV,REST STREAM,SIZE,TVFS",
			"ftp.auth_tls":  "false",
			"ftp.help":      "530 Please login with USER and PASS.",
			"ftp.user":      "331 Please specify the password.",
			"ftp.stat":      "530 Please login with USER and PASS.",
			"ftp.anonymous": "false",
		}},
		{"proftpd_2121.json", map[string]string{
			"ftp.banner":    "220 ProFTPD Server (Lab FTP) [127.0.0.1]",
			"ftp.syst":      "215 UNIX Type: L8",
			"ftp.auth_tls":  "false",
			"ftp.user":      "331 Password required for anonymous",
			"ftp.pass":      "530 Login incorrect.",
			"ftp.stat":      "530 Please login with USER and PASS",
			"ftp.anonymous": "false",
		}},
		{"pureftpd_3021.json", map[string]string{
			"ftp.syst":      "215 UNIX Type: L8",
			"ftp.auth_tls":  "true",
			"ftp.user":      "331 User anonymous OK. Password required",
			"ftp.stat":      "530 You aren't logged in",
			"ftp.anonymous": "false",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			res, err := prototest.RunTranscript(t, New(), prototest.LoadTranscript(t, tc.file), prototest.Options{Exact: true, Claim: true})
			if err != nil {
				t.Fatal(err)
			}
			prototest.CheckFields(t, res, tc.want)
			if res.Service != "ftp" || res.Confidence != 95 {
				t.Errorf("service %q confidence %d", res.Service, res.Confidence)
			}
			if res.Exchanges[0].Probe != "NULL" {
				t.Errorf("first exchange %q", res.Exchanges[0].Probe)
			}
		})
	}
	t.Run("proftpd help", func(t *testing.T) {
		res, _ := prototest.RunTranscript(t, New(), prototest.LoadTranscript(t, "proftpd_2121.json"), prototest.Options{Exact: true, Claim: true})
		if !strings.HasPrefix(res.Fields["ftp.help"], "214-The following commands are recognized") {
			t.Errorf("help %q", res.Fields["ftp.help"])
		}
		if !strings.Contains(res.Fields["ftp.feat"], "MLST modify*;") {
			t.Errorf("feat %q", res.Fields["ftp.feat"])
		}
	})
	t.Run("pure-ftpd banner", func(t *testing.T) {
		res, _ := prototest.RunTranscript(t, New(), prototest.LoadTranscript(t, "pureftpd_3021.json"), prototest.Options{Exact: true, Claim: true})
		b := res.Fields["ftp.banner"]
		if !strings.HasPrefix(b, "220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\n220-You are user number") ||
			!strings.HasSuffix(b, "\n220 You will be disconnected after 15 minutes of inactivity.") {
			t.Errorf("banner %q", b)
		}
		if !strings.Contains(res.Fields["ftp.help"], "Pure-FTPd") {
			t.Errorf("help %q", res.Fields["ftp.help"])
		}
	})
	for _, file := range []string{"exim_2525.json", "postfix_25.json"} {
		t.Run(file, func(t *testing.T) {
			tr := prototest.LoadTranscript(t, file)
			// Served as is the greeting names the mail server; strip the
			// name to test the behavioural detection too.
			for _, greeting := range []string{tr.Conns[0][0].Got, "220 mx.example.com ready\r\n"} {
				tr.Conns[0][0].Got = greeting
				// Mail servers' greetings are not claimed: no Claim check.
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
		{"220 (vsFTPd 3.0.3)\r\n", true},
		{"220 ProFTPD Server (Lab FTP) [127.0.0.1]\r\n", true},
		{"220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n220-You are user", true},
		{"220 Microsoft FTP Service\r\n", true},
		{"220 mail.example.com FTP server ready\r\n", true},
		{"220 host ready\r\n", true},
		{"421 Too many connections (8) from this IP\r\n", true},
		{"220 lab.local ESMTP Postfix (Debian/GNU)\r\n", false},
		{"220 ftp.example.com ESMTP Postfix\r\n", false},
		{"220 mail.example.com ready\r\n", true},
		{"220 lab.local ESMTP Exim 4.96 Sun, 22 Nov 2026 23:15:23 +0000\r\n", false},
		{"SSH-2.0-OpenSSH_9.2p1\r\n", false},
		{"+OK ready\r\n", false},
		{"200 ok\r\n", false},
	} {
		if got := New().Claim([]byte(tc.banner)); got != tc.want {
			t.Errorf("Claim(%q) = %v, want %v", tc.banner, got, tc.want)
		}
	}
}

func TestScripted(t *testing.T) {
	fastPass(t)
	t.Run("anonymous allowed", func(t *testing.T) {
		addr := prototest.Serve(t, prototest.Replay([]byte("220 (vsFTPd 3.0.5)\r\n"),
			[]byte("215 UNIX Type: L8\r\n"),
			[]byte("211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End\r\n"),
			[]byte("214-The following commands are recognized.\r\n ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD\r\n214 Help OK.\r\n"),
			[]byte("530 Please login with USER and PASS.\r\n"),
			[]byte("530 Please login with USER and PASS.\r\n"),
			[]byte("331 Please specify the password.\r\n"),
			[]byte("230 Login successful.\r\n"),
			[]byte("211-FTP server status:\r\n     Connected to 127.0.0.1\r\n     vsFTPd 3.0.5 - secure, fast, stable\r\n211 End of status\r\n"),
		))
		res, err := prototest.Run(t, New(), addr)
		if err != nil {
			t.Fatal(err)
		}
		if res.Fields["ftp.anonymous"] != "true" || !strings.Contains(res.Fields["ftp.anonymous.stat"], "vsFTPd 3.0.5") {
			t.Errorf("fields %v", res.Fields)
		}
	})
	t.Run("garbage greeting", func(t *testing.T) {
		addr := prototest.Serve(t, prototest.Replay([]byte("hello there\r\n")))
		_, err := prototest.Run(t, New(), addr)
		if !errors.Is(err, protocol.ErrNotThisProtocol) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("busy", func(t *testing.T) {
		addr := prototest.Serve(t, prototest.Replay([]byte("421 Too many users - FTP server busy\r\n")))
		res, err := prototest.Run(t, New(), addr)
		if err != nil || res.Service != "ftp" || res.Fields["ftp.banner"] == "" {
			t.Errorf("res %+v err %v", res, err)
		}
	})
	t.Run("endless multi-line greeting", func(t *testing.T) {
		addr := prototest.Serve(t, func(c net.Conn) {
			c.Write([]byte("220-hello\r\n"))
			for i := 0; i < 100000; i++ {
				if _, err := c.Write([]byte("220-more and more\r\n")); err != nil {
					return
				}
			}
		})
		start := time.Now()
		res, _ := prototest.Run(t, New(), addr)
		if time.Since(start) > 5*time.Second {
			t.Errorf("took %v", time.Since(start))
		}
		if res != nil && strings.Count(res.Fields["ftp.banner"], "\n") >= reply.MaxLines {
			t.Errorf("banner of %d lines", strings.Count(res.Fields["ftp.banner"], "\n"))
		}
	})
}

// TestAuthTLS drives AUTH TLS against a scripted server that really starts
// TLS after "234".
func TestAuthTLS(t *testing.T) {
	fastPass(t)
	tr := &prototest.Transcript{Conns: [][]prototest.Step{{
		{Got: "220 FTP ready\r\n"},
		{Sent: "SYST\r\n", Got: "215 UNIX Type: L8\r\n"},
		{Sent: "FEAT\r\n", Got: "211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n211 End\r\n"},
		{Sent: "HELP\r\n", Got: "214 Help OK.\r\n"},
		{Sent: "STAT\r\n", Got: "530 Please login\r\n"},
		{Sent: "SITE HELP\r\n", Got: "530 Please login\r\n"},
		{Sent: "USER anonymous\r\n", Got: "530 Anonymous login not allowed\r\n"},
		{Sent: "AUTH TLS\r\n", Got: "234 Proceed with negotiation.\r\n", StartTLS: true},
	}}}
	res, err := prototest.RunTranscript(t, New(), tr, prototest.Options{Exact: true, Claim: true, StartTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fields["ftp.starttls"] != "true" || res.Fields["tls.version"] == "" || res.Fields["ftp.auth_tls"] != "true" {
		t.Errorf("fields %v", res.Fields)
	}
	// Inside implicit TLS (990) no AUTH TLS is attempted.
	tr.TLS = true
	tr.Conns[0] = tr.Conns[0][:7] // the greeting and six turns
	res, err = prototest.RunTranscript(t, New(), tr, prototest.Options{Exact: true, Claim: true, StartTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fields["ftp.starttls"] != "" {
		t.Errorf("starttls inside TLS: %v", res.Fields)
	}
}
