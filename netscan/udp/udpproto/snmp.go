package udpproto

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// The SNMP requests are built by hand in BER: one GetRequest for
// sysDescr.0, sysObjectID.0 and sysName.0 with community "public" (v1,
// then v2c on the retry) and the v3 discovery request (no user, reportable
// flag) that every SNMPv3 engine answers with a Report carrying its
// engine ID, even when no community is accepted.

var systemOIDs = []string{"1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0"}

func tlv(tag byte, v []byte) []byte {
	n := len(v)
	var out []byte
	switch {
	case n < 0x80:
		out = append(out, tag, byte(n))
	case n < 0x100:
		out = append(out, tag, 0x81, byte(n))
	default:
		out = append(out, tag, 0x82, byte(n>>8), byte(n))
	}
	return append(out, v...)
}

func berInt(v int64) []byte {
	var b []byte
	for {
		b = append([]byte{byte(v)}, b...)
		if (v >= -128 && v <= 127) || len(b) >= 8 {
			break
		}
		v >>= 8
	}
	return tlv(0x02, b)
}

func berOID(s string) []byte {
	parts := strings.Split(s, ".")
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		nums[i], _ = strconv.ParseUint(p, 10, 32)
	}
	out := []byte{byte(40*nums[0] + nums[1])}
	for _, x := range nums[2:] {
		enc := []byte{byte(x & 0x7f)}
		for x >>= 7; x > 0; x >>= 7 {
			enc = append([]byte{byte(0x80 | x&0x7f)}, enc...)
		}
		out = append(out, enc...)
	}
	return tlv(0x06, out)
}

func snmpGet(version int64, community string, reqID int64) []byte {
	var vbl []byte
	for _, o := range systemOIDs {
		vbl = append(vbl, tlv(0x30, append(berOID(o), 0x05, 0x00))...)
	}
	pdu := tlv(0xa0, concat(berInt(reqID), berInt(0), berInt(0), tlv(0x30, vbl)))
	return tlv(0x30, concat(berInt(version), tlv(0x04, []byte(community)), pdu))
}

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func snmpV1Request() Request {
	return Request{Name: "SNMPv1public", Payload: snmpGet(0, "public", int64(random16()&0x7fff)+1)}
}

func snmpV2cRequest() Request {
	return Request{Name: "SNMPv2cpublic", Payload: snmpGet(1, "public", int64(random16()&0x7fff)+1)}
}

func snmpV3Request() Request {
	usm := tlv(0x30, concat(tlv(0x04, nil), berInt(0), berInt(0), tlv(0x04, nil), tlv(0x04, nil), tlv(0x04, nil)))
	id := int64(random16()&0x7fff) + 1
	global := tlv(0x30, concat(berInt(id), berInt(65507), tlv(0x04, []byte{0x04}), berInt(3)))
	scoped := tlv(0x30, concat(tlv(0x04, nil), tlv(0x04, nil), tlv(0xa0, concat(berInt(id+1), berInt(0), berInt(0), tlv(0x30, nil)))))
	return Request{Name: "SNMPv3GetRequest", Payload: tlv(0x30, concat(berInt(3), global, tlv(0x04, usm), scoped))}
}

// ber is a bounded BER reader over one buffer.
type ber struct{ b []byte }

var errBER = errors.New("bad BER")

// next reads one TLV: its tag and contents.
func (r *ber) next() (byte, []byte, error) {
	if len(r.b) < 2 {
		return 0, nil, errBER
	}
	tag := r.b[0]
	n := int(r.b[1])
	off := 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 3 || len(r.b) < 2+k {
			return 0, nil, errBER
		}
		n = 0
		for i := 0; i < k; i++ {
			n = n<<8 | int(r.b[2+i])
		}
		off += k
	}
	if n > len(r.b)-off {
		return 0, nil, errBER
	}
	v := r.b[off : off+n]
	r.b = r.b[off+n:]
	return tag, v, nil
}

func (r *ber) expect(tag byte) ([]byte, error) {
	t, v, err := r.next()
	if err != nil {
		return nil, err
	}
	if t != tag {
		return nil, errBER
	}
	return v, nil
}

func berToInt(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 8 {
		return 0, false
	}
	x := int64(int8(v[0]))
	for _, c := range v[1:] {
		x = x<<8 | int64(c)
	}
	return x, true
}

