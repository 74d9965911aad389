package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Record types and classes used by the module.
const (
	TypeTXT  = 16
	TypeOPT  = 41
	ClassIN  = 1
	ClassCH  = 3
	maxName  = 255 // RFC 1035 §2.3.4
	maxJumps = 32  // compression pointers followed for one name
	// maxRecords caps each section: answers to a CHAOS query are a handful.
	maxRecords = 64
	// maxTXT caps the strings kept from one TXT record set.
	maxTXT = 32
)

// Header flag bits (RFC 1035 §4.1.1, RFC 4035 for AD/CD).
const (
	flagQR = 1 << 15
	flagAA = 1 << 10
	flagTC = 1 << 9
	flagRD = 1 << 8
	flagRA = 1 << 7
	flagAD = 1 << 5
	flagCD = 1 << 4
)

// ErrNotDNS is returned when bytes cannot be a DNS message.
var ErrNotDNS = errors.New("dns: not a DNS message")

// Question is one entry of the question section.
type Question struct {
	Name  string
	Type  uint16
	Class uint16
}

// RR is one resource record. Data aliases the parsed buffer; TXT holds the
// decoded character-strings of TXT records.
type RR struct {
	Name  string
	Type  uint16
	Class uint16
	TTL   uint32
	Data  []byte
	TXT   []string
}

// Message is a parsed DNS message.
type Message struct {
	ID         uint16
	Flags      uint16
	Opcode     int
	Rcode      int
	Questions  []Question
	Answers    []RR
	Authority  []RR
	Additional []RR
}

// Response reports the QR bit.
func (m *Message) Response() bool { return m.Flags&flagQR != 0 }

// FlagString renders the header flags the way dig does ("qr aa rd").
func (m *Message) FlagString() string {
	var out []string
	for _, f := range []struct {
		bit  uint16
		name string
	}{{flagQR, "qr"}, {flagAA, "aa"}, {flagTC, "tc"}, {flagRD, "rd"}, {flagRA, "ra"}, {flagAD, "ad"}, {flagCD, "cd"}} {
		if m.Flags&f.bit != 0 {
			out = append(out, f.name)
		}
	}
	return strings.Join(out, " ")
}

// RcodeName names a response code (RFC 1035, RFC 2136); unknown codes are
// rendered in decimal.
func RcodeName(rc int) string {
	names := []string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}
	if rc >= 0 && rc < len(names) {
		return names[rc]
	}
	return fmt.Sprintf("%d", rc)
}

// TXT returns the strings of the TXT answers, in order.
func (m *Message) TXT() []string {
	var out []string
	for _, rr := range m.Answers {
		if rr.Type == TypeTXT {
			out = append(out, rr.TXT...)
		}
	}
	return out
}

// BuildQuery encodes a query for name (dotted, no trailing dot needed) with
// one question and no EDNS. rd sets the recursion desired bit.
func BuildQuery(id uint16, name string, qtype, qclass uint16, rd bool) []byte {
	b := make([]byte, 12, 12+len(name)+6)
	binary.BigEndian.PutUint16(b[0:], id)
	if rd {
		binary.BigEndian.PutUint16(b[2:], flagRD)
	}
	binary.BigEndian.PutUint16(b[4:], 1) // QDCOUNT
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 {
			continue
		}
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = binary.BigEndian.AppendUint16(b, qclass)
	return b
}

// BuildVersionQuery is the classic "version.bind CH TXT" query in its UDP
// form (no length prefix), without recursion desired.
func BuildVersionQuery(id uint16) []byte {
	return BuildQuery(id, "version.bind", TypeTXT, ClassCH, false)
}

// TCPFrame prefixes a message with its 2-byte length for DNS over TCP.
func TCPFrame(msg []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
}

