package sweep

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/target"
)

// fakeNet answers probes like a tiny network: hosts are up unless dead,
// listed ports are open, dropped or rejected, others closed; answers come
// back inline or after a delay.
type fakeNet struct {
	sw      *Sweep
	mu      sync.Mutex
	open    map[uint16]bool
	drop    map[uint16]bool
	dead    func(netip.Addr) bool
	lose    func(Probe) bool // lose this probe
	delay   time.Duration
	limiter *bucket // ICMP rate limit for closed answers (UDP style)
	closed  Verdict // verdict of a closed port (Closed)
	sent    int
	perHost map[netip.Addr]int
	wg      sync.WaitGroup
}

type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *bucket) take(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	} else {
		b.tokens = b.burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (f *fakeNet) Send(ctx context.Context, probes []Probe) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range probes {
		f.sent++
		if f.perHost == nil {
			f.perHost = map[netip.Addr]int{}
		}
		f.perHost[p.Addr]++
		if (f.dead != nil && f.dead(p.Addr)) || f.drop[p.Port] || (f.lose != nil && f.lose(p)) {
			continue
		}
		a := Answer{Addr: p.Addr, Port: p.Port, FromHost: true, RTT: time.Millisecond}
		switch {
		case f.open[p.Port]:
			a.Verdict, a.Reason = Open, "syn-ack"
		default:
			if f.limiter != nil && !f.limiter.take(time.Now()) {
				continue
			}
			a.Verdict, a.Reason = Closed, "reset"
		}
		if f.delay > 0 {
			f.wg.Add(1)
			time.AfterFunc(f.delay, func() { defer f.wg.Done(); f.sw.Answer(a) })
		} else {
			f.sw.Answer(a)
		}
	}
	return nil
}

type results struct {
	mu    sync.Mutex
	ports map[string]Result
	hosts map[netip.Addr]HostResult
	dark  []Dark
	first int
}

