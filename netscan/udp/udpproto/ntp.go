package udpproto

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ntpRequest is an NTPv4 client request (mode 3) with a random transmit
// timestamp, which a server echoes as the origin timestamp.
func ntpRequest() Request {
	b := make([]byte, 48)
	b[0] = 0x23 // LI 0, VN 4, mode 3
	copy(b[40:], randomBytes(8))
	return Request{Name: "NTPRequest", Payload: b}
}

// ntpControlRequest is a mode 6 READVAR of the system variables (what
// `ntpq -c rv` sends): ntpd and NTPsec answer with their version unless
// queries are restricted; chrony and OpenNTPD never answer mode 6.
func ntpControlRequest() Request {
	b := make([]byte, 12)
	b[0] = 0x16 // LI 0, VN 2, mode 6
	b[1] = 0x02 // READVAR
	binary.BigEndian.PutUint16(b[2:], random16()|1)
	return Request{Name: "NTPControlReadVar", Payload: b}
}

// ntpMode7Request is a private-mode (ntpdc) "peer list" request header:
// only the reference ntpd implements mode 7 (and recent versions disable
// it). It is not the monlist request used for amplification.
func ntpMode7Request() Request {
	b := make([]byte, 8)
	b[0] = 0x17 // VN 2, mode 7
	b[2] = 3    // implementation XNTPD
	b[3] = 0    // REQ_PEER_LIST
	return Request{Name: "NTPMode7", Payload: b}
}

func (ev *Evidence) addNTP(probe string, req, reply []byte) {
	switch probe {
	case "NTPRequest":
		if len(reply) < 48 {
			return
		}
		mode := reply[0] & 7
		if mode != 4 && mode != 2 {
			return
		}
		vn := reply[0] >> 3 & 7
		stratum := reply[1]
		ev.set("ntp.mode", strconv.Itoa(int(mode)))
		ev.set("ntp.version", strconv.Itoa(int(vn)))
		ev.set("ntp.leap", strconv.Itoa(int(reply[0]>>6)))
		ev.set("ntp.stratum", strconv.Itoa(int(stratum)))
		ev.set("ntp.poll", strconv.Itoa(int(int8(reply[2]))))
		ev.set("ntp.precision", strconv.Itoa(int(int8(reply[3]))))
		ev.set("ntp.root_delay", short(binary.BigEndian.Uint32(reply[4:])))
		ev.set("ntp.root_dispersion", short(binary.BigEndian.Uint32(reply[8:])))
		ev.set("ntp.refid", refid(stratum, reply[12:16]))
		ev.set("ntp.reference_time", strconv.FormatUint(uint64(binary.BigEndian.Uint32(reply[16:])), 10))
		conf := 80
		if len(req) >= 48 && bytes.Equal(req[40:48], reply[24:32]) {
			conf = 95 // our transmit timestamp came back as the origin
		}
		ev.confirm("ntp", conf)
	case "NTPControlReadVar":
		// Header: LI/VN/mode, R/E/M/opcode, seq, status, assoc, offset, count.
		if len(reply) < 12 || reply[0]&7 != 6 || reply[1]&0x80 == 0 {
			return
		}
		ev.set("ntp.control", "answered")
		n := int(binary.BigEndian.Uint16(reply[10:]))
		data := reply[12:]
		if n < len(data) {
			data = data[:n]
		}
		text := strings.TrimSpace(strings.ReplaceAll(string(data), "\r\n", " "))
		if len(text) > 1024 {
			text = text[:1024]
		}
		ev.set("ntp.control.vars", latin1([]byte(text)))
		for _, kv := range splitVars(text) {
			switch kv[0] {
			case "version", "system", "processor":
				ev.set("ntp.control."+kv[0], kv[1])
			}
		}
		ev.confirm("ntp", 95)
	case "NTPMode7":
		if len(reply) >= 8 && reply[0]&7 == 7 && reply[0]&0x80 != 0 {
			ev.set("ntp.mode7", "answered")
			ev.confirm("ntp", 90)
		}
	}
}

// splitVars splits `a=1, b="x, y", c=3` into pairs.
func splitVars(s string) [][2]string {
	var out [][2]string
	for len(s) > 0 && len(out) < 64 {
		s = strings.TrimLeft(s, ", ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		k := strings.TrimSpace(s[:eq])
		s = s[eq+1:]
		var v string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				v, s = s[1:], ""
			} else {
				v, s = s[1:1+end], s[2+end:]
			}
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				v, s = s, ""
			} else {
				v, s = s[:end], s[end:]
			}
		}
		out = append(out, [2]string{k, strings.TrimSpace(v)})
	}
	return out
}

// short renders an NTP short format (16.16 fixed point) in seconds.
func short(v uint32) string {
	f := float64(v) / 65536
	return strconv.FormatFloat(math.Round(f*1e6)/1e6, 'f', -1, 64)
}

// refid renders the reference ID: ASCII for stratum 0 (kiss codes) and 1
// (reference clocks), an IPv4 address (or an IPv6 hash) otherwise.
func refid(stratum byte, b []byte) string {
	if stratum <= 1 {
		t := strings.TrimRight(string(b), "\x00")
		if t != "" && printable([]byte(t)) {
			return t
		}
	}
	return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3])
}
