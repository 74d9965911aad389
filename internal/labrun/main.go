//go:build ignore

// labrun fingerprints a list of loopback ports directly with the engine
// (no port scan): a development loop for rule and module work.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/protocol/all"
)

func main() {
	ports := flag.String("p", "", "ports")
	debug := flag.Bool("d", false, "debug")
	flag.Parse()
	cat, err := fingerprint.Builtin()
	if err != nil {
		panic(err)
	}
	probes, _ := fingerprint.BuiltinProbes()
	lvl := slog.LevelWarn
	if *debug {
		lvl = slog.LevelDebug
	}
	e := fingerprint.New(fingerprint.Config{}, all.Modules(), cat, probes, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	for _, p := range strings.Split(*ports, ",") {
		n, _ := strconv.Atoi(p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := e.Identify(context.Background(), fingerprint.Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: n})
			mu.Lock()
			enc.Encode(s)
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Printf("{\"_meta\": {\"wall_time_s\": %.2f, \"scanner\": \"portrait-labrun\"}}\n", time.Since(start).Seconds())
}
