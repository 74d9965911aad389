package rawsock

import (
	"net/netip"
	"time"
)

// Stamp packs a cookie and a send time into the 32 bits a reply echoes
// (a TCP sequence number): the high 21 bits are the keyed hash of the
// probe's 4-tuple, the low 11 bits the send time in milliseconds. A reply
// is then validated and timed without remembering the probe. RTTs above
// 2.047s wrap (scanners cap their timeouts below that).
type Stamp struct {
	Key   Key
	Epoch time.Time
}

const (
	stampBits = 11
	stampMask = 1<<stampBits - 1
)

// NewStamp draws a fresh key.
func NewStamp() Stamp { return Stamp{Key: NewKey(), Epoch: time.Now()} }

func (s Stamp) tick() uint32 { return s.tickAt(time.Now()) }

func (s Stamp) tickAt(t time.Time) uint32 { return uint32(t.Sub(s.Epoch) / time.Millisecond) }

// Seq is the value to send for a probe of proto from src:sport to dst:dport.
func (s Stamp) Seq(proto byte, src, dst netip.Addr, sport, dport uint16) uint32 {
	c := s.Key.Cookie(proto, src, dst, sport, dport)
	return c&^stampMask | s.tick()&stampMask
}

// Check validates the value a reply echoed (for TCP, the acknowledgment
// number minus one) and returns the round-trip time, rounded up to the
// next half millisecond.
func (s Stamp) Check(proto byte, src, dst netip.Addr, sport, dport uint16, echoed uint32) (time.Duration, bool) {
	return s.CheckAt(proto, src, dst, sport, dport, echoed, time.Now())
}

// CheckAt is Check for a reply that arrived at time at.
func (s Stamp) CheckAt(proto byte, src, dst netip.Addr, sport, dport uint16, echoed uint32, at time.Time) (time.Duration, bool) {
	c := s.Key.Cookie(proto, src, dst, sport, dport)
	if (echoed^c)&^stampMask != 0 {
		return 0, false
	}
	return time.Duration((s.tickAt(at)-echoed)&stampMask)*time.Millisecond + time.Millisecond/2, true
}

// Echo16 is the ICMP echo identifier for a probe from src to dst, and
// EchoSeq its sequence number (the send time, in milliseconds modulo
// 65536).
func (s Stamp) Echo16(src, dst netip.Addr) uint16 {
	return uint16(s.Key.Cookie(ProtoICMP, src, dst, 0, 0))
}

// EchoSeq is the sequence number to send: the time in milliseconds.
func (s Stamp) EchoSeq() uint16 { return uint16(s.tick()) }

// EchoRTT is the round-trip time of an echo reply carrying seq.
func (s Stamp) EchoRTT(seq uint16) time.Duration { return s.EchoRTTAt(seq, time.Now()) }

// EchoRTTAt is EchoRTT for a reply that arrived at time at.
func (s Stamp) EchoRTTAt(seq uint16, at time.Time) time.Duration {
	return time.Duration(uint16(s.tickAt(at))-seq)*time.Millisecond + time.Millisecond/2
}
