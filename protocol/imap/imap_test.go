package imap

import (
	"errors"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestRecordLab(t *testing.T) {
	prototest.SkipUnlessRecord(t)
	prototest.Record(t, New(), prototest.Recording{Name: "dovecot_143.json", Port: 143, Note: "lab 127.0.0.1:143 Dovecot imapd 2.3.19.1 (Debian 12)", Text: true, Timeout: 5 * time.Second})
	prototest.Record(t, New(), prototest.Recording{Name: "dovecot_143_starttls.json", Port: 143, Note: "lab 127.0.0.1:143 Dovecot imapd 2.3.19.1 (Debian 12), STARTTLS", StartTLS: true, Text: true, Timeout: 5 * time.Second})
	prototest.Record(t, New(), prototest.Recording{Name: "dovecot_993.json", Port: 993, Note: "lab 127.0.0.1:993 Dovecot imapd 2.3.19.1 (Debian 12), inside TLS", TLS: true, Text: true, Timeout: 5 * time.Second})
}

const dovecotCaps = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN"

func TestLabTranscripts(t *testing.T) {
	cases := []struct {
		file     string
		startTLS bool
		want     map[string]string
	}{
		{"dovecot_143.json", false, map[string]string{
			"imap.banner":       "* OK [CAPABILITY " + dovecotCaps + "] Dovecot (Debian) ready.",
			"imap.capabilities": dovecotCaps,
			"imap.id":           `("name" "Dovecot")`,
			"imap.id.name":      "Dovecot",
			"imap.starttls":     "offered",
		}},
		{"dovecot_143_starttls.json", true, map[string]string{
			"imap.id.name":  "Dovecot",
			"imap.starttls": "true",
		}},
		{"dovecot_993.json", true, map[string]string{
			"imap.capabilities": "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN",
			"imap.id.name":      "Dovecot",
			"imap.starttls":     "",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			res, err := prototest.RunTranscript(t, New(), prototest.LoadTranscript(t, tc.file), prototest.Options{Exact: true, Claim: true, StartTLS: tc.startTLS})
			if err != nil {
				t.Fatal(err)
			}
			prototest.CheckFields(t, res, tc.want)
			if res.Service != "imap" || res.Confidence != 95 {
				t.Errorf("service %q confidence %d", res.Service, res.Confidence)
			}
			if tc.startTLS && tc.file != "dovecot_993.json" && res.Fields["tls.version"] == "" {
				t.Error("no TLS fields merged")
			}
		})
	}
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want [][2]string
	}{
		{`("name" "Dovecot")`, [][2]string{{"name", "Dovecot"}}},
		{`("name" "Cyrus IMAPD" "version" "v3.4.5 2023" "vendor" "Project Cyrus" "support-url" "https://www.cyrusimap.org" "os" NIL)`,
			[][2]string{{"name", "Cyrus IMAPD"}, {"version", "v3.4.5 2023"}, {"vendor", "Project Cyrus"}, {"support-url", "https://www.cyrusimap.org"}, {"os", ""}}},
		{`("name" "a \"q\" b")`, [][2]string{{"name", `a "q" b`}}},
		{`NIL`, nil},
		{`("name"`, nil},
		{`("unterminated`, nil},
	} {
		if got := ParseID(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestClaim(t *testing.T) {
	for _, tc := range []struct {
		banner string
		want   bool
	}{
		{"* OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready.\r\n", true},
		{"* PREAUTH IMAP4rev1 server logged in as Smith\r\n", true},
		{"* BYE Too many connections\r\n", true},
		{"* ok hello\r\n", true},
		{"+OK Dovecot ready.\r\n", false},
		{"* OKAY\r\n", false},
		{"220 ready\r\n", false},
	} {
		if got := New().Claim([]byte(tc.banner)); got != tc.want {
			t.Errorf("Claim(%q) = %v, want %v", tc.banner, got, tc.want)
		}
	}
}

func TestScripted(t *testing.T) {
	t.Run("exchange without ID", func(t *testing.T) {
		addr := prototest.Serve(t, prototest.Replay([]byte("* OK The Microsoft Exchange IMAP4 service is ready.\r\n"),
			[]byte("* CAPABILITY IMAP4 IMAP4rev1 AUTH=NTLM AUTH=GSSAPI AUTH=PLAIN UIDPLUS CHILDREN IDLE NAMESPACE LITERAL+\r\na001 OK CAPABILITY completed.\r\n"),
			[]byte("a002 BAD Command Argument Error. 12\r\n")))
		res, err := prototest.Run(t, New(), addr)
		if err != nil {
			t.Fatal(err)
		}
		if res.Fields["imap.id.reply"] != "BAD Command Argument Error. 12" || res.Confidence != 95 {
			t.Errorf("res %+v", res)
		}
	})
	t.Run("bye", func(t *testing.T) {
		addr := prototest.Serve(t, prototest.Replay([]byte("* BYE Too many connections\r\n")))
		res, err := prototest.Run(t, New(), addr)
		if err != nil || res.Service != "imap" || res.Confidence != 80 {
			t.Errorf("res %+v err %v", res, err)
		}
	})
	t.Run("not imap", func(t *testing.T) {
		addr := prototest.Serve(t, prototest.Replay([]byte("+OK POP3 ready\r\n")))
		_, err := prototest.Run(t, New(), addr)
		if !errors.Is(err, protocol.ErrNotThisProtocol) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("endless untagged", func(t *testing.T) {
		addr := prototest.Serve(t, func(c net.Conn) {
			c.Write([]byte("* OK hi\r\n"))
			c.Read(make([]byte, 100))
			for i := 0; i < 100000; i++ {
				if _, err := c.Write([]byte("* CAPABILITY X\r\n")); err != nil {
					return
				}
			}
		})
		start := time.Now()
		prototest.Run(t, New(), addr)
		if time.Since(start) > 6*time.Second {
			t.Errorf("took %v", time.Since(start))
		}
	})
}
