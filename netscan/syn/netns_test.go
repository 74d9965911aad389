//go:build linux

package syn

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/netscan/connect"
	"github.com/portrait-scanner/portrait/netscan/rawsock"
	"github.com/portrait-scanner/portrait/netscan/rawsock/netnstest"
	"github.com/portrait-scanner/portrait/netscan/rawsock/sweep"
	"github.com/portrait-scanner/portrait/target"
)

// truth is the configured state (and reason) of each port of the target.
type truth map[int][2]string

// stateEnv builds a target with open, closed, dropped and rejected ports.
func stateEnv(t *testing.T) (*netnstest.Env, truth) {
	e := netnstest.New(t)
	e.ListenTCP(e.NSIP, 22, 80, 8080, 31337)
	e.Nft(`table ip pt {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport { 8081, 9000 } drop
    tcp dport 9001 reject with tcp reset
    tcp dport 9002 reject with icmp type admin-prohibited
    tcp dport 9003 reject with icmp type port-unreachable
    tcp dport 9004 reject with icmp type host-unreachable
  }
}`)
	tr := truth{
		22: {"open", "syn-ack"}, 80: {"open", "syn-ack"}, 8080: {"open", "syn-ack"}, 31337: {"open", "syn-ack"},
		23: {"closed", "reset"}, 81: {"closed", "reset"}, 443: {"closed", "reset"},
		9001: {"closed", "reset"},
		8081: {"filtered", "no-response"}, 9000: {"filtered", "no-response"},
		9002: {"filtered", "admin-prohibited"}, 9003: {"filtered", "port-unreach"}, 9004: {"filtered", "host-unreach"},
	}
	return e, tr
}

func (tr truth) ports() []int {
	var ps []int
	for p := range tr {
		ps = append(ps, p)
	}
	sort.Ints(ps)
	return ps
}

type collector struct {
	mu    sync.Mutex
	ports map[string]connect.PortResult
	hosts []connect.HostResult
	dark  []sweep.Dark
}

func newCollector() *collector { return &collector{ports: map[string]connect.PortResult{}} }

func (c *collector) config(cfg Config) Config {
	cfg.ReportClosed, cfg.ReportFiltered = true, true
	cfg.OnPort = func(r connect.PortResult) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.ports[fmt.Sprintf("%s:%d", r.Addr, r.Port)] = r
	}
	cfg.OnHost = func(h connect.HostResult) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.hosts = append(c.hosts, h)
	}
	cfg.OnDark = func(d sweep.Dark) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.dark = append(c.dark, d)
	}
	return cfg
}

func scanSet(t *testing.T, cfg Config, specs []string, exclude []string, ports []int) sweep.Summary {
	t.Helper()
	set, err := target.Load(context.Background(), target.Config{Specs: specs, Exclude: exclude})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := Scan(ctx, cfg, set.Iter(), ports)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return sum
}

func checkStates(t *testing.T, c *collector, addr netip.Addr, tr truth) {
	t.Helper()
	for _, p := range tr.ports() {
		want := tr[p]
		got, ok := c.ports[fmt.Sprintf("%s:%d", addr, p)]
		if !ok {
			t.Errorf("port %d: no verdict, want %s (%s)", p, want[0], want[1])
			continue
		}
		if got.State.String() != want[0] || got.Reason != want[1] {
			t.Errorf("port %d: %s (%s), want %s (%s)", p, got.State, got.Reason, want[0], want[1])
		}
	}
	if len(c.ports) != len(tr) {
		t.Errorf("%d verdicts for %d ports", len(c.ports), len(tr))
	}
}

// The reported states equal the configured truth: open (a listener),
// closed (nothing listening, or a firewall's TCP reset), filtered (dropped,
// or rejected with an ICMP error, each with its reason).
func TestNetnsStates(t *testing.T) {
	e, tr := stateEnv(t)
	// The target is a neighbour on an Ethernet (veth) link: SYNs go out as
	// frames past the IP stack (see TestNetnsStatesThroughIPStack).
	e.NSRun("true") // (the namespace is up)
	if lr, ok := rawsock.LinkRouteTo(e.NSIP); ok {
		if _, ok := lr.Header(e.NSIP); !ok {
			t.Errorf("on-link route to %s without its neighbour's header", e.NSIP)
		}
	} else {
		t.Logf("no frame route to %s yet (its ARP entry is not complete): the IP stack sends", e.NSIP)
	}
	c := newCollector()
	sum := scanSet(t, c.config(Config{Retries: 2, Timeout: 300 * time.Millisecond}), []string{e.NSIP.String()}, nil, tr.ports())
	checkStates(t, c, e.NSIP, tr)
	if len(c.hosts) != 1 || c.hosts[0].State != connect.Up || c.hosts[0].Open != 4 {
		t.Errorf("host results %+v", c.hosts)
	}
	t.Logf("summary %+v", sum)
}

