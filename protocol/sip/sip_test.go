package sip

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestReplay(t *testing.T) {
	tests := []struct {
		name string
		want map[string]string
	}{
		{"local-kamailio-5.6.3", map[string]string{
			"sip.status":        "404",
			"sip.reason":        "Not Found",
			"sip.header.server": "kamailio (5.6.3 (x86_64/linux))",
			"sip.header_order":  "via,from,to,call-id,cseq,server,content-length",
			"sip.to_tag_shape":  "x32-x8",
		}},
		{"synthetic-asterisk-pjsip", map[string]string{
			"sip.status":           "200",
			"sip.header.server":    "Asterisk PBX 18.10.0~dfsg+~cs6.10.40431411-1",
			"sip.header.supported": "100rel, timer, replaces, norefersub, histinfo",
			"sip.to_tag_shape":     "a23",
		}},
		{"synthetic-freeswitch-trying", map[string]string{
			"sip.status":              "200",
			"sip.header.user_agent":   "FreeSWITCH-mod_sofia/1.10.9-release~64bit",
			"sip.header.allow":        "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY, PUBLISH, SUBSCRIBE",
			"sip.header.content_type": "application/sdp",
			"sip.to_tag_shape":        "a13",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := prototest.RunRecorded(t, New(), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if res.Service != "sip" {
				t.Errorf("service %q", res.Service)
			}
			prototest.CheckFields(t, res, tt.want)
			for k := range res.Fields {
				if k == "sip.header.via" || k == "sip.header.call_id" {
					t.Errorf("echoed header kept: %s", k)
				}
			}
		})
	}
}

func TestRequest(t *testing.T) {
	req := string(Request("[::1]:5080", "[::1]:40000", "TCP"))
	for _, want := range []string{"OPTIONS sip:nm@[::1]:5080 SIP/2.0\r\n", "Via: SIP/2.0/TCP [::1]:40000;branch=z9hG4bK", "CSeq: 42 OPTIONS\r\n", "Content-Length: 0\r\n\r\n"} {
		if !strings.Contains(req, want) {
			t.Errorf("request lacks %q:\n%s", want, req)
		}
	}
}

func TestNotSIP(t *testing.T) {
	for name, answer := range map[string]string{
		"http": "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
		"rtsp": "RTSP/1.0 400 Bad Request\r\n\r\n",
		"junk": "\x00\x01\x02\x03\x04\x05\x06\x07\x08",
	} {
		addr := prototest.Serve(t, prototest.Replay(nil, []byte(answer)))
		if _, err := prototest.Run(t, New(), addr); !errors.Is(err, protocol.ErrNotThisProtocol) {
			t.Errorf("%s: err = %v, want ErrNotThisProtocol", name, err)
		}
	}
}

func TestParseHead(t *testing.T) {
	r, ok := ParseHead([]byte("SIP/2.0 200 OK\r\nk: timer\r\nServer: a\r\n b\r\nServer: c\r\nl: 12\r\n\r\n"))
	if !ok || r.Headers["supported"] != "timer" || r.Headers["server"] != "a b, c" || r.BodyLen != 12 {
		t.Errorf("%+v", r)
	}
	for _, bad := range []string{"SIP/2.0 20 OK\r\n", "SIP/1.0 200 OK\r\n", "HTTP/1.1 200 OK\r\n", "SIP/2.0 999 x\r\n"} {
		if _, ok := ParseHead([]byte(bad)); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := TagShape("as1a2b3c4d"); got != "a10" {
		t.Errorf("TagShape = %q", got)
	}
	if got := TagShape("28271997b783b27cdd952d40a846fab5-64d4fdc8"); got != "x32-x8" {
		t.Errorf("TagShape = %q", got)
	}
}

func FuzzParseHead(f *testing.F) {
	for _, name := range []string{"local-kamailio-5.6.3", "synthetic-asterisk-pjsip", "synthetic-freeswitch-trying"} {
		for _, b := range prototest.LoadTranscript(f, name).Answers() {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := ParseHead(b)
		if !ok {
			return
		}
		if len(r.Names) > maxHeaders || len(r.Headers) > maxHeaders {
			t.Fatal("headers not capped")
		}
		for _, v := range r.Headers {
			if len(v) > maxValue {
				t.Fatal("value not capped")
			}
		}
		_ = TagShape(toTag(r.Headers["to"]))
	})
}

// A server that copies the protocol word of any request line (mini_httpd)
// is not taken for SIP: it does not echo our Call-ID and CSeq.
func TestEchoRequiredForConfidence(t *testing.T) {
	addr := prototest.Serve(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		c.Read(buf)
		c.Write([]byte("SIP/2.0 501 Not Implemented\r\nServer: mini_httpd/1.30\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n"))
	})
	res, err := prototest.Run(t, New(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if res.Confidence >= 90 || res.Fields["sip.echo"] != "missing" {
		t.Errorf("confidence %d, echo %q", res.Confidence, res.Fields["sip.echo"])
	}
	addr = prototest.Serve(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		id := headerValue(buf[:n], "Call-ID")
		c.Write([]byte("SIP/2.0 200 OK\r\nCall-ID: " + id + "\r\nCSeq: 42 OPTIONS\r\nServer: kamailio (5.6.3 (x86_64/linux))\r\nContent-Length: 0\r\n\r\n"))
	})
	res, err = prototest.Run(t, New(), addr)
	if err != nil || res.Confidence != 95 {
		t.Fatalf("echoing server: %v %+v", err, res)
	}
}
