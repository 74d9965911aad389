package pop3

import (
	"path/filepath"
	"testing"
)

// seedTranscripts adds every recorded greeting and response to the corpus.
func seedTranscripts(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		tr := loadTranscript(f, filepath.Base(file))
		f.Add(unlatin1(tr.Greeting))
		for _, tu := range tr.Turns {
			f.Add(unlatin1(tu.Recv))
		}
	}
}

// FuzzParse runs the response framing and CAPA parser over arbitrary bytes.
func FuzzParse(f *testing.F) {
	seedTranscripts(f)
	f.Add([]byte("+OK\r\nTOP\r\n..x\r\n.\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		status(b)
		end := MultiEnd(b)
		if end > len(b) || end == 0 {
			t.Fatalf("MultiEnd = %d for %d bytes", end, len(b))
		}
		if end > 0 {
			b = b[:end]
		}
		if _, caps := ParseCapa(b); len(caps) > maxCapaLines {
			t.Fatalf("%d capabilities", len(caps))
		}
	})
}
