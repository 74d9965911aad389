// Package amqp fingerprints AMQP brokers. It sends the AMQP 0-9-1 protocol
// header; a 0-9-1 broker (RabbitMQ, LavinMQ, Qpid) answers with
// Connection.Start, whose server-properties table names the product, its
// version and platform, and which lists the SASL mechanisms and locales. A
// broker that speaks another AMQP version answers with its own protocol
// header instead (AMQP 1.0: ActiveMQ, Artemis, Qpid, Azure Service Bus...).
// For those the module opens a second connection in AMQP 1.0: the SASL
// layer lists its mechanisms, and when ANONYMOUS is offered the broker's
// Open frame carries its container id and properties (product, version).
//
// Fields (all strings):
//
//	amqp.protocol         "0-9-1" (from Connection.Start), or the version the broker's header
//	                      announced: "1.0", "1.0-sasl", "1.0-tls", "0-10", "0-9", "0-8"
//	amqp.product          server-properties / Open properties "product" ("RabbitMQ")
//	amqp.version          "version" ("3.10.8")
//	amqp.server           "<product>/<version>" when both are known ("RabbitMQ/3.10.8"), for rules
//	amqp.platform         "platform" ("Erlang/OTP 25.2.3")
//	amqp.cluster_name     "cluster_name" (instance specific)
//	amqp.copyright        "copyright"
//	amqp.information      "information"
//	amqp.capabilities     capabilities set to true, sorted, comma separated
//	amqp.property.<name>  any other string property, name lower-cased (at most 16)
//	amqp.mechanisms       SASL mechanisms (0-9-1: as sent, space separated; 1.0: comma separated)
//	amqp.locales          locales (0-9-1)
//	amqp.container_id     AMQP 1.0 Open container-id (instance specific)
//	amqp.sasl_outcome     AMQP 1.0 outcome code of a SASL ANONYMOUS attempt (decimal, 0 = ok)
package amqp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// maxFrame bounds one frame we accept (Connection.Start is ~500 bytes).
const maxFrame = 64 << 10

var (
	header091  = []byte("AMQP\x00\x00\x09\x01")
	header10   = []byte("AMQP\x00\x01\x00\x00")
	header10SA = []byte("AMQP\x03\x01\x00\x00")
)

type module struct{}

// New returns the AMQP protocol module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{Name: "amqp", Service: "amqp", Ports: []int{5672}, TLSPorts: []int{5671}, Priority: 50}
}

// Claim is false: AMQP clients speak first.
func (module) Claim([]byte) bool { return false }

func (module) Run(ctx context.Context, conn net.Conn, _ []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	if err := wire.Write(ctx, conn, env.Timeout, header091); err != nil {
		return nil, fmt.Errorf("amqp: send header: %w", err)
	}
	resp, err := wire.ReadUntil(ctx, conn, env.Timeout, maxFrame+8, answerDone)
	res.Record("amqp-0-9-1", header091, resp)
	if len(resp) == 0 {
		if err == nil {
			err = errors.New("empty answer")
		}
		return res, fmt.Errorf("amqp: read: %w", err)
	}
	if bytes.HasPrefix(resp, []byte("AMQP")) {
		if len(resp) < 8 {
			return res, protocol.ErrNotThisProtocol
		}
		proto := HeaderVersion(resp[:8])
		if proto == "" || bytes.Equal(resp[:8], header091) {
			// A broker that answers with the very header we sent would
			// speak 0-9-1; this is an echo service.
			return res, protocol.ErrNotThisProtocol
		}
		res.Set("amqp.protocol", proto)
		res.Service, res.Confidence = "amqp", 90
		if strings.HasPrefix(proto, "1.0") && env.Dial != nil {
			if amqp10(ctx, env, res, proto) {
				res.Confidence = 97
			}
		}
		return res, nil
	}
	start, err := ParseStart(resp)
	if err != nil {
		return res, fmt.Errorf("amqp: %w: %w", protocol.ErrNotThisProtocol, err)
	}
	res.Set("amqp.protocol", fmt.Sprintf("%d-%d-1", start.Major, start.Minor))
	if start.Major != 0 || start.Minor != 9 {
		res.Set("amqp.protocol", fmt.Sprintf("%d-%d", start.Major, start.Minor))
	}
	setProperties(res, start.Properties)
	res.Set("amqp.mechanisms", start.Mechanisms)
	res.Set("amqp.locales", start.Locales)
	res.Service, res.Confidence = "amqp", 98
	return res, nil
}

