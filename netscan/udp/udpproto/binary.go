package udpproto

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// STUN (RFC 8489): a Binding Request; the success response may carry a
// SOFTWARE attribute naming the server.
const stunMagic = 0x2112A442

func stunRequest() Request {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b, 0x0001)
	binary.BigEndian.PutUint32(b[4:], stunMagic)
	copy(b[8:], randomBytes(12))
	return Request{Name: "STUNBindingRequest", Payload: b}
}

func (ev *Evidence) addSTUN(req, reply []byte) {
	if len(reply) < 20 || reply[0]&0xc0 != 0 || binary.BigEndian.Uint32(reply[4:]) != stunMagic {
		return
	}
	if len(req) >= 20 && !bytes.Equal(req[8:20], reply[8:20]) {
		return
	}
	typ := binary.BigEndian.Uint16(reply)
	ev.set("stun.message_type", fmt.Sprintf("0x%04x", typ))
	n := int(binary.BigEndian.Uint16(reply[2:]))
	attrs := reply[20:]
	if n < len(attrs) {
		attrs = attrs[:n]
	}
	for i := 0; i < 64 && len(attrs) >= 4; i++ {
		at := binary.BigEndian.Uint16(attrs)
		al := int(binary.BigEndian.Uint16(attrs[2:]))
		if 4+al > len(attrs) {
			break
		}
		v := attrs[4 : 4+al]
		switch at {
		case 0x8022: // SOFTWARE
			ev.set("stun.software", latin1(clip(bytes.TrimRight(v, "\x00"), 256)))
		case 0x0020: // XOR-MAPPED-ADDRESS
			ev.set("stun.mapped_address", stunAddr(v, reply[4:20], true))
		case 0x0001: // MAPPED-ADDRESS
			if _, ok := ev.Fields["stun.mapped_address"]; !ok {
				ev.set("stun.mapped_address", stunAddr(v, nil, false))
			}
		case 0x802c, 0x802b: // OTHER-ADDRESS, RESPONSE-ORIGIN
			if at == 0x802c {
				ev.set("stun.other_address", stunAddr(v, nil, false))
			}
		case 0x8028:
			ev.set("stun.fingerprint", "true")
		}
		attrs = attrs[4+(al+3)&^3:]
	}
	ev.confirm("stun", 95)
}

func stunAddr(v, xor []byte, x bool) string {
	if len(v) < 8 {
		return ""
	}
	port := binary.BigEndian.Uint16(v[2:])
	switch v[1] {
	case 1:
		a := [4]byte(v[4:8])
		if x {
			port ^= uint16(stunMagic >> 16)
			for i := range a {
				a[i] ^= xor[i]
			}
		}
		return netip.AddrPortFrom(netip.AddrFrom4(a), port).String()
	case 2:
		if len(v) < 20 {
			return ""
		}
		a := [16]byte(v[4:20])
		if x {
			port ^= uint16(stunMagic >> 16)
			for i := range a {
				a[i] ^= xor[i]
			}
		}
		return netip.AddrPortFrom(netip.AddrFrom16(a), port).String()
	}
	return ""
}

// NetBIOS name service (RFC 1002 §4.2.17): a node status request for the
// wildcard name "*" lists the node's names and its MAC address.
func nbstatRequest() Request {
	b := make([]byte, 12, 50)
	binary.BigEndian.PutUint16(b, random16())
	binary.BigEndian.PutUint16(b[4:], 1) // QDCOUNT
	b = append(b, 0x20, 'C', 'K')
	for i := 0; i < 30; i++ {
		b = append(b, 'A')
	}
	b = append(b, 0, 0, 0x21, 0, 1) // NBSTAT, IN
	return Request{Name: "NBTStat", Payload: b}
}

func (ev *Evidence) addNBNS(reply []byte) {
	// Header (12), name (34: length, 32 encoded, 0), type, class, TTL,
	// rdlength, number of names, 18 bytes per name, then the unit ID.
	const nameOff = 12 + 34 + 2 + 2 + 4 + 2
	if len(reply) < nameOff+1 || reply[2]&0x80 == 0 || binary.BigEndian.Uint16(reply[12+34:]) != 0x21 {
		return
	}
	n := int(reply[nameOff])
	off := nameOff + 1
	var names []string
	for i := 0; i < n && i < 64 && off+18 <= len(reply); i++ {
		name := strings.TrimRight(string(reply[off:off+15]), " \x00")
		suffix := reply[off+15]
		flags := binary.BigEndian.Uint16(reply[off+16:])
		group := flags&0x8000 != 0
		entry := fmt.Sprintf("%s<%02x>", latin1([]byte(name)), suffix)
		if group {
			entry += "g"
		}
		names = append(names, entry)
		switch {
		case suffix == 0 && !group && ev.Fields["nbns.hostname"] == "":
			ev.set("nbns.hostname", latin1([]byte(name)))
		case suffix == 0 && group && ev.Fields["nbns.workgroup"] == "":
			ev.set("nbns.workgroup", latin1([]byte(name)))
		}
		off += 18
	}
	ev.set("nbns.names", strings.Join(names, ","))
	if off+6 <= len(reply) {
		m := reply[off : off+6]
		ev.set("nbns.mac", fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]))
	}
	ev.confirm("netbios-ns", 95)
}

