package udpproto

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/protocol/sip"
)

// TFTP (RFC 1350). The read request names a file that cannot exist, so a
// server answers with an ERROR packet whose wording tells implementations
// apart; the second request uses an invalid transfer mode, which servers
// reject each in its own words. Servers answer from a new port (the
// transfer ID), which the scanner allows for TFTP.

func tftpRequest() Request {
	name := "portrait-" + hex.EncodeToString(randomBytes(4))
	return Request{Name: "TFTPReadRequest", Payload: tftpRRQ(name, "octet")}
}

func tftpBadModeRequest() Request {
	name := "portrait-" + hex.EncodeToString(randomBytes(4))
	return Request{Name: "TFTPBadMode", Payload: tftpRRQ(name, "portrait")}
}

func tftpRRQ(name, mode string) []byte {
	b := []byte{0, 1}
	b = append(b, name...)
	b = append(b, 0)
	b = append(b, mode...)
	return append(b, 0)
}

// IsTFTP says whether b looks like a TFTP server packet (DATA, ACK, ERROR
// or OACK), for replies that come from a port other than the one probed.
func IsTFTP(b []byte) bool {
	if len(b) < 4 || b[0] != 0 {
		return false
	}
	switch b[1] {
	case 3, 4, 6:
		return true
	case 5:
		return binary.BigEndian.Uint16(b[2:]) <= 8 && (len(b) == 4 || b[len(b)-1] == 0)
	}
	return false
}

func (ev *Evidence) addTFTP(probe string, reply []byte) {
	if !IsTFTP(reply) {
		return
	}
	prefix := "tftp.error"
	if probe == "TFTPBadMode" {
		prefix = "tftp.badmode"
	} else {
		ev.set("tftp.opcode", strconv.Itoa(int(reply[1])))
	}
	if reply[1] == 5 {
		ev.set(prefix+".code", strconv.Itoa(int(binary.BigEndian.Uint16(reply[2:]))))
		msg := reply[4:]
		if i := bytes.IndexByte(msg, 0); i >= 0 {
			msg = msg[:i]
		}
		ev.set(prefix+".message", latin1(clip(msg, 256)))
	}
	ev.confirm("tftp", 90)
}

// SIP OPTIONS (RFC 3261 §11): every SIP element must answer it. The
// request and the parser are protocol/sip's, so UDP answers give the same
// fields (and meet the same rules) as TCP ones.
func sipRequest() Request {
	return Request{Name: "SIPOptions", Payload: sip.Request("nm", "nm:5060", "UDP")}
}

// sipEchoed headers repeat our request.
var sipEchoed = map[string]bool{"via": true, "from": true, "to": true, "call-id": true, "cseq": true, "content-length": true}

func (ev *Evidence) addSIP(reply []byte) {
	head := reply
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		head = head[:i]
	}
	r, ok := sip.ParseHead(clip(head, 16<<10))
	if !ok {
		return
	}
	ev.set("sip.status", strconv.Itoa(r.Status))
	ev.set("sip.reason", r.Reason)
	for name, v := range r.Headers {
		if !sipEchoed[name] {
			ev.set("sip.header."+strings.ReplaceAll(name, "-", "_"), v)
		}
	}
	ev.set("sip.header_order", strings.Join(r.Names, ","))
	if to := r.Headers["to"]; to != "" {
		for _, p := range strings.Split(to, ";")[1:] {
			if k, v, _ := strings.Cut(strings.TrimSpace(p), "="); strings.EqualFold(k, "tag") {
				ev.set("sip.to_tag_shape", sip.TagShape(v))
			}
		}
	}
	ev.confirm("sip", 95)
}

// SSDP M-SEARCH (UPnP Device Architecture §1.3): a unicast search that
// UPnP devices answer with their SERVER string.
func ssdpRequest() Request {
	return Request{Name: "SSDPMSearch", Payload: []byte("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n" +
		"MAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n")}
}

func (ev *Evidence) addSSDP(reply []byte) {
	status, headers, ok := parseHTTPLike(reply, "HTTP/1.")
	if !ok {
		return
	}
	ev.set("ssdp.status", status[0])
	for k, v := range headers {
		switch k {
		case "server", "st", "usn", "location", "nt":
			ev.set("ssdp.header."+k, v)
		}
	}
	ev.confirm("upnp", 90)
}

