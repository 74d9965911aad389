//go:build linux

package rawsock

import (
	"bufio"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

const arpTable = `IP address       HW type     Flags       HW address            Mask     Device
198.18.0.2       0x1         0x2         02:00:c6:12:00:12     *        ptveth0
10.0.0.9         0x1         0x0         00:00:00:00:00:00     *        eth0
10.0.0.7         0x1         0x2         aa:bb:cc:dd:ee:ff     *        eth1
`

func TestParseARPTable(t *testing.T) {
	for _, c := range []struct {
		ip, dev, want string
		ok            bool
	}{
		{"198.18.0.2", "ptveth0", "02:00:c6:12:00:12", true},
		{"198.18.0.2", "eth0", "", false}, // another device
		{"10.0.0.9", "eth0", "", false},   // incomplete entry
		{"10.0.0.7", "eth1", "aa:bb:cc:dd:ee:ff", true},
		{"10.0.0.8", "eth1", "", false}, // absent
	} {
		mac, ok := parseARPTable(bufio.NewScanner(strings.NewReader(arpTable)), netip.MustParseAddr(c.ip), c.dev)
		if ok != c.ok || (ok && mac.String() != c.want) {
			t.Errorf("%s on %s: %v %v, want %s %v", c.ip, c.dev, mac, ok, c.want, c.ok)
		}
	}
}

// routeReply builds the kernel's answer to "ip route get" by hand.
func routeReply(typ uint8, oif uint32, gw []byte) []byte {
	attr := func(kind uint16, v []byte) []byte {
		b := make([]byte, unix.SizeofRtAttr+len(v))
		*(*unix.RtAttr)(unsafe.Pointer(&b[0])) = unix.RtAttr{Len: uint16(len(b)), Type: kind}
		copy(b[unix.SizeofRtAttr:], v)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	body := make([]byte, unix.SizeofRtMsg)
	*(*unix.RtMsg)(unsafe.Pointer(&body[0])) = unix.RtMsg{Family: unix.AF_INET, Dst_len: 32, Type: typ}
	body = append(body, attr(unix.RTA_OIF, binary.NativeEndian.AppendUint32(nil, oif))...)
	if gw != nil {
		body = append(body, attr(unix.RTA_GATEWAY, gw)...)
	}
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	*(*unix.NlMsghdr)(unsafe.Pointer(&msg[0])) = unix.NlMsghdr{Len: uint32(unix.SizeofNlMsghdr + len(body)), Type: unix.RTM_NEWROUTE}
	return append(msg, body...)
}

func TestParseRouteReply(t *testing.T) {
	oif, gw, typ, err := parseRouteReply(routeReply(unix.RTN_UNICAST, 7, []byte{198, 18, 0, 2}))
	if err != nil || oif != 7 || gw != netip.MustParseAddr("198.18.0.2") || typ != unix.RTN_UNICAST {
		t.Errorf("via gateway: %d %v %d %v", oif, gw, typ, err)
	}
	oif, gw, typ, err = parseRouteReply(routeReply(unix.RTN_LOCAL, 1, nil))
	if err != nil || oif != 1 || gw.IsValid() || typ != unix.RTN_LOCAL {
		t.Errorf("local: %d %v %d %v", oif, gw, typ, err)
	}
	// An error answer (no route) is an error.
	e := make([]byte, unix.SizeofNlMsghdr+4)
	*(*unix.NlMsghdr)(unsafe.Pointer(&e[0])) = unix.NlMsghdr{Len: uint32(len(e)), Type: unix.NLMSG_ERROR}
	code := -int32(unix.ENETUNREACH)
	binary.NativeEndian.PutUint32(e[unix.SizeofNlMsghdr:], uint32(code))
	if _, _, _, err := parseRouteReply(e); err == nil {
		t.Error("NLMSG_ERROR accepted")
	}
	if _, _, _, err := parseRouteReply([]byte{1, 2, 3}); err == nil {
		t.Error("garbage accepted")
	}
}

// The loopback path stays on the IP stack; the kernel's own lookup of
// 127.0.0.1 goes out of lo.
func TestLinkPathLoopback(t *testing.T) {
	oif, _, typ, err := routeGet(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Skipf("no netlink here: %v", err)
	}
	if typ != unix.RTN_LOCAL || oif == 0 {
		t.Errorf("127.0.0.1: oif %d type %d, want a local route", oif, typ)
	}
	if _, ok := LinkPathTo(netip.MustParseAddr("127.0.0.1")); ok {
		t.Error("a frame path to 127.0.0.1")
	}
}

func FuzzParseRouteReply(f *testing.F) {
	f.Add(routeReply(unix.RTN_UNICAST, 3, []byte{10, 0, 0, 1}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _, _ = parseRouteReply(b)
	})
}
