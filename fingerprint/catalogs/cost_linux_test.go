//go:build linux

package catalogs

import (
	"context"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/fingerprint/recog"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestMatchCost reports the match cost in thread CPU time, which, unlike
// the benchmarks' wall time, does not drift when the machine is busy:
// PORTRAIT_COST=1 go test -run TestMatchCost -v ./fingerprint/catalogs/
func TestMatchCost(t *testing.T) {
	if testing.Short() || os.Getenv("PORTRAIT_COST") != "1" {
		t.Skip("PORTRAIT_COST=1 measures the match cost")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	all, _, err := LoadCatalogs(context.Background(), Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	builtin, _ := fingerprint.Builtin()
	recogOnly := fingerprint.NewCatalog()
	if _, err := recog.Load(recogOnly, recog.BuiltinFS(), recog.Options{}); err != nil {
		t.Fatal(err)
	}
	es, err := corpus()
	if err != nil {
		t.Fatal(err)
	}
	var every, lab, responses []map[string]string
	for _, e := range es {
		every = append(every, e.Fields)
		if e.Service != "" {
			lab = append(lab, e.Fields)
		} else {
			responses = append(responses, e.Fields)
		}
	}
	for _, c := range []struct {
		name string
		cat  *fingerprint.Catalog
	}{{"all", all}, {"builtin", builtin}, {"recog", recogOnly}} {
		for _, set := range []struct {
			name string
			evs  []map[string]string
		}{{"corpus", every}, {"lab-port", lab}, {"response", responses}} {
			const n = 20000
			t0 := threadCPU()
			for i := 0; i < n; i++ {
				c.cat.Match(set.evs[i%len(set.evs)])
			}
			t.Logf("%-8s rules, per %-9s %7.1f µs", c.name, set.name, float64(threadCPU()-t0)/n/1e3)
		}
	}
}
