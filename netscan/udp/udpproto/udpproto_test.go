package udpproto

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"strings"
	"testing"
)

// Replaying the lab's recorded answers gives the fields recorded with
// them.
func TestReplayLab(t *testing.T) {
	want := map[string]struct {
		service string
		fields  map[string]string
	}{
		"bind-9.18.49":   {"domain", map[string]string{"dns.version_bind": "9.18.49-1~deb12u3-Debian", "dns.hostname_bind": "vm", "dns.rcode": "NOERROR"}},
		"chrony-4.3":     {"ntp", map[string]string{"ntp.refid": "127.127.1.1", "ntp.stratum": "10", "ntp.control": "none", "ntp.mode7": "none", "ntp.version": "4"}},
		"net-snmp-5.9.3": {"snmp", map[string]string{"snmp.sysobjectid": "1.3.6.1.4.1.8072.3.2.10", "snmp.engineid.enterprise": "8072", "snmp.community": "public"}},
		"tftpd-hpa-5.2":  {"tftp", map[string]string{"tftp.error.message": "File not found", "tftp.badmode.message": "Unknown mode", "tftp.badmode.code": "4"}},
		"xinetd-echo":    {"echo", map[string]string{"echo.reflected": "true"}},
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			tr := loadTranscript(t, name)
			ev := NewEvidence(tr.Port)
			for _, x := range tr.Exchanges {
				ev.Add(x.Probe, unhex(t, x.Request), unhex(t, x.Response))
			}
			if ev.Service != w.service || ev.Service != tr.Service {
				t.Errorf("service %q, want %q (recorded %q)", ev.Service, w.service, tr.Service)
			}
			for k, v := range w.fields {
				if ev.Fields[k] != v {
					t.Errorf("%s = %q, want %q", k, ev.Fields[k], v)
				}
			}
			if !maps.Equal(ev.Fields, tr.Fields) {
				t.Errorf("fields differ from the recording:\n got %v\nwant %v", ev.Fields, tr.Fields)
			}
		})
	}
}

// The scan passes the reply without the request (its random IDs are
// gone): the first answer alone still confirms the protocol.
func TestReplyWithoutRequest(t *testing.T) {
	for _, name := range []string{"bind-9.18.49", "chrony-4.3", "net-snmp-5.9.3", "tftpd-hpa-5.2", "xinetd-echo"} {
		tr := loadTranscript(t, name)
		ev := NewEvidence(tr.Port)
		x := tr.Exchanges[0]
		ev.Add(x.Probe, nil, unhex(t, x.Response))
		if ev.Service != tr.Service {
			t.Errorf("%s: service %q from the first reply alone, want %q", name, ev.Service, tr.Service)
		}
		if len(ev.FollowUps()) == 0 && name != "xinetd-echo" {
			t.Errorf("%s: no follow-ups", name)
		}
	}
}

func TestProbes(t *testing.T) {
	for port, name := range map[int]string{53: "DNSVersionBindReq", 123: "NTPRequest", 161: "SNMPv1public", 69: "TFTPReadRequest",
		5060: "SIPOptions", 3478: "STUNBindingRequest", 137: "NBTStat", 1900: "SSDPMSearch", 11211: "MemcachedVersion",
		500: "IKEMainMode", 111: "RPCCheck", 1434: "Sqlping", 5351: "NATPMPExternalAddress", 5683: "CoAPWellKnownCore",
		7: "Echo", 13: "DaytimeRequest", 37: "TimeRequest", 5353: "mDNSServices", 40000: EmptyProbe} {
		if got := Probe(port, 0).Name; got != name {
			t.Errorf("port %d: probe %q, want %q", port, got, name)
		}
	}
	if Probe(161, 1).Name != "SNMPv2cpublic" {
		t.Errorf("retry of 161 is not v2c")
	}
	if a, b := Probe(53, 0).Payload, Probe(53, 0).Payload; bytes.Equal(a[:2], b[:2]) && bytes.Equal(a, b) {
		t.Logf("two DNS probes share an ID (random collision is possible, 1/65536)")
	}
	if len(Probe(40000, 0).Payload) != 0 {
		t.Errorf("unknown ports get an empty datagram")
	}
}

