package git

import (
	"errors"
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
		{"local-git-daemon-2.39.5", map[string]string{"git.error": "access denied or repository not exported: /portrait-probe"}},
		{"local-git-daemon-2.39.5-informative", map[string]string{"git.error": "no such repository: /portrait-probe"}},
		{"local-git-daemon-2.39.5-exported", map[string]string{
			"git.agent":        "git/2.39.5",
			"git.capabilities": "multi_ack thin-pack side-band side-band-64k ofs-delta shallow deepen-since deepen-not deepen-relative no-progress include-tag multi_ack_detailed object-format=sha1 agent=git/2.39.5",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := prototest.RunRecorded(t, New(), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if res.Service != "git" {
				t.Errorf("service %q", res.Service)
			}
			prototest.CheckFields(t, res, tt.want)
			if len(res.Fields) != len(tt.want) {
				t.Errorf("fields %v", res.Fields)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	got := string(Request("example.org"))
	want := "0035git-upload-pack /portrait-probe\x00host=example.org\x00"
	if got != want {
		t.Errorf("Request = %q, want %q", got, want)
	}
}

func TestNotGit(t *testing.T) {
	for name, answer := range map[string]string{
		"http":     "HTTP/1.1 400 Bad Request\r\n\r\n",
		"flush":    "0000",
		"bad line": "0010hello world!",
		"short":    "0003",
	} {
		addr := prototest.Serve(t, prototest.Replay(nil, []byte(answer)))
		if _, err := prototest.Run(t, New(), addr); !errors.Is(err, protocol.ErrNotThisProtocol) {
			t.Errorf("%s: err = %v, want ErrNotThisProtocol", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"local-git-daemon-2.39.5", "local-git-daemon-2.39.5-informative", "local-git-daemon-2.39.5-exported"} {
		for _, b := range prototest.LoadTranscript(f, name).Answers() {
			f.Add(b)
		}
	}
	f.Add([]byte("000eversion 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok, complete := ParsePktLine(b)
		if !ok || !complete {
			return
		}
		if len(p) > len(b) {
			t.Fatal("payload longer than input")
		}
		a, _ := ParseAnswer(p)
		if strings.Contains(a.Agent, " ") {
			t.Fatal("agent with space")
		}
	})
}
