package amqp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// AMQP 1.0 descriptor codes used here (OASIS AMQP 1.0, parts 2 and 5).
const (
	descOpen           = 0x10
	descClose          = 0x18
	descSASLMechanisms = 0x40
	descSASLInit       = 0x41
	descSASLOutcome    = 0x44
)

// Symbol is an AMQP 1.0 symbol value.
type Symbol string

// Described is an AMQP 1.0 described value.
type Described struct {
	Descriptor any
	Value      any
}

// code returns the numeric descriptor, or -1.
func (d Described) code() int64 {
	if v, ok := d.Descriptor.(uint64); ok && v <= math.MaxInt32 {
		return int64(v)
	}
	return -1
}

// frame10 builds an AMQP 1.0 frame (type 0 AMQP, 1 SASL) on channel 0.
func frame10(typ byte, body []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	out = append(out, 2, typ, 0, 0)
	return append(out, body...)
}

// performative encodes a described list with a small-ulong descriptor.
func performative(code byte, items ...[]byte) []byte {
	if len(items) == 0 {
		return []byte{0x00, 0x53, code, 0x45}
	}
	var body []byte
	for _, it := range items {
		body = append(body, it...)
	}
	out := []byte{0x00, 0x53, code, 0xc0, byte(len(body) + 1), byte(len(items))}
	return append(out, body...)
}

func sym8(s string) []byte  { return append([]byte{0xa3, byte(len(s))}, s...) }
func str8(s string) []byte  { return append([]byte{0xa1, byte(len(s))}, s...) }
func vbin8(b []byte) []byte { return append([]byte{0xa0, byte(len(b))}, b...) }

// saslInitAnonymous and open are the client frames of an anonymous 1.0 session.
func saslInitAnonymous() []byte {
	return frame10(1, performative(descSASLInit, sym8("ANONYMOUS"), vbin8([]byte("portrait"))))
}

func open10() []byte  { return frame10(0, performative(descOpen, str8("portrait"))) }
func close10() []byte { return frame10(0, performative(descClose)) }

// amqp10 holds an AMQP 1.0 dialogue on a fresh connection and records what
// it learnt; it reports whether a 1.0 frame was parsed.
func amqp10(ctx context.Context, env protocol.Env, res *protocol.Result, proto string) bool {
	c, err := env.Dial(ctx)
	if err != nil {
		return false
	}
	defer c.Close()
	got := false
	if proto == "1.0-sasl" {
		if err := wire.Write(ctx, c, env.Timeout, header10SA); err != nil {
			return false
		}
		resp, _ := wire.ReadUntil(ctx, c, env.Timeout, maxFrame+8, headerAndFrame)
		res.Record("amqp-1.0-sasl", header10SA, resp)
		if len(resp) < 8 || !bytes.Equal(resp[:8], header10SA) {
			return false
		}
		frames, _ := ParseFrames10(resp[8:])
		mechs := saslMechanisms(frames)
		if mechs == nil {
			return false
		}
		got = true
		res.Set("amqp.mechanisms", printableCap([]byte(strings.Join(mechs, ",")), 256))
		anonymous := false
		for _, m := range mechs {
			anonymous = anonymous || m == "ANONYMOUS"
		}
		if !anonymous {
			return got
		}
		init := saslInitAnonymous()
		if err := wire.Write(ctx, c, env.Timeout, init); err != nil {
			return got
		}
		resp, _ = wire.ReadUntil(ctx, c, env.Timeout, maxFrame, frameDone)
		res.Record("amqp-1.0-sasl-init", init, resp)
		frames, _ = ParseFrames10(resp)
		code, ok := saslOutcome(frames)
		if !ok {
			return got
		}
		res.Set("amqp.sasl_outcome", strconv.FormatUint(code, 10))
		if code != 0 {
			return got
		}
	}
	req := append(append([]byte{}, header10...), open10()...)
	if err := wire.Write(ctx, c, env.Timeout, req); err != nil {
		return got
	}
	resp, _ := wire.ReadUntil(ctx, c, env.Timeout, maxFrame+8, headerAndFrame)
	res.Record("amqp-1.0-open", req, resp)
	if len(resp) < 8 || HeaderVersion(resp[:8]) != "1.0" {
		return got
	}
	frames, _ := ParseFrames10(resp[8:])
	for _, f := range frames {
		d, ok := f.Body.(Described)
		if !ok || d.code() != descOpen {
			continue
		}
		got = true
		fields, _ := d.Value.([]any)
		if len(fields) > 0 {
			if s, ok := fields[0].(string); ok {
				res.Set("amqp.container_id", printableCap([]byte(s), 128))
			}
		}
		if len(fields) > 9 {
			if props, ok := fields[9].(map[string]any); ok {
				setProperties(res, props)
			}
		}
		_ = wire.Write(ctx, c, env.Timeout, close10())
		break
	}
	return got
}

