package pop3

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
	prototest.Record(t, New(), prototest.Recording{Name: "dovecot_110.json", Port: 110, Note: "lab 127.0.0.1:110 Dovecot pop3d 2.3.19.1 (Debian 12)", Text: true, Timeout: 5 * time.Second})
	prototest.Record(t, New(), prototest.Recording{Name: "dovecot_110_starttls.json", Port: 110, Note: "lab 127.0.0.1:110 Dovecot pop3d 2.3.19.1 (Debian 12), STLS", StartTLS: true, Text: true, Timeout: 5 * time.Second})
	prototest.Record(t, New(), prototest.Recording{Name: "dovecot_995.json", Port: 995, Note: "lab 127.0.0.1:995 Dovecot pop3d 2.3.19.1 (Debian 12), inside TLS", TLS: true, Text: true, Timeout: 5 * time.Second})
}

func TestLabTranscripts(t *testing.T) {
	cases := []struct {
		file     string
		startTLS bool
		want     map[string]string
	}{
		{"dovecot_110.json", false, map[string]string{
			"pop3.banner":     "+OK Dovecot (Debian) ready.",
			"pop3.capa":       "CAPA,TOP,UIDL,RESP-CODES,PIPELINING,AUTH-RESP-CODE,STLS,USER,SASL PLAIN",
			"pop3.capa.reply": "+OK",
			"pop3.starttls":   "offered",
		}},
		{"dovecot_110_starttls.json", true, map[string]string{
			"pop3.starttls":       "true",
			"pop3.starttls.reply": "+OK Begin TLS negotiation now.",
		}},
		{"dovecot_995.json", true, map[string]string{
			"pop3.banner":   "+OK Dovecot (Debian) ready.",
			"pop3.capa":     "CAPA,TOP,UIDL,RESP-CODES,PIPELINING,AUTH-RESP-CODE,USER,SASL PLAIN",
			"pop3.starttls": "",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			res, err := prototest.RunTranscript(t, New(), prototest.LoadTranscript(t, tc.file), prototest.Options{Exact: true, Claim: true, StartTLS: tc.startTLS})
			if err != nil {
				t.Fatal(err)
			}
			prototest.CheckFields(t, res, tc.want)
			if res.Service != "pop3" || res.Confidence != 95 {
				t.Errorf("service %q confidence %d", res.Service, res.Confidence)
			}
			if tc.file == "dovecot_110_starttls.json" && res.Fields["tls.version"] == "" {
				t.Error("no TLS fields merged")
			}
		})
	}
}

func TestParseCapa(t *testing.T) {
	first, caps := ParseCapa([]byte("+OK Capability list follows\r\nTOP\r\n..odd\r\nIMPLEMENTATION Cyrus POP3 v2.4\r\n.\r\n"))
	if first != "+OK Capability list follows" || !reflect.DeepEqual(caps, []string{"TOP", ".odd", "IMPLEMENTATION Cyrus POP3 v2.4"}) {
		t.Errorf("%q %q", first, caps)
	}
	if first, caps := ParseCapa([]byte("-ERR unknown command\r\n")); first != "-ERR unknown command" || caps != nil {
		t.Errorf("%q %q", first, caps)
	}
}

func TestClaim(t *testing.T) {
	for _, tc := range []struct {
		banner string
		want   bool
	}{
		{"+OK Dovecot (Debian) ready.\r\n", true},
		{"-ERR too many connections\r\n", true},
		{"+OK\r\n", true},
		{"+OKAY\r\n", false},
		{"* OK IMAP\r\n", false},
		{"220 ready\r\n", false},
	} {
		if got := New().Claim([]byte(tc.banner)); got != tc.want {
			t.Errorf("Claim(%q) = %v, want %v", tc.banner, got, tc.want)
		}
	}
}

func TestScripted(t *testing.T) {
	t.Run("no CAPA, STLS tried", func(t *testing.T) {
		tr := &prototest.Transcript{Conns: [][]prototest.Step{{
			{Got: "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"},
			{Sent: "CAPA\r\n", Got: "-ERR unknown command\r\n"},
			{Sent: "STLS\r\n", Got: "+OK Begin TLS\r\n", StartTLS: true},
		}}}
		res, err := prototest.RunTranscript(t, New(), tr, prototest.Options{Exact: true, Claim: true, StartTLS: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Fields["pop3.capa.reply"] != "-ERR unknown command" || res.Fields["pop3.starttls"] != "true" {
			t.Errorf("fields %v", res.Fields)
		}
	})
	t.Run("not pop3", func(t *testing.T) {
		addr := prototest.Serve(t, prototest.Replay([]byte("* OK IMAP ready\r\n")))
		_, err := prototest.Run(t, New(), addr)
		if !errors.Is(err, protocol.ErrNotThisProtocol) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("endless capa", func(t *testing.T) {
		addr := prototest.Serve(t, func(c net.Conn) {
			c.Write([]byte("+OK hi\r\n"))
			c.Read(make([]byte, 100))
			c.Write([]byte("+OK\r\n"))
			for i := 0; i < 100000; i++ {
				if _, err := c.Write([]byte("XXXXXXXXXXXXXXXX\r\n")); err != nil {
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
