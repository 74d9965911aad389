package rawsock

import (
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestExperimentPacketTX(t *testing.T) {
	if os.Getenv("PT_EXP2") == "" {
		t.Skip()
	}
	dst := netip.MustParseAddr("198.18.0.2")
	src := netip.MustParseAddr("198.18.0.1")
	ifc, _ := net.InterfaceByName("ptveth0")
	mac, _ := net.ParseMAC("02:00:c6:12:00:12")
	res, _ := ReserveTCPPort()
	defer res.Close()
	f, _ := Filter(FilterSpec{TCPDstPort: res.Port, ICMPErrors: true, Snaplen: 128})
	l, err := Listen(ListenConfig{Filter: f, Snaplen: 128})
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	go func() {
		var p Packet
		for {
			_, err := l.Read(func(b []byte) {
				if Parse(b, &p) && p.Proto == ProtoTCP && p.Flags&FlagACK != 0 {
					got.Add(1)
				}
			})
			if err != nil {
				return
			}
		}
	}()
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("PT_BYPASS") != "" {
		unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	}
	sa := unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: htons(0x0800), Ifindex: int32(ifc.Index), Halen: 6}
	copy(sa.Addr[:], mac)
	tpl, _ := NewSYNTemplate(src, res.Port, 64)
	var msgs [128]unix.Mmsghdr
	var iovs [128]unix.Iovec
	bufs := make([][]byte, 128)
	for i := range bufs {
		bufs[i] = make([]byte, 0, 64)
	}
	start := time.Now()
	n := 0
	flush := func() {
		for i := 0; i < n; i++ {
			iovs[i].Base = &bufs[i][0]
			iovs[i].SetLen(len(bufs[i]))
			msgs[i].Hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&sa)), Namelen: unix.SizeofSockaddrLinklayer, Iov: &iovs[i]}
			msgs[i].Hdr.SetIovlen(1)
		}
		off := 0
		for off < n {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[off])), uintptr(n-off), 0, 0, 0)
			if e != 0 {
				t.Log(e)
				time.Sleep(50 * time.Microsecond)
				continue
			}
			off += int(r)
		}
		n = 0
	}
	for port := 1; port <= 65535; port++ {
		bufs[n] = tpl.Build(bufs[n], dst, uint16(port), uint32(port)*7919, uint16(port))
		n++
		if n == 128 {
			flush()
		}
	}
	flush()
	sendT := time.Since(start)
	for got.Load() < 65535 && time.Since(start) < 3*time.Second {
		time.Sleep(time.Millisecond)
	}
	t.Logf("packet tx: sent in %v, %d replies in %v", sendT, got.Load(), time.Since(start))
	l.Close()
}
