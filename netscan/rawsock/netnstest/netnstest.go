//go:build linux

// Package netnstest builds throwaway network namespaces for the raw
// scanners' tests: a veth pair joins the test's own namespace (the host
// end) to a new one (the target), whose kernel answers for a whole /24 of
// the benchmark range 198.18.0.0/15 (AnyIP), so tests scan real TCP/IP
// stacks without touching any real network. Listeners, firewall rules
// (nftables), ICMP rate limits and tc netem impairments are set up inside
// the target namespace.
//
// Everything needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns) and the
// ip, nft and tc tools; New skips the test with a message saying what is
// missing. Cleanup removes the namespace, the veth pair and the routes.
package netnstest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Env is one target namespace.
type Env struct {
	t       testing.TB
	NS      string
	HostIf  string
	NSIf    string
	HostIP  netip.Addr   // our end of the link (198.18.K.1)
	NSIP    netip.Addr   // the target's address (198.18.K.2)
	Link    netip.Prefix // 198.18.K.0/24
	Range   netip.Prefix // 198.18.K+1.0/24, all local inside the namespace
	Range2  netip.Prefix // 198.18.K+2.0/24, likewise
	nsFD    int
	closers []func()
	mu      sync.Mutex
}

var claimMu sync.Mutex

// New creates a namespace, or skips the test when it cannot.
func New(t testing.TB) *Env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("netns test: needs root (ip netns, veth, setns); run the tests as root to include it")
	}
	for _, tool := range []string{"ip", "nft", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("netns test: %s not installed", tool)
		}
	}
	claimMu.Lock()
	defer claimMu.Unlock()
	var k int
	for try := 0; ; try++ {
		k = 100 + 4*rand.IntN(37) // 100..244: link K, ranges K+1 and K+2
		if !routed(fmt.Sprintf("198.18.%d.0/22", k)) {
			break
		}
		if try > 50 {
			t.Skip("netns test: no free 198.18.K.0/23 block")
		}
	}
	id := fmt.Sprintf("%04x", rand.IntN(0x10000))
	e := &Env{
		t: t, NS: "pt-test-" + id, HostIf: "pt" + id + "h", NSIf: "pt" + id + "n",
		HostIP: netip.MustParseAddr(fmt.Sprintf("198.18.%d.1", k)),
		NSIP:   netip.MustParseAddr(fmt.Sprintf("198.18.%d.2", k)),
		Link:   netip.MustParsePrefix(fmt.Sprintf("198.18.%d.0/24", k)),
		Range:  netip.MustParsePrefix(fmt.Sprintf("198.18.%d.0/24", k+1)),
		Range2: netip.MustParsePrefix(fmt.Sprintf("198.18.%d.0/24", k+2)),
		nsFD:   -1,
	}
	if out, err := exec.Command("ip", "netns", "add", e.NS).CombinedOutput(); err != nil {
		t.Skipf("netns test: ip netns add: %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(e.close)
	e.ip("link", "add", e.HostIf, "type", "veth", "peer", "name", e.NSIf, "netns", e.NS)
	e.ip("addr", "add", e.HostIP.String()+"/24", "dev", e.HostIf)
	e.ip("link", "set", e.HostIf, "up")
	e.NSRun("ip", "link", "set", "lo", "up")
	e.NSRun("ip", "addr", "add", e.NSIP.String()+"/24", "dev", e.NSIf)
	e.NSRun("ip", "link", "set", e.NSIf, "up")
	for _, r := range []netip.Prefix{e.Range, e.Range2} {
		e.NSRun("ip", "route", "add", "local", r.String(), "dev", "lo")
		e.ip("route", "add", r.String(), "via", e.NSIP.String(), "dev", e.HostIf)
	}
	for _, c := range []string{"all", "default", "lo", e.NSIf} {
		e.NSRun("sysctl", "-qw", "net.ipv4.conf."+c+".rp_filter=0")
	}
	e.NSRun("sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
	f, err := os.Open("/run/netns/" + e.NS)
	if err != nil {
		t.Fatalf("netns test: %v", err)
	}
	e.nsFD = int(f.Fd())
	e.closers = append(e.closers, func() { f.Close() })
	// Wait for the link (IPv6 DAD does not matter: IPv4 only).
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if out, _ := exec.Command("ip", "-br", "link", "show", e.HostIf).Output(); bytes.Contains(out, []byte("UP")) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.Guard(e.NSIP, e.Range.Addr(), e.Range2.Addr())
	return e
}

// routed reports whether any route lies inside p (or covers it, other
// than the default route).
func routed(p string) bool {
	for _, args := range [][]string{{"route", "show", "root", p}, {"route", "show", "match", p}} {
		out, _ := exec.Command("ip", args...).Output()
		for _, l := range strings.Split(string(out), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "default") {
				return true
			}
		}
	}
	return false
}

func (e *Env) ip(args ...string) {
	e.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		e.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// NSRun runs a command inside the namespace and fails the test on error.
func (e *Env) NSRun(name string, args ...string) string {
	e.t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", e.NS, name}, args...)...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("in %s: %s %s: %v: %s", e.NS, name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out)
}

// Nft loads an nftables ruleset into the namespace (its own table, so it
// never touches the host's firewall).
func (e *Env) Nft(ruleset string) {
	e.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", e.NS, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("nft in %s: %v: %s\n%s", e.NS, err, bytes.TrimSpace(out), ruleset)
	}
}

// Netem impairs the namespace's outgoing traffic (the target's answers)
// with tc netem, e.g. "delay 30ms 10ms loss 10%". It returns false (and
// logs why) when the kernel has no netem (CONFIG_NET_SCH_NETEM).
func (e *Env) Netem(spec string) bool {
	e.t.Helper()
	args := append([]string{"netns", "exec", e.NS, "tc", "qdisc", "replace", "dev", e.NSIf, "root", "netem"}, strings.Fields(spec)...)
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		e.t.Logf("tc netem unavailable in this kernel (%v: %s): impairment %q not applied", err, bytes.TrimSpace(out), spec)
		return false
	}
	return true
}

