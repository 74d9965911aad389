package xmpp

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestReplay(t *testing.T) {
	tests := []struct {
		name    string
		m       Module
		service string
		want    map[string]string
	}{
		{"local-prosody-0.12.3-c2s", Module{}, "xmpp-client", map[string]string{
			"xmpp.stream_from":  "localhost",
			"xmpp.version":      "1.0",
			"xmpp.lang":         "en",
			"xmpp.stream_attrs": "xmlns:stream,xmlns,from,xml:lang,version,id",
			"xmpp.quote":        "single",
			"xmpp.xml_decl":     "<?xml version='1.0'?>",
			"xmpp.id_format":    "uuid",
			"xmpp.features":     "starttls",
			"xmpp.feature_ns":   "urn:ietf:params:xml:ns:xmpp-tls",
			"xmpp.starttls":     "required",
		}},
		{"local-prosody-0.12.3-host-unknown", Module{}, "xmpp-client", map[string]string{
			"xmpp.stream_from":  "example.com",
			"xmpp.version":      "1.0",
			"xmpp.lang":         "en",
			"xmpp.stream_attrs": "xmlns:stream,xmlns,from,xml:lang,version,id",
			"xmpp.quote":        "single",
			"xmpp.xml_decl":     "<?xml version='1.0'?>",
			"xmpp.id_format":    "uuid",
			"xmpp.error":        "host-unknown",
			"xmpp.error_text":   "This server does not serve example.com",
		}},
		{"local-prosody-0.12.3-s2s", Module{s2s: true}, "xmpp-server", map[string]string{
			"xmpp.stream_from":  "localhost",
			"xmpp.version":      "1.0",
			"xmpp.lang":         "en",
			"xmpp.stream_attrs": "from,xmlns:stream,to,version,xmlns:db,xml:lang,xmlns,id",
			"xmpp.quote":        "single",
			"xmpp.xml_decl":     "<?xml version='1.0'?>",
			"xmpp.id_format":    "uuid",
			"xmpp.features":     "dialback,starttls",
			"xmpp.feature_ns":   "urn:xmpp:features:dialback urn:ietf:params:xml:ns:xmpp-tls",
			"xmpp.starttls":     "required",
		}},
		{"synthetic-ejabberd", Module{}, "xmpp-client", map[string]string{
			"xmpp.id_format":  "digits-19",
			"xmpp.features":   "starttls,mechanisms,c,register",
			"xmpp.starttls":   "optional",
			"xmpp.mechanisms": "PLAIN,SCRAM-SHA-1",
			"xmpp.caps.node":  "http://www.process-one.net/en/ejabberd/",
			"xmpp.caps.ver":   "S4v2n+rKmTsgLFog7BtVvK2o660=",
			"xmpp.caps.hash":  "sha-1",
		}},
		{"synthetic-openfire", Module{}, "xmpp-client", map[string]string{
			"xmpp.quote":       "double",
			"xmpp.xml_decl":    "<?xml version='1.0' encoding='UTF-8'?>",
			"xmpp.id_format":   "alnum-10",
			"xmpp.compression": "zlib",
			"xmpp.caps.node":   "https://www.igniterealtime.org/projects/openfire/",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := prototest.RunRecorded(t, tt.m, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if res.Service != tt.service {
				t.Errorf("service %q, want %q", res.Service, tt.service)
			}
			prototest.CheckFields(t, res, tt.want)
		})
	}
}

func TestNotXMPP(t *testing.T) {
	for name, answer := range map[string]string{
		"http": "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
		"html": "<html><head><title>x</title></head><body>" + strings.Repeat("y", 300) + "</body></html>",
		"ssh":  "SSH-2.0-OpenSSH_9.2p1\r\n",
	} {
		addr := prototest.Serve(t, prototest.Replay(nil, []byte(answer)))
		if _, err := prototest.Run(t, New(), addr); !errors.Is(err, protocol.ErrNotThisProtocol) {
			t.Errorf("%s: err = %v, want ErrNotThisProtocol", name, err)
		}
	}
	// An echo service returns our own stream header, which parses as a stream.
	addr := prototest.Serve(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
	if _, err := prototest.Run(t, New(), addr); !errors.Is(err, protocol.ErrNotThisProtocol) {
		t.Errorf("echo: err = %v, want ErrNotThisProtocol", err)
	}
}

func TestIDFormat(t *testing.T) {
	for id, want := range map[string]string{
		"20b47220-13fa-4e3c-8fcf-5ccbac17b0ad": "uuid",
		"5828392713495380713":                  "digits-19",
		"4kbe7l2rmx":                           "alnum-10",
		"a1b2c3d4":                             "hex-8",
		"x_y":                                  "other-3",
		"":                                     "",
	} {
		if got := IDFormat(id); got != want {
			t.Errorf("IDFormat(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestStreamOpenEscapes(t *testing.T) {
	got := string(streamOpen("a'b<c", false))
	if !strings.Contains(got, "to='a&#39;b&lt;c'") {
		t.Errorf("%s", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"local-prosody-0.12.3-c2s", "local-prosody-0.12.3-host-unknown", "local-prosody-0.12.3-s2s", "synthetic-ejabberd", "synthetic-openfire"} {
		for _, b := range prototest.LoadTranscript(f, name).Answers() {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := Parse(b)
		if !ok {
			return
		}
		res := &protocol.Result{}
		s.Fields(res)
		for k, v := range res.Fields {
			if len(v) > 2048 {
				t.Fatalf("%s too long: %d", k, len(v))
			}
		}
	})
}
