package store

import (
	"bytes"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/report"
)

// FuzzReadResults: an archive's results file may be cut anywhere or
// damaged; reading it must never panic, and whatever it accepts replays.
func FuzzReadResults(f *testing.F) {
	f.Add([]byte(`{"type":"scan","scanner":"p","started":"2026-11-23T00:00:00Z","targets":["127.0.0.1"],"ports":1}
{"type":"port","host":"127.0.0.1","port":22,"transport":"tcp","state":"open","reason":"syn-ack"}
{"type":"service","host":"127.0.0.1","port":22,"transport":"tcp","state":"open","service":"ssh","product":"OpenSSH","stack":[{"product":"OpenSSH","role":"server","confidence":90,"sources":["banner"]}],"evidence":{"ssh.banner":"SSH-2.0-OpenSSH_9.2p1"}}
{"type":"host","host":"127.0.0.1","state":"up","reason":"syn-ack","open":1}
{"type":"finding","host":"127.0.0.1","port":22,"id":"X","severity":"high"}
{"type":"scan-end","scanner":"p","hosts":1,"open":1}
`))
	f.Add([]byte(`{"type":"port","host":"x","po`))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := ReadResults(bytes.NewReader(b))
		if err != nil {
			return
		}
		if res.Size+res.Torn != int64(len(b)) {
			t.Fatalf("size %d + torn %d != %d", res.Size, res.Torn, len(b))
		}
		var out strings.Builder
		_ = res.Replay(report.NewJSONL(&out))
		_ = res.Replay(report.NewHTML(&out))
		_ = res.Replay(report.NewNmapXML(&out))
		res.Findings()
		res.Meta()
	})
}
