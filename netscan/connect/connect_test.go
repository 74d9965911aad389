package connect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/target"
)

func opErr(errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		state  State
		reason string
		kind   outcome
		retry  bool
	}{
		{"connected", nil, Open, ReasonSynAck, answered, false},
		{"refused", opErr(syscall.ECONNREFUSED), Closed, ReasonRefused, answered, false},
		{"reset", opErr(syscall.ECONNRESET), Closed, ReasonReset, answered, false},
		{"dial timeout", &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, Filtered, ReasonNoResponse, silent, true},
		{"context deadline", fmt.Errorf("dial: %w", context.DeadlineExceeded), Filtered, ReasonNoResponse, silent, true},
		{"kernel timeout", opErr(syscall.ETIMEDOUT), Filtered, ReasonNoResponse, silent, true},
		{"host unreachable", opErr(syscall.EHOSTUNREACH), Filtered, ReasonHostUnreach, silent, false},
		{"host down", opErr(syscall.EHOSTDOWN), Filtered, ReasonHostUnreach, silent, false},
		{"net unreachable", opErr(syscall.ENETUNREACH), Filtered, ReasonNetUnreach, silent, false},
		{"local filter", opErr(syscall.EPERM), Filtered, ReasonProhibited, silent, false},
		{"out of fds", opErr(syscall.EMFILE), Error, ReasonLocalError, local, false},
		{"out of ports", opErr(syscall.EADDRNOTAVAIL), Error, ReasonLocalError, local, false},
		{"cancelled", fmt.Errorf("dial: %w", context.Canceled), Error, ReasonLocalError, canceled, false},
		{"unknown", errors.New("weird"), Error, ReasonLocalError, local, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := classify(tt.err)
			want := verdict{tt.state, tt.reason, tt.kind, tt.retry}
			if v != want {
				t.Errorf("classify(%v) = %+v, want %+v", tt.err, v, want)
			}
		})
	}
}

