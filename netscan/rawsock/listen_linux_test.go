//go:build linux

package rawsock

import (
	"errors"
	"os"
	"testing"
	"time"
)

// Close wakes a Read that waits for packets, with the receive ring and
// without it: the reader sees os.ErrClosed instead of sleeping out its
// wait (a scan's last step is closing its listener).
func TestCloseWakesRead(t *testing.T) {
	f, err := ARPReplyFilter()
	if err != nil {
		t.Fatal(err)
	}
	for _, noRing := range []bool{false, true} {
		l, err := Listen(ListenConfig{Filter: f, NoRing: noRing})
		if err != nil {
			t.Skipf("no packet socket here (needs CAP_NET_RAW): %v", err)
		}
		done := make(chan error, 1)
		go func() {
			for {
				if _, err := l.Read(func([]byte) {}); err != nil {
					done <- err
					return
				}
			}
		}()
		time.Sleep(120 * time.Millisecond) // idle: the reader blocks
		if err := l.Close(); err != nil {
			t.Fatalf("noRing=%v: close: %v", noRing, err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, os.ErrClosed) {
				t.Errorf("noRing=%v: read ended with %v, want os.ErrClosed", noRing, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("noRing=%v: read still blocked after Close", noRing)
		}
	}
}

func TestRingBlockSize(t *testing.T) {
	for _, c := range []struct {
		rate float64
		want int
	}{
		{0, ringMaxBlock},         // unknown rate: the largest ring
		{-1, ringMaxBlock},        // (no cap)
		{10_000, ringMinBlock},    // 5 KB a retire period
		{200_000, 128 << 10},      // 102 KB
		{500_000, 256 << 10},      // 256 KB
		{2_000_000, ringMaxBlock}, // 1 MB
		{1e9, ringMaxBlock},       // capped
	} {
		if got := ringBlockSize(c.rate); got != c.want {
			t.Errorf("rate %.0f: block %d, want %d", c.rate, got, c.want)
		}
	}
}