// The same truth with the SYNs sent as frames: once the kernel has
// resolved the target (a connection to an open port), the on-link route
// carries its MAC and the scan bypasses the IP stack.
func TestNetnsStatesThroughFrames(t *testing.T) {
	e, tr := stateEnv(t)
	c0, err := net.DialTimeout("tcp", netip.AddrPortFrom(e.NSIP, 22).String(), 2*time.Second)
	if err != nil {
		t.Fatalf("resolve the neighbour: %v", err)
	}
	c0.Close()
	lr, ok := rawsock.LinkRouteTo(e.NSIP)
	if !ok {
		t.Fatalf("no frame route to %s over the veth", e.NSIP)
	}
	if _, ok := lr.Header(e.NSIP); !ok {
		t.Fatalf("the on-link route lacks %s's header", e.NSIP)
	}
	c := newCollector()
	scanSet(t, c.config(Config{Retries: 2, Timeout: 300 * time.Millisecond}), []string{e.NSIP.String()}, nil, tr.ports())
	checkStates(t, c, e.NSIP, tr)
}

// The same truth with every SYN sent through the kernel's IP stack.
func TestNetnsStatesThroughIPStack(t *testing.T) {
	t.Setenv("PORTRAIT_SYN_L2", "0")
	e, tr := stateEnv(t)
	c := newCollector()
	scanSet(t, c.config(Config{Retries: 2, Timeout: 300 * time.Millisecond}), []string{e.NSIP.String()}, nil, tr.ports())
	checkStates(t, c, e.NSIP, tr)
}

// Loss and delay on probes and answers: retries and the adaptive timeout
// still reach the truth. The delay is netem's where the kernel has it,
// else a slow link's queueing (tbf at 100 kbit/s: about 5 ms per answer,
// growing through each burst).
func TestNetnsLossAndDelay(t *testing.T) {
	e, tr := stateEnv(t)
	e.Loss(10, 10)
	if !e.Netem("delay 30ms 10ms") && !e.SlowLink("100kbit") {
		t.Log("no delay applied: loss only")
	}
	c := newCollector()
	scanSet(t, c.config(Config{Retries: 5, Timeout: 400 * time.Millisecond}), []string{e.NSIP.String()}, nil, tr.ports())
	checkStates(t, c, e.NSIP, tr)
}

// A slow link alone (no loss): a full burst of answers queues for far
// longer than the first round-trip times suggested, and the adaptive
// timeout must not call the late answers filtered.
func TestNetnsSlowLink(t *testing.T) {
	e, tr := stateEnv(t)
	if !e.SlowLink("100kbit") {
		t.Skip("no tc tbf in this kernel")
	}
	// Each port gets a few neighbours that are closed, so that the burst
	// of resets is long enough to queue.
	ports := tr.ports()
	for p := 1000; p < 1200; p++ {
		tr[p] = [2]string{"closed", "reset"}
		ports = append(ports, p)
	}
	c := newCollector()
	sum := scanSet(t, c.config(Config{Retries: 2, Timeout: 2 * time.Second}), []string{e.NSIP.String()}, nil, ports)
	checkStates(t, c, e.NSIP, tr)
	var slowest time.Duration
	for _, r := range c.ports {
		slowest = max(slowest, r.RTT)
	}
	// The impairment itself is checked, not the scanner's speed: answers
	// queued behind ~200 others must have waited.
	if slowest < 100*time.Millisecond {
		t.Errorf("slowest answer after %v: the slow link did not delay anything", slowest)
	}
	t.Logf("slowest answer %v; summary %+v", slowest, sum)
}

