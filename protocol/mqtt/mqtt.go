// Package mqtt fingerprints MQTT brokers (Mosquitto, EMQX, HiveMQ,
// VerneMQ, RabbitMQ's MQTT plugin...). Brokers volunteer no banner and most
// deployments require credentials, so the module combines what an anonymous
// client can observe:
//
//  1. an MQTT 3.1.1 CONNECT: the CONNACK return code (0 accepted, 4 bad
//     credentials, 5 not authorized...). When accepted, it subscribes to
//     $SYS/broker/version (Mosquitto) and $SYS/brokers/+/version (EMQX)
//     and waits at most a second for the version, then disconnects;
//  2. an MQTT 5.0 CONNECT on a fresh connection: the CONNACK reason code and
//     properties (receive maximum, topic alias maximum, reason string...)
//     differ from broker to broker, refused or not;
//  3. two MQTT 5.0 CONNECTs that each break one rule, on fresh connections:
//     an unknown authentication method, and a Receive Maximum of 0 (a
//     protocol error). Whether a broker answers them with a reason code or
//     just hangs up is an implementation choice, not configuration.
//
// mqtt.behavior joins the answers into one canonical string for rules.
//
// Fields (all strings):
//
//	mqtt.connack.code             3.1.1 CONNACK return code, decimal
//	mqtt.connack.session_present  "true"/"false"
//	mqtt.auth_required            "true" when a CONNECT without credentials was refused as
//	                              unauthorised (3.1.1 codes 4/5, 5.0 codes 0x86/0x87)
//	mqtt.sys.version              payload of $SYS/broker/version or $SYS/brokers/<node>/version
//	mqtt.v5.reason_code           5.0 CONNACK reason code, "0x87"
//	mqtt.v5.properties            5.0 CONNACK properties, "name=value" comma separated in the
//	                              broker's order (assigned client ids shown as "<assigned>")
//	mqtt.v5.reason_string         the Reason String property, if any
//	mqtt.v5.authmethod            answer to an unknown authentication method: reason code or "close"
//	mqtt.v5.protocol_error        answer to Receive Maximum 0: reason code or "close"
//	mqtt.behavior                 "v311=<code>;v5=<code>[<properties>];auth=<answer>;rm0=<answer>"
package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// maxPacket bounds one packet we accept from the broker.
const maxPacket = 16 << 10

// sysWait bounds the wait for retained $SYS messages.
const sysWait = time.Second

type module struct{}

// New returns the MQTT protocol module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{Name: "mqtt", Service: "mqtt", Ports: []int{1883}, TLSPorts: []int{8883}, Priority: 50}
}

// Claim is false: MQTT clients speak first.
func (module) Claim([]byte) bool { return false }

func clientID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "portrait-" + hex.EncodeToString(b[:])
}

// Property identifiers of MQTT 5.0 used in requests.
const (
	propReceiveMaximum = 0x21
	propAuthMethod     = 0x15
)

func (module) Run(ctx context.Context, conn net.Conn, _ []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	req := Connect(4, clientID(), nil)
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return nil, fmt.Errorf("mqtt: send CONNECT: %w", err)
	}
	resp, err := wire.ReadUntil(ctx, conn, env.Timeout, maxPacket, packetDone)
	res.Record("mqtt-connect-3.1.1", req, resp)
	if len(resp) == 0 {
		if err == nil {
			err = errors.New("closed without CONNACK")
		}
		return res, fmt.Errorf("mqtt: read CONNACK: %w", err)
	}
	ack, err := ParseConnack(resp, false)
	if err != nil {
		return res, fmt.Errorf("mqtt: %w: %w", protocol.ErrNotThisProtocol, err)
	}
	res.Set("mqtt.connack.code", strconv.Itoa(int(ack.Code)))
	res.Set("mqtt.connack.session_present", strconv.FormatBool(ack.SessionPresent))
	if ack.Code == 4 || ack.Code == 5 {
		res.Set("mqtt.auth_required", "true")
	}
	res.Service, res.Confidence = "mqtt", 95
	v311 := fmt.Sprintf("%02x", ack.Code)
	if ack.Code == 0 {
		sysVersion(ctx, conn, env, res)
		_ = wire.Write(ctx, conn, env.Timeout, []byte{0xe0, 0})
	}

	behavior := "v311=" + v311
	if env.Dial != nil {
		behavior += ";v5=" + v5Probe(ctx, env, res, "mqtt-connect-5.0", nil, "")
		behavior += ";auth=" + v5Probe(ctx, env, res, "mqtt-connect-5.0-authmethod",
			property(propAuthMethod, []byte("portrait-unknown")), "mqtt.v5.authmethod")
		behavior += ";rm0=" + v5Probe(ctx, env, res, "mqtt-connect-5.0-rm0",
			property(propReceiveMaximum, []byte{0, 0}), "mqtt.v5.protocol_error")
	}
	res.Set("mqtt.behavior", behavior)
	return res, nil
}

