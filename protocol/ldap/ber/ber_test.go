package ber

import (
	"bytes"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 255, 256, -1, -128, -129, 1 << 40} {
		e, rest, err := Parse(EncodeInt(TagInteger, v))
		if err != nil || len(rest) != 0 {
			t.Fatalf("%d: %v", v, err)
		}
		got, err := Int(e.Content)
		if err != nil || got != v {
			t.Errorf("int %d: got %d %v", v, got, err)
		}
	}
	for _, n := range []int{0, 5, 127, 128, 300, 70000} {
		s := string(bytes.Repeat([]byte{'a'}, n))
		e, _, err := Parse(EncodeString(TagOctetString, s))
		if err != nil || string(e.Content) != s {
			t.Errorf("string of %d: %v", n, err)
		}
	}
	for _, oid := range []string{"1.3.6.1.5.5.2", "1.2.840.113556.1.4.319", "2.16.840.1.113730.3.4.18", "1.3.6.1.4.1.311.2.2.10"} {
		e, _, err := Parse(EncodeOID(oid))
		if err != nil {
			t.Fatal(err)
		}
		got, err := OID(e.Content)
		if err != nil || got != oid {
			t.Errorf("oid %s: got %s %v", oid, got, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short", []byte{0x30}, ErrTruncated},
		{"indefinite", []byte{0x30, 0x80, 0, 0}, ErrIndefinite},
		{"5-byte length", []byte{0x04, 0x85, 1, 1, 1, 1, 1}, ErrTooLong},
		{"huge length", []byte{0x04, 0x84, 0x7f, 0xff, 0xff, 0xff}, ErrTooLong},
		{"runs past", []byte{0x04, 0x05, 'a'}, ErrTruncated},
		{"long tag", []byte{0x1f, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00}, ErrBadTag},
	}
	for _, c := range cases {
		_, _, err := Parse(c.in)
		if err != c.want {
			t.Errorf("%s: got %v want %v", c.name, err, c.want)
		}
	}
}

func TestHighTag(t *testing.T) {
	e, _, err := Parse([]byte{0x9f, 0x81, 0x00, 0x01, 0x41})
	if err != nil || e.Tag != 128 || string(e.Content) != "A" || e.Class != ClassContext {
		t.Fatalf("got %+v %v", e, err)
	}
}

func TestChildrenLimit(t *testing.T) {
	var b []byte
	for i := 0; i < 10; i++ {
		b = append(b, EncodeBool(true)...)
	}
	if _, err := Children(b, 5); err == nil {
		t.Fatal("limit not enforced")
	}
	if es, err := Children(b, 10); err != nil || len(es) != 10 {
		t.Fatalf("got %d %v", len(es), err)
	}
}

// FuzzParse walks arbitrary input as nested BER, the way the modules do.
func FuzzParse(f *testing.F) {
	f.Add(TLV(TagSequence, EncodeInt(TagInteger, 1), EncodeString(TagOctetString, "x")))
	f.Add([]byte{0x30, 0x84, 0, 0, 0, 3, 2, 1, 1})
	f.Add(EncodeOID("1.3.6.1.4.1.4203.1.11.1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var walk func([]byte, int)
		walk = func(b []byte, depth int) {
			if depth > 8 {
				return
			}
			es, _ := Children(b, 64)
			for _, e := range es {
				_, _ = Int(e.Content)
				_, _ = OID(e.Content)
				if e.Constructed {
					walk(e.Content, depth+1)
				}
			}
		}
		walk(b, 0)
	})
}
