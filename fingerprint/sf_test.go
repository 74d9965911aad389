package fingerprint

import (
	"bytes"
	"math/rand"
	"os"
	"strings"
	"testing"
)

func TestSFEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\"b\\\x00\r\n\t\x01\xff", `a\"b\\\0\r\n\t\x01\xff`},
		// nmap's rules: space is \x20, PCRE metacharacters get a backslash,
		// other punctuation stays, a NUL before a digit is \x00.
		{"HTTP/1.1 400 Bad", `HTTP/1\.1\x20400\x20Bad`},
		{"a?[b](c).*+$^|{d}-_,:;'<>=@!#%&~`/", `a\?\[b\]\(c\)\.\*\+\$\^\|{d}-_,:;'<>=@!#%&~` + "`/"},
		{"\x001\x00a\x00", `\x001\0a\0`},
		{"\x7f\x80 ", `\x7f\x80\x20`},
	}
	for _, tt := range tests {
		if got := SFEscape([]byte(tt.in)); got != tt.want {
			t.Errorf("SFEscape(%q) = %s, want %s", tt.in, got, tt.want)
		}
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
		if len(l) > sfWrap+1 || (i < len(lines)-1 && len(l) != sfWrap) {
			t.Fatalf("line %d is %d long (want %d; the last one may end with ';')", i, len(l), sfWrap)
		}
	}
	joined := strings.ReplaceAll(fp, "\nSF:", "")
	if !strings.Contains(joined, `%r(NULL,960,"\0\x01hello\x20`) {
		t.Errorf("NULL response missing: %.200s", joined)
	}
	if !strings.Contains(joined, `%r(GenericLines,5,"ERR\r\n")`) || !strings.HasSuffix(joined, ";") {
		t.Errorf("second response or terminator missing: %s", joined[len(joined)-80:])
	}
}

// TestSFNmapOutput reads fingerprints nmap 7.93 printed for the lab's
// unidentified ports and renders them again: the text must be nmap's, byte
// for byte (header, escaping, 74-column wrapping, terminator).
func TestSFNmapOutput(t *testing.T) {
	raw, err := os.ReadFile("testdata/sf/nmap-7.93-lab.txt")
	if err != nil {
		t.Fatal(err)
	}
	fps, errs := FindSFs(string(raw))
	if len(errs) > 0 || len(fps) != 4 {
		t.Fatalf("%d fingerprints, errors %v", len(fps), errs)
	}
	// The original texts, as nmap printed them.
	var originals []string
	lines := strings.Split(string(raw), "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "SF-Port") {
			continue
		}
		block := []string{lines[i]}
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "SF:") {
			i++
			block = append(block, lines[i])
		}
		originals = append(originals, strings.Join(block, "\n"))
	}
	for i, f := range fps {
		if got := f.String(); got != originals[i] {
			t.Errorf("fingerprint %d re-rendered differently:\n got %s\nwant %s", i, got, originals[i])
		}
	}
	f := fps[0]
	if f.Port != 23 || f.Transport != "TCP" || f.Version != "7.93" || f.Intensity != 7 || f.Month != 11 || f.Day != 22 ||
		f.Time != 0x6B038172 || f.Platform != "x86_64-pc-linux-gnu" || f.TLS {
		t.Errorf("header %+v", f)
	}
	if len(f.Responses) == 0 || f.Responses[0].Probe != "NULL" || !bytes.HasPrefix(f.Responses[0].Data, []byte("\xff\xfb%\xff\xfb&")) {
		t.Errorf("telnet NULL response %+v", f.Responses)
	}
	var http *SFResponse
	for i := range fps[2].Responses {
		if fps[2].Responses[i].Probe == "GetRequest" {
			http = &fps[2].Responses[i]
		}
	}
	if http == nil || http.Length != 0x152 || len(http.Data) != 0x152 || !bytes.HasPrefix(http.Data, []byte("HTTP/1.0 404 Not Found\r\n")) {
		t.Errorf("etcd GetRequest response %+v", http)
	}
}

func TestSFRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for n := 0; n < 200; n++ {
		var xs []Exchange
		for k := 0; k < 1+rng.Intn(4); k++ {
			resp := make([]byte, 1+rng.Intn(1200))
			for i := range resp {
				if rng.Intn(3) == 0 {
					resp[i] = byte(rng.Intn(256))
				} else {
					const alphabet = "\x00\r\n\"\\%;,)(ab01 "
					resp[i] = alphabet[rng.Intn(len(alphabet))]
				}
			}
			xs = append(xs, Exchange{Probe: []string{"NULL", "GetRequest", "Help", "X,Y(z)"}[k], Response: resp})
		}
		fp := SF(1000+n, "tcp", xs)
		f, err := ParseSF(fp)
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, fp)
		}
		if f.String() != fp {
			t.Fatalf("re-rendered differently:\n%s\n%s", f.String(), fp)
		}
		if len(f.Responses) == 0 || len(f.Responses) > len(xs) {
			t.Fatalf("%d responses for %d exchanges", len(f.Responses), len(xs))
		}
		for i, r := range f.Responses {
			want := xs[i].Response
			if r.Length != len(want) {
				t.Fatalf("length %d, want %d", r.Length, len(want))
			}
			if len(want) > sfMaxResponse {
				want = want[:sfMaxResponse]
			}
			if !bytes.Equal(r.Data, want) {
				t.Fatalf("response %d differs", i)
			}
			if r.Truncated() != (len(xs[i].Response) > sfMaxResponse) {
				t.Fatalf("truncation flag wrong")
			}
		}
	}
}

func TestSFCapsAndTLS(t *testing.T) {
	big := bytes.Repeat([]byte{0xff}, 2000)
	f, err := ParseSF(SF(1, "tcp", []Exchange{{Probe: "A", Response: big}, {Probe: "B", Response: big}}))
	if err != nil {
		t.Fatal(err)
	}
	// 900 bytes of \xff cost 3600 characters: past 2200, nothing follows.
	if len(f.Responses) != 1 || f.Responses[0].Length != 2000 || len(f.Responses[0].Data) != sfMaxResponse {
		t.Errorf("%d responses, first %d/%d", len(f.Responses), len(f.Responses[0].Data), f.Responses[0].Length)
	}
	mid := bytes.Repeat([]byte{0xff}, 400) // 1600 characters: the next one still goes in
	var xs []Exchange
	for _, p := range []string{"A", "B", "C"} {
		xs = append(xs, Exchange{Probe: p, Response: mid})
	}
	if f, _ = ParseSF(SF(1, "tcp", xs)); len(f.Responses) != 2 {
		t.Errorf("%d responses, want 2", len(f.Responses))
	}
	xs = []Exchange{{Probe: "GetRequest", Response: []byte("plain")}, {Probe: "GetRequest", TLS: true, Response: []byte("inside")},
		{Probe: "GetRequest", TLS: true, Response: []byte("again")}}
	fp := SF(443, "tcp", xs)
	if !strings.Contains(fp, "%T=SSL%I=") || strings.Contains(fp, "plain") || strings.Contains(fp, "again") || !strings.Contains(fp, "inside") {
		t.Errorf("TLS fingerprint %s", fp)
	}
}

func TestParseSFErrors(t *testing.T) {
	for _, s := range []string{
		"", "SF-Port", "SF-Port99999-TCP:V=1;", "SF-Port1-XYZ:V=1;", "SF-Port1-TCP:V=1%r(NULL;",
		`SF-Port1-TCP:V=1%r(NULL,zz,"a");`, `SF-Port1-TCP:V=1%r(NULL,1,a);`, `SF-Port1-TCP:V=1%r(NULL,1,"a`,
		`SF-Port1-TCP:V=1%r(NULL,1,"\x4");`, `SF-Port1-TCP:V=1%r(NULL,1,"a"`, `SF-Port1-TCP:V=1%r(NULL,1,"a")x;`,
	} {
		if f, err := ParseSF(s); err == nil {
			t.Errorf("ParseSF(%q) = %+v, want an error", s, f)
		}
	}
}

func FuzzParseSF(f *testing.F) {
	raw, _ := os.ReadFile("testdata/sf/nmap-7.93-lab.txt")
	for _, fp := range strings.Split(string(raw), "\nSF-Port") {
		f.Add("SF-Port" + fp)
	}
	f.Add(SF(7, "tcp", []Exchange{{Probe: "NULL", Response: []byte("\x00\x01\"\\x")}}))
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := ParseSF(s)
		if err != nil {
			return
		}
		again, err := ParseSF(fp.String())
		if err != nil {
			t.Fatalf("re-rendered fingerprint does not parse: %v\n%s", err, fp.String())
		}
		if again.Port != fp.Port || len(again.Responses) > len(fp.Responses) {
			t.Fatalf("round trip changed the fingerprint")
		}
		_, _ = FindSFs(s)
	})
}