// headerAndFrame: an 8-byte header followed by one whole frame (or a
// header that is not AMQP).
func headerAndFrame(b []byte) bool {
	if len(b) >= 4 && string(b[:4]) != "AMQP" {
		return true
	}
	return len(b) >= 8 && frameDone(b[8:])
}

// frameDone: b starts with one whole 1.0 frame (or an impossible size).
func frameDone(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	n := binary.BigEndian.Uint32(b)
	return n < 8 || n > maxFrame || len(b) >= int(n)
}

// Frame10 is one AMQP 1.0 frame with its decoded body (nil when empty).
type Frame10 struct {
	Type    byte
	Channel uint16
	Body    any
}

// ParseFrames10 decodes consecutive AMQP 1.0 frames.
func ParseFrames10(b []byte) ([]Frame10, error) {
	var out []Frame10
	for len(b) > 0 && len(out) < 16 {
		if len(b) < 8 {
			return out, errShort
		}
		n := binary.BigEndian.Uint32(b)
		doff := int(b[4]) * 4
		if n < 8 || n > maxFrame || doff < 8 || doff > int(n) {
			return out, fmt.Errorf("bad frame size %d doff %d", n, doff)
		}
		if len(b) < int(n) {
			return out, errShort
		}
		f := Frame10{Type: b[5], Channel: binary.BigEndian.Uint16(b[6:8])}
		if body := b[doff:n]; len(body) > 0 {
			r := &reader10{b: body}
			v, err := r.value(0)
			if err != nil {
				return out, err
			}
			f.Body = v
		}
		out = append(out, f)
		b = b[n:]
	}
	return out, nil
}

func saslMechanisms(frames []Frame10) []string {
	for _, f := range frames {
		d, ok := f.Body.(Described)
		if !ok || d.code() != descSASLMechanisms {
			continue
		}
		fields, _ := d.Value.([]any)
		if len(fields) == 0 {
			return []string{}
		}
		var out []string
		switch v := fields[0].(type) {
		case Symbol:
			out = append(out, string(v))
		case []any:
			for _, e := range v {
				if s, ok := e.(Symbol); ok {
					out = append(out, string(s))
				}
			}
		}
		sort.Strings(out)
		if out == nil {
			out = []string{}
		}
		return out
	}
	return nil
}

func saslOutcome(frames []Frame10) (uint64, bool) {
	for _, f := range frames {
		d, ok := f.Body.(Described)
		if !ok || d.code() != descSASLOutcome {
			continue
		}
		fields, _ := d.Value.([]any)
		if len(fields) > 0 {
			if c, ok := fields[0].(uint64); ok {
				return c, true
			}
		}
	}
	return 0, false
}

// reader10 decodes AMQP 1.0 typed values, every length checked.
type reader10 struct {
	b []byte
}

func (r *reader10) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b) {
		return nil, errShort
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out, nil
}

func (r *reader10) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("values nested too deep")
	}
	c, err := r.take(1)
	if err != nil {
		return nil, err
	}
	if c[0] == 0x00 {
		desc, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := r.value(depth + 1)
		return Described{Descriptor: desc, Value: v}, err
	}
	return r.valueOf(c[0], depth)
}

