package telnet

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestReplay(t *testing.T) {
	tests := []struct {
		name    string
		service string
		want    map[string]string
	}{
		{"lab-inetutils-telnetd-2.4", "telnet", map[string]string{
			"telnet.options":      "WILL 37,WILL 38,DO 24,DO 32,DO 35,DO 39,DO 36",
			"telnet.negotiation":  "WILL 37,WILL 38,DO 24,DO 32,DO 35,DO 39,DO 36,WILL 3,DO 1,DO 34,DO 31,WILL 5,DO 33,WILL 1,DO 6,DO 0",
			"telnet.banner":       "Linux 6.18.44-fc-v595 (localhost) (pts/0)\n\nvm login:",
			"telnet.login_prompt": "vm login:",
		}},
		{"synthetic-busybox", "telnet", map[string]string{
			"telnet.options":      "DO 1,DO 31,WILL 1,WILL 3",
			"telnet.banner":       "OpenWrt 23.05\n(none) login:",
			"telnet.login_prompt": "(none) login:",
		}},
		{"synthetic-cisco", "telnet", map[string]string{
			"telnet.options":      "WILL 1,WILL 3,DO 24,DO 31",
			"telnet.banner":       "User Access Verification\n\nUsername:",
			"telnet.login_prompt": "Username:",
		}},
		{"synthetic-text-only", "telnet", map[string]string{
			"telnet.banner":       "Welcome to the lab switch\n\nlogin:",
			"telnet.login_prompt": "login:",
		}},
		{"synthetic-silent-negotiation", "telnet", map[string]string{
			"telnet.options":      "WILL 1,WILL 3",
			"telnet.login_prompt": "Password:",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := prototest.RunRecorded(t, New(), tt.name)
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

func TestClaim(t *testing.T) {
	tests := []struct {
		banner string
		want   bool
	}{
		{"\xff\xfb%\xff\xfb&\xff\xfd\x18", true},
		{"\xff\xfd\x01\xff\xfd\x1f", true},
		{"\r\nUser Access Verification\r\n\r\nUsername: ", true},
		{"(none) login: ", true},
		{"SSH-2.0-OpenSSH_9.2p1\r\n", false},
		{"220 ftp ready\r\nlogin:", false},
		{"22 NOV 2026 23:18:42 UTC\r\n", false},
		{"\xff", false},
		{"hello", false},
	}
	for _, tt := range tests {
		if got := New().Claim([]byte(tt.banner)); got != tt.want {
			t.Errorf("Claim(%q) = %v, want %v", tt.banner, got, tt.want)
		}
	}
}

func TestNotTelnet(t *testing.T) {
	addr := prototest.Serve(t, prototest.Replay([]byte("SSH-2.0-OpenSSH_9.2p1\r\n")))
	_, err := prototest.Run(t, New(), addr)
	if !errors.Is(err, protocol.ErrNotThisProtocol) {
		t.Fatalf("err = %v, want ErrNotThisProtocol", err)
	}
	addr = prototest.Serve(t, prototest.Replay([]byte{0, 1, 2, 3, 4, 5, 6, 7, 0x10, 0x11, 0x12}))
	if _, err := prototest.Run(t, New(), addr); !errors.Is(err, protocol.ErrNotThisProtocol) {
		t.Fatalf("binary: err = %v, want ErrNotThisProtocol", err)
	}
}

// TestEndless checks that a server spewing negotiation and text forever
// costs one size cap, not a stall.
func TestEndless(t *testing.T) {
	addr := prototest.Serve(t, func(c net.Conn) {
		chunk := bytes.Repeat([]byte("\xff\xfd\x18text "), 500)
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	start := time.Now()
	res, err := prototest.Run(t, New(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if len(res.Fields["telnet.banner"]) > maxBanner {
		t.Errorf("banner not capped: %d", len(res.Fields["telnet.banner"]))
	}
}

func TestParse(t *testing.T) {
	cmds, text := Parse([]byte("\xff\xfb\x01ab\xff\xffc\xff\xfa\x18\x01\xff\xf0d\xff\xf1e\xff\xfd"))
	if got := joinCommands(cmds); got != "WILL 1,SB 24" {
		t.Errorf("commands %q", got)
	}
	if string(text) != "ab\xffcde" {
		t.Errorf("text %q", text)
	}
	if got := joinCommands(Initial([]byte("\r\n\xff\xfb\x01\xff\xfa\x18\x01\xff\xf0\xff\xfd\x03login: \xff\xfb\x05"))); got != "WILL 1,SB 24,DO 3" {
		t.Errorf("initial %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"lab-inetutils-telnetd-2.4", "synthetic-busybox", "synthetic-cisco", "synthetic-text-only"} {
		for _, b := range prototest.LoadTranscript(f, name).Answers() {
			f.Add(b)
		}
	}
	f.Add([]byte("\xff\xfa\x18"))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cmds, text := Parse(b)
		if len(text) > len(b) || len(cmds) > len(b) {
			t.Fatal("output larger than input")
		}
		_ = Initial(b)
		if s := Clean(text); len(s) > maxBanner {
			t.Fatal("banner not capped")
		}
		_ = New().Claim(b)
		_ = reply(cmds, map[Command]int{})
	})
}
