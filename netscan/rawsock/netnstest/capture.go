//go:build linux

package netnstest

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/net/bpf"

	"github.com/portrait-scanner/portrait/netscan/rawsock"
)

// Capture counts, inside the namespace, the IPv4 packets that arrive for
// each destination address (a packet socket on the target's interface).
type Capture struct {
	l     *rawsock.Listener
	mu    sync.Mutex
	count map[netip.Addr]int
	total atomic.Int64
	done  chan struct{}
}

// Capture starts counting every IPv4 packet that reaches the namespace's
// interface. Stop it before reading the counts.
func (e *Env) Capture() *Capture {
	e.t.Helper()
	// Accept every IPv4 packet (cooked mode: the IP header comes first).
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 0, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x40, SkipFalse: 1},
		bpf.RetConstant{Val: 64},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var l *rawsock.Listener
	ifindex := 0
	err = e.InNS(func() error {
		ifc, err := netInterfaceByName(e.NSIf)
		if err != nil {
			return err
		}
		ifindex = ifc
		l, err = rawsock.Listen(rawsock.ListenConfig{Ifindex: ifindex, Filter: prog, Snaplen: 64})
		return err
	})
	if err != nil {
		e.t.Fatalf("capture in %s: %v", e.NS, err)
	}
	c := &Capture{l: l, count: map[netip.Addr]int{}, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, err := l.Read(func(b []byte) {
				if len(b) < 20 {
					return
				}
				dst := netip.AddrFrom4([4]byte(b[16:20]))
				c.mu.Lock()
				c.count[dst]++
				c.mu.Unlock()
				c.total.Add(1)
			})
			if err != nil {
				return
			}
		}
	}()
	e.addCloser(c.Stop)
	return c
}

// Stop ends the capture (idempotent).
func (c *Capture) Stop() {
	c.l.Close()
	<-c.done
}

// Count is the number of packets seen for dst.
func (c *Capture) Count(dst netip.Addr) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count[dst]
}

// Total is the number of IPv4 packets seen.
func (c *Capture) Total() int64 { return c.total.Load() }
