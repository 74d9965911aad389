package smtp

import (
	"path/filepath"
	"testing"
)

// seedTranscripts adds every recorded greeting and reply to the corpus.
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

// FuzzReply splits arbitrary server bytes into replies and runs every
// parser over each.
func FuzzReply(f *testing.F) {
	seedTranscripts(f)
	f.Add([]byte("250-a\r\n250 b\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for i := 0; i < 16 && len(b) > 0; i++ {
			end := ReplyEnd(b)
			if end < 0 {
				break
			}
			if end == 0 || end > len(b) {
				t.Fatalf("ReplyEnd = %d for %d bytes", end, len(b))
			}
			r := ParseReply(b[:end])
			if len(r.Lines) == 0 || len(r.Lines) > maxReplyLines {
				t.Fatalf("%d lines", len(r.Lines))
			}
			if len(Extensions(r)) > 128 {
				t.Fatal("too many extensions")
			}
			FTPLike(r)
			greetingDomain(r)
			b = b[end:]
		}
	})
}