func run(t *testing.T, cfg Config, f *fakeNet, specs ...string) (*results, Summary) {
	t.Helper()
	r := &results{ports: map[string]Result{}, hosts: map[netip.Addr]HostResult{}}
	cfg.OnPort = func(x Result) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.ports[fmt.Sprintf("%s:%d", x.Addr, x.Port)] = x
		if x.HostFirst {
			r.first++
		}
	}
	cfg.OnHost = func(h HostResult) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, dup := r.hosts[h.Addr]; dup {
			t.Errorf("host %s reported twice", h.Addr)
		}
		r.hosts[h.Addr] = h
	}
	cfg.OnDark = func(d Dark) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.dark = append(r.dark, d)
	}
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	sw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.sw = sw
	set, err := target.Load(context.Background(), target.Config{Specs: specs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := sw.Run(ctx, set.Iter(), f)
	if err != nil {
		t.Fatal(err)
	}
	f.wg.Wait()
	return r, sum
}

func ports(lo, hi int) []int {
	var out []int
	for p := lo; p <= hi; p++ {
		out = append(out, p)
	}
	return out
}

// Everything answers: one probe each, no waiting for a timeout.
func TestAllAnswered(t *testing.T) {
	f := &fakeNet{open: map[uint16]bool{22: true, 80: true}}
	start := time.Now()
	r, sum := run(t, Config{Ports: ports(1, 100), Timeout: 5 * time.Second}, f, "198.18.0.1-3")
	if time.Since(start) > 2*time.Second {
		t.Errorf("took %v: a fully answered block must end at once", time.Since(start))
	}
	if sum.Probes != 300 || sum.Answers != 300 || sum.Open != 6 || sum.Closed != 294 || sum.Up != 3 {
		t.Errorf("summary %+v", sum)
	}
	if len(r.ports) != 6 {
		t.Errorf("%d ports reported, want the 6 open ones", len(r.ports))
	}
	for _, h := range r.hosts {
		if !h.Up || h.Open != 2 || h.Closed != 98 || h.Reason == "" || h.RTT == 0 {
			t.Errorf("host %+v", h)
		}
	}
}

// A lost first probe is answered on the retry, from the next round.
func TestRetries(t *testing.T) {
	f := &fakeNet{open: map[uint16]bool{80: true}, lose: func(p Probe) bool { return p.Port == 80 && p.Try == 0 }}
	r, sum := run(t, Config{Ports: []int{22, 80}, Timeout: 50 * time.Millisecond, MinTimeout: 20 * time.Millisecond}, f, "198.18.0.1")
	x, ok := r.ports["198.18.0.1:80"]
	if !ok || x.Verdict != Open || x.Tries != 2 {
		t.Errorf("port 80: %+v", x)
	}
	if sum.Probes != 3 {
		t.Errorf("%d probes, want 3", sum.Probes)
	}
}

// Silence becomes the configured verdict after the retries.
func TestSilence(t *testing.T) {
	f := &fakeNet{drop: map[uint16]bool{9000: true}}
	for _, silent := range []Verdict{Filtered, OpenFiltered} {
		r, sum := run(t, Config{Ports: []int{9000, 9001}, Retries: 2, Silent: silent, ReportFiltered: true, ReportClosed: true,
			Timeout: 30 * time.Millisecond, MinTimeout: 10 * time.Millisecond}, f, "198.18.0.1")
		if x := r.ports["198.18.0.1:9000"]; x.Verdict != silent || x.Reason != ReasonNoResponse || x.Tries != 3 {
			t.Errorf("%s: %+v", silent, x)
		}
		if x := r.ports["198.18.0.1:9001"]; x.Verdict != Closed {
			t.Errorf("9001: %+v", x)
		}
		if sum.Probes != 4 {
			t.Errorf("%d probes, want 1 + 3", sum.Probes)
		}
	}
}

// A dead host is given up after SkipAfter silent probes; one found up by
// discovery never is.
func TestSkipSilentHost(t *testing.T) {
	dead := netip.MustParseAddr("198.18.0.2")
	known := netip.MustParseAddr("198.18.0.3")
	f := &fakeNet{dead: func(a netip.Addr) bool { return a == dead || a == known }}
	cfg := Config{Ports: ports(1, 2000), Rate: 40000, SkipAfter: 50, Retries: 1, Timeout: 20 * time.Millisecond,
		MinTimeout: 20 * time.Millisecond, DarkAfter: -1,
		HostInfo: func(a netip.Addr) Hint {
			if a == known {
				return Hint{Up: true, Reason: "echo-reply", RTT: time.Millisecond}
			}
			return Hint{}
		}}
	r, _ := run(t, cfg, f, "198.18.0.1-3")
	h := r.hosts[dead]
	if h.Up || h.Skipped < 1000 || f.perHost[dead] > 1000 {
		t.Errorf("dead host: %+v, %d probes", h, f.perHost[dead])
	}
	k := r.hosts[known]
	if !k.Up || k.Reason != "echo-reply" || k.Skipped != 0 || f.perHost[known] != 4000 {
		t.Errorf("known host: %+v, %d probes", k, f.perHost[known])
	}
	if x := r.hosts[netip.MustParseAddr("198.18.0.1")]; !x.Up || x.Closed != 2000 {
		t.Errorf("live host %+v", x)
	}
}

// A silent /24 is dark: reported once (merged), no retries, and its hosts
// cost a few probes each once it is known.
func TestDarkNetwork(t *testing.T) {
	darkNet := netip.MustParsePrefix("198.18.1.0/24")
	f := &fakeNet{dead: func(a netip.Addr) bool { return darkNet.Contains(a) }}
	cfg := Config{Ports: ports(1, 20), Rate: 50000, Retries: 2, SkipAfter: -1, Timeout: 20 * time.Millisecond, MinTimeout: 20 * time.Millisecond}
	r, sum := run(t, cfg, f, "198.18.0.0/24", "198.18.1.0/24")
	if len(r.dark) != 1 || r.dark[0].Prefix != darkNet {
		t.Fatalf("dark: %+v", r.dark)
	}
	dark := 0
	for a, n := range f.perHost {
		if darkNet.Contains(a) {
			dark += n
		}
	}
	if dark > 256*20/2 {
		t.Errorf("%d probes into the dark /24 (no backoff: %d)", dark, 256*20*3)
	}
	for a, h := range r.hosts {
		if darkNet.Contains(a) && (h.Up || h.Reason != ReasonDarkNet) {
			t.Errorf("%s: %+v", a, h)
		}
	}
	if sum.DarkNets != 1 || sum.Up != 256 || sum.Down != 256 {
		t.Errorf("summary %+v", sum)
	}
}

// With AnyAnswer a host ends at its first answer, reported once.
func TestAnyAnswer(t *testing.T) {
	f := &fakeNet{open: map[uint16]bool{1: true, 2: true, 3: true}}
	r, _ := run(t, Config{Ports: []int{1, 2, 3}, AnyAnswer: true, Timeout: 20 * time.Millisecond}, f, "198.18.0.0/28")
	if r.first != 16 {
		t.Errorf("%d first answers for 16 hosts", r.first)
	}
	for _, h := range r.hosts {
		if !h.Up {
			t.Errorf("%+v", h)
		}
	}
}

// A host that rate-limits its errors (burst 6, 40 a second) gets every
// closed port right through paced retries.
func TestPacedRetries(t *testing.T) {
	f := &fakeNet{open: map[uint16]bool{100: true}, limiter: &bucket{rate: 40, burst: 6}}
	start := time.Now()
	r, sum := run(t, Config{Ports: ports(100, 160), Silent: OpenFiltered, PaceLimited: true, Retries: 2, ReportFiltered: true,
		ReportClosed: true, Timeout: 100 * time.Millisecond, MinTimeout: 50 * time.Millisecond}, f, "198.18.0.1")
	for p := 101; p <= 160; p++ {
		if x := r.ports[fmt.Sprintf("198.18.0.1:%d", p)]; x.Verdict != Closed {
			t.Errorf("port %d: %+v", p, x)
		}
	}
	t.Logf("60 closed ports behind 40/s in %v, %d probes", time.Since(start), sum.Probes)
	if sum.Probes > 3*61 {
		t.Errorf("%d probes", sum.Probes)
	}
}

// Many hosts go through several blocks; late answers after the end are
// counted as strays, not results.
func TestBlocks(t *testing.T) {
	f := &fakeNet{open: map[uint16]bool{80: true}, delay: 2 * time.Millisecond}
	r, sum := run(t, Config{Ports: []int{80, 443}, MaxBlockHosts: 100, Timeout: 200 * time.Millisecond}, f, "198.18.0.0/22")
	if len(r.hosts) != 1024 || sum.Open != 1024 || sum.Hosts != 1024 {
		t.Errorf("%d hosts, summary %+v", len(r.hosts), sum)
	}
}

func TestCancel(t *testing.T) {
	f := &fakeNet{dead: func(netip.Addr) bool { return true }}
	sw, _ := New(Config{Ports: ports(1, 1000), Rate: 1000, Timeout: time.Second})
	f.sw = sw
	set, _ := target.Parse(context.Background(), "198.18.0.0/24")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := sw.Run(ctx, set.Iter(), f); err == nil {
		t.Errorf("no error after cancel")
	}
	if time.Since(start) > time.Second {
		t.Errorf("cancel took %v", time.Since(start))
	}
}

// The probe order visits every host of a round exactly once.
func TestPermutation(t *testing.T) {
	r := newTestRand()
	for _, n := range []int{1, 2, 3, 7, 64, 100, 1000, 65536} {
		p := newPerm(n, r)
		seen := make([]bool, n)
		for i := 0; i < n; i++ {
			x := p.at(i)
			if x < 0 || x >= n || seen[x] {
				t.Fatalf("n=%d: %d out of range or repeated", n, x)
			}
			seen[x] = true
		}
	}
}

func TestMergeDark(t *testing.T) {
	mk := func(s string) *subnet { return &subnet{prefix: netip.MustParsePrefix(s), dark: true, sent: 10} }
	got := mergeDark([]*subnet{mk("198.18.0.0/24"), mk("198.18.1.0/24"), mk("198.18.2.0/24"), mk("198.18.3.0/24"), mk("198.18.5.0/24")})
	if len(got) != 2 || got[0].Prefix.String() != "198.18.0.0/22" || got[0].Probes != 40 || got[1].Prefix.String() != "198.18.5.0/24" {
		t.Errorf("%+v", got)
	}
}