func berToOID(v []byte) string {
	if len(v) == 0 || len(v) > 128 {
		return ""
	}
	var sb strings.Builder
	first := int(v[0])
	sb.WriteString(strconv.Itoa(min(first/40, 2)))
	sb.WriteByte('.')
	sb.WriteString(strconv.Itoa(first - 40*min(first/40, 2)))
	var x uint64
	for _, c := range v[1:] {
		x = x<<7 | uint64(c&0x7f)
		if x > 1<<32 {
			return ""
		}
		if c&0x80 == 0 {
			sb.WriteByte('.')
			sb.WriteString(strconv.FormatUint(x, 10))
			x = 0
		}
	}
	return sb.String()
}

func (ev *Evidence) addSNMP(probe string, reply []byte) {
	top := ber{reply}
	msg, err := top.expect(0x30)
	if err != nil {
		return
	}
	r := ber{msg}
	v, err := r.expect(0x02)
	if err != nil {
		return
	}
	version, ok := berToInt(v)
	if !ok {
		return
	}
	if version == 3 {
		ev.addSNMPv3(&r)
		return
	}
	comm, err := r.expect(0x04)
	if err != nil {
		return
	}
	tag, pdu, err := r.next()
	if err != nil || tag != 0xa2 { // GetResponse
		return
	}
	vs := map[int64]string{0: "1", 1: "2c"}[version]
	if vs == "" {
		return
	}
	ev.set("snmp.version", vs)
	ev.set("snmp.community", latin1(comm))
	p := ber{pdu}
	if _, err := p.expect(0x02); err != nil { // request id
		return
	}
	es, err := p.expect(0x02)
	if err != nil {
		return
	}
	if n, ok := berToInt(es); ok {
		ev.set("snmp.error_status", strconv.FormatInt(n, 10))
	}
	_, _ = p.expect(0x02) // error index
	ev.confirm("snmp", 95)
	vbl, err := p.expect(0x30)
	if err != nil {
		return
	}
	l := ber{vbl}
	for i := 0; i < 16 && len(l.b) > 0; i++ {
		vb, err := l.expect(0x30)
		if err != nil {
			return
		}
		x := ber{vb}
		o, err := x.expect(0x06)
		if err != nil {
			return
		}
		tag, val, err := x.next()
		if err != nil {
			return
		}
		switch berToOID(o) {
		case "1.3.6.1.2.1.1.1.0":
			if tag == 0x04 {
				ev.set("snmp.sysdescr", latin1(clip(val, 512)))
			}
		case "1.3.6.1.2.1.1.2.0":
			if tag == 0x06 {
				ev.set("snmp.sysobjectid", berToOID(val))
			}
		case "1.3.6.1.2.1.1.5.0":
			if tag == 0x04 {
				ev.set("snmp.sysname", latin1(clip(val, 255)))
			}
		}
	}
}

func (ev *Evidence) addSNMPv3(r *ber) {
	if _, err := r.expect(0x30); err != nil { // msgGlobalData
		return
	}
	sp, err := r.expect(0x04) // msgSecurityParameters
	if err != nil {
		return
	}
	outer := ber{sp}
	usm, err := outer.expect(0x30)
	if err != nil {
		return
	}
	u := ber{usm}
	eid, err := u.expect(0x04)
	if err != nil {
		return
	}
	ev.set("snmp.version", "3")
	ev.confirm("snmp", 95)
	if len(eid) == 0 {
		return
	}
	ev.set("snmp.engineid", hex.EncodeToString(clip(eid, 64)))
	if b, err := u.expect(0x02); err == nil {
		if n, ok := berToInt(b); ok {
			ev.set("snmp.engine.boots", strconv.FormatInt(n, 10))
		}
	}
	if b, err := u.expect(0x02); err == nil {
		if n, ok := berToInt(b); ok {
			ev.set("snmp.engine.time", strconv.FormatInt(n, 10))
		}
	}
	// RFC 3411: the first bit set means the next four bytes (minus the
	// bit) are the vendor's IANA enterprise number, then a format byte.
	if len(eid) >= 5 && eid[0]&0x80 != 0 {
		ent := uint32(eid[0]&0x7f)<<24 | uint32(eid[1])<<16 | uint32(eid[2])<<8 | uint32(eid[3])
		ev.set("snmp.engineid.enterprise", strconv.FormatUint(uint64(ent), 10))
		format := eid[4]
		ev.set("snmp.engineid.format", strconv.Itoa(int(format)))
		if format == 4 && len(eid) > 5 && printable(eid[5:]) {
			ev.set("snmp.engineid.text", latin1(clip(eid[5:], 64)))
		}
	}
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