// TestClassifyRealErrors checks the mapping against errors produced by the
// real net package on loopback.
func TestClassifyRealErrors(t *testing.T) {
	port := closedPort(t)
	err := dialTCP(context.Background(), netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", port)), time.Second)
	if v := classify(err); v.state != Closed || v.reason != ReasonRefused {
		t.Errorf("refused loopback port: %v -> %+v", err, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = dialTCP(ctx, netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", port)), time.Second)
	if v := classify(err); v.kind != canceled {
		t.Errorf("cancelled dial: %v -> %+v", err, v)
	}
}

// closedPort returns a loopback port with (almost certainly) no listener.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return p
}

func listen(t *testing.T) (int, func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	accepted := 0
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted++
			mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port, func() int { mu.Lock(); defer mu.Unlock(); return accepted }
}

func loopback(t testing.TB, specs ...string) Source {
	t.Helper()
	set, err := target.Parse(context.Background(), specs...)
	if err != nil {
		t.Fatal(err)
	}
	return set.Iter()
}

// collector gathers callback output (the scheduler calls it serially, but
// tests read it from their own goroutine afterwards).
type collector struct {
	ports []PortResult
	hosts []HostResult
}

func (c *collector) cfg(cfg Config) Config {
	cfg.OnPort = func(r PortResult) { c.ports = append(c.ports, r) }
	cfg.OnHost = func(r HostResult) { c.hosts = append(c.hosts, r) }
	return cfg
}

func (c *collector) byPort() map[int]PortResult {
	m := map[int]PortResult{}
	for _, r := range c.ports {
		m[r.Port] = r
	}
	return m
}

func TestLoopbackOpenClosed(t *testing.T) {
	open1, accepted := listen(t)
	open2, _ := listen(t)
	closed := closedPort(t)
	var c collector
	sum, err := Scan(context.Background(), c.cfg(Config{ReportClosed: true}), loopback(t, "127.0.0.1"), []int{open1, closed, open2})
	if err != nil {
		t.Fatal(err)
	}
	got := c.byPort()
	for _, p := range []int{open1, open2} {
		r := got[p]
		if r.State != Open || r.Reason != ReasonSynAck || r.RTT <= 0 || r.Tries != 1 {
			t.Errorf("port %d: %+v, want open syn-ack", p, r)
		}
	}
	if r := got[closed]; r.State != Closed || r.Reason != ReasonRefused {
		t.Errorf("port %d: %+v, want closed conn-refused", closed, r)
	}
	if len(c.hosts) != 1 {
		t.Fatalf("%d host results", len(c.hosts))
	}
	h := c.hosts[0]
	if h.State != Up || h.Open != 2 || h.Closed != 1 || h.Filtered != 0 || h.RTT <= 0 || h.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("host result %+v", h)
	}
	if sum.Hosts != 1 || sum.Up != 1 || sum.Open != 2 || sum.Closed != 1 || sum.Probes != 3 {
		t.Errorf("summary %+v", sum)
	}
	for deadline := time.Now().Add(3 * time.Second); accepted() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if n := accepted(); n != 1 {
		t.Errorf("listener saw %d connections, want 1", n)
	}
}

func TestClosedNotReportedByDefault(t *testing.T) {
	open, _ := listen(t)
	closed := closedPort(t)
	var c collector
	sum, err := Scan(context.Background(), c.cfg(Config{}), loopback(t, "127.0.0.1"), []int{closed, open})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ports) != 1 || c.ports[0].Port != open {
		t.Errorf("reported %+v, want only the open port", c.ports)
	}
	if sum.Closed != 1 || c.hosts[0].Closed != 1 {
		t.Error("closed port not counted")
	}
}

func TestHostNameCarried(t *testing.T) {
	open, _ := listen(t)
	var c collector
	if _, err := Scan(context.Background(), c.cfg(Config{}), loopback(t, "localhost"), []int{open}); err != nil {
		t.Fatal(err)
	}
	for _, r := range c.ports {
		if r.Addr.Is4() && r.Name != "localhost" {
			t.Errorf("port result %+v lacks the host name", r)
		}
	}
}

func TestScanChan(t *testing.T) {
	open, _ := listen(t)
	out := make(chan PortResult)
	var got []PortResult
	finished := make(chan struct{})
	go func() {
		for r := range out {
			got = append(got, r)
		}
		close(finished)
	}()
	if _, err := ScanChan(context.Background(), Config{}, loopback(t, "127.0.0.1"), []int{open}, out); err != nil {
		t.Fatal(err)
	}
	<-finished
	if len(got) != 1 || got[0].State != Open {
		t.Errorf("ScanChan results %+v", got)
	}
}

func TestNoPorts(t *testing.T) {
	if _, err := Scan(context.Background(), Config{}, loopback(t, "127.0.0.1"), nil); !errors.Is(err, ErrNoPorts) {
		t.Errorf("err = %v", err)
	}
}

// fakeNet is a DialFunc that never touches the network: open ports connect,
// silent ports hang until the timeout, the rest are refused. It records
// every attempt and the concurrency seen.
type fakeNet struct {
	mu          sync.Mutex
	open        map[int]bool
	silent      func(a netip.Addr, port int) bool
	delay       time.Duration
	calls       []call
	inflight    map[netip.Addr]int
	maxPerHost  int
	maxHosts    int
	maxInflight int
	total       int
}

type call struct {
	addr    netip.Addr
	port    int
	timeout time.Duration
}

func (f *fakeNet) dial(ctx context.Context, ap netip.AddrPort, timeout time.Duration) error {
	f.mu.Lock()
	if f.inflight == nil {
		f.inflight = map[netip.Addr]int{}
	}
	f.calls = append(f.calls, call{ap.Addr(), int(ap.Port()), timeout})
	f.inflight[ap.Addr()]++
	f.total++
	f.maxPerHost = max(f.maxPerHost, f.inflight[ap.Addr()])
	f.maxHosts = max(f.maxHosts, len(f.inflight))
	f.maxInflight = max(f.maxInflight, f.total)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.total--
		if f.inflight[ap.Addr()]--; f.inflight[ap.Addr()] == 0 {
			delete(f.inflight, ap.Addr())
		}
		f.mu.Unlock()
	}()
	if f.silent != nil && f.silent(ap.Addr(), int(ap.Port())) {
		select {
		case <-time.After(timeout):
			return &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	if f.open[int(ap.Port())] {
		return nil
	}
	return opErr(syscall.ECONNREFUSED)
}

func portRange(lo, hi int) []int {
	var p []int
	for i := lo; i <= hi; i++ {
		p = append(p, i)
	}
	return p
}

func TestInterleavingWindowAndPerHost(t *testing.T) {
	f := &fakeNet{delay: 2 * time.Millisecond, open: map[int]bool{5: true}}
	var c collector
	cfg := c.cfg(Config{Dial: f.dial, HostWindow: 4, PerHost: 2, Concurrency: 100})
	sum, err := Scan(context.Background(), cfg, loopback(t, "127.0.0.1-10"), portRange(1, 30))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Hosts != 10 || sum.Up != 10 || sum.Open != 10 || sum.Closed != 290 || sum.Probes != 300 {
		t.Errorf("summary %+v", sum)
	}
	if f.maxHosts > 4 {
		t.Errorf("%d hosts in flight, window is 4", f.maxHosts)
	}
	if f.maxPerHost > 2 {
		t.Errorf("%d attempts in flight to one host, cap is 2", f.maxPerHost)
	}
	if f.maxInflight > 8 {
		t.Errorf("%d attempts in flight, window x per-host is 8", f.maxInflight)
	}
	// The first attempts must be spread over the window, not one host's ports.
	first := map[netip.Addr]bool{}
	for _, c := range f.calls[:8] {
		first[c.addr] = true
	}
	if len(first) < 3 { // 4 unless the goroutines record very out of order
		t.Errorf("first 8 attempts hit %d hosts, want 4", len(first))
	}
	// Each host's ports go out in the order given (concurrent attempts may
	// be recorded up to PerHost-1 places apart).
	perHost := map[netip.Addr][]int{}
	for _, c := range f.calls {
		perHost[c.addr] = append(perHost[c.addr], c.port)
	}
	for a, ps := range perHost {
		sorted := slices.Sorted(slices.Values(ps))
		if !slices.Equal(sorted, portRange(1, 30)) {
			t.Errorf("%s ports %v", a, ps)
		}
		for i, p := range ps {
			if p > i+2 {
				t.Errorf("%s ports out of order: %v", a, ps)
				break
			}
		}
	}
	if len(c.hosts) != 10 {
		t.Errorf("%d host results", len(c.hosts))
	}
}

func TestGlobalConcurrencyCap(t *testing.T) {
	f := &fakeNet{delay: 5 * time.Millisecond}
	sum, err := Scan(context.Background(), Config{Dial: f.dial, Concurrency: 3}, loopback(t, "127.0.0.1-4"), portRange(1, 20))
	if err != nil {
		t.Fatal(err)
	}
	if f.maxInflight > 3 || sum.Concurrency != 3 {
		t.Errorf("max in flight %d, workers %d; cap is 3", f.maxInflight, sum.Concurrency)
	}
}

func TestRetryThenAnswer(t *testing.T) {
	var mu sync.Mutex
	tries := map[int]int{}
	dial := func(ctx context.Context, ap netip.AddrPort, timeout time.Duration) error {
		mu.Lock()
		tries[int(ap.Port())]++
		n := tries[int(ap.Port())]
		mu.Unlock()
		if ap.Port() == 7 && n == 1 {
			time.Sleep(timeout)
			return os.ErrDeadlineExceeded
		}
		if ap.Port() == 7 {
			return nil
		}
		time.Sleep(timeout)
		return os.ErrDeadlineExceeded
	}
	var c collector
	cfg := c.cfg(Config{Dial: dial, Timeout: 20 * time.Millisecond, ReportFiltered: true, BackoffAfter: -1, SkipAfter: -1})
	if _, err := Scan(context.Background(), cfg, loopback(t, "127.0.0.1"), []int{7, 8}); err != nil {
		t.Fatal(err)
	}
	got := c.byPort()
	if r := got[7]; r.State != Open || r.Tries != 2 {
		t.Errorf("port 7: %+v, want open on the second try", r)
	}
	if r := got[8]; r.State != Filtered || r.Reason != ReasonNoResponse || r.Tries != 2 {
		t.Errorf("port 8: %+v, want filtered after 2 tries", r)
	}

	c = collector{}
	tries = map[int]int{}
	cfg = c.cfg(Config{Dial: dial, Timeout: 20 * time.Millisecond, ReportFiltered: true, Retries: -1})
	if _, err := Scan(context.Background(), cfg, loopback(t, "127.0.0.1"), []int{8}); err != nil {
		t.Fatal(err)
	}
	if r := c.byPort()[8]; r.Tries != 1 {
		t.Errorf("Retries -1: %+v", r)
	}
}

func TestAdaptiveTimeout(t *testing.T) {
	f := &fakeNet{delay: time.Millisecond, silent: func(_ netip.Addr, p int) bool { return p > 1 }}
	cfg := Config{Dial: f.dial, Timeout: 5 * time.Second, MinTimeout: 30 * time.Millisecond, PerHost: 1}
	if _, err := Scan(context.Background(), cfg, loopback(t, "127.0.0.1"), []int{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	var ts []time.Duration
	for _, c := range f.calls {
		ts = append(ts, c.timeout)
	}
	// PerHost 1: port 1 (answers in ~1ms), port 2, its retry, port 3, its
	// retry. After the answer the timeout follows the RTT: far below the 5s
	// initial one (even on a loaded machine), at least the floor, and
	// doubled for retries. Exact values depend on the measured RTT.
	if len(ts) != 5 || ts[0] != 5*time.Second {
		t.Fatalf("timeouts %v", ts)
	}
	for _, i := range []int{1, 3} {
		if ts[i] < 30*time.Millisecond || ts[i] > time.Second || ts[i+1] != min(2*ts[i], 5*time.Second) {
			t.Errorf("timeouts %v: want first tries near the floor and doubled retries", ts)
		}
	}
}

func TestTimeoutEstimate(t *testing.T) {
	s := &scheduler{cfg: Config{Timeout: time.Second, MinTimeout: 10 * time.Millisecond, RTTMultiplier: 4, BackoffTimeout: 200 * time.Millisecond}}
	h := &host{}
	if got := s.timeout(h, 0); got != time.Second {
		t.Errorf("fresh host: %v", got)
	}
	h.observe(20 * time.Millisecond)
	h.answered = true
	// srtt 20ms, rttvar 10ms: 4*20 + 4*10 = 120ms
	if got := s.timeout(h, 0); got != 120*time.Millisecond {
		t.Errorf("after one sample: %v", got)
	}
	if got := s.timeout(h, 1); got != 240*time.Millisecond {
		t.Errorf("retry: %v", got)
	}
	if got := s.timeout(h, 5); got != time.Second {
		t.Errorf("retry is not capped: %v", got)
	}
	for range 50 {
		h.observe(100 * time.Microsecond)
	}
	if got := s.timeout(h, 0); got != 10*time.Millisecond {
		t.Errorf("floor not applied: %v", got)
	}
	if got := s.timeout(&host{backoff: true}, 0); got != 200*time.Millisecond {
		t.Errorf("backed-off host: %v", got)
	}
}

func TestDeadHostBackoffAndSkip(t *testing.T) {
	f := &fakeNet{silent: func(a netip.Addr, _ int) bool { return a == netip.MustParseAddr("127.0.0.2") }, open: map[int]bool{80: true}}
	var c collector
	cfg := c.cfg(Config{
		Dial: f.dial, Timeout: 40 * time.Millisecond, BackoffTimeout: 10 * time.Millisecond,
		PerHost: 10, BackoffAfter: 20, SkipAfter: 60,
	})
	ports := portRange(1, 1000)
	start := time.Now()
	sum, err := Scan(context.Background(), cfg, loopback(t, "127.0.0.1-2"), ports)
	if err != nil {
		t.Fatal(err)
	}
	var dead, live HostResult
	for _, h := range c.hosts {
		if h.Addr == netip.MustParseAddr("127.0.0.2") {
			dead = h
		} else {
			live = h
		}
	}
	if live.State != Up || live.Open != 1 || live.Closed != 999 {
		t.Errorf("live host %+v", live)
	}
	if dead.State != Down || dead.Reason != ReasonAllFiltered || dead.Skipped == 0 {
		t.Errorf("dead host %+v", dead)
	}
	if dead.Filtered+dead.Skipped != len(ports) {
		t.Errorf("dead host verdicts %d + skipped %d != %d ports", dead.Filtered, dead.Skipped, len(ports))
	}
	// 60 silent attempts plus what was in flight, not 2000.
	if dead.Probes > 60+cfg.PerHost {
		t.Errorf("dead host cost %d attempts", dead.Probes)
	}
	// After the backoff threshold attempts are short and single.
	short := 0
	for _, c := range f.calls {
		if c.addr == dead.Addr && c.timeout == 10*time.Millisecond {
			short++
		}
	}
	if short == 0 {
		t.Error("no backed-off attempts")
	}
	if sum.Down != 1 || sum.Up != 1 || sum.Skipped != dead.Skipped {
		t.Errorf("summary %+v", sum)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("dead host took %v", el)
	}
}

func TestUnreachableHost(t *testing.T) {
	dial := func(ctx context.Context, ap netip.AddrPort, timeout time.Duration) error {
		return opErr(syscall.EHOSTUNREACH)
	}
	var c collector
	sum, err := Scan(context.Background(), c.cfg(Config{Dial: dial, ReportFiltered: true}), loopback(t, "127.0.0.1"), portRange(1, 1000))
	if err != nil {
		t.Fatal(err)
	}
	h := c.hosts[0]
	if h.State != Down || h.Reason != ReasonHostUnreach || h.Skipped == 0 || h.Probes > DefaultSkipAfter+DefaultPerHost {
		t.Errorf("host %+v", h)
	}
	if c.ports[0].Reason != ReasonHostUnreach || c.ports[0].Tries != 1 {
		t.Errorf("port %+v: unreachable is final at once", c.ports[0])
	}
	if sum.Filtered != h.Filtered {
		t.Errorf("summary %+v", sum)
	}
}

func TestLocalErrorsAreRetriedThenReported(t *testing.T) {
	var mu sync.Mutex
	n := 0
	dial := func(ctx context.Context, ap netip.AddrPort, timeout time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		n++
		if ap.Port() == 1 && n <= 2 {
			return opErr(syscall.EMFILE) // transient
		}
		if ap.Port() == 2 {
			return opErr(syscall.EADDRNOTAVAIL) // persistent
		}
		return nil
	}
	var c collector
	sum, err := Scan(context.Background(), c.cfg(Config{Dial: dial, PerHost: 1}), loopback(t, "127.0.0.1"), []int{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	got := c.byPort()
	if got[1].State != Open {
		t.Errorf("port 1 %+v: transient local errors not retried", got[1])
	}
	if got[2].State != Error || !errors.Is(got[2].Err, syscall.EADDRNOTAVAIL) {
		t.Errorf("port 2 %+v: persistent local error not reported", got[2])
	}
	if sum.Errors != 1 {
		t.Errorf("summary %+v", sum)
	}
}

func TestRateLimit(t *testing.T) {
	f := &fakeNet{}
	start := time.Now()
	sum, err := Scan(context.Background(), Config{Dial: f.dial, Rate: 200, Burst: 1}, loopback(t, "127.0.0.1"), portRange(1, 60))
	if err != nil {
		t.Fatal(err)
	}
	// 60 attempts at 200/s need at least ~295ms.
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("60 attempts at 200/s took %v", el)
	}
	if sum.Probes != 60 {
		t.Errorf("summary %+v", sum)
	}
}

func TestCancel(t *testing.T) {
	f := &fakeNet{silent: func(netip.Addr, int) bool { return true }}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	var c collector
	_, err := Scan(ctx, c.cfg(Config{Dial: f.dial, Timeout: 10 * time.Second}), loopback(t, "127.0.0.1-20"), portRange(1, 100))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("cancel took %v", el)
	}
	if len(c.hosts) != 0 {
		t.Errorf("unfinished hosts reported: %+v", c.hosts)
	}
}

// TestBoundedMemoryManyHosts streams 65536 hosts through a small window and
// checks the heap does not grow with the target count.
func TestBoundedMemoryManyHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("65536 hosts")
	}
	set, err := target.Load(context.Background(), target.Config{Specs: []string{"127.0.0.0/16"}})
	if err != nil {
		t.Fatal(err)
	}
	dial := func(ctx context.Context, ap netip.AddrPort, timeout time.Duration) error {
		return opErr(syscall.ECONNREFUSED)
	}
	var peak uint64
	hosts := 0
	cfg := Config{Dial: dial, HostWindow: 64, OnHost: func(HostResult) {
		hosts++
		if hosts%4096 == 0 {
			var m runtimeMem
			peak = max(peak, m.heapInUse())
		}
	}}
	sum, err := Scan(context.Background(), cfg, set.Iter(), []int{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Hosts != 65536 || hosts != 65536 {
		t.Fatalf("hosts %d/%d", sum.Hosts, hosts)
	}
	if peak > 64<<20 {
		t.Errorf("heap reached %d bytes", peak)
	}
	t.Logf("peak heap in use %d KiB for 65536 hosts", peak>>10)
}

type runtimeMem struct{}

func (runtimeMem) heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