// Synthetic answers of the protocols the lab does not run, built from
// their RFCs (comments name the section).
func TestSynthetic(t *testing.T) {
	sip := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP nm;branch=z9hG4bK1\r\nFrom: <sip:nm@nm>;tag=1\r\nTo: <sip:nm2@nm2>;tag=as5f3a1b2c\r\n" +
		"Call-ID: 1\r\nCSeq: 42 OPTIONS\r\nServer: Asterisk PBX 18.10.0\r\nAllow: INVITE, ACK\r\nContent-Length: 0\r\n\r\n"
	stunReq := Probe(3478, 0).Payload
	stun := append([]byte{0x01, 0x01, 0, 0}, stunReq[4:20]...)
	soft := []byte("Coturn-4.6.1 'Gorst'")
	attr := binary.BigEndian.AppendUint16(nil, 0x8022)
	attr = binary.BigEndian.AppendUint16(attr, uint16(len(soft)))
	attr = append(attr, soft...)
	for len(attr)%4 != 0 {
		attr = append(attr, 0)
	}
	binary.BigEndian.PutUint16(stun[2:], uint16(len(attr)))
	stun = append(stun, attr...)
	nbns := nbnsAnswer([][2]any{{"FILESRV", byte(0x00)}, {"WORKGROUP", byte(0x00) | 0x80}}, []byte{0, 0, 0, 0, 0, 0})
	memc := append([]byte{0, 1, 0, 0, 0, 1, 0, 0}, "VERSION 1.6.18\r\n"...)
	mssql := append([]byte{0x05, 0, 0}, "ServerName;DB1;InstanceName;MSSQLSERVER;IsClustered;No;Version;15.0.2000.5;tcp;1433;;"...)
	cases := []struct {
		probe   string
		req     []byte
		reply   []byte
		service string
		fields  map[string]string
	}{
		{"SIPOptions", nil, []byte(sip), "sip", map[string]string{"sip.status": "200", "sip.header.server": "Asterisk PBX 18.10.0", "sip.to_tag_shape": "a10"}},
		{"STUNBindingRequest", stunReq, stun, "stun", map[string]string{"stun.software": "Coturn-4.6.1 'Gorst'", "stun.message_type": "0x0101"}},
		{"NBTStat", nil, nbns, "netbios-ns", map[string]string{"nbns.hostname": "FILESRV", "nbns.workgroup": "WORKGROUP", "nbns.mac": "00:00:00:00:00:00"}},
		{"SSDPMSearch", nil, []byte("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\nSERVER: OpenWRT/OpenWrt UPnP/1.1 MiniUPnPd/2.3.3\r\n\r\n"),
			"upnp", map[string]string{"ssdp.header.server": "OpenWRT/OpenWrt UPnP/1.1 MiniUPnPd/2.3.3", "ssdp.header.st": "upnp:rootdevice"}},
		{"MemcachedVersion", nil, memc, "memcached", map[string]string{"memcached.version": "1.6.18"}},
		{"Sqlping", nil, mssql, "ms-sql-m", map[string]string{"mssql.version": "15.0.2000.5", "mssql.instances": "MSSQLSERVER", "mssql.servername": "DB1"}},
		{"NATPMPExternalAddress", nil, []byte{0, 128, 0, 0, 0, 0, 0, 42, 203, 0, 113, 7}, "nat-pmp", map[string]string{"natpmp.external_address": "203.0.113.7", "natpmp.epoch": "42"}},
		{"TimeRequest", nil, []byte{0xe9, 0x1a, 0x2b, 0x3c}, "time", nil},
		{"DaytimeRequest", nil, []byte("Sun Nov 22 23:15:36 2026\r\n"), "daytime", map[string]string{"daytime.text": "Sun Nov 22 23:15:36 2026"}},
	}
	for _, c := range cases {
		ev := NewEvidence(0)
		ev.Add(c.probe, c.req, c.reply)
		if ev.Service != c.service {
			t.Errorf("%s: service %q, want %q (%v)", c.probe, ev.Service, c.service, ev.Fields)
		}
		for k, v := range c.fields {
			if ev.Fields[k] != v {
				t.Errorf("%s: %s = %q, want %q", c.probe, k, ev.Fields[k], v)
			}
		}
	}
}

