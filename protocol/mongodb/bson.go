package mongodb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// BSON decoding limits: documents nest at most maxDepth deep and hold at
// most maxElements elements in all.
const (
	maxDepth    = 16
	maxElements = 4096
)

// Doc is a decoded BSON document: keys in order and their values. Values
// are string, float64, int32, int64, bool, nil, Doc (documents and arrays)
// or []byte (binary); types not needed here decode to nil.
type Doc struct {
	Keys   []string
	Values []any
}

// Get returns the value of key (first occurrence) and whether it exists.
func (d Doc) Get(key string) (any, bool) {
	for i, k := range d.Keys {
		if k == key {
			return d.Values[i], true
		}
	}
	return nil, false
}

// String returns a string value, or "".
func (d Doc) String(key string) string {
	v, _ := d.Get(key)
	s, _ := v.(string)
	return s
}

// Number returns a numeric value as float64.
func (d Doc) Number(key string) (float64, bool) {
	v, _ := d.Get(key)
	switch x := v.(type) {
	case float64:
		return x, true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// DecodeDoc decodes one BSON document at the start of b and returns it and
// the number of bytes it used.
func DecodeDoc(b []byte) (Doc, int, error) {
	d := &decoder{}
	doc, n, err := d.doc(b, 0)
	return doc, n, err
}

type decoder struct {
	elements int
}

var errShort = errors.New("truncated BSON")

func (d *decoder) doc(b []byte, depth int) (Doc, int, error) {
	var out Doc
	if depth > maxDepth {
		return out, 0, errors.New("BSON nested too deep")
	}
	if len(b) < 5 {
		return out, 0, errShort
	}
	n := int(int32(binary.LittleEndian.Uint32(b)))
	if n < 5 || n > len(b) {
		return out, 0, fmt.Errorf("BSON document length %d of %d", n, len(b))
	}
	if b[n-1] != 0 {
		return out, 0, errors.New("BSON document not terminated")
	}
	p := b[4 : n-1]
	for len(p) > 0 {
		d.elements++
		if d.elements > maxElements {
			return out, 0, errors.New("too many BSON elements")
		}
		t := p[0]
		end := bytes.IndexByte(p[1:], 0)
		if end < 0 {
			return out, 0, errShort
		}
		key := string(p[1 : 1+end])
		p = p[1+end+1:]
		v, used, err := d.value(t, p, depth)
		if err != nil {
			return out, 0, fmt.Errorf("%q: %w", key, err)
		}
		p = p[used:]
		out.Keys = append(out.Keys, key)
		out.Values = append(out.Values, v)
	}
	return out, n, nil
}

func (d *decoder) value(t byte, p []byte, depth int) (any, int, error) {
	fixed := func(n int) ([]byte, error) {
		if len(p) < n {
			return nil, errShort
		}
		return p[:n], nil
	}
	switch t {
	case 0x01: // double
		b, err := fixed(8)
		if err != nil {
			return nil, 0, err
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), 8, nil
	case 0x02, 0x0d, 0x0e: // string, JavaScript, symbol
		s, n, err := bstring(p)
		return s, n, err
	case 0x03, 0x04: // document, array
		doc, n, err := d.doc(p, depth+1)
		return doc, n, err
	case 0x05: // binary
		b, err := fixed(5)
		if err != nil {
			return nil, 0, err
		}
		n := int(int32(binary.LittleEndian.Uint32(b)))
		if n < 0 || 5+n > len(p) {
			return nil, 0, errShort
		}
		return append([]byte{}, p[5:5+n]...), 5 + n, nil
	case 0x06, 0x0a, 0x7f, 0xff: // undefined, null, maxkey, minkey
		return nil, 0, nil
	case 0x07: // ObjectId
		_, err := fixed(12)
		return nil, 12, err
	case 0x08: // bool
		b, err := fixed(1)
		if err != nil {
			return nil, 0, err
		}
		return b[0] != 0, 1, nil
	case 0x09, 0x11: // datetime, timestamp
		_, err := fixed(8)
		return nil, 8, err
	case 0x0b: // regex: two cstrings
		i := bytes.IndexByte(p, 0)
		if i < 0 {
			return nil, 0, errShort
		}
		j := bytes.IndexByte(p[i+1:], 0)
		if j < 0 {
			return nil, 0, errShort
		}
		return nil, i + 1 + j + 1, nil
	case 0x0c: // DBPointer
		_, n, err := bstring(p)
		if err != nil || len(p) < n+12 {
			return nil, 0, errShort
		}
		return nil, n + 12, nil
	case 0x0f: // code with scope
		b, err := fixed(4)
		if err != nil {
			return nil, 0, err
		}
		n := int(int32(binary.LittleEndian.Uint32(b)))
		if n < 4 || n > len(p) {
			return nil, 0, errShort
		}
		return nil, n, nil
	case 0x10: // int32
		b, err := fixed(4)
		if err != nil {
			return nil, 0, err
		}
		return int32(binary.LittleEndian.Uint32(b)), 4, nil
	case 0x12: // int64
		b, err := fixed(8)
		if err != nil {
			return nil, 0, err
		}
		return int64(binary.LittleEndian.Uint64(b)), 8, nil
	case 0x13: // decimal128
		_, err := fixed(16)
		return nil, 16, err
	}
	return nil, 0, fmt.Errorf("unknown BSON type 0x%02x", t)
}

// bstring decodes a BSON string (int32 length including the NUL).
func bstring(p []byte) (string, int, error) {
	if len(p) < 4 {
		return "", 0, errShort
	}
	n := int(int32(binary.LittleEndian.Uint32(p)))
	if n < 1 || 4+n > len(p) || p[4+n-1] != 0 {
		return "", 0, errShort
	}
	return string(p[4 : 4+n-1]), 4 + n, nil
}

// Encoder for the few commands we send: keys with int32, string or
// document values.
type elem struct {
	key   string
	value any // int32, float64, bool, string, []elem
}

func encodeDoc(elems []elem) []byte {
	var body []byte
	for _, e := range elems {
		switch v := e.value.(type) {
		case int32:
			body = append(body, 0x10)
			body = append(body, e.key...)
			body = append(body, 0)
			body = binary.LittleEndian.AppendUint32(body, uint32(v))
		case float64:
			body = append(body, 0x01)
			body = append(body, e.key...)
			body = append(body, 0)
			body = binary.LittleEndian.AppendUint64(body, math.Float64bits(v))
		case bool:
			body = append(body, 0x08)
			body = append(body, e.key...)
			body = append(body, 0)
			if v {
				body = append(body, 1)
			} else {
				body = append(body, 0)
			}
		case string:
			body = append(body, 0x02)
			body = append(body, e.key...)
			body = append(body, 0)
			body = binary.LittleEndian.AppendUint32(body, uint32(len(v)+1))
			body = append(body, v...)
			body = append(body, 0)
		case []elem:
			body = append(body, 0x03)
			body = append(body, e.key...)
			body = append(body, 0)
			body = append(body, encodeDoc(v)...)
		}
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(4+len(body)+1))
	out = append(out, body...)
	return append(out, 0)
}
