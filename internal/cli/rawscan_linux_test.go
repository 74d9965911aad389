//go:build linux

package cli

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/netscan/rawsock/netnstest"
)

// The whole scan (discovery, SYN and UDP) across a namespace: a capture
// inside it proves that the excluded address receives no packet at all,
// while its neighbours are discovered and scanned.
func TestRawScanExcludedAddress(t *testing.T) {
	e := netnstest.New(t)
	e.ListenTCP(e.NSIP, 22)
	base := e.Range.Addr()
	excluded := base.Next().Next().Next() // .3
	neighbour := excluded.Next()
	e.Guard(excluded, neighbour, e.NSIP)
	cap := e.Capture()
	spec := netip.PrefixFrom(base, 29).String()
	code, out, errs := run("scan", spec, e.NSIP.String(), "--exclude", excluded.String(), "--scan", "syn,udp",
		"-p", "T:22,80,U:53,161", "--discover-profile", "deep", "--no-fingerprint", "--no-workspace", "--no-progress",
		"--timeout", "300ms", "-o", "jsonl")
	time.Sleep(100 * time.Millisecond)
	cap.Stop()
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if n := cap.Count(excluded); n != 0 {
		t.Errorf("%d packets reached the excluded address", n)
	}
	if n := cap.Count(neighbour); n < 4 {
		t.Errorf("%d packets reached %s: the capture missed the scan", n, neighbour)
	}
	hosts := map[string]bool{}
	open22 := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r map[string]any
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		switch r["type"] {
		case "host":
			hosts[r["host"].(string)] = r["state"] == "up"
		case "port":
			if r["host"] == e.NSIP.String() && r["port"] == 22.0 && r["transport"] == "tcp" && r["state"] == "open" {
				open22 = true
			}
		}
	}
	if _, ok := hosts[excluded.String()]; ok {
		t.Errorf("excluded host reported")
	}
	if len(hosts) != 8 || !open22 {
		t.Errorf("hosts %v, port 22 open %v\n%s", hosts, open22, out)
	}
}
