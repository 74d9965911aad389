package imap

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// FuzzParse runs the greeting, tagged-response and ID parsers over
// arbitrary server bytes.
func FuzzParse(f *testing.F) {
	prototest.SeedAnswers(f)
	f.Add([]byte(`* ID ("name" "x\"y" "version" NIL)` + "\r\na002 OK\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Greeting(string(b))
		GreetingCapabilities(string(b))
		end := TaggedEnd(b, "a002")
		if end > len(b) {
			t.Fatalf("TaggedEnd = %d for %d bytes", end, len(b))
		}
		lines := Lines(b)
		if len(lines) > maxLines {
			t.Fatalf("%d lines", len(lines))
		}
		Tagged(lines, "a002")
		if id, ok := Untagged(lines, "ID"); ok {
			pairs := ParseID(id)
			if len(pairs) > maxIDPairs {
				t.Fatalf("%d pairs", len(pairs))
			}
			for _, kv := range pairs {
				if len(kv[1]) > maxIDValue {
					t.Fatalf("value of %d bytes", len(kv[1]))
				}
				fieldKey(kv[0])
			}
		}
		ParseID(string(b))
	})
}
