package fingerprint

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// udpTranscript is netscan/udp/udpproto's recording format.
type udpTranscript struct {
	Port      int `json:"port"`
	Exchanges []struct {
		Probe    string `json:"probe"`
		Request  string `json:"request"`
		Response string `json:"response"`
	} `json:"exchanges"`
}

// replayUDP serves a lab recording on a loopback port: each request is
// matched to the recorded one of the same kind (the DNS question, the NTP
// mode, the SNMP version, the TFTP transfer mode) and answered with the
// recorded answer, its identifiers patched from the request.
func replayUDP(t *testing.T, name string) (int, udpTranscript) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "netscan", "udp", "udpproto", "testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr udpTranscript
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	key := func(req []byte) string {
		switch tr.Port {
		case 53:
			if len(req) > 12 {
				return string(req[12:])
			}
		case 123:
			if len(req) > 0 {
				return string(req[:1])
			}
		case 161:
			if len(req) > 4 {
				return string(req[4:5])
			}
		case 69:
			if i := bytes.IndexByte(req[min(2, len(req)):], 0); i >= 0 {
				return string(req[2+i:])
			}
		case 7:
			return "echo"
		}
		return ""
	}
	answers := map[string][]byte{}
	for _, x := range tr.Exchanges {
		req, _ := hex.DecodeString(x.Request)
		resp, _ := hex.DecodeString(x.Response)
		answers[key(req)] = resp
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := buf[:n]
			resp := answers[key(req)]
			if tr.Port == 7 {
				resp = req
			}
			if len(resp) == 0 {
				continue
			}
			resp = append([]byte(nil), resp...)
			switch {
			case tr.Port == 53 && len(resp) >= 2 && n >= 2:
				copy(resp[:2], req[:2])
			case tr.Port == 123 && len(resp) >= 32 && n >= 48 && req[0]&7 == 3:
				copy(resp[24:32], req[40:48])
			}
			_, _ = pc.WriteTo(resp, from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).Port, tr
}

// The lab's UDP services, replayed from their recordings, are identified
// with product and, where the wire has it, version.
func TestIdentifyUDPLab(t *testing.T) {
	cat, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e := New(Config{ProbeTimeout: 300 * time.Millisecond}, nil, cat, nil, nil)
	cases := []struct {
		name, service, product, version, os string
	}{
		{"bind-9.18.49", "domain", "ISC BIND", "9.18.49", "Debian"},
		{"chrony-4.3", "ntp", "chrony", "", ""},
		{"net-snmp-5.9.3", "snmp", "net-snmp", "", "Linux"},
		{"tftpd-hpa-5.2", "tftp", "tftpd-hpa", "", ""},
		{"xinetd-echo", "echo", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			port, tr := replayUDP(t, c.name)
			first, _ := hex.DecodeString(tr.Exchanges[0].Response)
			svc := e.IdentifyUDP(context.Background(), Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: port}, first, tr.Exchanges[0].Probe)
			if svc.Service != c.service || svc.Product != c.product || svc.Version != c.version || svc.OS != c.os {
				t.Errorf("got %s / %s / %s / %s, want %s / %s / %s / %s (evidence %v)", svc.Service, svc.Product, svc.Version, svc.OS,
					c.service, c.product, c.version, c.os, svc.Evidence)
			}
			if svc.Transport != "udp" || svc.State != "open" || svc.Method != "probed" {
				t.Errorf("record %+v", svc)
			}
		})
	}
}

// An answer nobody knows keeps its bytes as an SF fingerprint and the
// port's usual name.
func TestIdentifyUDPUnknown(t *testing.T) {
	cat, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e := New(Config{ProbeTimeout: 100 * time.Millisecond}, nil, cat, nil, nil)
	svc := e.IdentifyUDP(context.Background(), Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: 1812}, []byte("\x02\x01\x00\x14garbage"), "Empty")
	if svc.Service != "radius" || svc.Method != "table" || svc.Fingerprint == "" {
		t.Errorf("%+v", svc)
	}
}
