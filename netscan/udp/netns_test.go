//go:build linux

package udp

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/netscan/rawsock/netnstest"
	"github.com/portrait-scanner/portrait/netscan/rawsock/sweep"
	"github.com/portrait-scanner/portrait/target"
)

type collector struct {
	mu    sync.Mutex
	ports map[int]PortResult
	hosts []HostResult
}

func scan(t *testing.T, cfg Config, spec string, ports []int) (*collector, sweep.Summary) {
	t.Helper()
	c := &collector{ports: map[int]PortResult{}}
	cfg.ReportClosed, cfg.ReportFiltered = true, true
	cfg.OnPort = func(r PortResult) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.ports[r.Port] = r
	}
	cfg.OnHost = func(h HostResult) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.hosts = append(c.hosts, h)
	}
	set, err := target.Load(context.Background(), target.Config{Specs: []string{spec}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sum, err := Scan(ctx, cfg, set.Iter(), ports)
	if err != nil {
		t.Fatal(err)
	}
	return c, sum
}

type want struct{ state, reason string }

func check(t *testing.T, c *collector, truth map[int]want) {
	t.Helper()
	var ports []int
	for p := range truth {
		ports = append(ports, p)
	}
	sort.Ints(ports)
	for _, p := range ports {
		w := truth[p]
		got, ok := c.ports[p]
		switch {
		case !ok:
			t.Errorf("port %d: no verdict, want %s", p, w.state)
		case got.State.String() != w.state || got.Reason != w.reason:
			t.Errorf("port %d: %s (%s), want %s (%s)", p, got.State, got.Reason, w.state, w.reason)
		}
	}
}

func udpEnv(t *testing.T) (*netnstest.Env, map[int]want) {
	e := netnstest.New(t)
	e.ServeUDP(e.NSIP, 7, func(b []byte) []byte { return b }) // echo
	e.ServeUDP(e.NSIP, 5000, func([]byte) []byte { return []byte("pong") })
	e.Nft(`table ip pt {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 5003 drop
    udp dport 5004 reject with icmp type admin-prohibited
    udp dport 5005 reject with icmp type host-unreachable
  }
}`)
	return e, map[int]want{
		7:    {"open", ReasonResponse},
		5000: {"open", ReasonResponse},
		5001: {"closed", ReasonPortUnreach},
		5002: {"closed", ReasonPortUnreach},
		5003: {"open|filtered", ReasonNoResponse},
		5004: {"filtered", ReasonProhibited},
		5005: {"filtered", ReasonHostUnreach},
	}
}

// The reported states equal the configured truth: a reply is open, ICMP
// port unreachable closed, another ICMP error filtered, silence
// open|filtered.
func TestNetnsStates(t *testing.T) {
	e, truth := udpEnv(t)
	c, sum := scan(t, Config{Retries: 1, Timeout: 300 * time.Millisecond}, e.NSIP.String(), []int{7, 5000, 5001, 5002, 5003, 5004, 5005})
	check(t, c, truth)
	if r := c.ports[7]; string(r.Reply) != "portrait-echo\r\n" || r.Probe != "Echo" {
		t.Errorf("echo reply %q probe %q", r.Reply, r.Probe)
	}
	if len(c.hosts) != 1 || !c.hosts[0].Up {
		t.Errorf("hosts %+v", c.hosts)
	}
	t.Logf("%+v", sum)
}

// Loss on probes and answers: retries still find the truth.
func TestNetnsLoss(t *testing.T) {
	e, truth := udpEnv(t)
	e.Loss(10, 10)
	c, _ := scan(t, Config{Retries: 5, Timeout: 300 * time.Millisecond}, e.NSIP.String(), []int{7, 5000, 5001, 5002, 5003, 5004, 5005})
	check(t, c, truth)
}

// A target that rate-limits its ICMP errors (Linux: a burst of six, then
// one per icmp_ratelimit) answers only the first probes of a sweep; the
// paced retries get every closed port right.
func TestNetnsICMPRateLimit(t *testing.T) {
	e := netnstest.New(t)
	e.Sysctl("net.ipv4.icmp_ratelimit=100") // 10 a second, burst 6
	e.ServeUDP(e.NSIP, 6000, func([]byte) []byte { return []byte("up") })
	ports := []int{6000}
	truth := map[int]want{6000: {"open", ReasonResponse}}
	for p := 6001; p <= 6040; p++ {
		ports = append(ports, p)
		truth[p] = want{"closed", ReasonPortUnreach}
	}
	start := time.Now()
	c, sum := scan(t, Config{Timeout: 500 * time.Millisecond, Log: testLog(t)}, e.NSIP.String(), ports)
	check(t, c, truth)
	t.Logf("%d closed ports behind a 10/s ICMP limit in %v (%d probes)", len(ports)-1, time.Since(start), sum.Probes)
	if sum.Probes > 3*len(ports) {
		t.Errorf("%d probes for %d ports: pacing wasted probes", sum.Probes, len(ports))
	}
}

func TestProbeNames(t *testing.T) {
	for port, want := range map[int]string{53: "DNSVersionBindReq", 123: "NTPRequest", 161: "SNMPv1public", 69: "TFTPReadRequest", 40000: "Empty"} {
		if got := fmt.Sprint(probeName(port)); got != want {
			t.Errorf("port %d: %s, want %s", port, got, want)
		}
	}
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
