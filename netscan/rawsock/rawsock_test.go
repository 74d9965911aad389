package rawsock

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// SipHash-2-4 reference vectors (Aumasson and Bernstein, appendix A): key
// 00 01 .. 0f, messages 00 01 .. (n-1).
func TestSipHashVectors(t *testing.T) {
	k := KeyFrom(0x0706050403020100, 0x0f0e0d0c0b0a0908)
	msg := make([]byte, 16)
	for i := range msg {
		msg[i] = byte(i)
	}
	for n, want := range map[int]uint64{0: 0x726fdb47dd0e0e31, 1: 0x74f839c593dc67fd, 8: 0x93f5f5799a932462, 15: 0xa129ca6149be45e5} {
		if got := k.Sum64(msg[:n]); got != want {
			t.Errorf("len %d: %016x, want %016x", n, got, want)
		}
	}
}

func ipNet(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

// The patched template equals what gopacket serialises with computed
// checksums for the same fields.
func TestSYNTemplateMatchesGopacket(t *testing.T) {
	for _, pair := range [][2]string{{"198.18.0.1", "198.18.0.2"}, {"2001:db8::1", "2001:db8::2"}} {
		src, dst := netip.MustParseAddr(pair[0]), netip.MustParseAddr(pair[1])
		tpl, err := NewSYNTemplate(src, 40000, 64)
		if err != nil {
			t.Fatal(err)
		}
		got := tpl.Build(nil, dst, 443, 0xdeadbeef, 0x1234)
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, Seq: 0xdeadbeef, SYN: true, Window: SYNWindow,
			Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}}
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if src.Is4() {
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 0x1234, Protocol: layers.IPProtocolTCP, SrcIP: ipNet(src), DstIP: ipNet(dst)}
			tcp.SetNetworkLayerForChecksum(ip)
			_ = gopacket.SerializeLayers(buf, opts, ip, tcp)
		} else {
			ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: ipNet(src), DstIP: ipNet(dst)}
			tcp.SetNetworkLayerForChecksum(ip)
			_ = gopacket.SerializeLayers(buf, opts, ip, tcp)
		}
		want := buf.Bytes()
		if src.Is6() {
			want = want[40:] // the kernel adds the IPv6 header
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %x\nwant %x", pair[0], got, want)
		}
	}
}

func TestEchoChecksum(t *testing.T) {
	src, dst := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	b := NewEchoTemplate(src, []byte("x")).Build(nil, dst, 7, 9)
	if Checksum(b) != 0 {
		t.Errorf("ICMP checksum does not verify: %x", b)
	}
	src6, dst6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	b6 := NewEchoTemplate(src6, []byte("x")).Build(nil, dst6, 7, 9)
	if TransportChecksum(src6, dst6, ProtoICMPv6, b6) != 0 {
		t.Errorf("ICMPv6 checksum does not verify: %x", b6)
	}
}

// packets builds test packets with gopacket.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	for _, l := range ls {
		if tcp, ok := l.(*layers.TCP); ok {
			tcp.SetNetworkLayerForChecksum(ls[0].(gopacket.NetworkLayer))
		}
		if udp, ok := l.(*layers.UDP); ok {
			udp.SetNetworkLayerForChecksum(ls[0].(gopacket.NetworkLayer))
		}
	}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

var (
	a4, b4 = net.IP{198, 18, 0, 2}, net.IP{198, 18, 0, 1}
	a6, b6 = net.ParseIP("2001:db8::2"), net.ParseIP("2001:db8::1")
)

func samplePackets(t testing.TB) map[string][]byte {
	v4 := func(p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 60, Protocol: p, SrcIP: a4, DstIP: b4}
	}
	synack := serialize(t, v4(layers.IPProtocolTCP), &layers.TCP{SrcPort: 443, DstPort: 40000, Seq: 1, Ack: 0xdeadbef0, SYN: true, ACK: true, Window: 64240})
	rst := serialize(t, v4(layers.IPProtocolTCP), &layers.TCP{SrcPort: 81, DstPort: 40000, Ack: 0x1001, RST: true, ACK: true})
	udp := serialize(t, v4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 53, DstPort: 40001}, gopacket.Payload("answer"))
	echo := serialize(t, v4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 0x4242, Seq: 7}, gopacket.Payload("x"))
	// An ICMP port unreachable quoting our SYN (header + 8 bytes).
	ours := serialize(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: b4, DstIP: a4},
		&layers.TCP{SrcPort: 40000, DstPort: 9003, Seq: 0xcafef00d, SYN: true})
	unreach := serialize(t, v4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 13)}, gopacket.Payload(ours[:28]))
	v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: a6, DstIP: b6}
	synack6 := serialize(t, v6, &layers.TCP{SrcPort: 22, DstPort: 40000, Ack: 5, SYN: true, ACK: true})
	return map[string][]byte{"synack": synack, "rst": rst, "udp": udp, "echo": echo, "unreach": unreach, "synack6": synack6}
}