// parseHTTPLike reads a status line starting with proto and the header
// lines after it (names lower case, first value kept, 64 headers at most).
func parseHTTPLike(b []byte, proto string) ([2]string, map[string]string, bool) {
	var status [2]string
	if !bytes.HasPrefix(b, []byte(proto)) {
		return status, nil, false
	}
	lines := strings.Split(strings.ReplaceAll(string(clip(b, 8192)), "\r\n", "\n"), "\n")
	f := strings.SplitN(lines[0], " ", 3)
	if len(f) < 2 || len(f[1]) != 3 {
		return status, nil, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return status, nil, false
	}
	status[0] = f[1]
	if len(f) == 3 {
		status[1] = strings.TrimSpace(f[2])
	}
	headers := map[string]string{}
	for _, l := range lines[1:] {
		if l == "" || len(headers) >= 64 {
			break
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, seen := headers[k]; !seen {
			headers[k] = latin1([]byte(strings.TrimSpace(v)))
		}
	}
	return status, headers, true
}

// Memcached over UDP: an 8-byte frame header (request ID, sequence 0, one
// datagram) before the text command.
func memcachedRequest() Request {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b, random16())
	binary.BigEndian.PutUint16(b[4:], 1)
	return Request{Name: "MemcachedVersion", Payload: append(b, "version\r\n"...)}
}

func (ev *Evidence) addMemcached(reply []byte) {
	if len(reply) < 8 {
		return
	}
	body := string(clip(reply[8:], 256))
	if v, ok := strings.CutPrefix(body, "VERSION "); ok {
		ev.set("memcached.version", strings.TrimSpace(v))
		ev.confirm("memcached", 95)
	}
}

// MS SQL Server Browser (MC-SQLR): CLNT_UCAST_EX lists the instances.
func mssqlRequest() Request { return Request{Name: "Sqlping", Payload: []byte{0x03}} }

func (ev *Evidence) addMSSQL(reply []byte) {
	if len(reply) < 3 || reply[0] != 0x05 {
		return
	}
	text := string(clip(reply[3:], 4096))
	f := strings.Split(text, ";")
	var inst []string
	for i := 0; i+1 < len(f); i += 2 {
		switch f[i] {
		case "ServerName":
			ev.set("mssql.servername", f[i+1])
		case "InstanceName":
			inst = append(inst, f[i+1])
		case "Version":
			if _, ok := ev.Fields["mssql.version"]; !ok {
				ev.set("mssql.version", f[i+1])
			}
		}
	}
	if len(inst) == 0 {
		return
	}
	ev.set("mssql.instances", strings.Join(inst, ","))
	ev.confirm("ms-sql-m", 95)
}

// NAT-PMP (RFC 6886): external address request.
func natpmpRequest() Request { return Request{Name: "NATPMPExternalAddress", Payload: []byte{0, 0}} }

func (ev *Evidence) addNATPMP(reply []byte) {
	if len(reply) < 12 || reply[0] != 0 || reply[1] != 128 {
		return
	}
	ev.set("natpmp.epoch", strconv.FormatUint(uint64(binary.BigEndian.Uint32(reply[4:])), 10))
	if binary.BigEndian.Uint16(reply[2:]) == 0 {
		ev.set("natpmp.external_address", fmt.Sprintf("%d.%d.%d.%d", reply[8], reply[9], reply[10], reply[11]))
	}
	ev.confirm("nat-pmp", 90)
}

// CoAP (RFC 7252): confirmable GET /.well-known/core.
func coapRequest() Request {
	id := random16()
	b := []byte{0x40, 0x01, byte(id >> 8), byte(id)}
	b = append(b, 0xbb)
	b = append(b, ".well-known"...)
	b = append(b, 0x04)
	b = append(b, "core"...)
	return Request{Name: "CoAPWellKnownCore", Payload: b}
}

func (ev *Evidence) addCoAP(req, reply []byte) {
	if len(reply) < 4 || reply[0]>>6 != 1 || len(req) < 4 || !bytes.Equal(req[2:4], reply[2:4]) {
		return
	}
	code := reply[1]
	ev.set("coap.code", fmt.Sprintf("%d.%02d", code>>5, code&0x1f))
	if i := bytes.IndexByte(reply[4:], 0xff); i >= 0 {
		ev.set("coap.resources", latin1(clip(reply[4+i+1:], 1024)))
	}
	ev.confirm("coap", 90)
}
