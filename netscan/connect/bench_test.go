package connect

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/netscan/portspec"
)

// The full-range loopback scan touches the lab's real servers on 127.0.0.1,
// so it runs only when asked: PORTRAIT_BENCH=1 go test -run FullRange -v
// ./netscan/connect (or -bench ConnectLoopback).

func benchEnabled(tb testing.TB) {
	if os.Getenv("PORTRAIT_BENCH") != "1" {
		tb.Skip("set PORTRAIT_BENCH=1 to scan all 65535 ports of 127.0.0.1")
	}
}

// labTCPPorts reads the lab's truth file (../shared/lab/truth.json beside the
// checkout, or $PORTRAIT_TRUTH); nil when absent.
func labTCPPorts(tb testing.TB) []int {
	paths := []string{os.Getenv("PORTRAIT_TRUTH"), filepath.Join("..", "..", "..", "shared", "lab", "truth.json"), "/work/shared/lab/truth.json"}
	for _, p := range paths {
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var truth struct {
			TCPPorts string `json:"tcp_ports"`
		}
		if err := json.Unmarshal(b, &truth); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		var out []int
		for _, f := range strings.Split(truth.TCPPorts, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
				out = append(out, n)
			}
		}
		return out
	}
	return nil
}

func fullScan(tb testing.TB, cfg Config) (Summary, []int) {
	var open []int
	cfg.OnPort = func(r PortResult) {
		if r.State == Open {
			open = append(open, r.Port)
		}
	}
	sum, err := Scan(context.Background(), cfg, loopback(tb, "127.0.0.1"), portspec.All())
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(open)
	return sum, open
}

func TestFullRangeLoopback(t *testing.T) {
	benchEnabled(t)
	for _, cfg := range []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{}},
	} {
		start := time.Now()
		sum, open := fullScan(t, cfg.cfg)
		el := time.Since(start)
		t.Logf("%s: 65535 ports of 127.0.0.1 in %v (%.0f ports/s), workers %d: open %d closed %d filtered %d errors %d probes %d",
			cfg.name, el.Round(time.Millisecond), 65535/el.Seconds(), sum.Concurrency, sum.Open, sum.Closed, sum.Filtered, sum.Errors, sum.Probes)
		if sum.Open+sum.Closed+sum.Filtered+sum.Errors != 65535 {
			t.Errorf("verdicts do not add up: %+v", sum)
		}
		if sum.Errors > 0 || sum.Filtered > 0 {
			t.Errorf("loopback gave %d errors and %d filtered ports", sum.Errors, sum.Filtered)
		}
		for _, p := range labTCPPorts(t) {
			if !slices.Contains(open, p) {
				t.Errorf("lab port %d not found open", p)
			}
		}
	}
}

func BenchmarkConnectLoopbackFull(b *testing.B) {
	benchEnabled(b)
	for b.Loop() {
		var open int
		cfg := Config{OnPort: func(r PortResult) {
			if r.State == Open {
				open++
			}
		}}
		set := loopback(b, "127.0.0.1")
		if _, err := Scan(context.Background(), cfg, set, portspec.All()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(open), "open")
	}
}
