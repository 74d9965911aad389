package udpproto

import (
	"encoding/binary"
	"sort"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/dns"
)

type dnsAnswer = dns.Message

// The DNS probes are the TCP module's CHAOS questions in UDP form; their
// names follow nmap's UDP probe names.
var dnsProbeNames = map[string]string{
	"version.bind":  "DNSVersionBindReq",
	"id.server":     "DNSIdServerReq",
	"hostname.bind": "DNSHostnameBindReq",
	"authors.bind":  "DNSAuthorsBindReq",
}

func dnsQuery(name string) Request {
	return Request{Name: dnsProbeNames[name], Payload: dns.BuildQuery(random16(), name, dns.TypeTXT, dns.ClassCH, false)}
}

func dnsVersionRequest() Request { return dnsQuery("version.bind") }

func dnsFollowUps() []Request {
	return []Request{dnsQuery("id.server"), dnsQuery("hostname.bind"), dnsQuery("authors.bind")}
}

func (ev *Evidence) addDNS(probe string, req, reply []byte) {
	m, err := dns.ParseResponse(reply)
	if err != nil || !m.Response() {
		return
	}
	if len(req) >= 2 && binary.BigEndian.Uint16(req) != m.ID {
		return
	}
	var qname string
	for n, p := range dnsProbeNames {
		if p == probe {
			qname = n
		}
	}
	if qname == "" {
		return
	}
	if ev.dns == nil {
		ev.dns = map[string]*dnsAnswer{}
	}
	ev.dns[qname] = m
	var res protocol.Result
	dns.ApplyFields(&res, ev.dns)
	for k, v := range res.Fields {
		ev.Fields[k] = v
	}
	ev.confirm("domain", 95)
}

// mdnsRequest asks for the DNS-SD service list (RFC 6763 §9) as a legacy
// unicast query: a responder answers our source port directly.
func mdnsRequest() Request {
	return Request{Name: "mDNSServices", Payload: dns.BuildQuery(random16(), "_services._dns-sd._udp.local", 12, dns.ClassIN, false)}
}

func (ev *Evidence) addMDNS(req, reply []byte) {
	m, err := dns.ParseResponse(reply)
	if err != nil || !m.Response() {
		return
	}
	services := map[string]bool{}
	names := map[string]bool{}
	for _, set := range [][]dns.RR{m.Answers, m.Additional} {
		for _, rr := range set {
			if rr.Type == 12 { // PTR: the target is in RDATA, maybe compressed
				if t, ok := readName(reply, rr.Data); ok {
					if strings.HasPrefix(rr.Name, "_services._dns-sd.") {
						services[strings.TrimSuffix(t, ".local")] = true
					} else {
						names[t] = true
					}
				}
			} else if rr.Name != "" {
				names[rr.Name] = true
			}
		}
	}
	ev.set("mdns.services", joinSorted(services))
	ev.set("mdns.names", joinSorted(names))
	ev.confirm("mdns", 90)
}

// readName decodes the domain name that starts rdata, which lies inside
// msg (compression pointers refer to msg). Bounded: 255 bytes, 32 jumps.
func readName(msg, rdata []byte) (string, bool) {
	// Find rdata's offset in msg.
	off := -1
	if len(rdata) > 0 {
		for i := 0; i+len(rdata) <= len(msg); i++ {
			if &msg[i] == &rdata[0] {
				off = i
				break
			}
		}
	}
	if off < 0 {
		return "", false
	}
	var labels []string
	total := 0
	for jumps := 0; jumps < 32; {
		if off >= len(msg) {
			return "", false
		}
		l := int(msg[off])
		switch {
		case l == 0:
			return strings.Join(labels, "."), len(labels) > 0
		case l&0xc0 == 0xc0:
			if off+1 >= len(msg) {
				return "", false
			}
			off = int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			jumps++
		case l&0xc0 != 0:
			return "", false
		default:
			if off+1+l > len(msg) || total+l+1 > 255 {
				return "", false
			}
			labels = append(labels, string(msg[off+1:off+1+l]))
			total += l + 1
			off += 1 + l
		}
	}
	return "", false
}

func joinSorted(m map[string]bool) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) > 32 {
		out = out[:32]
	}
	return strings.Join(out, ",")
}
