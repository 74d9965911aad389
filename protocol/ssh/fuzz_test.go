package ssh

import (
	"path/filepath"
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// seedTranscripts adds every recorded server byte stream to the corpus.
func seedTranscripts(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		tr := prototest.LoadTranscript(f, filepath.Base(file))
		var stream []byte
		for _, s := range tr.Conns[0] {
			stream = append(stream, s.Got...)
		}
		f.Add(stream)
	}
	if len(files) == 0 {
		f.Log("no transcripts in testdata")
	}
}

// FuzzParse runs the identification scanner, the packet splitter and the
// KEXINIT parser over arbitrary server bytes.
func FuzzParse(f *testing.F) {
	seedTranscripts(f)
	f.Add([]byte("SSH-2.0-x\r\n"))
	f.Add(kexinitPacket(dropbearLists))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, rest, st := ScanIdent(b)
		if st == identFound && len(id.Line) > maxIdentLine {
			t.Fatalf("ident line of %d bytes", len(id.Line))
		}
		if st != identFound {
			rest = b
		}
		for i := 0; i < 4; i++ {
			payload, after, need, err := Packet(rest)
			if err != nil || need > 0 {
				break
			}
			if len(after) >= len(rest) {
				t.Fatal("packet consumed nothing")
			}
			if k, err := ParseKexInit(payload); err == nil {
				k.HASSHServer()
			}
			rest = after
		}
	})
}