// fixedWidth maps fixed-size type codes to their width.
var fixedWidth = map[byte]int{
	0x40: 0, 0x41: 0, 0x42: 0, 0x43: 0, 0x44: 0, 0x45: 0,
	0x50: 1, 0x51: 1, 0x52: 1, 0x53: 1, 0x54: 1, 0x55: 1, 0x56: 1,
	0x60: 2, 0x61: 2,
	0x70: 4, 0x71: 4, 0x72: 4, 0x73: 4, 0x74: 4,
	0x80: 8, 0x81: 8, 0x82: 8, 0x83: 8, 0x84: 8,
	0x94: 16, 0x98: 16,
}

func (r *reader10) valueOf(code byte, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("values nested too deep")
	}
	if w, ok := fixedWidth[code]; ok {
		b, err := r.take(w)
		if err != nil {
			return nil, err
		}
		switch code {
		case 0x40:
			return nil, nil
		case 0x41:
			return true, nil
		case 0x42:
			return false, nil
		case 0x56:
			return b[0] != 0, nil
		case 0x43, 0x44:
			return uint64(0), nil
		case 0x50, 0x52, 0x53:
			return uint64(b[0]), nil
		case 0x60:
			return uint64(binary.BigEndian.Uint16(b)), nil
		case 0x70:
			return uint64(binary.BigEndian.Uint32(b)), nil
		case 0x80:
			return binary.BigEndian.Uint64(b), nil
		case 0x45:
			return []any{}, nil
		}
		return nil, nil // other numbers: not needed
	}
	switch code {
	case 0xa0, 0xa1, 0xa3, 0xb0, 0xb1, 0xb3:
		n, err := r.size(code >= 0xb0)
		if err != nil {
			return nil, err
		}
		b, err := r.take(n)
		if err != nil {
			return nil, err
		}
		switch code & 0x0f {
		case 0x01:
			return string(b), nil
		case 0x03:
			return Symbol(b), nil
		}
		return append([]byte{}, b...), nil
	case 0xc0, 0xd0, 0xc1, 0xd1:
		sub, count, err := r.compound(code >= 0xd0)
		if err != nil {
			return nil, err
		}
		if count > len(sub.b) {
			return nil, fmt.Errorf("%d elements in %d bytes", count, len(sub.b))
		}
		items := make([]any, 0, min(count, 64))
		for i := 0; i < count; i++ {
			v, err := sub.value(depth + 1)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		if code == 0xc0 || code == 0xd0 {
			return items, nil
		}
		m := map[string]any{}
		for i := 0; i+1 < len(items); i += 2 {
			switch k := items[i].(type) {
			case string:
				m[k] = items[i+1]
			case Symbol:
				m[string(k)] = items[i+1]
			}
		}
		return m, nil
	case 0xe0, 0xf0:
		sub, count, err := r.compound(code == 0xf0)
		if err != nil {
			return nil, err
		}
		ctor, err := sub.take(1)
		if err != nil {
			return nil, err
		}
		if ctor[0] == 0x00 {
			return nil, errors.New("described array elements not supported")
		}
		if w, ok := fixedWidth[ctor[0]]; ok && w == 0 && count > 1024 || count > len(sub.b)+1024 {
			return nil, fmt.Errorf("array of %d elements", count)
		}
		items := make([]any, 0, min(count, 64))
		for i := 0; i < count; i++ {
			v, err := sub.valueOf(ctor[0], depth+1)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		return items, nil
	}
	return nil, fmt.Errorf("unknown type code 0x%02x", code)
}

// compound reads the size and count that open a list, map or array (1 or 4
// bytes each) and returns a reader over its body.
func (r *reader10) compound(wide bool) (*reader10, int, error) {
	n, err := r.size(wide)
	if err != nil {
		return nil, 0, err
	}
	raw, err := r.take(n)
	if err != nil {
		return nil, 0, err
	}
	sub := &reader10{b: raw}
	count, err := sub.size(wide)
	if err != nil {
		return nil, 0, err
	}
	return sub, count, nil
}

// size reads a 1- or 4-byte size or count.
func (r *reader10) size(wide bool) (int, error) {
	if !wide {
		b, err := r.take(1)
		if err != nil {
			return 0, err
		}
		return int(b[0]), nil
	}
	b, err := r.take(4)
	if err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(b)
	if n > maxFrame {
		return 0, fmt.Errorf("size %d", n)
	}
	return int(n), nil
}
