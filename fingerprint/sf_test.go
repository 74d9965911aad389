package fingerprint

import (
	"strings"
	"testing"
)

func TestSFEscape(t *testing.T) {
	got := SFEscape([]byte("a\"b\\\x00\r\n\t\x01\xff"))
	want := `a\"b\\\0\r\n\t\x01\xff`
	if got != want {
		t.Errorf("got %s want %s", got, want)
	}
}

func TestSFFormat(t *testing.T) {
	resp := []byte(strings.Repeat("\x00\x01hello ", 300))
	fp := SF(25672, "tcp", []Exchange{{Probe: "NULL", Response: resp}, {Probe: "GenericLines", Response: []byte("ERR\r\n")}})
	if !strings.HasPrefix(fp, "SF-Port25672-TCP:V=") {
		t.Fatalf("bad head: %.60s", fp)
	}
	lines := strings.Split(fp, "\n")
	for i, l := range lines {
		if i > 0 && !strings.HasPrefix(l, "SF:") {
			t.Fatalf("line %d lacks SF: prefix: %q", i, l)
		}
		if len(l) > 80 {
			t.Fatalf("line %d too long (%d)", i, len(l))
		}
	}
	joined := strings.ReplaceAll(fp, "\nSF:", "")
	if !strings.Contains(joined, `%r(NULL,960,"\0\x01hello`) {
		t.Errorf("NULL response missing: %.200s", joined)
	}
	if !strings.Contains(joined, `%r(GenericLines,5,"ERR\r\n")`) || !strings.HasSuffix(joined, ";") {
		t.Errorf("second response or terminator missing: %s", joined[len(joined)-80:])
	}
}
