package catalogs

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A hostile server can stuff every literal the rules look for into one
// long header so that the prefilter lets every pattern run: the match must
// still end in bounded time (recog patterns see at most recog.MaxText
// bytes, and every backtracking match has a timeout).
func TestHostileHeader(t *testing.T) {
	if testing.Short() {
		t.Skip("slow by design")
	}
	cat, _, err := LoadCatalogs(context.Background(), Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, r := range cat.Rules() {
		for _, e := range r.Examples {
			if v := e.Fields["http.header.server"]; v != "" {
				parts = append(parts, v)
			}
		}
	}
	header := strings.Join(parts, " ")
	for len(header) < 64<<10 {
		header += " " + header
	}
	header = header[:64<<10]
	start := time.Now()
	ms := cat.Match(map[string]string{"http.header.server": header})
	took := time.Since(start)
	t.Logf("%d matches on a %d-byte header made of %d examples in %v", len(ms), len(header), len(parts), took)
	if took > 10*time.Second {
		t.Fatalf("hostile header took %v", took)
	}
}
