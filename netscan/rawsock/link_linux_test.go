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
		dev  string
		want map[string]string
	}{
		{"ptveth0", map[string]string{"198.18.0.2": "02:00:c6:12:00:12"}},
		{"eth0", map[string]string{}}, // only an incomplete entry
		{"eth1", map[string]string{"10.0.0.7": "aa:bb:cc:dd:ee:ff"}},
		{"eth9", map[string]string{}},
	} {
		got := parseARPTable(bufio.NewScanner(strings.NewReader(arpTable)), c.dev)
		if len(got) != len(c.want) {
			t.Errorf("%s: %v, want %v", c.dev, got, c.want)
			continue
		}
		for ip, mac := range c.want {
			if m, ok := got[netip.MustParseAddr(ip)]; !ok || m.String() != mac {
				t.Errorf("%s: %s -> %v, want %s", c.dev, ip, m, mac)
			}
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
	if _, ok := LinkRouteTo(netip.MustParseAddr("127.0.0.1")); ok {
		t.Error("a frame route to 127.0.0.1")
	}
}

func FuzzParseARPTable(f *testing.F) {
	f.Add(arpTable, "ptveth0")
	f.Fuzz(func(t *testing.T, table, dev string) {
		for ip, mac := range parseARPTable(bufio.NewScanner(strings.NewReader(table)), dev) {
			if !ip.Is4() || len(mac) != 6 {
				t.Fatalf("%v %v", ip, mac)
			}
		}
	})
}

func FuzzParseRouteReply(f *testing.F) {
	f.Add(routeReply(unix.RTN_UNICAST, 3, []byte{10, 0, 0, 1}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _, _ = parseRouteReply(b)
	})
}

// On-link, each neighbour has its own header and an unknown host has none
// (the IP stack resolves it); through a gateway every destination shares
// the gateway's.
func TestLinkRouteHeader(t *testing.T) {
	a, b := &[14]byte{1}, &[14]byte{2}
	onLink := &LinkRoute{hosts: map[netip.Addr]*[14]byte{
		netip.MustParseAddr("10.0.0.7"): a, netip.MustParseAddr("10.0.0.8"): b,
	}}
	for _, c := range []struct {
		r    *LinkRoute
		dst  string
		want *[14]byte
	}{
		{onLink, "10.0.0.7", a},
		{onLink, "10.0.0.8", b},
		{onLink, "10.0.0.9", nil},
		{&LinkRoute{gw: a}, "192.0.2.77", a},
		{&LinkRoute{gw: a}, "192.0.2.78", a},
	} {
		got, ok := c.r.Header(netip.MustParseAddr(c.dst))
		if got != c.want || ok != (c.want != nil) {
			t.Errorf("%s: %v %v, want %v", c.dst, got, ok, c.want)
		}
	}
}
