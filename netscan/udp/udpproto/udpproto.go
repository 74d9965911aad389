// Package udpproto holds the UDP side of service identification: the
// payloads a UDP scan sends (a port answers only a request in its own
// protocol) and pure parsers that turn the replies into named evidence
// fields for the rules, as the TCP protocol modules do. Everything here is
// a pure function of its input: no I/O, bounded parsing, no allocation
// proportional to length fields.
//
// Probes by port: DNS (53: version.bind CH TXT, then id.server,
// hostname.bind, authors.bind), mDNS (5353: DNS-SD service list), NTP
// (123: a mode 3 client request, then a mode 6 READVAR and a mode 7
// request, which only ntpd answers), SNMP (161: v1 then v2c GetRequest
// "public" for sysDescr/sysObjectID/sysName, then a v3 discovery request
// that reveals the engine ID), TFTP (69: a read request for a file that
// does not exist, then one with an invalid mode), SIP (5060: OPTIONS),
// STUN (3478: Binding Request), NetBIOS-NS (137: node status), SSDP
// (1900: M-SEARCH), Memcached (11211: version over the UDP frame), IKE
// (500, 4500: IKEv1 main mode), RPC portmapper (111: NULL call), MS SQL
// browser (1434), NAT-PMP (5351), CoAP (5683), echo (7), daytime (13),
// time (37), chargen (19), QOTD (17). Other ports get an empty datagram.
//
// Fields (values are strings; "hex" marks hex-encoded binary):
//
//	udp.response         the raw reply as Latin-1 (every protocol)
//	dns.*                as protocol/dns: dns.version_bind, dns.id_server,
//	                     dns.hostname_bind, dns.authors_bind, dns.rcode,
//	                     dns.flags, dns.rcodes
//	mdns.services        DNS-SD service types announced, comma separated
//	mdns.names           other names in the answer, comma separated
//	ntp.version ntp.mode ntp.leap ntp.stratum ntp.poll ntp.precision
//	ntp.refid            dotted quad (stratum >= 2) or ASCII (stratum 0/1)
//	ntp.root_delay ntp.root_dispersion   seconds, decimal
//	ntp.reference_time   seconds since 1900 ("0" when never set)
//	ntp.control          "answered" or "none" (mode 6 READVAR)
//	ntp.control.version ntp.control.system ntp.control.processor
//	ntp.control.vars     the whole READVAR text
//	ntp.mode7            "answered" or "none"
//	snmp.version         1, 2c or 3
//	snmp.community       community that was accepted
//	snmp.error_status    PDU error status (0 = noError)
//	snmp.sysdescr snmp.sysobjectid snmp.sysname
//	snmp.engineid        hex
//	snmp.engineid.enterprise  IANA enterprise number in the engine ID
//	snmp.engineid.format snmp.engineid.text
//	snmp.engine.boots snmp.engine.time
//	tftp.opcode          of the reply to a read request (ERROR=5, DATA=3, OACK=6)
//	tftp.error.code tftp.error.message
//	tftp.badmode.code tftp.badmode.message   reply to an invalid transfer mode
//	sip.status sip.reason sip.header.<name> sip.header_order sip.to_tag_shape
//	                     as protocol/sip (sip.header.server, sip.header.user_agent...)
//	stun.software stun.mapped_address stun.other_address stun.fingerprint
//	stun.message_type
//	nbns.names           NAME<xx> entries, "g" marks group names, comma separated
//	nbns.hostname nbns.workgroup nbns.mac
//	ssdp.status ssdp.header.<name>  (server, st, usn, location)
//	memcached.version    from "VERSION x.y.z"
//	ike.version ike.exchange ike.vendor_ids (hex, comma separated) ike.notify
//	rpc.accept_state     of the NULL call
//	mssql.version mssql.instances mssql.servername
//	natpmp.external_address natpmp.epoch
//	coap.code coap.resources
//	echo.reflected       "true" when the reply equals the request
//	daytime.text time.value chargen.sample qotd.text
package udpproto

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Request is one datagram to send and the name of its probe (nmap's names
// where nmap has one).
type Request struct {
	Name    string
	Payload []byte
}

// probeSet is what a port is asked, first request first: the scan sends
// Probes(port)[try % len] and the identification sends the follow-ups.
type probeSet struct {
	service string // nmap service name a valid reply confirms
	build   []func() Request
}

var byPort = map[int]probeSet{}

func register(service string, ports []int, build ...func() Request) {
	for _, p := range ports {
		byPort[p] = probeSet{service: service, build: build}
	}
}

func init() {
	register("domain", []int{53}, dnsVersionRequest)
	register("mdns", []int{5353}, mdnsRequest)
	register("ntp", []int{123}, ntpRequest)
	register("snmp", []int{161, 162}, snmpV1Request, snmpV2cRequest)
	register("tftp", []int{69}, tftpRequest)
	register("sip", []int{5060, 5061}, sipRequest)
	register("stun", []int{3478, 3479, 19302}, stunRequest)
	register("netbios-ns", []int{137}, nbstatRequest)
	register("upnp", []int{1900}, ssdpRequest)
	register("memcached", []int{11211}, memcachedRequest)
	register("isakmp", []int{500, 4500}, ikeRequest)
	register("rpcbind", []int{111}, rpcRequest)
	register("ms-sql-m", []int{1434}, mssqlRequest)
	register("nat-pmp", []int{5351}, natpmpRequest)
	register("coap", []int{5683}, coapRequest)
	register("echo", []int{7}, echoRequest)
	register("daytime", []int{13}, emptyRequest("DaytimeRequest"))
	register("time", []int{37}, emptyRequest("TimeRequest"))
	register("chargen", []int{19}, emptyRequest("ChargenRequest"))
	register("qotd", []int{17}, emptyRequest("QOTDRequest"))
}

// EmptyProbe is the name of the empty datagram sent to ports without a
// payload of their own.
const EmptyProbe = "Empty"

// Probe returns the request for port on the given try (0 first): the
// port's payloads in turn, or an empty datagram. Payloads carry fresh
// random identifiers.
func Probe(port, try int) Request {
	ps, ok := byPort[port]
	if !ok || len(ps.build) == 0 {
		return Request{Name: EmptyProbe}
	}
	return ps.build[try%len(ps.build)]()
}

// ProbeName is the name of the first probe sent to port.
func ProbeName(port int) string {
	ps, ok := byPort[port]
	if !ok || len(ps.build) == 0 {
		return EmptyProbe
	}
	return ps.build[0]().Name
}

// HasPayload says whether port gets a protocol payload (not an empty
// datagram).
func HasPayload(port int) bool { _, ok := byPort[port]; return ok }

// Ports lists the ports that have payloads.
func Ports() []int {
	out := make([]int, 0, len(byPort))
	for p := range byPort {
		out = append(out, p)
	}
	return out
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func random16() uint16 { return binary.BigEndian.Uint16(randomBytes(2)) }

func emptyRequest(name string) func() Request {
	return func() Request { return Request{Name: name} }
}

// echoPayload is what the echo probe sends (fixed, so a reflected reply
// is recognised even when the caller no longer has the request).
const echoPayload = "portrait-echo\r\n"

func echoRequest() Request { return Request{Name: "Echo", Payload: []byte(echoPayload)} }

// Evidence accumulates what the replies on one port say. The zero value
// is not usable; use NewEvidence.
type Evidence struct {
	Port       int
	Service    string // nmap service name the replies confirm ("" unknown)
	Confidence int
	Fields     map[string]string
	asked      map[string]bool
	dns        map[string]*dnsAnswer
	last       map[string][]byte // request payloads by probe name
}

// NewEvidence starts the evidence for port.
func NewEvidence(port int) *Evidence {
	return &Evidence{Port: port, Fields: map[string]string{}, asked: map[string]bool{}, last: map[string][]byte{}}
}

func (ev *Evidence) set(k, v string) {
	if v != "" {
		ev.Fields[k] = v
	}
}

func (ev *Evidence) confirm(service string, conf int) {
	if conf > ev.Confidence {
		ev.Service, ev.Confidence = service, conf
	}
}

// Add folds in the reply to the request named probe (req is what was sent,
// nil when unknown; reply may be nil for "no answer").
func (ev *Evidence) Add(probe string, req, reply []byte) {
	ev.asked[probe] = true
	if req != nil {
		ev.last[probe] = req
	}
	if reply == nil {
		ev.noReply(probe)
		return
	}
	if _, ok := ev.Fields["udp.response"]; !ok {
		ev.Fields["udp.response"] = latin1(reply)
	}
	switch {
	case strings.HasPrefix(probe, "DNS"):
		ev.addDNS(probe, req, reply)
	case probe == "mDNSServices":
		ev.addMDNS(req, reply)
	case strings.HasPrefix(probe, "NTP"):
		ev.addNTP(probe, req, reply)
	case strings.HasPrefix(probe, "SNMP"):
		ev.addSNMP(probe, reply)
	case strings.HasPrefix(probe, "TFTP"):
		ev.addTFTP(probe, reply)
	case probe == "SIPOptions":
		ev.addSIP(reply)
	case probe == "STUNBindingRequest":
		ev.addSTUN(req, reply)
	case probe == "NBTStat":
		ev.addNBNS(reply)
	case probe == "SSDPMSearch":
		ev.addSSDP(reply)
	case probe == "MemcachedVersion":
		ev.addMemcached(reply)
	case probe == "IKEMainMode":
		ev.addIKE(req, reply)
	case probe == "RPCCheck":
		ev.addRPC(req, reply)
	case probe == "Sqlping":
		ev.addMSSQL(reply)
	case probe == "NATPMPExternalAddress":
		ev.addNATPMP(reply)
	case probe == "CoAPWellKnownCore":
		ev.addCoAP(req, reply)
	case probe == "Echo":
		if string(reply) == echoPayload || req != nil && string(req) == string(reply) {
			ev.set("echo.reflected", "true")
			ev.confirm("echo", 90)
		}
	case probe == "DaytimeRequest":
		ev.addText("daytime", reply)
	case probe == "TimeRequest":
		if len(reply) == 4 {
			ev.set("time.value", fmt.Sprint(binary.BigEndian.Uint32(reply)))
			ev.confirm("time", 75)
		}
	case probe == "ChargenRequest":
		if printable(reply) && len(reply) >= 20 {
			ev.set("chargen.sample", latin1(reply[:min(len(reply), 72)]))
			ev.confirm("chargen", 75)
		}
	case probe == "QOTDRequest":
		ev.addText("qotd", reply)
	}
}

func (ev *Evidence) noReply(probe string) {
	switch {
	case probe == "NTPControlReadVar":
		ev.set("ntp.control", "none")
	case probe == "NTPMode7":
		ev.set("ntp.mode7", "none")
	}
}

// FollowUps returns the requests the evidence so far calls for and that
// were not sent yet (at most one round: call again after adding them).
func (ev *Evidence) FollowUps() []Request {
	var out []Request
	add := func(r Request) {
		if !ev.asked[r.Name] {
			ev.asked[r.Name] = true
			out = append(out, r)
		}
	}
	switch ev.Service {
	case "domain":
		for _, q := range dnsFollowUps() {
			add(q)
		}
	case "ntp":
		add(ntpControlRequest())
		add(ntpMode7Request())
	case "snmp":
		add(snmpV3Request())
		if _, ok := ev.Fields["snmp.sysdescr"]; !ok {
			add(snmpV2cRequest())
		}
	case "tftp":
		add(tftpBadModeRequest())
	}
	return out
}

// Sent returns the request last sent under probe (for Add's req).
func (ev *Evidence) Sent(probe string) []byte { return ev.last[probe] }

func (ev *Evidence) addText(name string, reply []byte) {
	t := strings.TrimSpace(string(reply))
	if t == "" || !printable(reply) || len(t) > 512 {
		return
	}
	ev.set(name+".text", t)
	ev.confirm(name, 70)
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\r' && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}

// latin1 maps each byte to one rune, as the rules expect.
func latin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}
