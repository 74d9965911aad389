package smtp

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/internal/reply"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// FuzzReply splits arbitrary server bytes into replies and runs every
// parser over each.
func FuzzReply(f *testing.F) {
	prototest.SeedAnswers(f)
	f.Add([]byte("250-a\r\n250 b\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for i := 0; i < 16 && len(b) > 0; i++ {
			end := reply.End(b)
			if end < 0 {
				break
			}
			if end == 0 || end > len(b) {
				t.Fatalf("ReplyEnd = %d for %d bytes", end, len(b))
			}
			r := reply.Parse(b[:end])
			if len(r.Lines) == 0 || len(r.Lines) > reply.MaxLines {
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
