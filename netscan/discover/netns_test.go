//go:build linux

package discover

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/netscan/rawsock"
	"github.com/portrait-scanner/portrait/netscan/rawsock/netnstest"
	"github.com/portrait-scanner/portrait/netscan/rawsock/sweep"
	"github.com/portrait-scanner/portrait/target"
)

func discover(t *testing.T, cfg Config, specs ...string) (map[netip.Addr]Host, Summary, []sweep.Dark) {
	t.Helper()
	set, err := target.Load(context.Background(), target.Config{Specs: specs})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	found := map[netip.Addr]Host{}
	var dark []sweep.Dark
	cfg.OnHost = func(h Host) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := found[h.Addr]; dup {
			t.Errorf("host %s reported twice", h.Addr)
		}
		found[h.Addr] = h
	}
	cfg.OnDark = func(d sweep.Dark) {
		mu.Lock()
		defer mu.Unlock()
		dark = append(dark, d)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 300 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := Run(ctx, cfg, set.Iter())
	if err != nil {
		t.Fatal(err)
	}
	return found, sum, dark
}

// ARP finds an on-link host that drops every ICMP packet; ICMP alone
// does not.
func TestNetnsARPFindsSilentNeighbour(t *testing.T) {
	e := netnstest.New(t)
	quiet := e.NSIP.Next() // .3
	e.AddAddr(quiet)
	e.Nft(fmt.Sprintf(`table ip pt {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr %s drop
  }
}`, quiet))
	link := netip.PrefixFrom(e.NSIP, 30).Masked().String() // .0-.3
	found, _, _ := discover(t, Config{Profile: "standard"}, link)
	if h, ok := found[quiet]; !ok || h.Method != MethodARP || h.Reason != ReasonARPResponse || h.MAC == "" {
		t.Errorf("standard: quiet neighbour %s: %+v (found %v)", quiet, h, found)
	}
	if h, ok := found[e.NSIP]; !ok {
		t.Errorf("standard: %s not found", e.NSIP)
	} else if h.RTT <= 0 {
		t.Errorf("no RTT: %+v", h)
	}
	found, _, _ = discover(t, Config{Profile: "fast"}, link)
	if _, ok := found[quiet]; ok {
		t.Errorf("fast (ICMP only) found the host that drops ICMP")
	}
	if h := found[e.NSIP]; h.Method != MethodICMP || h.Reason != ReasonEchoReply {
		t.Errorf("fast: %s: %+v", e.NSIP, h)
	}
}

// Off-link hosts that block ICMP are found by the TCP SYN pings of the
// deep and tcp profiles (a reset proves a host as well as a SYN-ACK).
func TestNetnsTCPPing(t *testing.T) {
	e := netnstest.New(t)
	e.Nft(`table ip pt {
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request drop
  }
}`)
	spec := netip.PrefixFrom(e.Range.Addr(), 28).String()
	found, _, _ := discover(t, Config{Profile: "fast"}, spec)
	if len(found) != 0 {
		t.Errorf("fast found %d hosts that drop ICMP", len(found))
	}
	for _, prof := range []string{"deep", "tcp"} {
		found, sum, _ := discover(t, Config{Profile: prof}, spec)
		if len(found) != 16 {
			t.Errorf("%s: %d of 16 hosts found (%+v)", prof, len(found), sum)
		}
		for _, h := range found {
			if h.Method != MethodSYN || (h.Reason != ReasonReset && h.Reason != ReasonSynAck) || h.Port == 0 {
				t.Errorf("%s: %+v", prof, h)
				break
			}
		}
	}
}

// Without raw sockets the tcp profile uses connect pings.
func TestNetnsUnprivilegedConnectPing(t *testing.T) {
	e := netnstest.New(t)
	e.ListenTCP(e.NSIP, 443)
	found, sum, _ := discover(t, Config{Profile: "tcp", Unprivileged: true}, e.NSIP.String())
	h, ok := found[e.NSIP]
	if !ok || h.Method != MethodConnect || (h.Reason != "syn-ack" && h.Reason != "conn-refused") || h.Port == 0 {
		t.Errorf("connect ping: %+v (%+v)", h, sum)
	}
	if sum.Privileged {
		t.Errorf("summary says privileged")
	}
}

// A /24 that answers nothing is reported dark and costs one round.
func TestNetnsDarkNetwork(t *testing.T) {
	e := netnstest.New(t)
	e.Nft(fmt.Sprintf(`table ip pt {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr %s drop
  }
}`, e.Range2))
	found, sum, dark := discover(t, Config{Profile: "deep", Retries: 2}, e.Range.String(), e.Range2.String())
	if len(found) != 256 {
		t.Errorf("%d live hosts, want 256", len(found))
	}
	for a := range found {
		if e.Range2.Contains(a) {
			t.Errorf("dark host %s found", a)
		}
	}
	if len(dark) != 1 || dark[0].Prefix != e.Range2 || sum.DarkNets != 1 {
		t.Errorf("dark networks %+v (summary %+v)", dark, sum)
	}
	t.Logf("%+v %+v", sum, dark)
}

// The unprivileged ICMP path: a datagram ICMP socket opened inside the
// namespace (where ping_group_range allows it) pings our end of the link.
func TestNetnsPingSocket(t *testing.T) {
	e := netnstest.New(t)
	e.Sysctl("net.ipv4.ping_group_range=0 2147483647")
	var ping *rawsock.PingSocket
	if err := e.InNS(func() error {
		var err error
		ping, err = rawsock.OpenPing()
		return err
	}); err != nil {
		t.Skipf("ping socket: %v", err)
	}
	nobody := netip.AddrFrom4([4]byte{e.HostIP.As4()[0], e.HostIP.As4()[1], e.HostIP.As4()[2], 77})
	set, err := target.Load(context.Background(), target.Config{Specs: []string{e.HostIP.String(), nobody.String()}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	found := map[netip.Addr]Host{}
	sum, err := runPing(context.Background(), Config{Timeout: 200 * time.Millisecond, OnHost: func(h Host) {}},
		ping, set.Iter(), func(h Host) {
			mu.Lock()
			defer mu.Unlock()
			found[h.Addr] = h
		})
	if err != nil {
		t.Fatal(err)
	}
	h, ok := found[e.HostIP]
	if !ok || h.Method != MethodICMP || h.Reason != ReasonEchoReply || h.RTT <= 0 {
		t.Errorf("host %s: %+v (summary %+v)", e.HostIP, h, sum)
	}
	if _, ok := found[nobody]; ok {
		t.Errorf("an address nobody holds answered")
	}
}