// v5Probe sends an MQTT 5.0 CONNECT with props on a fresh connection and
// returns its summary for mqtt.behavior: "87[]" (reason code and
// properties), "close" (hung up without CONNACK), "none" (silence) or "x"
// (an answer that is not a 5.0 CONNACK). With field == "" it is the main
// 5.0 probe and records the mqtt.v5.* fields; otherwise it records the
// summary under field.
func v5Probe(ctx context.Context, env protocol.Env, res *protocol.Result, probe string, props []byte, field string) string {
	c, err := env.Dial(ctx)
	if err != nil {
		return "error"
	}
	defer c.Close()
	req := Connect(5, clientID(), props)
	if err := wire.Write(ctx, c, env.Timeout, req); err != nil {
		return "error"
	}
	resp, err := wire.ReadUntil(ctx, c, env.Timeout, maxPacket, packetDone)
	res.Record(probe, req, resp)
	summary := ""
	switch {
	case len(resp) == 0 && wire.IsTimeout(err):
		summary = "none"
	case len(resp) == 0:
		summary = "close"
	default:
		ack, perr := ParseConnack(resp, true)
		if perr != nil {
			// A 3.1.1-only broker may answer with a 4-byte CONNACK.
			if old, err311 := ParseConnack(resp, false); err311 == nil {
				summary = "v3-" + fmt.Sprintf("%02x", old.Code)
			} else {
				summary = "x"
			}
			break
		}
		names := PropertyString(ack.Properties)
		summary = fmt.Sprintf("%02x[%s]", ack.Code, names)
		if field == "" {
			res.Set("mqtt.v5.reason_code", fmt.Sprintf("0x%02x", ack.Code))
			res.Set("mqtt.v5.properties", names)
			for _, p := range ack.Properties {
				if p.ID == 0x1f {
					res.Set("mqtt.v5.reason_string", printableCap(p.Value, 256))
				}
			}
			if ack.Code == 0x86 || ack.Code == 0x87 {
				res.Set("mqtt.auth_required", "true")
			}
		}
		if ack.Code == 0 {
			_ = wire.Write(ctx, c, env.Timeout, []byte{0xe0, 0})
		}
	}
	if field != "" {
		res.Set(field, summary)
	}
	return summary
}

// sysVersion subscribes to the brokers' version topics on an accepted
// 3.1.1 session and waits briefly for a retained answer.
func sysVersion(ctx context.Context, conn net.Conn, env protocol.Env, res *protocol.Result) {
	sub := Subscribe(1, "$SYS/broker/version", "$SYS/brokers/+/version")
	if err := wire.Write(ctx, conn, env.Timeout, sub); err != nil {
		return
	}
	wait := sysWait
	if env.Timeout > 0 && env.Timeout < wait {
		wait = env.Timeout
	}
	deadline := time.Now().Add(wait)
	var buf []byte
	for len(buf) < maxPacket {
		left := time.Until(deadline)
		if left <= 0 {
			break // (a zero timeout would mean wire's default, not "none left")
		}
		chunk, _ := wire.ReadUntil(ctx, conn, left, maxPacket-len(buf), func(b []byte) bool {
			_, ok := versionPublish(append(buf[:len(buf):len(buf)], b...))
			return ok
		})
		if len(chunk) == 0 {
			break
		}
		buf = append(buf, chunk...)
		if _, ok := versionPublish(buf); ok {
			break
		}
	}
	res.Record("mqtt-subscribe-sys", sub, buf)
	if v, ok := versionPublish(buf); ok {
		res.Set("mqtt.sys.version", v)
	}
}