// answerDone reports whether b holds a protocol header, a whole frame, or
// bytes that are neither (another protocol: stop at once).
func answerDone(b []byte) bool {
	if b[0] == 'A' {
		n := min(len(b), 4)
		if string(b[:n]) != "AMQP"[:n] {
			return true
		}
		return len(b) >= 8
	}
	if b[0] != 1 {
		return true
	}
	if len(b) < 7 {
		return false
	}
	size := binary.BigEndian.Uint32(b[3:7])
	return size > maxFrame || len(b) >= 7+int(size)+1
}

// HeaderVersion names the protocol of an 8-byte AMQP protocol header.
func HeaderVersion(h []byte) string {
	if len(h) < 8 || string(h[:4]) != "AMQP" {
		return ""
	}
	switch id, a, b, c := h[4], h[5], h[6], h[7]; {
	case id == 0 && a == 1 && b == 0 && c == 0:
		return "1.0"
	case id == 2 && a == 1 && b == 0 && c == 0:
		return "1.0-tls"
	case id == 3 && a == 1 && b == 0 && c == 0:
		return "1.0-sasl"
	case id == 0 && a == 0 && b == 9 && c == 1:
		return "0-9-1"
	case id == 1 && a == 1 && b == 0 && c == 10:
		return "0-10"
	case id == 1 && a == 1 && b == 0 && c == 9:
		return "0-9"
	case id == 1 && a == 1 && b == 8 && c == 0:
		return "0-8"
	}
	return fmt.Sprintf("unknown-%d-%d-%d-%d", h[4], h[5], h[6], h[7])
}

// Start is a parsed Connection.Start method.
type Start struct {
	Major, Minor byte
	Properties   map[string]any
	Mechanisms   string
	Locales      string
}

// ParseStart parses a method frame holding Connection.Start (class 10,
// method 10).
func ParseStart(b []byte) (*Start, error) {
	if len(b) < 7 {
		return nil, errors.New("short frame")
	}
	if b[0] != 1 || b[1] != 0 || b[2] != 0 {
		return nil, fmt.Errorf("frame type %d channel %d", b[0], int(b[1])<<8|int(b[2]))
	}
	size := binary.BigEndian.Uint32(b[3:7])
	if size > maxFrame {
		return nil, fmt.Errorf("frame size %d", size)
	}
	if len(b) < 7+int(size)+1 {
		return nil, errors.New("truncated frame")
	}
	if b[7+size] != 0xce {
		return nil, errors.New("no frame end")
	}
	p := b[7 : 7+size]
	if len(p) < 6 || binary.BigEndian.Uint16(p) != 10 || binary.BigEndian.Uint16(p[2:]) != 10 {
		return nil, errors.New("not Connection.Start")
	}
	s := &Start{Major: p[4], Minor: p[5]}
	r := &reader{b: p[6:]}
	props, err := r.table(0)
	if err != nil {
		return nil, fmt.Errorf("server-properties: %w", err)
	}
	s.Properties = props
	mech, err := r.longstr()
	if err != nil {
		return nil, fmt.Errorf("mechanisms: %w", err)
	}
	s.Mechanisms = printableCap(mech, 256)
	loc, err := r.longstr()
	if err != nil {
		return nil, fmt.Errorf("locales: %w", err)
	}
	s.Locales = printableCap(loc, 256)
	return s, nil
}

