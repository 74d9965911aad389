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

// LinkPath is how Ethernet frames reach an IPv4 destination without the
// kernel's IP output path: the interface the kernel routes the
// destination through, and the frame header (next hop's MAC, ours,
// EtherType IPv4). Sending whole frames on a packet socket that bypasses
// the queueing discipline skips the route lookup, the IP output path and
// the qdisc for each probe: about a fifth of a SYN sweep's kernel work.
// What it also skips is the host's own output firewall (as masscan and
// zmap do).
type LinkPath struct {
	Ifindex int
	Header  [14]byte
}

// linkNeighWait bounds the wait for the next hop's address resolution.
const linkNeighWait = 50 * time.Millisecond

// LinkPathTo asks the kernel's routing (policy rules included, through
// netlink) how it would send to dst, and returns the frame path when that
// is plain: a unicast route out of an Ethernet interface, with the next
// hop's MAC known (resolved here if needed, by
// one UDP datagram to the discard port). ok is false otherwise; the
// caller then sends through the IP stack.
func LinkPathTo(dst netip.Addr) (p LinkPath, ok bool) {
	if !dst.Is4() {
		return p, false
	}
	oif, gw, typ, err := routeGet(dst)
	if err != nil || oif == 0 {
		return p, false
	}
	ifc, err := net.InterfaceByIndex(oif)
	if err != nil {
		return p, false
	}
	p.Ifindex = oif
	binary.BigEndian.PutUint16(p.Header[12:], unix.ETH_P_IP)
	// Not on loopback: frames sent there on a packet socket never reach
	// the local TCP stack (and the IP path costs little there).
	if ifc.Flags&net.FlagLoopback != 0 || typ != unix.RTN_UNICAST || len(ifc.HardwareAddr) != 6 || ifc.Flags&net.FlagUp == 0 {
		return p, false
	}
	hop := dst
	if gw.IsValid() {
		hop = gw
	}
	mac, found := neighbour(hop, ifc.Name)
	if !found {
		// Let the kernel resolve it: one datagram to the discard port.
		if c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(hop, 9))); err == nil {
			_, _ = c.Write(nil)
			c.Close()
		}
		for deadline := time.Now().Add(linkNeighWait); !found && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
			mac, found = neighbour(hop, ifc.Name)
		}
		if !found {
			return p, false
		}
	}
	copy(p.Header[0:6], mac)
	copy(p.Header[6:12], ifc.HardwareAddr)
	return p, true
}

// neighbour reads the complete ARP entry of ip on device dev.
func neighbour(ip netip.Addr, dev string) (net.HardwareAddr, bool) {
	f, err := os.Open("/proc/net/arp")
	if err != nil {
		return nil, false
	}
	defer f.Close()
	return parseARPTable(bufio.NewScanner(f), ip, dev)
}

// parseARPTable finds ip on dev in /proc/net/arp's format:
// "IP address  HW type  Flags  HW address  Mask  Device", complete entries
// having flag 0x2 (ATF_COM).
func parseARPTable(sc *bufio.Scanner, ip netip.Addr, dev string) (net.HardwareAddr, bool) {
	want := ip.String()
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[0] != want || f[5] != dev {
			continue
		}
		var flags uint64
		if _, err := fmt.Sscanf(f[2], "0x%x", &flags); err != nil || flags&0x2 == 0 {
			return nil, false
		}
		mac, err := net.ParseMAC(f[3])
		if err != nil || len(mac) != 6 || mac.String() == "00:00:00:00:00:00" {
			return nil, false
		}
		return mac, true
	}
	return nil, false
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
