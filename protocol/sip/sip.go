// Package sip sends one SIP OPTIONS request over TCP (or TLS) and reads the
// final response. Every SIP element must answer OPTIONS (RFC 3261 §11), and
// the answer carries the software in its Server or User-Agent header and
// behaviour in the headers it chooses and their order, and in the shape of
// the To tag it generates. No call is set up and nothing registers.
//
// Fields (all strings):
//
//	sip.status           final status code ("200", "404")
//	sip.reason           reason phrase ("OK", "Not relaying")
//	sip.header.<name>    every response header except the ones echoing our
//	                     request (Via, From, To, Call-ID, CSeq, Content-Length),
//	                     name lower-cased with "-" as "_" and compact forms
//	                     expanded: sip.header.server, sip.header.user_agent,
//	                     sip.header.allow, sip.header.supported... (repeated
//	                     headers joined with ", ", values capped at 512 bytes)
//	sip.header_order     all header names in order, lower case, ","-joined
//	sip.to_tag_shape     shape of the To tag the server added: runs of
//	                     lower-case hex as x<N>, digits as d<N>, other
//	                     alphanumerics as a<N>, separators kept ("x32.x8")
package sip

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Module is the SIP-over-TCP module.
type Module struct{}

// New returns the SIP module.
func New() protocol.Module { return Module{} }

// Info describes the module.
func (Module) Info() protocol.Info {
	return protocol.Info{Name: "sip", Service: "sip", Ports: []int{5060}, TLSPorts: []int{5061}, Priority: 50}
}

// Claim is always false: the client speaks first.
func (Module) Claim([]byte) bool { return false }

const (
	maxHeaders  = 64
	maxValue    = 512
	maxBody     = 16 << 10
	maxAttempts = 3 // responses read: provisional ones are skipped
)

// compact maps RFC 3261 §7.3.3 (and later RFCs') compact header names.
var compact = map[string]string{
	"a": "accept-contact", "b": "referred-by", "c": "content-type", "e": "content-encoding",
	"f": "from", "i": "call-id", "j": "reject-contact", "k": "supported", "l": "content-length",
	"m": "contact", "o": "event", "r": "refer-to", "s": "subject", "t": "to", "u": "allow-events",
	"v": "via", "x": "session-expires", "y": "identity",
}

// echoed headers repeat our own request and say nothing about the server.
var echoed = map[string]bool{"via": true, "from": true, "to": true, "call-id": true, "cseq": true, "content-length": true}

// Response is a parsed SIP response head.
type Response struct {
	Status  int
	Reason  string
	Names   []string          // header names in order, lower case, expanded
	Headers map[string]string // lower-case expanded name -> value(s)
	BodyLen int               // Content-Length (0 when absent)
}

// ParseHead parses a response head (status line and headers, up to the
// blank line). ok is false when it is not a SIP/2.0 response.
func ParseHead(head []byte) (Response, bool) {
	var r Response
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	first := lines[0]
	rest, ok := strings.CutPrefix(first, "SIP/2.0 ")
	if !ok {
		return r, false
	}
	code, reason, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 100 || n > 699 {
		return r, false
	}
	r.Status, r.Reason = n, wire.Clip(strings.TrimSpace(reason), 128)
	r.Headers = map[string]string{}
	var last string
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		if (l[0] == ' ' || l[0] == '\t') && last != "" { // folded continuation
			if v := r.Headers[last] + " " + strings.TrimSpace(l); len(v) <= maxValue {
				r.Headers[last] = v
			}
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" || strings.ContainsAny(name, " \t") {
			continue
		}
		if full, ok := compact[name]; ok {
			name = full
		}
		value = strings.TrimSpace(value)
		if len(r.Names) < maxHeaders {
			r.Names = append(r.Names, name)
		}
		if old, ok := r.Headers[name]; ok {
			if len(old)+2+len(value) <= maxValue {
				r.Headers[name] = old + ", " + value
			}
		} else if len(r.Headers) < maxHeaders {
			r.Headers[name] = wire.Clip(value, maxValue)
		}
		last = name
		if name == "content-length" {
			if cl, err := strconv.Atoi(value); err == nil && cl > 0 {
				r.BodyLen = cl
			}
		}
	}
	return r, true
}

