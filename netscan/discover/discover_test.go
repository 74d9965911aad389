package discover

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/target"
)

func TestProfiles(t *testing.T) {
	for _, p := range append([]string{"", "FAST", "Deep"}, Profiles...) {
		if err := CheckProfile(p); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	if err := CheckProfile("slow"); err == nil {
		t.Errorf("unknown profile accepted")
	}
	cases := map[string]methods{"fast": {icmp: true}, "standard": {icmp: true, arp: true}, "": {icmp: true, arp: true},
		"deep": {icmp: true, arp: true, tcp: true}, "tcp": {tcp: true}}
	for p, want := range cases {
		if got := profileMethods(p); got != want {
			t.Errorf("%q: %+v, want %+v", p, got, want)
		}
	}
}

// Methods become sweep ports: TCP pings keep their port numbers, ICMP and
// ARP get pseudo ports that collide with none of them.
func TestPlan(t *testing.T) {
	pl := makePlan(methods{icmp: true, arp: true, tcp: true}, []int{443, 80, 65535, 443})
	if len(pl.ports) != 5 || pl.icmp == 0 || pl.arp == 0 || pl.icmp == pl.arp || pl.tcp[pl.icmp] || pl.tcp[pl.arp] {
		t.Errorf("%+v", pl)
	}
	if pl.methodName[443] != MethodSYN || pl.methodName[pl.icmp] != MethodICMP || pl.methodName[pl.arp] != MethodARP {
		t.Errorf("names %v", pl.methodName)
	}
	if pl.icmp == 65535 || pl.arp == 65535 {
		t.Errorf("pseudo port collides with a TCP ping port")
	}
}

func TestTeeAndSource(t *testing.T) {
	set, _ := target.Parse(context.Background(), "198.18.0.0/30")
	outs := Tee(set.Iter(), 2)
	for i, o := range outs {
		n := 0
		for {
			if _, ok := o.Next(); !ok {
				break
			}
			n++
		}
		if n != 4 {
			t.Errorf("output %d: %d targets", i, n)
		}
	}
	s := NewSource(1)
	a := netip.MustParseAddr("198.18.0.9")
	go func() {
		s.Push(context.Background(), Host{Addr: a, Reason: ReasonARPResponse, RTT: time.Millisecond})
		s.Close()
	}()
	if tg, ok := s.Next(); !ok || tg.Addr != a {
		t.Errorf("next %v %v", tg, ok)
	}
	if h := s.HostInfo(a); !h.Up || h.Reason != ReasonARPResponse || h.RTT != time.Millisecond {
		t.Errorf("hint %+v", h)
	}
	if _, ok := s.Next(); ok {
		t.Errorf("source not closed")
	}
}
