package dns

import (
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestRecordLab(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "bind-9.18.49", Port: 53, Note: "ISC BIND 9.18.49-1~deb12u3 (Debian 12) over TCP, pipelined CHAOS TXT queries"})
}

// TestRecordLabUDP keeps the lab's answer to the UDP form of version.bind
// for the pure parser (the UDP scanner's path).
func TestRecordLabUDP(t *testing.T) {
	if os.Getenv("PORTRAIT_RECORD") != "1" {
		t.Skip("set PORTRAIT_RECORD=1 to record from the lab")
	}
	c, err := net.Dial("udp", "127.0.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(BuildVersionQuery(0x1234)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "bind-9.18.49-udp-version.hex"), []byte(hex.EncodeToString(buf[:n])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReplayBind(t *testing.T) {
	res, err := prototest.RunRecorded(t, New(), "bind-9.18.49")
	if err != nil {
		t.Fatal(err)
	}
	if res.Service != "domain" || res.Confidence < 90 {
		t.Errorf("service %q conf %d", res.Service, res.Confidence)
	}
	want := map[string]string{
		"dns.version_bind":  "9.18.49-1~deb12u3-Debian",
		"dns.rcode":         "NOERROR",
		"dns.flags":         "qr aa",
		"dns.hostname_bind": "vm",
		"dns.rcodes":        "version.bind=NOERROR,id.server=NOERROR,hostname.bind=NOERROR,authors.bind=NOERROR",
	}
	prototest.CheckFields(t, res, want)
	if !strings.Contains(res.Fields["dns.authors_bind"], "Mark Andrews") {
		t.Errorf("authors %q", res.Fields["dns.authors_bind"])
	}
	if len(res.Exchanges) != 4 || res.Exchanges[0].Probe != "DNSVersionBindReqTCP" || len(res.Exchanges[0].Response) == 0 {
		t.Errorf("exchanges %d", len(res.Exchanges))
	}
}

func TestUDPForm(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "bind-9.18.49-udp-version.hex"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseResponse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != 0x1234 || !m.Response() || m.Rcode != 0 || strings.Join(m.TXT(), "") != "9.18.49-1~deb12u3-Debian" {
		t.Errorf("got %+v", m)
	}
	if len(m.Questions) != 1 || m.Questions[0].Name != "version.bind" || m.Questions[0].Class != ClassCH {
		t.Errorf("questions %+v", m.Questions)
	}
	res := &protocol.Result{}
	ApplyFields(res, map[string]*Message{"version.bind": m})
	if res.Fields["dns.version_bind"] != "9.18.49-1~deb12u3-Debian" || !strings.Contains(res.Fields["dns.rcodes"], "id.server=none") {
		t.Errorf("fields %v", res.Fields)
	}
}

func TestBuildVersionQuery(t *testing.T) {
	got := hex.EncodeToString(BuildVersionQuery(0xabcd))
	want := "abcd00000001000000000000" + "0776657273696f6e0462696e6400" + "0010" + "0003"
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestParseHostile(t *testing.T) {
	hdr := func(an uint16) []byte {
		return []byte{0, 1, 0x84, 0, 0, 0, byte(an >> 8), byte(an), 0, 0, 0, 0}
	}
	loop := append(hdr(1), 0xC0, 12, 0, 16, 0, 3, 0, 0, 0, 0, 0, 0) // name points at itself
	longLabel := append(hdr(1), 63)
	bigCount := hdr(0xFFFF)
	txtOver := append(hdr(1), 0, 0, 16, 0, 3, 0, 0, 0, 0, 0, 3, 9, 'a', 'b')
	badLabel := append(hdr(1), 0x80, 0)
	cases := map[string][]byte{
		"short": {1, 2, 3}, "loop": loop, "long label": longLabel,
		"big count": bigCount, "txt overrun": txtOver, "label type": badLabel,
	}
	for name, b := range cases {
		m, err := ParseResponse(b)
		if err == nil {
			t.Errorf("%s: no error, got %+v", name, m)
		}
	}
	// A compressed name within limits decodes.
	ok := append(hdr(1), 3, 'f', 'o', 'o', 0, 0, 16, 0, 3, 0, 0, 0, 0, 0, 4, 3, 'b', 'a', 'r',
		0xC0, 12, 0, 16, 0, 3, 0, 0, 0, 0, 0, 0)
	ok[7] = 2
	m, err := ParseResponse(ok)
	if err != nil || len(m.Answers) != 2 || m.Answers[1].Name != "foo" || m.TXT()[0] != "bar" {
		t.Fatalf("compressed: %+v %v", m, err)
	}
}

func TestNotDNS(t *testing.T) {
	for name, answer := range map[string][]byte{
		"http":    []byte("HTTP/1.1 400 Bad Request\r\n\r\n"),
		"ssh":     []byte("SSH-2.0-OpenSSH_9.2p1\r\n"),
		"wrongid": append([]byte{0, 12}, 0x99, 0x99, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		"query":   append([]byte{0, 12}, 0x76, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	} {
		t.Run(name, func(t *testing.T) {
			addr := prototest.Serve(t, prototest.Replay(nil, answer))
			_, err := prototest.Run(t, New(), addr)
			if !errors.Is(err, protocol.ErrNotThisProtocol) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestPartialAnswers: a server that answers only version.bind and then
// stays silent costs at most followUpWait, not the whole timeout.
func TestPartialAnswers(t *testing.T) {
	tr := prototest.LoadTranscript(t, "bind-9.18.49")
	all := []byte(tr.Conns[0][0].Got)
	frames, _ := splitFrames(all)
	var first []byte
	for _, f := range frames {
		if f[0] == 0x76 && f[1] == 0x01 {
			first = TCPFrame(f)
		}
	}
	addr := prototest.Serve(t, prototest.Replay(nil, first))
	start := time.Now()
	res, err := prototest.Run(t, New(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > followUpWait+500*time.Millisecond {
		t.Errorf("took %v", d)
	}
	if res.Fields["dns.version_bind"] == "" || !strings.Contains(res.Fields["dns.rcodes"], "authors.bind=none") {
		t.Errorf("fields %v", res.Fields)
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, r := range prototest.LoadTranscript(f, "bind-9.18.49").Answers() {
		frames, _ := splitFrames(r)
		for _, fr := range frames {
			f.Add(fr)
		}
	}
	f.Add(BuildVersionQuery(1))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseResponse(b)
		if err == nil && m == nil {
			t.Fatal("nil message without error")
		}
		if m != nil {
			_ = m.FlagString()
			_ = m.TXT()
			if len(m.Answers) > maxRecords {
				t.Fatal("too many records")
			}
		}
		splitFrames(b)
	})
}