// TagShape describes a tag by the shape of its runs, never its value.
func TagShape(tag string) string {
	var b strings.Builder
	for i := 0; i < len(tag) && b.Len() < 64; {
		c := tag[i]
		if !isAlnum(c) {
			b.WriteByte(c)
			i++
			continue
		}
		j := i
		hexOnly, digits := true, true
		for j < len(tag) && isAlnum(tag[j]) {
			d := tag[j]
			if d < '0' || d > '9' {
				digits = false
				if d < 'a' || d > 'f' {
					hexOnly = false
				}
			}
			j++
		}
		kind := "a"
		switch {
		case digits:
			kind = "d"
		case hexOnly:
			kind = "x"
		}
		b.WriteString(kind + strconv.Itoa(j-i))
		i = j
	}
	return b.String()
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// toTag extracts the tag parameter of a To header value.
func toTag(to string) string {
	for _, p := range strings.Split(to, ";")[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "tag") {
			return v
		}
	}
	return ""
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hostPort formats a host (bracketing IPv6 literals) and an optional port.
func hostPort(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	if port == 0 {
		return host
	}
	return host + ":" + strconv.Itoa(port)
}

// Request builds the OPTIONS request. target is the server's host[:port]
// for the Request-URI, local our address for Via and Contact.
func Request(target, local, transport string) []byte {
	tag, branch, callID := randHex(6), randHex(8), randHex(10)
	var b strings.Builder
	fmt.Fprintf(&b, "OPTIONS sip:nm@%s SIP/2.0\r\n", target)
	fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=z9hG4bK%s;rport\r\n", strings.ToUpper(transport), local, branch)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:portrait@%s>;tag=%s\r\n", local, tag)
	fmt.Fprintf(&b, "To: <sip:nm@%s>\r\n", target)
	fmt.Fprintf(&b, "Call-ID: %s@%s\r\n", callID, local)
	b.WriteString("CSeq: 42 OPTIONS\r\n")
	fmt.Fprintf(&b, "Contact: <sip:portrait@%s;transport=%s>\r\n", local, strings.ToLower(transport))
	b.WriteString("Accept: application/sdp\r\n")
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// Run sends OPTIONS and reads the final response.
func (Module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	if len(banner) > 0 {
		return nil, fmt.Errorf("sip: server spoke first: %w", protocol.ErrNotThisProtocol)
	}
	host := env.Hostname
	if host == "" {
		host = env.Host
	}
	if host == "" {
		host, _, _ = net.SplitHostPort(conn.RemoteAddr().String())
	}
	if i := strings.IndexAny(host, " \r\n>;"); i >= 0 {
		host = host[:i]
	}
	port, defPort, transport := env.Port, 5060, "TCP"
	if env.TLS {
		defPort, transport = 5061, "TLS"
	}
	if port == defPort {
		port = 0
	}
	local := "127.0.0.1:5060"
	if la, ok := conn.LocalAddr().(*net.TCPAddr); ok {
		local = hostPort(la.IP.String(), la.Port)
	}
	req := Request(hostPort(host, port), local, transport)
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return nil, fmt.Errorf("sip: send: %w", err)
	}
	max := env.MaxRead
	if max <= 0 {
		max = wire.DefaultMax
	}
	res := &protocol.Result{}
	var buf, all []byte
	var final Response
	got := false
	for attempt := 0; attempt < maxAttempts && !got; attempt++ {
		var head []byte
		for {
			if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
				head, buf = buf[:i+4], buf[i+4:]
				break
			}
			if len(buf) >= 8 && !bytes.HasPrefix(buf, []byte("SIP/2.0 ")) || len(all) >= max {
				break
			}
			b, err := wire.ReadUntil(ctx, conn, env.Timeout, max-len(all), func(b []byte) bool {
				x := append(append([]byte(nil), buf...), b...)
				return bytes.Contains(x, []byte("\r\n\r\n")) || len(x) >= 8 && !bytes.HasPrefix(x, []byte("SIP/2.0 "))
			})
			all = append(all, b...)
			buf = append(buf, b...)
			if len(b) == 0 || err != nil && !bytes.Contains(buf, []byte("\r\n\r\n")) {
				break
			}
		}
		if head == nil {
			break
		}
		r, ok := ParseHead(head)
		if !ok {
			break
		}
		// Skip the body, bounded.
		if n := r.BodyLen; n > 0 {
			if n > maxBody {
				n = maxBody
			}
			for len(buf) < n && len(all) < max {
				b, _ := wire.ReadUntil(ctx, conn, env.Timeout, n-len(buf), nil)
				if len(b) == 0 {
					break
				}
				all = append(all, b...)
				buf = append(buf, b...)
			}
			if len(buf) >= n {
				buf = buf[n:]
			} else {
				buf = nil
			}
		}
		final = r
		got = r.Status >= 200
	}
	res.Record("SIPOptions", req, all)
	if final.Status == 0 {
		if len(all) == 0 {
			return nil, fmt.Errorf("sip: no answer")
		}
		return nil, fmt.Errorf("sip: answer %q: %w", wire.Clip(string(all), 32), protocol.ErrNotThisProtocol)
	}
	res.Set("sip.status", strconv.Itoa(final.Status))
	res.Set("sip.reason", final.Reason)
	for name, v := range final.Headers {
		if !echoed[name] {
			res.Set("sip.header."+fieldName(name), v)
		}
	}
	res.Set("sip.header_order", strings.Join(final.Names, ","))
	res.Set("sip.to_tag_shape", TagShape(toTag(final.Headers["to"])))
	// A SIP server echoes our Call-ID and CSeq. A server that merely copies
	// the protocol word of any request line (mini_httpd answers "SIP/2.0
	// 501" with an HTML page) does not: that is a weak sign only.
	if sentID := headerValue(req, "Call-ID"); sentID != "" && strings.Contains(final.Headers["call-id"], sentID) &&
		strings.Contains(final.Headers["cseq"], "OPTIONS") {
		res.Service, res.Confidence = "sip", 95
	} else {
		res.Service, res.Confidence = "sip", 40
		res.Set("sip.echo", "missing")
	}
	return res, nil
}

// headerValue returns a header's value in a request we built.
func headerValue(req []byte, name string) string {
	for _, line := range strings.Split(string(req), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// fieldName turns a header name into a field name component.
func fieldName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return string(b)
}