// A capture inside the target proves that no packet reaches an excluded
// address while its neighbours are scanned.
func TestNetnsExcludedAddressGetsNothing(t *testing.T) {
	e := netnstest.New(t)
	base := e.Range.Addr()
	cap := e.Capture()
	excluded := base.Next().Next().Next().Next().Next() // .5
	neighbour := excluded.Next()
	e.Guard(excluded, neighbour)
	c := newCollector()
	spec := netip.PrefixFrom(base, 28).String()
	scanSet(t, c.config(Config{Retries: 1, Timeout: 200 * time.Millisecond}), []string{spec}, []string{excluded.String()}, []int{22, 80, 443, 8080})
	time.Sleep(100 * time.Millisecond)
	cap.Stop()
	if n := cap.Count(excluded); n != 0 {
		t.Errorf("%d packets reached the excluded address %s", n, excluded)
	}
	if n := cap.Count(neighbour); n < 4 {
		t.Errorf("only %d packets reached %s: the capture is not seeing the scan", n, neighbour)
	}
	for k := range c.ports {
		if k == fmt.Sprintf("%s:80", excluded) {
			t.Errorf("excluded address reported: %s", k)
		}
	}
	if got := len(c.hosts); got != 15 {
		t.Errorf("%d hosts reported, want 15", got)
	}
}

// A dark /24 next to a live one is detected, backed off (no retries,
// hosts given up after a few probes once the network is known dark) and
// reported for the operator.
func TestNetnsDarkNetwork(t *testing.T) {
	e := netnstest.New(t)
	e.Nft(fmt.Sprintf(`table ip pt {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr %s drop
  }
}`, e.Range2))
	c := newCollector()
	ports := make([]int, 40)
	for i := range ports {
		ports[i] = 1000 + i
	}
	// At 20000 probes a second the dark /24 alone would take half a second
	// per round; its darkness is known after one wait (200ms).
	cfg := Config{Rate: 20000, Retries: 2, Timeout: 200 * time.Millisecond, MinTimeout: 200 * time.Millisecond, SkipAfter: -1}
	sum := scanSet(t, c.config(cfg), []string{e.Range.String(), e.Range2.String()}, nil, ports)
	up, down := 0, 0
	for _, h := range c.hosts {
		inDark := e.Range2.Contains(h.Addr)
		if inDark && h.State == connect.Up || !inDark && h.State != connect.Up {
			t.Errorf("host %s: %s (%s)", h.Addr, h.State, h.Reason)
		}
		if h.State == connect.Up {
			up++
		} else {
			down++
			if h.Reason != sweep.ReasonDarkNet {
				t.Errorf("dark host %s: reason %q", h.Addr, h.Reason)
			}
		}
	}
	if up != 256 || down != 256 {
		t.Errorf("up %d down %d, want 256/256", up, down)
	}
	if len(c.dark) != 1 || c.dark[0].Prefix != e.Range2 {
		t.Errorf("dark networks reported: %+v, want %s", c.dark, e.Range2)
	}
	// Without backoff the dark /24 costs 256 hosts x 40 ports x 3 rounds.
	full := 256 * 40 * 3
	darkProbes := sum.Probes - 256*40
	if darkProbes > full/3 {
		t.Errorf("%d probes into the dark /24 (no backoff: %d)", darkProbes, full)
	}
	t.Logf("dark: %d of %d probes; summary %+v; dark %+v", darkProbes, full, sum, c.dark)
}

// Loopback needs no namespace: the raw path works on 127.0.0.1 and ::1.
func TestLoopback(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("SYN scan needs raw sockets: %v", err)
	}
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			l, port := listenLoopback(t, host)
			defer l.Close()
			c := newCollector()
			closed := port + 1
			scanSet(t, c.config(Config{Retries: 1, Timeout: 300 * time.Millisecond}), []string{host}, nil, []int{port, closed})
			a := netip.MustParseAddr(host)
			if r := c.ports[fmt.Sprintf("%s:%d", a, port)]; r.State != connect.Open {
				t.Errorf("listening port %d: %+v", port, r)
			}
			if r := c.ports[fmt.Sprintf("%s:%d", a, closed)]; r.State != connect.Closed && r.State != connect.Open {
				t.Errorf("port %d: %+v", closed, r)
			}
		})
	}
}