// nbnsAnswer builds a node status response (RFC 1002 4.2.18).
func nbnsAnswer(names [][2]any, mac []byte) []byte {
	b := []byte{0x12, 0x34, 0x84, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0x20}
	b = append(b, "CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"...)
	b = append(b, 0, 0, 0x21, 0, 1, 0, 0, 0, 0)
	body := []byte{byte(len(names))}
	for _, n := range names {
		name := n[0].(string)
		flags := n[1].(byte)
		e := []byte(name + strings.Repeat(" ", 15-len(name)))
		e = append(e, 0, flags&0x80, 0x04)
		if flags&0x80 != 0 {
			e[15] = 0
		}
		body = append(body, e...)
	}
	body = append(body, mac...)
	body = append(body, make([]byte, 40)...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

// Hostile answers: garbage, truncation, absurd lengths never panic and
// never confirm a protocol they are not.
func TestHostile(t *testing.T) {
	inputs := [][]byte{nil, {}, {0}, {0xff}, bytes.Repeat([]byte{0xff}, 100), bytes.Repeat([]byte{0}, 300),
		{0x30, 0x84, 0xff, 0xff, 0xff, 0xff}, {0x30, 0x82, 0xff, 0xff, 0x02, 0x01, 0x00}, []byte("HTTP/1.1 999"),
		{0x00, 0x05, 0x00}, {0x01, 0x01, 0xff, 0xff, 0x21, 0x12, 0xa4, 0x42}}
	for _, tr := range []string{"bind-9.18.49", "chrony-4.3", "net-snmp-5.9.3", "tftpd-hpa-5.2"} {
		x := loadTranscript(t, tr).Exchanges[0]
		r := unhex(t, x.Response)
		for i := 0; i < len(r); i += max(1, len(r)/16) {
			inputs = append(inputs, r[:i])
		}
	}
	probes := probeNames()
	for _, in := range inputs {
		for _, p := range probes {
			ev := NewEvidence(0)
			ev.Add(p, nil, in)
			if len(in) < 4 && ev.Service != "" && ev.Service != "echo" {
				t.Errorf("%s: %x confirmed %s", p, in, ev.Service)
			}
		}
	}
}

func probeNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range Ports() {
		for try := 0; try < 2; try++ {
			n := Probe(p, try).Name
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	for _, r := range append(dnsFollowUps(), ntpControlRequest(), ntpMode7Request(), snmpV3Request(), tftpBadModeRequest()) {
		if !seen[r.Name] {
			seen[r.Name] = true
			out = append(out, r.Name)
		}
	}
	return out
}

// FuzzEvidence feeds arbitrary answers to every parser.
func FuzzEvidence(f *testing.F) {
	for _, name := range []string{"bind-9.18.49", "chrony-4.3", "net-snmp-5.9.3", "tftpd-hpa-5.2", "xinetd-echo"} {
		b, _ := readTranscriptFile(name)
		for _, x := range b.Exchanges {
			r, _ := hex.DecodeString(x.Response)
			f.Add(uint8(0), r)
		}
	}
	f.Add(uint8(3), []byte("SIP/2.0 200 OK\r\nServer: x\r\n\r\n"))
	names := probeNames()
	f.Fuzz(func(t *testing.T, which uint8, reply []byte) {
		ev := NewEvidence(0)
		for i := 0; i < len(names); i++ {
			ev.Add(names[(int(which)+i)%len(names)], nil, reply)
		}
		_ = ev.FollowUps()
		for k, v := range ev.Fields {
			if len(v) > 65536+16 {
				t.Fatalf("%s: %d bytes", k, len(v))
			}
		}
	})
}
