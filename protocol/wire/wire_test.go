package wire

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"
)

// TestReadQuietUntil: a prompt ends the read at once instead of after the
// idle time; without done the same bytes wait out the idle time.
func TestReadQuietUntil(t *testing.T) {
	for _, tc := range []struct {
		name     string
		done     func([]byte) bool
		min, max time.Duration
	}{
		{"prompt", func(b []byte) bool { return bytes.HasSuffix(b, []byte("login: ")) }, 0, 300 * time.Millisecond},
		{"quiet", nil, 400 * time.Millisecond, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			defer server.Close()
			go func() { _, _ = server.Write([]byte("Debian\r\nlogin: ")) }()
			start := time.Now()
			b, err := ReadQuietUntil(context.Background(), client, 3*time.Second, 500*time.Millisecond, 1024, tc.done)
			d := time.Since(start)
			if err != nil || string(b) != "Debian\r\nlogin: " {
				t.Fatalf("got %q, %v", b, err)
			}
			if d < tc.min || d > tc.max {
				t.Errorf("took %v, want %v..%v", d, tc.min, tc.max)
			}
		})
	}
}
