// Package dns identifies DNS servers over TCP (port 53) with the CHAOS-class
// TXT queries that servers answer about themselves: version.bind (the version
// string most servers give), id.server and hostname.bind (the host name), and
// authors.bind (answered only by BIND and dnsmasq, each with its own list, so
// it identifies them even when the version is hidden). The queries are
// pipelined on one connection (RFC 7766) with 2-byte length framing.
//
// The message builder and parser are pure functions on the UDP form
// (BuildVersionQuery, BuildQuery, ParseResponse) so a UDP scanner can reuse
// them together with Queries and ApplyFields to produce the same fields.
//
// Fields (all strings):
//
//	dns.version_bind     TXT of version.bind (strings joined by " ")
//	dns.rcode            response code name of the version.bind answer ("NOERROR", "REFUSED"...)
//	dns.flags            header flags of the version.bind answer, dig style ("qr aa rd")
//	dns.id_server        TXT of id.server
//	dns.hostname_bind    TXT of hostname.bind
//	dns.authors_bind     TXT strings of authors.bind joined by "," (first 32)
//	dns.rcodes           every query's outcome: "version.bind=NOERROR,id.server=REFUSED,..."
//	                     ("none" for a query that drew no answer)
package dns

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Query is one CHAOS question the module asks.
type Query struct {
	ID    uint16
	Name  string
	Probe string // exchange name
	Field string // evidence field for its TXT answer
}

// Queries are the questions asked, in order; IDs are fixed so answers can be
// matched on a pipelined stream (they are not a security measure: the
// module only reads what it is sent on its own connection).
var Queries = []Query{
	{0x7601, "version.bind", "DNSVersionBindReqTCP", "dns.version_bind"},
	{0x7602, "id.server", "DNSIdServerReqTCP", "dns.id_server"},
	{0x7603, "hostname.bind", "DNSHostnameBindReqTCP", "dns.hostname_bind"},
	{0x7604, "authors.bind", "DNSAuthorsBindReqTCP", "dns.authors_bind"},
}

// followUpWait bounds the wait for the remaining answers once the first has
// arrived: a server that ignores one CHAOS name must not cost a full timeout.
const followUpWait = time.Second

type module struct{}

// New returns the DNS-over-TCP module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{Name: "dns", Service: "domain", Ports: []int{53, 5353, 5300}, TLSPorts: []int{853}, Priority: 50}
}

// Claim is false: DNS servers never speak first.
func (module) Claim([]byte) bool { return false }

// ApplyFields sets the evidence fields from the answers received, keyed by
// query name (a missing key means no answer).
func ApplyFields(res *protocol.Result, answers map[string]*Message) {
	var rcodes []string
	for _, q := range Queries {
		m := answers[q.Name]
		if m == nil {
			rcodes = append(rcodes, q.Name+"=none")
			continue
		}
		rcodes = append(rcodes, q.Name+"="+RcodeName(m.Rcode))
		txt := m.TXT()
		sep := " "
		if q.Name == "authors.bind" {
			sep = ","
		}
		res.Set(q.Field, strings.Join(txt, sep))
		if q.Name == "version.bind" {
			res.Set("dns.rcode", RcodeName(m.Rcode))
			res.Set("dns.flags", m.FlagString())
		}
	}
	res.Set("dns.rcodes", strings.Join(rcodes, ","))
}

// splitFrames cuts complete length-prefixed messages off a TCP stream.
func splitFrames(b []byte) (frames [][]byte, rest []byte) {
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			break
		}
		frames = append(frames, b[2:2+n])
		b = b[2+n:]
	}
	return frames, b
}

// plausible reports whether the first frame of a stream can be a DNS answer
// to one of our queries: it is how the module tells another protocol apart.
func plausible(frame []byte) bool {
	if len(frame) < 12 || frame[2]&0x80 == 0 {
		return false
	}
	id := binary.BigEndian.Uint16(frame)
	for _, q := range Queries {
		if q.ID == id {
			return true
		}
	}
	return false
}

// plausiblePrefix checks the first bytes of a stream before a whole frame
// has arrived, so that another protocol's banner or error is rejected at
// once instead of waiting for a "frame" of its first two bytes' length.
func plausiblePrefix(b []byte) bool {
	if len(b) >= 2 && binary.BigEndian.Uint16(b) < 12 {
		return false
	}
	if len(b) >= 4 {
		id := binary.BigEndian.Uint16(b[2:])
		known := false
		for _, q := range Queries {
			known = known || q.ID == id
		}
		if !known {
			return false
		}
	}
	return len(b) < 5 || b[4]&0x80 != 0
}

func (module) Run(ctx context.Context, conn net.Conn, _ []byte, env protocol.Env) (*protocol.Result, error) {
	var reqs []byte
	framed := map[uint16][]byte{}
	for _, q := range Queries {
		f := TCPFrame(BuildQuery(q.ID, q.Name, TypeTXT, ClassCH, false))
		framed[q.ID] = f
		reqs = append(reqs, f...)
	}
	if err := wire.Write(ctx, conn, env.Timeout, reqs); err != nil {
		return nil, fmt.Errorf("dns: write: %w", err)
	}
	max := env.MaxRead
	if max <= 0 {
		max = wire.DefaultMax
	}
	bad := false
	done := func(want int) func([]byte) bool {
		return func(b []byte) bool {
			frames, _ := splitFrames(b)
			if len(frames) > 0 && !plausible(frames[0]) {
				bad = true
				return true
			}
			if !plausiblePrefix(b) {
				bad = true
				return true
			}
			return len(frames) >= want
		}
	}
	buf, err := wire.ReadUntil(ctx, conn, env.Timeout, max, done(1))
	if len(buf) == 0 {
		if err != nil {
			return nil, fmt.Errorf("dns: read: %w", err)
		}
		return nil, fmt.Errorf("dns: no answer: %w", protocol.ErrNotThisProtocol)
	}
	if !bad && err == nil {
		if frames, _ := splitFrames(buf); len(frames) < len(Queries) {
			wait := followUpWait
			if env.Timeout > 0 && env.Timeout < wait {
				wait = env.Timeout
			}
			more, _ := wire.ReadUntil(ctx, conn, wait, max-len(buf), func(b []byte) bool {
				frames, _ := splitFrames(append(buf[:len(buf):len(buf)], b...))
				return len(frames) >= len(Queries)
			})
			buf = append(buf, more...)
		}
	}
	frames, _ := splitFrames(buf)
	res := &protocol.Result{}
	if bad || len(frames) == 0 || !plausible(frames[0]) {
		res.Record(Queries[0].Probe, reqs, buf)
		return res, fmt.Errorf("dns: answer is not DNS: %w", protocol.ErrNotThisProtocol)
	}
	answers := map[string]*Message{}
	raw := map[uint16][]byte{}
	for _, f := range frames {
		m, err := ParseResponse(f)
		if m == nil || err != nil || !m.Response() {
			continue
		}
		for _, q := range Queries {
			if q.ID == m.ID && answers[q.Name] == nil {
				answers[q.Name] = m
				raw[q.ID] = append(binary.BigEndian.AppendUint16(nil, uint16(len(f))), f...)
			}
		}
	}
	for _, q := range Queries {
		res.Record(q.Probe, framed[q.ID], raw[q.ID])
	}
	if len(answers) == 0 {
		return res, fmt.Errorf("dns: no parsable answer: %w", protocol.ErrNotThisProtocol)
	}
	ApplyFields(res, answers)
	res.Service, res.Confidence = "domain", 95
	return res, nil
}
