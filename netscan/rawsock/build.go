package rawsock

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// SYNWindow is the window of our SYNs; MSS the one option they carry. A
// SYN without any option is rare in real traffic and some stacks answer it
// differently; one MSS option is what common clients and nmap send.
const (
	SYNWindow = 1024
	SYNMSS    = 1460
)

// SYNTemplate is a TCP SYN built once with gopacket and patched per probe.
// For IPv4 it is a whole IP packet (for an IPPROTO_RAW socket); for IPv6
// only the TCP segment (the kernel adds the header).
type SYNTemplate struct {
	src     netip.Addr
	sport   uint16
	pkt     []byte
	tcpOff  int
	tcpLen  int
	partial uint32 // unfolded checksum of the constant parts
}

// NewSYNTemplate builds the SYN that src:sport sends.
func NewSYNTemplate(src netip.Addr, sport uint16, ttl uint8) (*SYNTemplate, error) {
	if ttl == 0 {
		ttl = 64
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(sport), DstPort: 0, SYN: true, Window: SYNWindow,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4,
			OptionData: binary.BigEndian.AppendUint16(nil, SYNMSS)}},
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true}
	var err error
	t := &SYNTemplate{src: src, sport: sport}
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Protocol: layers.IPProtocolTCP,
			SrcIP: net.IP(src.AsSlice()), DstIP: net.IPv4zero.To4()}
		err = gopacket.SerializeLayers(buf, opts, ip, tcp)
		t.tcpOff = 20
	} else {
		err = gopacket.SerializeLayers(buf, opts, tcp)
	}
	if err != nil {
		return nil, fmt.Errorf("build SYN: %w", err)
	}
	t.pkt = append([]byte(nil), buf.Bytes()...)
	t.tcpLen = len(t.pkt) - t.tcpOff
	// Constant part of the TCP checksum: the segment as built (ports, flags,
	// window, options) with zero checksum, seq and destination port.
	seg := t.pkt[t.tcpOff:]
	binary.BigEndian.PutUint16(seg[16:], 0)
	t.partial = sum(seg, 0)
	return t, nil
}

// Len is the size of the packets the template makes.
func (t *SYNTemplate) Len() int { return len(t.pkt) }

// Build writes the SYN for dst:dport with sequence number seq into buf
// (appending to buf[:0]) and returns it. ipid is the IPv4 identification.
func (t *SYNTemplate) Build(buf []byte, dst netip.Addr, dport uint16, seq uint32, ipid uint16) []byte {
	b := append(buf[:0], t.pkt...)
	if t.tcpOff == 20 {
		d := dst.As4()
		copy(b[16:20], d[:])
		binary.BigEndian.PutUint16(b[4:], ipid)
		binary.BigEndian.PutUint16(b[10:], 0)
		binary.BigEndian.PutUint16(b[10:], Checksum(b[:20]))
	}
	seg := b[t.tcpOff:]
	binary.BigEndian.PutUint16(seg[2:], dport)
	binary.BigEndian.PutUint32(seg[4:], seq)
	acc := t.partial + uint32(dport) + seq>>16 + seq&0xffff
	acc += pseudoSum(t.src, dst, ProtoTCP, t.tcpLen)
	binary.BigEndian.PutUint16(seg[16:], fold(acc))
	return b
}

// EchoTemplate is an ICMP or ICMPv6 echo request (the message only; the
// kernel adds the IP header).
type EchoTemplate struct {
	six  bool
	src  netip.Addr
	data []byte
}

// NewEchoTemplate builds echo requests from src carrying data.
func NewEchoTemplate(src netip.Addr, data []byte) *EchoTemplate {
	return &EchoTemplate{six: src.Is6() && !src.Is4In6(), src: src, data: append([]byte(nil), data...)}
}

// Build writes the echo request with the given identifier and sequence
// number into buf. For ICMPv6 the kernel fills in the checksum.
func (t *EchoTemplate) Build(buf []byte, dst netip.Addr, id, seq uint16) []byte {
	sb := gopacket.NewSerializeBufferExpectedSize(16, len(t.data))
	if t.six {
		_ = gopacket.SerializeLayers(sb, gopacket.SerializeOptions{},
			&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(ICMPv6EchoRequest, 0)},
			&layers.ICMPv6Echo{Identifier: id, SeqNumber: seq}, gopacket.Payload(t.data))
	} else {
		_ = gopacket.SerializeLayers(sb, gopacket.SerializeOptions{},
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(ICMPEchoRequest, 0), Id: id, Seq: seq}, gopacket.Payload(t.data))
	}
	b := append(buf[:0], sb.Bytes()...)
	binary.BigEndian.PutUint16(b[2:], 0)
	if t.six {
		binary.BigEndian.PutUint16(b[2:], TransportChecksum(t.src, dst, ProtoICMPv6, b))
	} else {
		binary.BigEndian.PutUint16(b[2:], Checksum(b))
	}
	return b
}
