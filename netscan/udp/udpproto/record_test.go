package udpproto

import (
	"encoding/hex"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// transcript is one UDP service's recorded dialogue: each request sent
// (first the scan's probe, then the follow-ups) and the answer, hex.
type transcript struct {
	Server    string            `json:"server"`
	Port      int               `json:"port"`
	Note      string            `json:"note,omitempty"`
	Exchanges []exchange        `json:"exchanges"`
	Fields    map[string]string `json:"fields"`
	Service   string            `json:"service"`
}

type exchange struct {
	Probe    string `json:"probe"`
	Request  string `json:"request"`
	Response string `json:"response,omitempty"` // empty: no answer
}

// labServices are the lab's UDP listeners (127.0.0.1, truth.json).
var labServices = []struct {
	name string
	port int
}{
	{"bind-9.18.49", 53}, {"chrony-4.3", 123}, {"net-snmp-5.9.3", 161}, {"tftpd-hpa-5.2", 69}, {"xinetd-echo", 7},
}

// TestRecordLab asks the lab's UDP services what a scan asks them and
// writes testdata/<name>.json. Run: PORTRAIT_RECORD=1 go test -run RecordLab.
func TestRecordLab(t *testing.T) {
	if os.Getenv("PORTRAIT_RECORD") == "" {
		t.Skip("set PORTRAIT_RECORD=1 to record from the lab on 127.0.0.1")
	}
	for _, s := range labServices {
		ev := NewEvidence(s.port)
		tr := transcript{Server: s.name, Port: s.port, Note: "lab 127.0.0.1 (Debian 12 package), recorded by TestRecordLab"}
		ask := func(r Request) {
			resp := exchangeUDP(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(s.port)), r.Payload)
			ev.Add(r.Name, r.Payload, resp)
			tr.Exchanges = append(tr.Exchanges, exchange{Probe: r.Name, Request: hex.EncodeToString(r.Payload), Response: hex.EncodeToString(resp)})
		}
		ask(Probe(s.port, 0))
		for range 2 {
			for _, r := range ev.FollowUps() {
				ask(r)
			}
		}
		tr.Fields, tr.Service = ev.Fields, ev.Service
		b, _ := json.MarshalIndent(tr, "", "  ")
		if err := os.WriteFile(filepath.Join("testdata", s.name+".json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s %v", s.name, ev.Service, ev.Fields)
	}
}

// exchangeUDP sends b and returns the first answer from the target's
// address (any port: TFTP answers from a new one), or nil.
func exchangeUDP(t *testing.T, dst netip.AddrPort, b []byte) []byte {
	c, err := net.ListenUDP("udp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteToUDPAddrPort(b, dst); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return nil
		}
		if from.Addr().Unmap() == dst.Addr() {
			return append([]byte(nil), buf[:n]...)
		}
	}
}

func loadTranscript(t testing.TB, name string) transcript {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr transcript
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	if s == "" {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readTranscriptFile(name string) (transcript, error) {
	var tr transcript
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		return tr, err
	}
	err = json.Unmarshal(b, &tr)
	return tr, err
}
