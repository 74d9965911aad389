package rawsock

import (
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestExperimentSweep(t *testing.T) {
	if os.Getenv("PT_EXP") == "" {
		t.Skip()
	}
	dst := netip.MustParseAddr(os.Getenv("PT_EXP"))
	src, err := SourceFor(dst)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ReserveTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	f, err := Filter(FilterSpec{TCPDstPort: res.Port, ICMPErrors: true, Snaplen: 128})
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen(ListenConfig{Filter: f, Snaplen: 128})
	if err != nil {
		t.Fatal(err)
	}
	var got, open atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		var p Packet
		for {
			_, err := l.Read(func(b []byte) {
				if Parse(b, &p) && p.Proto == ProtoTCP && p.Flags&FlagACK != 0 {
					got.Add(1)
					if p.Flags&FlagSYN != 0 {
						open.Add(1)
					}
				}
			})
			if err != nil {
				return
			}
		}
	}()
	nsend := 2
	if v := os.Getenv("PT_NS"); v != "" {
		nsend = int(v[0] - '0')
	}
	tpl, _ := NewSYNTemplate(src, res.Port, 64)
	start := time.Now()
	var wg sync.WaitGroup
	for k := 0; k < nsend; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			s, err := NewSender(IPv4, src)
			if err != nil {
				panic(err)
			}
			for port := 1 + k; port <= 65535; port += nsend {
				b := tpl.Build(s.Buffer(), dst, uint16(port), uint32(port)*7919, uint16(port))
				s.Add(netip.AddrPortFrom(dst, 0), b, 0)
				if s.Full() {
					s.Flush(nil)
				}
			}
			s.Flush(nil)
		}()
	}
	wg.Wait()
	sendT := time.Since(start)
	for got.Load() < 65535 && time.Since(start) < 3*time.Second {
		time.Sleep(time.Millisecond)
	}
	t.Logf("sent in %v, %d replies (%d open) in %v, drops %d", sendT, got.Load(), open.Load(), time.Since(start), l.Drops())
	l.Close()
	<-done
}
