//go:build linux

package rawsock

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// LinkRoute is how Ethernet frames reach the IPv4 destinations of one
// route without the kernel's IP output path: the interface the kernel
// routes them through and the frame header for each (the next hop's MAC,
// ours, EtherType IPv4). Sending whole frames on a packet socket that
// bypasses the queueing discipline skips the route lookup, the IP output
// path and the qdisc for each probe: about a fifth of a SYN sweep's
// kernel work. What it also skips is the host's own output firewall (as
// masscan and zmap do).
type LinkRoute struct {
	Ifindex int
	// gw is the header of a route through a gateway: every destination
	// shares the next hop.
	gw *[14]byte
	// hosts holds, for an on-link route, the headers of the neighbours the
	// ARP table knew when the route was looked up. A destination it lacks
	// goes through the IP stack, whose neighbour resolution finds it (or
	// not: an absent host must cost nothing here).
	hosts map[netip.Addr]*[14]byte
}

// Header returns the frame header for dst, or false when dst must go
// through the IP stack.
func (r *LinkRoute) Header(dst netip.Addr) (*[14]byte, bool) {
	if r.gw != nil {
		return r.gw, true
	}
	h, ok := r.hosts[dst]
	return h, ok
}

// linkNeighWait bounds the wait for a gateway's address resolution.
const linkNeighWait = 50 * time.Millisecond

// LinkRouteTo asks the kernel's routing (policy rules included, through
// netlink) how it would send to dst, and returns the frame route when that
// is plain: a unicast route out of an Ethernet interface. Through a
// gateway, the gateway's MAC must be known (resolved here if needed, by
// one UDP datagram to its discard port); on-link, the interface's
// complete ARP entries are taken as they are. ok is false otherwise; the
// caller then sends through the IP stack. The route holds for the
// destination's network as far as the caller groups destinations (a /24).
func LinkRouteTo(dst netip.Addr) (*LinkRoute, bool) {
	if !dst.Is4() {
		return nil, false
	}
	oif, gw, typ, err := routeGet(dst)
	if err != nil || oif == 0 {
		return nil, false
	}
	ifc, err := net.InterfaceByIndex(oif)
	if err != nil {
		return nil, false
	}
	// Not on loopback: frames sent there on a packet socket never reach
	// the local TCP stack (and the IP path costs little there).
	if ifc.Flags&net.FlagLoopback != 0 || typ != unix.RTN_UNICAST || len(ifc.HardwareAddr) != 6 || ifc.Flags&net.FlagUp == 0 {
		return nil, false
	}
	header := func(mac net.HardwareAddr) *[14]byte {
		var h [14]byte
		copy(h[0:6], mac)
		copy(h[6:12], ifc.HardwareAddr)
		binary.BigEndian.PutUint16(h[12:], unix.ETH_P_IP)
		return &h
	}
	r := &LinkRoute{Ifindex: oif}
	if !gw.IsValid() {
		r.hosts = map[netip.Addr]*[14]byte{}
		for ip, mac := range neighbours(ifc.Name) {
			r.hosts[ip] = header(mac)
		}
		return r, len(r.hosts) > 0
	}
	mac, found := neighbours(ifc.Name)[gw]
	if !found {
		// Let the kernel resolve it: one datagram to the discard port.
		if c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(gw, 9))); err == nil {
			_, _ = c.Write(nil)
			c.Close()
		}
		for deadline := time.Now().Add(linkNeighWait); !found && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
			mac, found = neighbours(ifc.Name)[gw]
		}
		if !found {
			return nil, false
		}
	}
	r.gw = header(mac)
	return r, true
}

// neighbours reads the complete ARP entries of device dev.
func neighbours(dev string) map[netip.Addr]net.HardwareAddr {
	f, err := os.Open("/proc/net/arp")
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseARPTable(bufio.NewScanner(f), dev)
}

