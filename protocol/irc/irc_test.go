package irc

import (
	"errors"
	"testing"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestReplay(t *testing.T) {
	tests := []struct {
		name string
		want map[string]string
	}{
		{"local-ngircd-26.1", map[string]string{
			"irc.server":    "irc.portrait.test",
			"irc.version":   "ngircd-26.1",
			"irc.network":   "PortraitNet",
			"irc.usermodes": "abBcCFiIoqrRswx",
			"irc.chanmodes": "abehiIklmMnoOPqQrRstvVz",
			"irc.yourhost":  "Your host is irc.portrait.test, running version ngircd-26.1 (x86_64/pc/linux-gnu)",
			"irc.isupport":  "NETWORK=PortraitNet RFC2812 IRCD=ngIRCd CHARSET=UTF-8 CASEMAPPING=ascii PREFIX=(qaohv)~&@%+ CHANTYPES=#&+ CHANMODES=beI,k,l,imMnOPQRstVz CHANLIMIT=#&+:10 CHANNELLEN=50 NICKLEN=9 TOPICLEN=490 AWAYLEN=127 KICKLEN=400 MODES=5 MAXLIST=beI:50 EXCEPTS=e INVEX=I PENALTY FNC",
		}},
		{"synthetic-unrealircd-6-ping", map[string]string{
			"irc.server":  "irc.example.net",
			"irc.version": "UnrealIRCd-6.1.0",
			"irc.network": "ExampleNet",
			"irc.notice":  "*** Looking up your hostname...",
		}},
		{"synthetic-banned", map[string]string{
			"irc.notice": "*** Processing connection to irc.example.org",
			"irc.error":  "465 You are banned from this server- Spam (2026/01/01 00.00)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := prototest.RunRecorded(t, New(), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if res.Service != "irc" {
				t.Errorf("service %q", res.Service)
			}
			prototest.CheckFields(t, res, tt.want)
		})
	}
}

func TestNotIRC(t *testing.T) {
	for name, greeting := range map[string]string{
		"smtp":      "220 mail.example ESMTP Postfix\r\n",
		"http":      "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
		"ssh":       "SSH-2.0-OpenSSH_9.2p1\r\n",
		"memcached": "ERROR\r\nERROR\r\n",
		"telnet":    "\xff\xfb\x01\xff\xfb\x03",
	} {
		addr := prototest.Serve(t, prototest.Replay(nil, []byte(greeting)))
		if _, err := prototest.Run(t, New(), addr); !errors.Is(err, protocol.ErrNotThisProtocol) {
			t.Errorf("%s: err = %v, want ErrNotThisProtocol", name, err)
		}
		if New().Claim([]byte(greeting)) {
			t.Errorf("%s claimed", name)
		}
	}
	if !New().Claim([]byte(":irc.example.net NOTICE * :*** Looking up your hostname...\r\n")) {
		t.Error("NOTICE not claimed")
	}
}

func TestParseLine(t *testing.T) {
	m, ok := ParseLine("@time=2026-01-01T00:00:00Z :srv 005 nick A=1 B :are supported")
	if !ok || m.Prefix != "srv" || m.Command != "005" || len(m.Params) != 4 || m.last() != "are supported" {
		t.Errorf("%+v %v", m, ok)
	}
	for _, bad := range []string{"", ":", ": 001", "001 x", "220 ready", "HTTP/1.1 200 OK", ":srv HTTP/1.1"} {
		if _, ok := ParseLine(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	for _, name := range []string{"local-ngircd-26.1", "synthetic-unrealircd-6-ping", "synthetic-banned"} {
		for _, b := range prototest.LoadTranscript(f, name).Answers() {
			f.Add(string(b))
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		var st State
		for _, line := range splitLines(s) {
			if m, ok := ParseLine(line); ok {
				st.Feed(m)
			}
		}
		if len(st.Finish()["irc.isupport"]) > maxISupport {
			t.Fatal("isupport not capped")
		}
	})
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i == len(s) {
			break
		}
		s = s[i+1:]
	}
	return out
}