// IKEv1 main mode (RFC 2409): one proposal with the transforms most
// gateways accept (3DES/AES, SHA1/MD5, PSK, MODP 1024/1536/2048), which
// draws either a main mode answer or a NO-PROPOSAL-CHOSEN notification;
// either may carry vendor ID payloads that name the implementation.
func ikeRequest() Request {
	type tr struct{ enc, hash, auth, group uint16 }
	trs := []tr{{7, 2, 1, 14}, {7, 2, 1, 2}, {5, 2, 1, 2}, {5, 1, 1, 2}, {5, 2, 1, 5}, {7, 1, 1, 2}}
	var transforms []byte
	for i, t := range trs {
		attrs := []byte{}
		add := func(typ, val uint16) {
			attrs = binary.BigEndian.AppendUint16(attrs, 0x8000|typ)
			attrs = binary.BigEndian.AppendUint16(attrs, val)
		}
		add(1, t.enc)
		if t.enc == 7 {
			add(14, 128) // key length
		}
		add(2, t.hash)
		add(3, t.auth)
		add(4, t.group)
		add(11, 1)     // life type seconds
		add(12, 28800) // life duration
		next := byte(3)
		if i == len(trs)-1 {
			next = 0
		}
		body := append([]byte{byte(i + 1), 1, 0, 0}, attrs...) // transform #, KEY_IKE
		hdr := []byte{next, 0, 0, 0}
		binary.BigEndian.PutUint16(hdr[2:], uint16(4+len(body)))
		transforms = append(transforms, hdr...)
		transforms = append(transforms, body...)
	}
	prop := append([]byte{1, 1, 0, byte(len(trs))}, transforms...) // #1, ISAKMP, no SPI
	propHdr := []byte{0, 0, 0, 0}
	binary.BigEndian.PutUint16(propHdr[2:], uint16(4+len(prop)))
	sa := append([]byte{0, 0, 0, 1, 0, 0, 0, 1}, append(propHdr, prop...)...) // DOI IPsec, SIT_IDENTITY_ONLY
	saHdr := []byte{0, 0, 0, 0}
	binary.BigEndian.PutUint16(saHdr[2:], uint16(4+len(sa)))
	body := append(saHdr, sa...)
	h := make([]byte, 28)
	copy(h, randomBytes(8)) // initiator cookie
	h[16] = 1               // next payload: SA
	h[17] = 0x10            // version 1.0
	h[18] = 2               // identity protection (main mode)
	binary.BigEndian.PutUint32(h[24:], uint32(28+len(body)))
	return Request{Name: "IKEMainMode", Payload: append(h, body...)}
}

var ikeExchanges = map[byte]string{2: "main", 4: "aggressive", 5: "informational", 34: "ike_sa_init", 37: "informational"}

func (ev *Evidence) addIKE(req, reply []byte) {
	if len(reply) < 28 || (len(req) >= 8 && !bytes.Equal(req[:8], reply[:8])) {
		return
	}
	ver := reply[17]
	if ver != 0x10 && ver != 0x20 {
		return
	}
	ev.set("ike.version", fmt.Sprintf("%d.%d", ver>>4, ver&0xf))
	if x, ok := ikeExchanges[reply[18]]; ok {
		ev.set("ike.exchange", x)
	} else {
		ev.set("ike.exchange", strconv.Itoa(int(reply[18])))
	}
	next := reply[16]
	p := reply[28:]
	if l := int(binary.BigEndian.Uint32(reply[24:])); l >= 28 && l-28 < len(p) {
		p = p[:l-28]
	}
	var vids []string
	for i := 0; i < 32 && next != 0 && len(p) >= 4; i++ {
		pl := int(binary.BigEndian.Uint16(p[2:]))
		if pl < 4 || pl > len(p) {
			break
		}
		body := p[4:pl]
		switch next {
		case 13: // vendor ID
			vids = append(vids, hex.EncodeToString(clip(body, 32)))
		case 11: // notification: DOI, protocol, SPI size, type
			if len(body) >= 8 {
				ev.set("ike.notify", strconv.Itoa(int(binary.BigEndian.Uint16(body[6:]))))
			}
		}
		next = p[0]
		p = p[pl:]
	}
	ev.set("ike.vendor_ids", strings.Join(vids, ","))
	ev.confirm("isakmp", 90)
}

// ONC RPC (RFC 5531): a NULL call to the portmapper, version 2.
func rpcRequest() Request {
	b := make([]byte, 40)
	copy(b, randomBytes(4))                    // XID
	binary.BigEndian.PutUint32(b[8:], 2)       // RPC version
	binary.BigEndian.PutUint32(b[12:], 100000) // portmapper
	binary.BigEndian.PutUint32(b[16:], 2)
	return Request{Name: "RPCCheck", Payload: b}
}

func (ev *Evidence) addRPC(req, reply []byte) {
	if len(reply) < 24 || len(req) < 4 || !bytes.Equal(req[:4], reply[:4]) || binary.BigEndian.Uint32(reply[4:]) != 1 {
		return
	}
	if binary.BigEndian.Uint32(reply[8:]) != 0 { // MSG_DENIED
		ev.set("rpc.accept_state", "denied")
		ev.confirm("rpcbind", 80)
		return
	}
	// verifier: flavor, length, body; then accept_stat
	vl := int(binary.BigEndian.Uint32(reply[16:]))
	if vl > 400 || 20+vl+4 > len(reply) {
		return
	}
	ev.set("rpc.accept_state", strconv.Itoa(int(binary.BigEndian.Uint32(reply[20+vl:]))))
	ev.confirm("rpcbind", 95)
}
