package wire

import "testing"

func TestClip(t *testing.T) {
	if got := Clip([]byte("abcdef"), 3); string(got) != "abc" {
		t.Errorf("bytes: %q", got)
	}
	if got := Clip("abc", 5); got != "abc" {
		t.Errorf("short string: %q", got)
	}
	if got := Clip("abcdef", 0); got != "" {
		t.Errorf("zero: %q", got)
	}
}

func TestLatin1(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{nil, ""},
		{[]byte("plain ascii\r\n"), "plain ascii\r\n"},
		{[]byte{'V', 0xff, 0xe9, 0x80}, "V\u00ff\u00e9\u0080"},
	} {
		got := Latin1(tc.in)
		if got != tc.want {
			t.Errorf("Latin1(%q) = %q, want %q", tc.in, got, tc.want)
		}
		back := make([]byte, 0, len(tc.in))
		for _, r := range got {
			back = append(back, byte(r))
		}
		if string(back) != string(tc.in) {
			t.Errorf("not lossless: %q", back)
		}
	}
}
