package reply

import "testing"

func TestEndParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		end  int
		code int
		text string
	}{
		{"220 ready\r\n", 11, 220, "220 ready"},
		{"220-a\r\n b\r\n220 c\r\nNEXT", 18, 220, "220-a\n b\n220 c"},
		{"220-a\r\n220-b\r\n", -1, 0, ""},
		{"hello\r\n", 7, 0, "hello"},
		{"220 no line end", -1, 0, ""},
	} {
		end := End([]byte(tc.in))
		if end != tc.end {
			t.Errorf("End(%q) = %d, want %d", tc.in, end, tc.end)
			continue
		}
		if end < 0 {
			continue
		}
		r := Parse([]byte(tc.in[:end]))
		if r.Code != tc.code || r.Text() != tc.text {
			t.Errorf("Parse(%q) = %d %q", tc.in[:end], r.Code, r.Text())
		}
	}
}

func TestCodedFirstLine(t *testing.T) {
	for in, want := range map[string]bool{"220 x": true, "220-x": true, "220\r\n": true, "22 x": false, "2200": false, "abc ": false} {
		if Coded([]byte(in)) != want {
			t.Errorf("Coded(%q) != %v", in, want)
		}
	}
	if got := string(FirstLine([]byte("220 a\r\n220 b"))); got != "220 a\r" {
		t.Errorf("FirstLine %q", got)
	}
	if got := string(FirstLine([]byte("no newline"))); got != "no newline" {
		t.Errorf("FirstLine %q", got)
	}
}
