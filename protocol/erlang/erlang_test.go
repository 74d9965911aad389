package erlang

import (
	"errors"
	"net"
	"testing"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestReplay(t *testing.T) {
	tests := []struct {
		name    string
		m       protocol.Module
		service string
		want    map[string]string
	}{
		{"lab-epmd-25.2.3", NewEPMD(), "epmd", map[string]string{
			"epmd.port":        "4369",
			"epmd.nodes":       "rabbit:25672",
			"epmd.node.rabbit": "port=25672 type=normal proto=tcp versions=5-6",
		}},
		{"synthetic-epmd-empty", NewEPMD(), "epmd", map[string]string{"epmd.port": "4369"}},
		{"lab-rabbitmq-dist-25.2.3", NewDist(), "erlang-dist", map[string]string{
			"erlang.dist.status":  "ok",
			"erlang.dist.version": "6",
			"erlang.dist.node":    "rabbit@localhost",
			"erlang.dist.flags":   "0000000d07df7fbd",
		}},
		{"synthetic-otp22-dist", NewDist(), "erlang-dist", map[string]string{
			"erlang.dist.status":  "ok",
			"erlang.dist.version": "5",
			"erlang.dist.node":    "couchdb@db1",
			"erlang.dist.flags":   "000000000003fffd",
		}},
		{"synthetic-dist-not-allowed", NewDist(), "erlang-dist", map[string]string{
			"erlang.dist.status":  "not_allowed",
			"erlang.dist.version": "6",
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
			if len(res.Fields) != len(tt.want) {
				t.Errorf("fields %v", res.Fields)
			}
		})
	}
}

func TestNotErlang(t *testing.T) {
	for name, answer := range map[string][]byte{
		"http":      []byte("HTTP/1.1 400 Bad Request\r\n\r\n"),
		"huge len":  {0xff, 0xff, 's', 'o', 'k'},
		"not names": []byte("\x00\x00\x11\x11hello world\n"),
	} {
		addr := prototest.Serve(t, func(c net.Conn) {
			buf := make([]byte, 512)
			_, _ = c.Read(buf)
			_, _ = c.Write(answer)
		})
		for _, m := range []protocol.Module{NewEPMD(), NewDist()} {
			if _, err := prototest.Run(t, m, addr); !errors.Is(err, protocol.ErrNotThisProtocol) {
				t.Errorf("%s/%s: err = %v, want ErrNotThisProtocol", m.Info().Name, name, err)
			}
		}
	}
	// A peer that closes at once on both handshakes gives no evidence.
	addr := prototest.Serve(t, func(c net.Conn) {})
	if _, err := prototest.Run(t, NewDist(), addr); !errors.Is(err, protocol.ErrNotThisProtocol) {
		t.Errorf("silent close: err = %v", err)
	}
}

func TestParseNames(t *testing.T) {
	port, nodes, ok := ParseNames([]byte("\x00\x00\x11\x11name rabbit at port 25672\nname ejabberd at port 4200\nname half"))
	if !ok || port != 4369 || len(nodes) != 2 || nodes[1].Name != "ejabberd" || nodes[1].Port != 4200 {
		t.Errorf("got %d %v %v", port, nodes, ok)
	}
	if _, _, ok := ParseNames([]byte("\x00\x00\x00\x00")); ok {
		t.Error("port 0 accepted")
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"lab-epmd-25.2.3", "lab-rabbitmq-dist-25.2.3", "synthetic-otp22-dist"} {
		for _, b := range prototest.LoadTranscript(f, name).Answers() {
			f.Add(b)
			if len(b) > 2 {
				f.Add(b[2:])
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, nodes, _ := ParseNames(b)
		if len(nodes) > len(b) {
			t.Fatal("more nodes than bytes")
		}
		if ni, ok := ParsePort2(b); ok {
			_ = ni.String()
		}
		_, _ = ParseStatus(b)
		if c, ok := ParseChallenge(b); ok && len(c.Node) > len(b) {
			t.Fatal("name longer than input")
		}
		_ = fieldName(string(b))
	})
}
