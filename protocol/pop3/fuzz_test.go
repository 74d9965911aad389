package pop3

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// FuzzParse runs the response framing and CAPA parser over arbitrary bytes.
func FuzzParse(f *testing.F) {
	prototest.SeedAnswers(f)
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