// SlowLink queues the namespace's outgoing traffic behind a token bucket
// (tc tbf) of rate ("100kbit"): each answer waits for those before it, so
// the delays grow through a burst and shrink after it. It stands in for
// netem's delay where the kernel has no netem (tbf is nearly always
// built); false when neither is there.
func (e *Env) SlowLink(rate string) bool {
	e.t.Helper()
	out, err := exec.Command("ip", "netns", "exec", e.NS, "tc", "qdisc", "replace", "dev", e.NSIf, "root",
		"tbf", "rate", rate, "burst", "1600", "latency", "5s").CombinedOutput()
	if err != nil {
		e.t.Logf("tc tbf unavailable (%v: %s): no delay applied", err, bytes.TrimSpace(out))
		return false
	}
	return true
}

// Loss drops a random share (percent) of the packets entering the target
// (probes) and of those leaving it (answers), with nftables: it works
// where netem is not built.
func (e *Env) Loss(inPct, outPct int) {
	e.t.Helper()
	e.Nft(fmt.Sprintf(`table ip ptloss {
  chain in {
    type filter hook prerouting priority -300; policy accept;
    numgen random mod 100 < %d drop
  }
  chain out {
    type filter hook output priority -300; policy accept;
    numgen random mod 100 < %d drop
  }
}`, inPct, outPct))
}

// Sysctl sets a sysctl inside the namespace ("net.ipv4.icmp_ratelimit=100").
func (e *Env) Sysctl(kv string) { e.t.Helper(); e.NSRun("sysctl", "-qw", kv) }

// AddAddr gives the target's interface another address of the link.
func (e *Env) AddAddr(a netip.Addr) {
	e.t.Helper()
	e.NSRun("ip", "addr", "add", a.String()+"/24", "dev", e.NSIf)
}

// Guard fails the test unless every address routes out of our veth: the
// scanners must never send anywhere else.
func (e *Env) Guard(addrs ...netip.Addr) {
	e.t.Helper()
	for _, a := range addrs {
		out, err := exec.Command("ip", "route", "get", a.String()).Output()
		if err != nil || !bytes.Contains(out, []byte("dev "+e.HostIf+" ")) {
			e.t.Fatalf("netns test: %s does not route via %s (%s); refusing to scan", a, e.HostIf, bytes.TrimSpace(out))
		}
	}
}

// InNS runs fn on a thread that has joined the namespace: sockets fn
// opens belong to the namespace and keep working after it returns.
func (e *Env) InNS(fn func() error) error {
	e.t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return // the thread is discarded with the goroutine
		}
		defer self.Close()
		if err := unix.Setns(e.nsFD, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w", err) // thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// ListenTCP opens TCP listeners inside the namespace on addr (the
// target's or one of the range) for each port; connections are accepted
// and closed.
func (e *Env) ListenTCP(addr netip.Addr, ports ...int) {
	e.t.Helper()
	var ls []net.Listener
	err := e.InNS(func() error {
		for _, p := range ports {
			l, err := net.Listen("tcp", netip.AddrPortFrom(addr, uint16(p)).String())
			if err != nil {
				return err
			}
			ls = append(ls, l)
		}
		return nil
	})
	if err != nil {
		e.t.Fatalf("listen in %s: %v", e.NS, err)
	}
	for _, l := range ls {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		e.addCloser(func() { l.Close() })
	}
}

// ServeUDP answers every datagram to addr:port inside the namespace with
// reply(request) (nil: no answer).
func (e *Env) ServeUDP(addr netip.Addr, port int, reply func([]byte) []byte) {
	e.t.Helper()
	var pc net.PacketConn
	err := e.InNS(func() error {
		var err error
		pc, err = net.ListenPacket("udp", netip.AddrPortFrom(addr, uint16(port)).String())
		return err
	})
	if err != nil {
		e.t.Fatalf("udp listen in %s: %v", e.NS, err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if r := reply(buf[:n]); r != nil {
				_, _ = pc.WriteTo(r, from)
			}
		}
	}()
	e.addCloser(func() { pc.Close() })
}

func (e *Env) addCloser(f func()) {
	e.mu.Lock()
	e.closers = append(e.closers, f)
	e.mu.Unlock()
}

func (e *Env) close() {
	e.mu.Lock()
	cs := e.closers
	e.closers = nil
	e.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
	_ = exec.Command("ip", "route", "del", e.Range.String()).Run()
	_ = exec.Command("ip", "route", "del", e.Range2.String()).Run()
	_ = exec.Command("ip", "link", "del", e.HostIf).Run()
	_ = exec.Command("ip", "netns", "del", e.NS).Run()
}
