package rawsock

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// TCP flags.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagPSH = 0x08
	FlagACK = 0x10
)

// ICMP types the scanners read.
const (
	ICMPEchoReply      = 0
	ICMPUnreachable    = 3
	ICMPEchoRequest    = 8
	ICMPTimeExceeded   = 11
	ICMPv6Unreachable  = 1
	ICMPv6TimeExceeded = 3
	ICMPv6EchoRequest  = 128
	ICMPv6EchoReply    = 129
)

// Packet is a parsed IPv4 or IPv6 packet. Slices alias the input buffer.
type Packet struct {
	Src, Dst netip.Addr
	Proto    uint8
	TTL      uint8 // TTL or hop limit

	// TCP and UDP.
	SrcPort, DstPort uint16
	Flags            uint8 // TCP
	Seq, Ack         uint32
	Window           uint16
	Payload          []byte // TCP or UDP payload; ICMP echo data

	// ICMP and ICMPv6.
	ICMPType, ICMPCode uint8
	ICMPID, ICMPSeq    uint16 // echo request/reply
	// Inner is the datagram quoted by an ICMP error (unreachable, time
	// exceeded): it tells which probe the error is about.
	Inner Inner
}

// Inner is the head of the datagram an ICMP error quotes. Only the first
// 8 bytes of its transport header are guaranteed (RFC 792), which hold
// the ports and, for TCP, the sequence number.
type Inner struct {
	Valid            bool
	Src, Dst         netip.Addr
	Proto            uint8
	SrcPort, DstPort uint16
	Seq              uint32 // TCP
	ICMPID, ICMPSeq  uint16 // a quoted ICMP echo
}

// Parse decodes b, which starts at the IP header (AF_PACKET cooked mode,
// raw sockets). It never allocates and never panics on hostile input; ok
// is false when b is not a well-formed IPv4/IPv6 packet of a known kind.
func Parse(b []byte, p *Packet) (ok bool) {
	*p = Packet{}
	src, dst, proto, ttl, l4, ok := parseIP(b)
	if !ok {
		return false
	}
	p.Src, p.Dst, p.Proto, p.TTL = src, dst, proto, ttl
	switch proto {
	case ProtoTCP:
		if len(l4) < 20 {
			return false
		}
		p.SrcPort = binary.BigEndian.Uint16(l4[0:])
		p.DstPort = binary.BigEndian.Uint16(l4[2:])
		p.Seq = binary.BigEndian.Uint32(l4[4:])
		p.Ack = binary.BigEndian.Uint32(l4[8:])
		off := int(l4[12]>>4) * 4
		p.Flags = l4[13]
		p.Window = binary.BigEndian.Uint16(l4[14:])
		if off >= 20 && off <= len(l4) {
			p.Payload = l4[off:]
		}
	case ProtoUDP:
		if len(l4) < 8 {
			return false
		}
		p.SrcPort = binary.BigEndian.Uint16(l4[0:])
		p.DstPort = binary.BigEndian.Uint16(l4[2:])
		n := int(binary.BigEndian.Uint16(l4[4:]))
		if n < 8 || n > len(l4) {
			n = len(l4) // a truncated capture keeps what arrived
		}
		p.Payload = l4[8:n]
	case ProtoICMP, ProtoICMPv6:
		if len(l4) < 8 {
			return false
		}
		p.ICMPType, p.ICMPCode = l4[0], l4[1]
		echo := proto == ProtoICMP && (p.ICMPType == ICMPEchoReply || p.ICMPType == ICMPEchoRequest) ||
			proto == ProtoICMPv6 && (p.ICMPType == ICMPv6EchoReply || p.ICMPType == ICMPv6EchoRequest)
		if echo {
			p.ICMPID = binary.BigEndian.Uint16(l4[4:])
			p.ICMPSeq = binary.BigEndian.Uint16(l4[6:])
			p.Payload = l4[8:]
			return true
		}
		isErr := proto == ProtoICMP && (p.ICMPType == ICMPUnreachable || p.ICMPType == ICMPTimeExceeded) ||
			proto == ProtoICMPv6 && (p.ICMPType == ICMPv6Unreachable || p.ICMPType == ICMPv6TimeExceeded)
		if isErr {
			parseInner(l4[8:], &p.Inner)
		}
	default:
		return false
	}
	return true
}

// parseIP returns the addresses, protocol and transport bytes of an IPv4
// or IPv6 packet. IPv6 extension headers are skipped (at most 8).
func parseIP(b []byte) (src, dst netip.Addr, proto, ttl uint8, l4 []byte, ok bool) {
	if len(b) < 1 {
		return
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		if ihl < 20 || ihl > len(b) {
			return
		}
		if total < ihl || total > len(b) {
			total = len(b) // quoted datagrams are truncated; keep what we have
		}
		// A non-first fragment carries no transport header.
		if binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
			return
		}
		src = netip.AddrFrom4([4]byte(b[12:16]))
		dst = netip.AddrFrom4([4]byte(b[16:20]))
		return src, dst, b[9], b[8], b[ihl:total], true
	case 6:
		if len(b) < 40 {
			return
		}
		plen := int(binary.BigEndian.Uint16(b[4:]))
		end := 40 + plen
		if end > len(b) {
			end = len(b)
		}
		src = netip.AddrFrom16([16]byte(b[8:24]))
		dst = netip.AddrFrom16([16]byte(b[24:40]))
		next := b[6]
		rest := b[40:end]
		for range 8 {
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(rest) < 8 {
					return
				}
				n := (int(rest[1]) + 1) * 8
				if n > len(rest) {
					return
				}
				next, rest = rest[0], rest[n:]
				continue
			case 44: // fragment
				if len(rest) < 8 || binary.BigEndian.Uint16(rest[2:])&0xfff8 != 0 {
					return
				}
				next, rest = rest[0], rest[8:]
				continue
			}
			return src, dst, next, b[7], rest, true
		}
	}
	return
}

func parseInner(b []byte, in *Inner) {
	src, dst, proto, _, l4, ok := parseIP(b)
	if !ok || len(l4) < 4 {
		return
	}
	in.Valid, in.Src, in.Dst, in.Proto = true, src, dst, proto
	switch proto {
	case ProtoTCP, ProtoUDP:
		in.SrcPort = binary.BigEndian.Uint16(l4[0:])
		in.DstPort = binary.BigEndian.Uint16(l4[2:])
		if proto == ProtoTCP && len(l4) >= 8 {
			in.Seq = binary.BigEndian.Uint32(l4[4:])
		}
	case ProtoICMP, ProtoICMPv6:
		if len(l4) >= 8 {
			in.ICMPID = binary.BigEndian.Uint16(l4[4:])
			in.ICMPSeq = binary.BigEndian.Uint16(l4[6:])
		}
	}
}
