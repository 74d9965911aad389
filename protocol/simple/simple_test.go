package simple

import (
	"encoding/hex"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestEcho(t *testing.T) {
	// The lab recording shows xinetd sends the line back byte for byte; an
	// echo handler plays that role here because our token is random.
	tr := prototest.LoadTranscript(t, "lab-xinetd-echo")
	if s := tr.Conns[0][0]; s.Sent != s.Got {
		t.Fatalf("recording is not an echo: %+v", s)
	}
	addr := prototest.Serve(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
	res, err := prototest.Run(t, NewEcho(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if res.Service != "echo" || res.Fields["echo.echoed"] != "true" {
		t.Errorf("got %+v", res)
	}
	// Replaying the recording sends back the old token: not our line.
	if _, err := prototest.RunRecorded(t, NewEcho(), "lab-xinetd-echo"); !errors.Is(err, protocol.ErrNotThisProtocol) {
		t.Errorf("stale echo: err = %v, want ErrNotThisProtocol", err)
	}
	addr = prototest.Serve(t, prototest.Replay(nil, []byte("HTTP/1.0 400 Bad Request\r\n\r\n")))
	if _, err := prototest.Run(t, NewEcho(), addr); !errors.Is(err, protocol.ErrNotThisProtocol) {
		t.Errorf("http: err = %v, want ErrNotThisProtocol", err)
	}
	addr = prototest.Serve(t, prototest.Replay([]byte("SSH-2.0-x\r\n")))
	if _, err := prototest.Run(t, NewEcho(), addr); !errors.Is(err, protocol.ErrNotThisProtocol) {
		t.Errorf("banner: err = %v, want ErrNotThisProtocol", err)
	}
}

func TestDaytimeLab(t *testing.T) {
	res, err := prototest.RunRecorded(t, NewDaytime(), "lab-xinetd-daytime")
	if err != nil {
		t.Fatal(err)
	}
	if res.Service != "daytime" || res.Fields["daytime.format"] != "xinetd" || res.Fields["daytime.text"] != "22 NOV 2026 23:26:44 UTC" {
		t.Errorf("got %+v", res.Fields)
	}
	if res.Fields["daytime.offset_seconds"] == "" {
		t.Error("no offset for a UTC xinetd line")
	}
}

func TestParseDaytime(t *testing.T) {
	now := time.Date(2026, 11, 22, 23, 26, 44, 0, time.UTC)
	tests := []struct {
		in, format string
		ok         bool
		offset     string
	}{
		{"22 NOV 2026 23:26:44 UTC\r\n", "xinetd", true, "0s"},
		{"22 NOV 2026 23:27:44 UTC\r\n", "xinetd", true, "1m0s"},
		{"Sun Nov 22 23:26:44 2026\r\n", "rfc867-ctime", true, ""},
		{"Sun Nov  2 03:26:44 2026\n", "rfc867-ctime", true, ""},
		{"Sun, 22 Nov 2026 23:26:44 +0000\r\n", "rfc822", true, ""},
		{"11:26:44 PM 11/22/2026\n", "windows", true, ""},
		{"61366 26-11-22 23:26:44 00 0 0 123.4 UTC(NIST) *\n", "nist", true, ""},
		{"2026-11-22T23:26:44Z\n", "iso8601", true, ""},
		{"Sunday, November 22, 2026 23:26:44-UTC\r\n\x00", "other", true, ""},
		{"220 mail.example ESMTP Postfix 23:26:44 2026\r\n", "", false, ""},
		{" 23:26:44 up 3 days,  2 users,  load average: 0.00\n", "", false, ""},
		{"SSH-2.0-OpenSSH_9.2p1\r\n", "", false, ""},
		{"22 NOV 2026 23:26:44 UTC\r\nsecond line\r\n", "", false, ""},
		{"\xee\xad\xf8\xb4", "", false, ""},
		{"", "", false, ""},
	}
	for _, tt := range tests {
		info, ok := ParseDaytime([]byte(tt.in), now)
		if ok != tt.ok || info.Format != tt.format {
			t.Errorf("%q: ok=%v format=%q, want %v %q", tt.in, ok, info.Format, tt.ok, tt.format)
		}
		if tt.offset != "" && (!info.HasOffset || info.Offset.String() != tt.offset) {
			t.Errorf("%q: offset %v (%v), want %s", tt.in, info.Offset, info.HasOffset, tt.offset)
		}
	}
}

func TestTimeLab(t *testing.T) {
	res, err := prototest.RunRecorded(t, NewTime(), "lab-xinetd-time")
	if err != nil {
		t.Fatal(err)
	}
	if res.Service != "time" || res.Fields["time.value"] != "4004378804" || res.Fields["time.utc"] != "2026-11-22T23:26:44Z" {
		t.Errorf("got %+v", res.Fields)
	}
}

func TestTimeRejects(t *testing.T) {
	for name, greeting := range map[string][]byte{
		"five bytes": {1, 2, 3, 4, 5},
		"banner":     []byte("SSH-2.0-OpenSSH_9.2p1\r\n"),
	} {
		addr := prototest.Serve(t, func(c net.Conn) { _, _ = c.Write(greeting) })
		if _, err := prototest.Run(t, NewTime(), addr); !errors.Is(err, protocol.ErrNotThisProtocol) {
			t.Errorf("%s: err = %v, want ErrNotThisProtocol", name, err)
		}
	}
}

// TestTimeUnsetClock: a device whose clock never got set still answers four
// bytes and closes; that is the time protocol, with less confidence.
func TestTimeUnsetClock(t *testing.T) {
	addr := prototest.Serve(t, func(c net.Conn) { _, _ = c.Write([]byte{0x83, 0xaa, 0x7e, 0x80}) }) // 1970-01-01
	res, err := prototest.Run(t, NewTime(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if res.Service != "time" || res.Confidence != 50 || res.Fields["time.utc"] != "1970-01-01T00:00:00Z" {
		t.Errorf("got %d %+v", res.Confidence, res.Fields)
	}
}

func TestTimeClaimAndEra(t *testing.T) {
	now := time.Now()
	b := make([]byte, 4)
	v := uint32(now.Unix() - epoch1900) // wraps after 2036, as on the wire
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	if !NewTime().Claim(b) {
		t.Errorf("Claim(now) = false")
	}
	if NewTime().Claim([]byte("SSH-")) {
		t.Errorf("Claim(SSH-) = true")
	}
	// 2036-02-07T06:28:16Z is where the counter wraps to 0.
	after := time.Date(2036, 3, 1, 0, 0, 0, 0, time.UTC)
	raw, _ := hex.DecodeString("00000000")
	if got := DecodeTime(raw, after); got.Year() != 2036 {
		t.Errorf("era: %v", got)
	}
}

func FuzzParseDaytime(f *testing.F) {
	for _, b := range prototest.LoadTranscript(f, "lab-xinetd-daytime").Answers() {
		f.Add(b)
	}
	f.Add([]byte("Sun Nov 22 23:26:44 2026\r\n"))
	f.Add([]byte("11:26:44 PM 11/22/2026\n"))
	now := time.Date(2026, 11, 22, 23, 26, 44, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		info, ok := ParseDaytime(b, now)
		if ok && (info.Text == "" || len(info.Text) > maxDaytime) {
			t.Fatalf("bad info %+v", info)
		}
		if len(b) >= 4 {
			_ = DecodeTime(b[:4], now)
		}
	})
}
