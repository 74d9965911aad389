// Package ber is a minimal encoder and decoder for the subset of ASN.1 BER
// (definite lengths only, as LDAP, SPNEGO and CredSSP use it) that the
// protocol modules need. It is written for hostile input: decoding never
// copies, never allocates from a length field, and rejects indefinite
// lengths, over-long tags and lengths that run past the buffer.
package ber

import (
	"errors"
	"fmt"
)

// Classes of a tag (the two high bits of the identifier octet).
const (
	ClassUniversal   = 0x00
	ClassApplication = 0x40
	ClassContext     = 0x80
	ClassPrivate     = 0xC0
)

// Constructed is the identifier bit of a constructed encoding.
const Constructed = 0x20

// Universal tags used by the modules.
const (
	TagBoolean     = 0x01
	TagInteger     = 0x02
	TagOctetString = 0x04
	TagEnumerated  = 0x0A
	TagOID         = 0x06
	TagSequence    = 0x30 // SEQUENCE, constructed
	TagSet         = 0x31 // SET, constructed
)

// MaxLength bounds any single element: nothing the modules parse is larger,
// and it keeps a 4-byte length field from describing gigabytes.
const MaxLength = 16 << 20

// Errors returned by the decoder.
var (
	ErrTruncated  = errors.New("ber: truncated element")
	ErrIndefinite = errors.New("ber: indefinite length not supported")
	ErrTooLong    = errors.New("ber: length too large")
	ErrBadTag     = errors.New("ber: unsupported tag encoding")
)

// Element is one decoded TLV. Content aliases the input buffer.
type Element struct {
	// Class is one of the Class constants.
	Class byte
	// Constructed reports the constructed bit.
	Constructed bool
	// Tag is the tag number (without class and constructed bits).
	Tag int
	// Ident is the raw first identifier octet (class|constructed|tag for
	// low tag numbers), handy for switch statements.
	Ident byte
	// Content is the value octets.
	Content []byte
	// Size is the full encoded size of the element (header + content).
	Size int
}

// HeaderLen reports the size of the element header at the start of b and
// its content length, or an error (ErrTruncated when b is too short to tell
// yet). It lets a reader wait for a whole element without parsing it.
func HeaderLen(b []byte) (hdr, length int, err error) {
	_, hdr, length, err = header(b)
	return hdr, length, err
}