// versionPublish finds a PUBLISH on a version topic in a packet stream.
func versionPublish(b []byte) (string, bool) {
	for len(b) > 0 {
		n, hdr, ok := packetLen(b)
		if !ok || len(b) < hdr+n {
			return "", false
		}
		if b[0]>>4 == 3 {
			topic, payload, ok := ParsePublish(b[0], b[hdr:hdr+n])
			if ok && (topic == "$SYS/broker/version" || strings.HasPrefix(topic, "$SYS/brokers/") && strings.HasSuffix(topic, "/version")) {
				return printableCap(payload, 256), true
			}
		}
		b = b[hdr+n:]
	}
	return "", false
}

// Connect builds a CONNECT packet for protocol level 4 (3.1.1) or 5, clean
// session, keep alive 30 s, no credentials. props is the raw 5.0 property
// block content (ignored for level 4).
func Connect(level byte, id string, props []byte) []byte {
	vh := appendString(nil, "MQTT")
	vh = append(vh, level, 0x02)
	vh = binary.BigEndian.AppendUint16(vh, 30)
	if level == 5 {
		vh = appendVarint(vh, len(props))
		vh = append(vh, props...)
	}
	body := appendString(vh, id)
	out := []byte{0x10}
	out = appendVarint(out, len(body))
	return append(out, body...)
}

// Subscribe builds a 3.1.1 SUBSCRIBE for topics at QoS 0.
func Subscribe(packetID uint16, topics ...string) []byte {
	body := binary.BigEndian.AppendUint16(nil, packetID)
	for _, t := range topics {
		body = appendString(body, t)
		body = append(body, 0)
	}
	out := []byte{0x82}
	out = appendVarint(out, len(body))
	return append(out, body...)
}

// property encodes one 5.0 property whose value is already encoded.
func property(id byte, value []byte) []byte {
	if id == propAuthMethod {
		return appendString([]byte{id}, string(value))
	}
	return append([]byte{id}, value...)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendVarint(b []byte, n int) []byte {
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

// readVarint decodes an MQTT variable byte integer (at most 4 bytes).
func readVarint(b []byte) (n, size int, ok bool) {
	mult := 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, false
		}
		n += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			return n, i + 1, true
		}
		mult *= 128
	}
	return 0, 0, false
}

// packetLen returns the remaining length of the packet at b and the size
// of its fixed header.
func packetLen(b []byte) (n, hdr int, ok bool) {
	if len(b) < 2 {
		return 0, 0, false
	}
	n, size, ok := readVarint(b[1:])
	if !ok {
		return 0, 0, false
	}
	return n, 1 + size, true
}

// packetDone: a whole first packet, or a first byte that cannot start a
// CONNACK (another protocol: stop at once).
func packetDone(b []byte) bool {
	if b[0] != 0x20 {
		return true
	}
	n, hdr, ok := packetLen(b)
	if !ok {
		return len(b) >= 5
	}
	return n > maxPacket || len(b) >= hdr+n
}

// Connack is a parsed CONNACK.
type Connack struct {
	SessionPresent bool
	Code           byte
	Properties     []Property
}

// ParseConnack parses a CONNACK; v5 selects the 5.0 layout (with properties).
func ParseConnack(b []byte, v5 bool) (*Connack, error) {
	if len(b) < 1 || b[0] != 0x20 {
		return nil, errors.New("not a CONNACK")
	}
	n, hdr, ok := packetLen(b)
	if !ok {
		return nil, errors.New("bad remaining length")
	}
	if n > maxPacket || len(b) < hdr+n {
		return nil, errors.New("truncated CONNACK")
	}
	body := b[hdr : hdr+n]
	if len(body) < 2 || body[0]&0xfe != 0 {
		return nil, errors.New("bad CONNACK flags")
	}
	ack := &Connack{SessionPresent: body[0]&1 == 1, Code: body[1]}
	if !v5 {
		if n != 2 || ack.Code > 5 {
			return nil, fmt.Errorf("not a 3.1.1 CONNACK (length %d, code %d)", n, ack.Code)
		}
		return ack, nil
	}
	if len(body) == 2 {
		return ack, nil // properties may be omitted when empty
	}
	plen, size, ok := readVarint(body[2:])
	if !ok || 2+size+plen != len(body) {
		return nil, errors.New("bad property length")
	}
	props, err := ParseProperties(body[2+size:])
	if err != nil {
		return nil, err
	}
	ack.Properties = props
	return ack, nil
}

// Property is one MQTT 5.0 property: Value holds the encoded value for
// binary and string types (without length), the integer bytes otherwise.
type Property struct {
	ID    byte
	Value []byte
	Pair  []byte // second string of a user property
}