// parseARPTable reads /proc/net/arp's format, "IP address  HW type  Flags
// HW address  Mask  Device", keeping dev's complete entries (flag 0x2,
// ATF_COM).
func parseARPTable(sc *bufio.Scanner, dev string) map[netip.Addr]net.HardwareAddr {
	out := map[netip.Addr]net.HardwareAddr{}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[5] != dev {
			continue
		}
		ip, err := netip.ParseAddr(f[0])
		if err != nil || !ip.Is4() {
			continue
		}
		var flags uint64
		if _, err := fmt.Sscanf(f[2], "0x%x", &flags); err != nil || flags&0x2 == 0 {
			continue
		}
		mac, err := net.ParseMAC(f[3])
		if err != nil || len(mac) != 6 || mac.String() == "00:00:00:00:00:00" {
			continue
		}
		out[ip] = mac
	}
	return out
}

// routeGet is "ip route get dst": the output interface, the gateway (if
// the route has one) and the route type, from the kernel over netlink.
func routeGet(dst netip.Addr) (oif int, gw netip.Addr, typ uint8, err error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return 0, gw, 0, err
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, gw, 0, err
	}
	tv := unix.NsecToTimeval(int64(time.Second))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	d := dst.As4()
	const attrLen = unix.SizeofRtAttr + 4
	msgLen := unix.SizeofNlMsghdr + unix.SizeofRtMsg + attrLen
	req := make([]byte, msgLen)
	*(*unix.NlMsghdr)(unsafe.Pointer(&req[0])) = unix.NlMsghdr{Len: uint32(msgLen), Type: unix.RTM_GETROUTE, Flags: unix.NLM_F_REQUEST, Seq: 1}
	*(*unix.RtMsg)(unsafe.Pointer(&req[unix.SizeofNlMsghdr])) = unix.RtMsg{Family: unix.AF_INET, Dst_len: 32}
	off := unix.SizeofNlMsghdr + unix.SizeofRtMsg
	*(*unix.RtAttr)(unsafe.Pointer(&req[off])) = unix.RtAttr{Len: attrLen, Type: unix.RTA_DST}
	copy(req[off+unix.SizeofRtAttr:], d[:])
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, gw, 0, err
	}
	buf := make([]byte, 8192)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, gw, 0, err
	}
	return parseRouteReply(buf[:n])
}

// parseRouteReply reads the RTM_NEWROUTE answer to routeGet.
func parseRouteReply(b []byte) (oif int, gw netip.Addr, typ uint8, err error) {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return 0, gw, 0, err
	}
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.NLMSG_ERROR:
			if len(m.Data) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
					return 0, gw, 0, fmt.Errorf("route lookup: %w", unix.Errno(-code))
				}
			}
		case unix.RTM_NEWROUTE:
			if len(m.Data) < unix.SizeofRtMsg {
				return 0, gw, 0, errors.New("route lookup: short answer")
			}
			rt := (*unix.RtMsg)(unsafe.Pointer(&m.Data[0]))
			// Attributes, read with bounds checks (the standard library's
			// parser trusts their lengths).
			for a := m.Data[unix.SizeofRtMsg:]; len(a) >= unix.SizeofRtAttr; {
				l := int(binary.NativeEndian.Uint16(a[0:2]))
				kind := binary.NativeEndian.Uint16(a[2:4])
				if l < unix.SizeofRtAttr || l > len(a) {
					return 0, gw, 0, errors.New("route lookup: malformed attribute")
				}
				v := a[unix.SizeofRtAttr:l]
				switch kind {
				case unix.RTA_OIF:
					if len(v) >= 4 {
						oif = int(binary.NativeEndian.Uint32(v))
					}
				case unix.RTA_GATEWAY:
					if g, ok := netip.AddrFromSlice(v); ok {
						gw = g.Unmap()
					}
				}
				a = a[min(len(a), (l+3)&^3):]
			}
			return oif, gw, rt.Type, nil
		}
	}
	return 0, gw, 0, errors.New("route lookup: no answer")
}

// NewLinkSender opens a packet socket that sends whole Ethernet frames
// out of interface ifindex, past the queueing discipline. Frames go
// through the same Buffer/Add/Flush batches as the raw IP Sender.
func NewLinkSender(ifindex int) (*Sender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0) // protocol 0: receives nothing
	if err != nil {
		return nil, wrapPerm("packet socket", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20)
	s := &Sender{fd: fd, link: &unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: htons(unix.ETH_P_IP), Ifindex: int32(ifindex)}}
	s.initBufs()
	return s, nil
}