// ParseResponse decodes one DNS message in its UDP form (no length prefix).
// It is bounded: section counts, name lengths and compression jumps are
// capped, and every offset is checked against the buffer.
func ParseResponse(b []byte) (*Message, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotDNS, len(b))
	}
	m := &Message{
		ID:    binary.BigEndian.Uint16(b[0:]),
		Flags: binary.BigEndian.Uint16(b[2:]),
	}
	m.Opcode = int(m.Flags>>11) & 0xF
	m.Rcode = int(m.Flags & 0xF)
	qd := int(binary.BigEndian.Uint16(b[4:]))
	an := int(binary.BigEndian.Uint16(b[6:]))
	ns := int(binary.BigEndian.Uint16(b[8:]))
	ar := int(binary.BigEndian.Uint16(b[10:]))
	if qd > 16 {
		return nil, fmt.Errorf("%w: %d questions", ErrNotDNS, qd)
	}
	off := 12
	for i := 0; i < qd; i++ {
		name, n, err := readName(b, off)
		if err != nil {
			return m, err
		}
		off = n
		if off+4 > len(b) {
			return m, fmt.Errorf("dns: truncated question")
		}
		m.Questions = append(m.Questions, Question{Name: name, Type: binary.BigEndian.Uint16(b[off:]), Class: binary.BigEndian.Uint16(b[off+2:])})
		off += 4
	}
	sections := []struct {
		n   int
		dst *[]RR
	}{{an, &m.Answers}, {ns, &m.Authority}, {ar, &m.Additional}}
	for _, s := range sections {
		for i := 0; i < s.n && i < maxRecords; i++ {
			rr, n, err := readRR(b, off)
			if err != nil {
				return m, err
			}
			off = n
			*s.dst = append(*s.dst, rr)
		}
		if s.n > maxRecords {
			// Do not walk further sections past records we skipped.
			break
		}
	}
	return m, nil
}

func readRR(b []byte, off int) (RR, int, error) {
	name, off, err := readName(b, off)
	if err != nil {
		return RR{}, 0, err
	}
	if off+10 > len(b) {
		return RR{}, 0, errors.New("dns: truncated record header")
	}
	rr := RR{
		Name:  name,
		Type:  binary.BigEndian.Uint16(b[off:]),
		Class: binary.BigEndian.Uint16(b[off+2:]),
		TTL:   binary.BigEndian.Uint32(b[off+4:]),
	}
	l := int(binary.BigEndian.Uint16(b[off+8:]))
	off += 10
	if off+l > len(b) {
		return RR{}, 0, errors.New("dns: truncated record data")
	}
	rr.Data = b[off : off+l]
	if rr.Type == TypeTXT {
		d := rr.Data
		for len(d) > 0 && len(rr.TXT) < maxTXT {
			n := int(d[0])
			if 1+n > len(d) {
				return RR{}, 0, errors.New("dns: truncated TXT string")
			}
			rr.TXT = append(rr.TXT, string(d[1:1+n]))
			d = d[1+n:]
		}
	}
	return rr, off + l, nil
}

// readName decodes a possibly compressed name at off and returns it in
// dotted form with the offset just after it in the original position.
func readName(b []byte, off int) (string, int, error) {
	var sb strings.Builder
	end := -1
	jumps := 0
	for {
		if off >= len(b) {
			return "", 0, errors.New("dns: truncated name")
		}
		c := int(b[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if end < 0 {
					end = off + 1
				}
				if sb.Len() == 0 {
					return ".", end, nil
				}
				return sb.String(), end, nil
			}
			if off+1+c > len(b) {
				return "", 0, errors.New("dns: truncated label")
			}
			if sb.Len()+c+1 > maxName {
				return "", 0, errors.New("dns: name too long")
			}
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.Write(b[off+1 : off+1+c])
			off += 1 + c
		case 0xC0:
			if off+1 >= len(b) {
				return "", 0, errors.New("dns: truncated pointer")
			}
			if jumps++; jumps > maxJumps {
				return "", 0, errors.New("dns: compression loop")
			}
			if end < 0 {
				end = off + 2
			}
			off = int(binary.BigEndian.Uint16(b[off:]) & 0x3FFF)
		default:
			return "", 0, fmt.Errorf("dns: unsupported label type %#x", c)
		}
	}
}
