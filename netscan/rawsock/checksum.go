package rawsock

import (
	"encoding/binary"
	"net/netip"
)

// sum adds b to an unfolded ones'-complement sum.
func sum(b []byte, acc uint32) uint32 {
	n := len(b)
	i := 0
	for ; i+1 < n; i += 2 {
		acc += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if i < n {
		acc += uint32(b[i]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return ^uint16(acc)
}

// Checksum is the Internet checksum (RFC 1071) of b.
func Checksum(b []byte) uint16 { return fold(sum(b, 0)) }

// pseudoSum is the unfolded sum of the TCP/UDP/ICMPv6 pseudo-header.
func pseudoSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	var acc uint32
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		acc = sum(s[:], acc)
		acc = sum(d[:], acc)
	} else {
		s, d := src.As16(), dst.As16()
		acc = sum(s[:], acc)
		acc = sum(d[:], acc)
	}
	acc += uint32(proto)
	acc += uint32(length)
	return acc
}

// TransportChecksum is the checksum of a TCP, UDP or ICMPv6 segment (with
// its checksum field zeroed) under the pseudo-header of src and dst.
func TransportChecksum(src, dst netip.Addr, proto uint8, seg []byte) uint16 {
	return fold(sum(seg, pseudoSum(src, dst, proto, len(seg))))
}
