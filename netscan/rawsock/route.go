package rawsock

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// SourceFor returns the local address the kernel would use to reach dst
// (a connected UDP socket: no packet is sent).
func SourceFor(dst netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("no route to %s: %w", dst, err)
	}
	defer c.Close()
	a := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr()
	if dst.Is4() {
		a = a.Unmap()
	}
	return a, nil
}

// Iface is a local interface with one of its addresses.
type Iface struct {
	Index  int
	Name   string
	MAC    net.HardwareAddr // nil on loopback and tunnels
	Prefix netip.Prefix     // the address and its on-link network
	Flags  net.Flags
}

// InterfaceOf returns the interface that holds addr.
func InterfaceOf(addr netip.Addr) (Iface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return Iface{}, err
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			p, ok := prefixOf(ipn)
			if ok && p.Addr() == addr {
				return Iface{Index: ifc.Index, Name: ifc.Name, MAC: ifc.HardwareAddr, Prefix: p, Flags: ifc.Flags}, nil
			}
		}
	}
	return Iface{}, fmt.Errorf("no interface holds %s", addr)
}

func prefixOf(ipn *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(ipn.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, _ := ipn.Mask.Size()
	return netip.PrefixFrom(a, ones), true
}

// ErrNotOnLink says a target is reached through a router, so ARP cannot
// find it.
var ErrNotOnLink = errors.New("not on a directly attached Ethernet network")

// OnLink returns the Ethernet interface (with its address) through which
// dst is directly reachable, for ARP: dst must be inside the on-link
// network of the interface the kernel routes it through.
func OnLink(dst netip.Addr) (Iface, error) {
	if !dst.Is4() {
		return Iface{}, ErrNotOnLink
	}
	src, err := SourceFor(dst)
	if err != nil {
		return Iface{}, err
	}
	ifc, err := InterfaceOf(src)
	if err != nil {
		return Iface{}, err
	}
	if !ifc.Reaches(dst) {
		return Iface{}, ErrNotOnLink
	}
	return ifc, nil
}

// Reaches says whether dst is another host on ifc's Ethernet network (so
// ARP can find it): an IPv4 address inside the interface's prefix, not
// the interface's own, on an Ethernet (not loopback, not point-to-point).
func (ifc Iface) Reaches(dst netip.Addr) bool {
	if !dst.Is4() || ifc.Flags&net.FlagLoopback != 0 || len(ifc.MAC) != 6 || ifc.Flags&net.FlagPointToPoint != 0 {
		return false
	}
	return ifc.Prefix.Masked().Contains(dst) && dst != ifc.Prefix.Addr()
}
