package rsync

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
		{"local-rsyncd-3.5.0", map[string]string{
			"rsync.protocol": "32.0",
			"rsync.digests":  "sha512 sha256 sha1 md5 md4",
			"rsync.modules":  "pub,backup",
			"rsync.motd":     "Welcome to the portrait test rsync daemon\nNo abuse please",
		}},
		{"synthetic-rsyncd-30-error", map[string]string{
			"rsync.protocol": "30.0",
			"rsync.error":    "access denied to #list from unknown (192.0.2.1)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := prototest.RunRecorded(t, New(), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if res.Service != "rsync" {
				t.Errorf("service %q", res.Service)
			}
			prototest.CheckFields(t, res, tt.want)
			if len(res.Fields) != len(tt.want) {
				t.Errorf("fields %v", res.Fields)
			}
		})
	}
}

func TestNotRsync(t *testing.T) {
	addr := prototest.Serve(t, prototest.Replay([]byte("220 ftp ready\r\n")))
	if _, err := prototest.Run(t, New(), addr); !errors.Is(err, protocol.ErrNotThisProtocol) {
		t.Errorf("err = %v, want ErrNotThisProtocol", err)
	}
	if New().Claim([]byte("220 ftp ready\r\n")) || !New().Claim([]byte("@RSYNCD: 31.0\n")) {
		t.Error("Claim")
	}
}

func TestParse(t *testing.T) {
	l, ok := Parse([]byte("@RSYNCD: 29\nmotd line\nverylongmodulename_over15\tcomment\nnotab module\n@RSYNCD: EXIT\nafter\n"))
	if !ok || l.Protocol != "29" || len(l.Modules) != 1 || l.Modules[0] != "verylongmodulename_over15" || !l.Exit || len(l.MOTD) != 2 {
		t.Errorf("%+v", l)
	}
	if _, ok := Parse([]byte("@RSYNCD: x\n")); ok {
		t.Error("bad greeting accepted")
	}
	if _, ok := Parse([]byte("@RSYNCD: 31.0")); ok {
		t.Error("unterminated greeting accepted")
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"local-rsyncd-3.5.0", "synthetic-rsyncd-30-error"} {
		var all []byte
		for _, b := range prototest.LoadTranscript(f, name).Answers() {
			all = append(all, b...)
			f.Add(b)
		}
		f.Add(all)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, ok := Parse(b)
		if !ok {
			return
		}
		if len(l.Modules) > maxModules {
			t.Fatal("modules not capped")
		}
		n := 0
		for _, m := range l.MOTD {
			n += len(m) + 1
		}
		if n > maxMOTD+len(b) {
			t.Fatal("motd not capped")
		}
	})
}
