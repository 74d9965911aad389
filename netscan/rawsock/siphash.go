package rawsock

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Key is a SipHash-2-4 key. Each scan draws a fresh one, so answers to
// another run (or forged answers) do not validate.
type Key struct{ k0, k1 uint64 }

// NewKey returns a random key.
func NewKey() Key {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return Key{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])}
}

// KeyFrom builds a key from fixed words (tests).
func KeyFrom(k0, k1 uint64) Key { return Key{k0, k1} }

// Sum64 is SipHash-2-4 of msg.
func (k Key) Sum64(msg []byte) uint64 {
	v0 := k.k0 ^ 0x736f6d6570736575
	v1 := k.k1 ^ 0x646f72616e646f6d
	v2 := k.k0 ^ 0x6c7967656e657261
	v3 := k.k1 ^ 0x7465646279746573
	n := len(msg)
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	for len(msg) >= 8 {
		m := binary.LittleEndian.Uint64(msg)
		v3 ^= m
		round()
		round()
		v0 ^= m
		msg = msg[8:]
	}
	var last [8]byte
	copy(last[:], msg)
	last[7] = byte(n)
	m := binary.LittleEndian.Uint64(last[:])
	v3 ^= m
	round()
	round()
	v0 ^= m
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}

// Cookie is the keyed hash of a probe's 4-tuple (plus a protocol tag so
// that a TCP cookie never validates an ICMP answer). It does not allocate.
func (k Key) Cookie(proto byte, src, dst netip.Addr, sport, dport uint16) uint32 {
	var b [37]byte
	s16, d16 := src.As16(), dst.As16()
	copy(b[0:16], s16[:])
	copy(b[16:32], d16[:])
	binary.BigEndian.PutUint16(b[32:], sport)
	binary.BigEndian.PutUint16(b[34:], dport)
	b[36] = proto
	return uint32(k.Sum64(b[:]))
}