// setProperties records the product properties (0-9-1 table or 1.0 map).
func setProperties(res *protocol.Result, props map[string]any) {
	named := map[string]string{
		"product": "amqp.product", "version": "amqp.version", "platform": "amqp.platform",
		"cluster_name": "amqp.cluster_name", "copyright": "amqp.copyright", "information": "amqp.information",
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	extra := 0
	for _, k := range keys {
		v := props[k]
		if k == "capabilities" {
			if caps, ok := v.(map[string]any); ok {
				var on []string
				for name, val := range caps {
					if b, ok := val.(bool); ok && b {
						on = append(on, name)
					}
				}
				sort.Strings(on)
				res.Set("amqp.capabilities", printableCap([]byte(strings.Join(on, ",")), 1024))
			}
			continue
		}
		s, ok := v.(string)
		if !ok {
			continue
		}
		if f, ok := named[k]; ok {
			res.Set(f, printableCap([]byte(s), 256))
		} else if extra < 16 && fieldName(k) && !strings.HasPrefix(k, "server") {
			res.Set("amqp.property."+strings.ToLower(k), printableCap([]byte(s), 256))
			extra++
		}
	}
	if p, v := res.Fields["amqp.product"], res.Fields["amqp.version"]; p != "" && v != "" {
		res.Set("amqp.server", p+"/"+v)
	}
}

func fieldName(k string) bool {
	if k == "" || len(k) > 48 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// printableCap returns b as text, cut at n bytes, with control bytes dropped.
func printableCap(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c >= 0x20 && c != 0x7f {
			out = append(out, c)
		}
	}
	return string(out)
}

// reader decodes AMQP 0-9-1 field values (with the RabbitMQ/Qpid type
// codes of the 0-9-1 errata), every length checked against what is left.
type reader struct {
	b []byte
}

var errShort = errors.New("truncated")

const maxDepth = 8

func (r *reader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b) {
		return nil, errShort
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out, nil
}

func (r *reader) u8() (byte, error) {
	b, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (r *reader) u32() (uint32, error) {
	b, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

func (r *reader) longstr() ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if n > maxFrame {
		return nil, fmt.Errorf("long string of %d bytes", n)
	}
	return r.take(int(n))
}

func (r *reader) shortstr() (string, error) {
	n, err := r.u8()
	if err != nil {
		return "", err
	}
	b, err := r.take(int(n))
	return string(b), err
}

// table decodes a field table: a 4-byte size then name/value pairs.
func (r *reader) table(depth int) (map[string]any, error) {
	if depth > maxDepth {
		return nil, errors.New("tables nested too deep")
	}
	raw, err := r.longstr()
	if err != nil {
		return nil, err
	}
	sub := &reader{b: raw}
	out := map[string]any{}
	for len(sub.b) > 0 {
		name, err := sub.shortstr()
		if err != nil {
			return out, err
		}
		v, err := sub.value(depth)
		if err != nil {
			return out, err
		}
		if len(out) < 256 {
			out[name] = v
		}
	}
	return out, nil
}

// value decodes one typed field value.
func (r *reader) value(depth int) (any, error) {
	t, err := r.u8()
	if err != nil {
		return nil, err
	}
	fixed := map[byte]int{'b': 1, 'B': 1, 's': 2, 'u': 2, 'I': 4, 'i': 4, 'l': 8, 'L': 8, 'f': 4, 'd': 8, 'D': 5, 'T': 8}
	switch t {
	case 't':
		b, err := r.u8()
		return b != 0, err
	case 'S', 'x':
		b, err := r.longstr()
		return string(b), err
	case 'F':
		return r.table(depth + 1)
	case 'A':
		if depth > maxDepth {
			return nil, errors.New("arrays nested too deep")
		}
		raw, err := r.longstr()
		if err != nil {
			return nil, err
		}
		sub := &reader{b: raw}
		var out []any
		for len(sub.b) > 0 {
			v, err := sub.value(depth + 1)
			if err != nil {
				return out, err
			}
			if len(out) < 256 {
				out = append(out, v)
			}
		}
		return out, nil
	case 'V':
		return nil, nil
	}
	if n, ok := fixed[t]; ok {
		_, err := r.take(n)
		return nil, err
	}
	return nil, fmt.Errorf("unknown field type %q", t)
}