// propertyKinds: 1, 2, 4 fixed bytes; 's' string; 'b' binary; 'p' string
// pair; 'v' variable byte integer.
var propertyKinds = map[byte]byte{
	0x01: 1, 0x02: 4, 0x03: 's', 0x08: 's', 0x09: 'b', 0x0b: 'v', 0x11: 4, 0x12: 's', 0x13: 2,
	0x15: 's', 0x16: 'b', 0x17: 1, 0x18: 4, 0x19: 1, 0x1a: 's', 0x1c: 's', 0x1f: 's',
	0x21: 2, 0x22: 2, 0x23: 2, 0x24: 1, 0x25: 1, 0x26: 'p', 0x27: 4, 0x28: 1, 0x29: 1, 0x2a: 1,
}

var propertyNames = map[byte]string{
	0x11: "session_expiry", 0x12: "assigned_client_id", 0x13: "server_keep_alive",
	0x15: "auth_method", 0x16: "auth_data", 0x1a: "response_info", 0x1c: "server_reference",
	0x1f: "reason_string", 0x21: "receive_maximum", 0x22: "topic_alias_maximum", 0x24: "maximum_qos",
	0x25: "retain_available", 0x26: "user_property", 0x27: "maximum_packet_size",
	0x28: "wildcard_subscription_available", 0x29: "subscription_identifier_available",
	0x2a: "shared_subscription_available",
}

// ParseProperties decodes a 5.0 property block (at most 64 properties).
func ParseProperties(b []byte) ([]Property, error) {
	var out []Property
	for len(b) > 0 {
		if len(out) >= 64 {
			return out, errors.New("too many properties")
		}
		id := b[0]
		kind, ok := propertyKinds[id]
		if !ok {
			return out, fmt.Errorf("unknown property 0x%02x", id)
		}
		b = b[1:]
		p := Property{ID: id}
		switch kind {
		case 1, 2, 4:
			if len(b) < int(kind) {
				return out, errors.New("truncated property")
			}
			p.Value, b = b[:kind], b[kind:]
		case 'v':
			_, size, ok := readVarint(b)
			if !ok {
				return out, errors.New("bad varint property")
			}
			p.Value, b = b[:size], b[size:]
		case 's', 'b', 'p':
			var err error
			if p.Value, b, err = cutString(b); err != nil {
				return out, err
			}
			if kind == 'p' {
				if p.Pair, b, err = cutString(b); err != nil {
					return out, err
				}
			}
		}
		out = append(out, p)
	}
	return out, nil
}

func cutString(b []byte) ([]byte, []byte, error) {
	if len(b) < 2 {
		return nil, nil, errors.New("truncated string")
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, errors.New("truncated string")
	}
	return b[2 : 2+n], b[2+n:], nil
}

// PropertyString renders properties canonically: "name=value" in order,
// comma separated; assigned client ids (random) become "<assigned>".
func PropertyString(props []Property) string {
	parts := make([]string, 0, len(props))
	for _, p := range props {
		name := propertyNames[p.ID]
		if name == "" {
			name = fmt.Sprintf("0x%02x", p.ID)
		}
		var v string
		switch kind := propertyKinds[p.ID]; {
		case p.ID == 0x12:
			v = "<assigned>"
		case kind == 1:
			v = strconv.Itoa(int(p.Value[0]))
		case kind == 2:
			v = strconv.Itoa(int(binary.BigEndian.Uint16(p.Value)))
		case kind == 4:
			v = strconv.FormatUint(uint64(binary.BigEndian.Uint32(p.Value)), 10)
		case kind == 'b':
			v = fmt.Sprintf("<%d bytes>", len(p.Value))
		case kind == 'p':
			v = printableCap(p.Value, 64) + ":" + printableCap(p.Pair, 64)
		default:
			v = printableCap(p.Value, 128)
		}
		parts = append(parts, name+"="+v)
	}
	return strings.Join(parts, ",")
}

// ParsePublish returns the topic and payload of a PUBLISH body.
func ParsePublish(first byte, body []byte) (string, []byte, bool) {
	topic, rest, err := cutString(body)
	if err != nil {
		return "", nil, false
	}
	if qos := (first >> 1) & 3; qos > 0 {
		if len(rest) < 2 {
			return "", nil, false
		}
		rest = rest[2:]
	}
	return string(topic), rest, true
}

func printableCap(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c >= 0x20 && c != 0x7f && c != ',' {
			out = append(out, c)
		}
	}
	return string(out)
}