func TestParse(t *testing.T) {
	ps := samplePackets(t)
	var p Packet
	if !Parse(ps["synack"], &p) || p.Proto != ProtoTCP || p.SrcPort != 443 || p.DstPort != 40000 || p.Ack != 0xdeadbef0 ||
		p.Flags != FlagSYN|FlagACK || p.Src != netip.MustParseAddr("198.18.0.2") || p.TTL != 60 {
		t.Errorf("synack: %+v", p)
	}
	if !Parse(ps["rst"], &p) || p.Flags&FlagRST == 0 || p.SrcPort != 81 {
		t.Errorf("rst: %+v", p)
	}
	if !Parse(ps["udp"], &p) || p.Proto != ProtoUDP || string(p.Payload) != "answer" || p.SrcPort != 53 {
		t.Errorf("udp: %+v", p)
	}
	if !Parse(ps["echo"], &p) || p.ICMPType != ICMPEchoReply || p.ICMPID != 0x4242 || p.ICMPSeq != 7 {
		t.Errorf("echo: %+v", p)
	}
	if !Parse(ps["unreach"], &p) || p.ICMPType != 3 || p.ICMPCode != 13 || !p.Inner.Valid || p.Inner.Proto != ProtoTCP ||
		p.Inner.SrcPort != 40000 || p.Inner.DstPort != 9003 || p.Inner.Seq != 0xcafef00d || p.Inner.Dst != netip.MustParseAddr("198.18.0.2") {
		t.Errorf("unreach: %+v", p)
	}
	if !Parse(ps["synack6"], &p) || p.Src != netip.MustParseAddr("2001:db8::2") || p.SrcPort != 22 || p.Ack != 5 {
		t.Errorf("synack6: %+v", p)
	}
	for _, bad := range [][]byte{nil, {0x45}, {0x60, 0, 0}, bytes.Repeat([]byte{0x45}, 19), {0x50, 0, 0, 0}} {
		if Parse(bad, &p) {
			t.Errorf("parsed garbage %x", bad)
		}
	}
	// Truncations never panic.
	for _, b := range ps {
		for i := range b {
			Parse(b[:i], &p)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, b := range samplePackets(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		if Parse(b, &p) && len(p.Payload) > len(b) {
			t.Fatalf("payload longer than the packet")
		}
	})
}

// The BPF program passes exactly what the scanners read.
func TestFilter(t *testing.T) {
	ps := samplePackets(t)
	run := func(spec FilterSpec, pkt []byte) bool {
		prog, err := Filter(spec)
		if err != nil {
			t.Fatal(err)
		}
		ins := make([]bpf.Instruction, len(prog))
		for i, r := range prog {
			ins[i] = r.Disassemble()
		}
		vm, err := bpf.NewVM(ins)
		if err != nil {
			t.Fatal(err)
		}
		n, err := vm.Run(pkt)
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	syn := FilterSpec{TCPDstPort: 40000, ICMPErrors: true}
	cases := []struct {
		spec FilterSpec
		pkt  string
		want bool
	}{
		{syn, "synack", true}, {syn, "rst", true}, {syn, "synack6", true}, {syn, "unreach", true},
		{syn, "udp", false}, {syn, "echo", false},
		{FilterSpec{TCPDstPort: 40001}, "synack", false},
		{FilterSpec{TCPPorts: []uint16{39999, 40000}}, "synack", true},
		{FilterSpec{UDPDstPort: 40001}, "udp", true},
		{FilterSpec{UDPDstPort: 40002}, "udp", false},
		{FilterSpec{Echo: true}, "echo", true},
		{FilterSpec{Echo: true}, "unreach", false},
	}
	for i, c := range cases {
		if got := run(c.spec, ps[c.pkt]); got != c.want {
			t.Errorf("case %d (%s): %v, want %v", i, c.pkt, got, c.want)
		}
	}
	arp, err := ARPReplyFilter()
	if err != nil || len(arp) == 0 {
		t.Fatal(err)
	}
}

func TestStamp(t *testing.T) {
	s := Stamp{Key: KeyFrom(1, 2), Epoch: time.Now().Add(-5 * time.Millisecond)}
	src, dst := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	seq := s.Seq(ProtoTCP, src, dst, 40000, 443)
	rtt, ok := s.Check(ProtoTCP, src, dst, 40000, 443, seq)
	if !ok || rtt > 100*time.Millisecond {
		t.Errorf("check: %v %v", rtt, ok)
	}
	if _, ok := s.Check(ProtoTCP, src, dst, 40000, 444, seq); ok {
		t.Errorf("another port validated")
	}
	if _, ok := (Stamp{Key: KeyFrom(3, 4), Epoch: s.Epoch}).Check(ProtoTCP, src, dst, 40000, 443, seq); ok {
		t.Errorf("another key validated")
	}
	if _, ok := s.Check(ProtoTCP, src, dst, 40000, 443, seq^0x100000); ok {
		t.Errorf("a flipped cookie bit validated")
	}
	if s.Echo16(src, dst) == s.Echo16(dst, src) {
		t.Logf("echo IDs collide both ways (possible, 1/65536)")
	}
	_ = binary.BigEndian
}
