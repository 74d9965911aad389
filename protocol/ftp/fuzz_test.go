package ftp

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/internal/reply"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// FuzzReply splits arbitrary server bytes into replies and parses each.
func FuzzReply(f *testing.F) {
	prototest.SeedAnswers(f)
	f.Add([]byte("220-a\r\n220 b\r\n"))
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
			if len(r.Lines) > reply.MaxLines {
				t.Fatalf("%d lines", len(r.Lines))
			}
			hasAuthTLS(Features(r))
			SMTPLike(r)
			loginRequired(r)
			b = b[end:]
		}
		smtpBanner(b)
	})
}