func header(b []byte) (tag, hdr, length int, err error) {
	if len(b) < 2 {
		return 0, 0, 0, ErrTruncated
	}
	i := 1
	tag = int(b[0] & 0x1F)
	if tag == 0x1F {
		// High tag number form: at most 3 continuation octets (tags < 2^21).
		tag = 0
		for {
			if i >= len(b) {
				return 0, 0, 0, ErrTruncated
			}
			if i > 3 {
				return 0, 0, 0, ErrBadTag
			}
			c := b[i]
			i++
			tag = tag<<7 | int(c&0x7F)
			if c&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, 0, 0, ErrTruncated
	}
	l := int(b[i])
	i++
	if l == 0x80 {
		return 0, 0, 0, ErrIndefinite
	}
	if l > 0x80 {
		n := l & 0x7F
		if n > 4 {
			return 0, 0, 0, ErrTooLong
		}
		if i+n > len(b) {
			return 0, 0, 0, ErrTruncated
		}
		l = 0
		for _, c := range b[i : i+n] {
			l = l<<8 | int(c)
		}
		i += n
		if l > MaxLength {
			return 0, 0, 0, ErrTooLong
		}
	}
	return tag, i, l, nil
}

// Parse decodes the first element of b and returns it with the bytes that
// follow it.
func Parse(b []byte) (Element, []byte, error) {
	tag, hdr, l, err := header(b)
	if err != nil {
		return Element{}, nil, err
	}
	if l > len(b)-hdr {
		return Element{}, nil, ErrTruncated
	}
	e := Element{
		Class:       b[0] & 0xC0,
		Constructed: b[0]&Constructed != 0,
		Tag:         tag,
		Ident:       b[0],
		Content:     b[hdr : hdr+l],
		Size:        hdr + l,
	}
	return e, b[hdr+l:], nil
}

// Children decodes the elements inside a constructed element's content, at
// most max of them (further elements are an error, so a hostile peer cannot
// make the caller loop without end).
func Children(content []byte, max int) ([]Element, error) {
	var out []Element
	for len(content) > 0 {
		if len(out) >= max {
			return out, fmt.Errorf("ber: more than %d elements", max)
		}
		e, rest, err := Parse(content)
		if err != nil {
			return out, err
		}
		out = append(out, e)
		content = rest
	}
	return out, nil
}

// Int decodes a two's complement INTEGER or ENUMERATED content of at most 8
// octets.
func Int(content []byte) (int64, error) {
	if len(content) == 0 || len(content) > 8 {
		return 0, fmt.Errorf("ber: integer of %d octets", len(content))
	}
	v := int64(int8(content[0]))
	for _, c := range content[1:] {
		v = v<<8 | int64(c)
	}
	return v, nil
}

// OID decodes an OBJECT IDENTIFIER content to dotted form.
func OID(content []byte) (string, error) {
	if len(content) == 0 || len(content) > 128 {
		return "", fmt.Errorf("ber: OID of %d octets", len(content))
	}
	var arcs []uint64
	var v uint64
	for i, c := range content {
		if v > 1<<56 {
			return "", errors.New("ber: OID arc too large")
		}
		v = v<<7 | uint64(c&0x7F)
		if c&0x80 == 0 {
			if len(arcs) == 0 {
				switch {
				case v < 40:
					arcs = append(arcs, 0, v)
				case v < 80:
					arcs = append(arcs, 1, v-40)
				default:
					arcs = append(arcs, 2, v-80)
				}
			} else {
				arcs = append(arcs, v)
			}
			v = 0
		} else if i == len(content)-1 {
			return "", ErrTruncated
		}
	}
	s := make([]byte, 0, len(arcs)*4)
	for i, a := range arcs {
		if i > 0 {
			s = append(s, '.')
		}
		s = fmt.Appendf(s, "%d", a)
	}
	return string(s), nil
}

// Encoding.

// AppendLength appends a definite length in the shortest form.
func AppendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x100:
		return append(b, 0x81, byte(n))
	case n < 0x10000:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// TLV encodes one element with a single identifier octet (tags < 31) whose
// content is the concatenation of parts.
func TLV(ident byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n+6)
	b = append(b, ident)
	b = AppendLength(b, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// EncodeInt encodes an INTEGER-like element (ident TagInteger or
// TagEnumerated, or a context tag) in minimal two's complement.
func EncodeInt(ident byte, v int64) []byte {
	var c []byte
	for i := 7; i >= 0; i-- {
		c = append(c, byte(v>>(8*i)))
	}
	// Strip redundant leading octets.
	for len(c) > 1 && ((c[0] == 0 && c[1]&0x80 == 0) || (c[0] == 0xFF && c[1]&0x80 != 0)) {
		c = c[1:]
	}
	return TLV(ident, c)
}

// EncodeBool encodes a BOOLEAN.
func EncodeBool(v bool) []byte {
	if v {
		return []byte{TagBoolean, 1, 0xFF}
	}
	return []byte{TagBoolean, 1, 0}
}

// EncodeString encodes an OCTET STRING-like element.
func EncodeString(ident byte, s string) []byte {
	return TLV(ident, []byte(s))
}

// EncodeOID encodes a dotted OBJECT IDENTIFIER; it panics on a malformed
// literal because callers only pass constants.
func EncodeOID(dotted string) []byte {
	var arcs []uint64
	var v uint64
	digits := 0
	for i := 0; i <= len(dotted); i++ {
		if i == len(dotted) || dotted[i] == '.' {
			if digits == 0 {
				panic("ber: bad OID " + dotted)
			}
			arcs = append(arcs, v)
			v, digits = 0, 0
			continue
		}
		c := dotted[i]
		if c < '0' || c > '9' {
			panic("ber: bad OID " + dotted)
		}
		v = v*10 + uint64(c-'0')
		digits++
	}
	if len(arcs) < 2 {
		panic("ber: bad OID " + dotted)
	}
	var c []byte
	appendArc := func(a uint64) {
		var tmp [10]byte
		i := len(tmp) - 1
		tmp[i] = byte(a & 0x7F)
		for a >>= 7; a > 0; a >>= 7 {
			i--
			tmp[i] = byte(a&0x7F) | 0x80
		}
		c = append(c, tmp[i:]...)
	}
	appendArc(arcs[0]*40 + arcs[1])
	for _, a := range arcs[2:] {
		appendArc(a)
	}
	return TLV(TagOID, c)
}
