package fingerprint

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRegex2Match(t *testing.T) {
	tests := []struct {
		name   string
		comp   RegexCompiler
		expr   string
		text   string
		groups []string // nil: no match; "" entries for groups that did not take part
	}{
		{"pcre basic", PCRE, `OpenSSH_([\w.]+)`, "SSH-2.0-OpenSSH_9.2p1 Debian", []string{"OpenSSH_9.2p1", "9.2p1"}},
		{"pcre anchors single line", PCRE, `^b$`, "a\nb\nc", nil},
		{"ruby anchors per line", Ruby, `^b$`, "a\nb\nc", []string{"b"}},
		{"ruby m is dotall", Ruby, `(?m)a.b`, "a\nb", []string{"a\nb"}},
		{"ruby no m", Ruby, `a.b`, "a\nb", nil},
		{"ruby hex", Ruby, `^(\h+)$`, "00ff", []string{"00ff", "00ff"}},
		{"pcre horizontal space", PCRE, `a\hb`, "a\tb", []string{"a\tb"}},
		{"ruby option group", Ruby, `(?mi:A.B)`, "a\nb", []string{"a\nb"}},
		{"posix class", PCRE, `^[[:alpha:]]+([[:digit:]]+)`, "abc123", []string{"abc123", "123"}},
		{"open brace quantifier", Ruby, `^a{,2}b`, "aab", []string{"aab"}},
		{"possessive", PCRE, `^a*+b`, "aaab", []string{"aaab"}},
		{"possessive fails", PCRE, `^a*+ab`, "aaab", nil},
		{"quoted", PCRE, `\Qa.b\E(c)`, "xa.bc", []string{"a.bc", "c"}},
		{"x brace", PCRE, `\x{41}(B)`, "AB", []string{"AB", "B"}},
		{"python named group", PCRE, `v(?P<version>\d+)`, "v12", []string{"v12", "12"}},
		{"unknown letter escape", Ruby, `a\_b`, "a_b", []string{"a_b"}},
		{"ascii word", PCRE, `^\w+$`, "caf\u00e9", nil},
		{"ascii space", PCRE, `a\sb`, "a\u00a0b", nil},
		{"optional group absent", PCRE, `a(x)?(b)`, "ab", []string{"ab", "", "b"}},
		{"lookbehind", PCRE, `(?<=SSH-2\.0-)(\w+)`, "SSH-2.0-dropbear", []string{"dropbear", "dropbear"}},
		{"bracket in class", PCRE, `[a-[]+`, "[a[", []string{"[a["}},
		{"comment", PCRE, `a(?#note)b`, "ab", []string{"ab"}},
		{"octal", PCRE, `\041x`, "!x", []string{"!x"}},
		{"latin1 bytes", PCRE, `\xff(\xfe)`, "x\u00ff\u00fe", []string{"\u00ff\u00fe", "\u00fe"}},
		{"raw bytes", PCRE, `\xff(\xfe)`, "x\xff\xfe", []string{"\xff\xfe", "\xfe"}},
		{"utf8 text", Ruby, `Verf\u00fcgung (\w+)`, "steht zur Verf\u00fcgung bereit", []string{"Verf\u00fcgung bereit", "bereit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re, err := tt.comp(tt.expr)
			if err != nil {
				t.Fatalf("compile %q: %v", tt.expr, err)
			}
			idx := re.FindStringSubmatchIndex(tt.text)
			if tt.groups == nil {
				if idx != nil {
					t.Fatalf("matched %v, want no match", idx)
				}
				return
			}
			if idx == nil {
				t.Fatalf("no match, want %q", tt.groups)
			}
			var got []string
			for i := 0; i < len(tt.groups); i++ {
				if idx[2*i] < 0 {
					got = append(got, "")
					continue
				}
				got = append(got, tt.text[idx[2*i]:idx[2*i+1]])
			}
			if !reflect.DeepEqual(got, tt.groups) {
				t.Fatalf("groups %q, want %q", got, tt.groups)
			}
		})
	}
}

func TestRegex2Named(t *testing.T) {
	re, err := PCRE(`(\w+)/(?<version>[\d.]+)`)
	if err != nil {
		t.Fatal(err)
	}
	if i := re.SubexpIndex("version"); i != 2 {
		t.Fatalf("SubexpIndex(version) = %d, want 2", i)
	}
	if i := re.SubexpIndex("nope"); i != -1 {
		t.Fatalf("SubexpIndex(nope) = %d", i)
	}
	if i := re.SubexpIndex("1"); i != -1 {
		t.Fatalf("SubexpIndex(1) = %d, numbers are not names", i)
	}
}

func TestRegex2Timeout(t *testing.T) {
	re, err := PCRE(`^(a+)+$`)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("a", 5000) + "!"
	start := time.Now()
	if idx := re.FindStringSubmatchIndex(text); idx != nil {
		t.Fatalf("matched %v", idx)
	}
	if d := time.Since(start); d > 20*MatchTimeout {
		t.Fatalf("match took %v despite the %v timeout", d, MatchTimeout)
	}
}

func TestRegex2Errors(t *testing.T) {
	for _, e := range []string{`(abc`, `a\K`, `[[:nope:]]`, `(?P>x)`, `[abc`} {
		if _, err := PCRE(e); err == nil {
			t.Errorf("PCRE(%q) compiled", e)
		}
	}
}

func TestPCRELiteral(t *testing.T) {
	tests := []struct {
		expr string
		lit  string
		fold bool
	}{
		{`^OpenSSH_([\w.]+)`, "OpenSSH_", false},
		{`(?i)^vsFTPd (\d+)`, "vsftpd ", true},
		{`^a|bcdef`, "", false},
		{`(abc|def)ghij`, "ghij", false},
		{`Serv-U FTP[ -]Server v(\d+)`, "Serv-U FTP", false},
		{`ab?cdef`, "cdef", false},
		{`abcx*yz`, "abc", false},
		{`abcd+efg`, "abcd", false},
		{`\(vsFTPd ([\d.]+)\)`, "(vsFTPd ", false},
		{`Pure-FTPd\s+\[`, "Pure-FTPd", false},
		{`\u0041BCD`, "BCD", false},
		{`\x41\x42\x43D`, "ABCD", false},
		{`abc\ndefg`, "defg", false},
		{`x{0,3}abcd{2}e`, "abcd", false},
		{`(?x) a b c d`, "", false},
		{`\Qabcdef\E`, "", false},
		{`abc[def]ghij`, "ghij", false},
		{`Verf\u00fcgung`, "Verf", false},
		{`\d\d\d`, "", false},
		{`a(?=bcd)efg`, "efg", false},
		{`(?mi:xyz)abcd`, "abcd", true},
	}
	for _, tt := range tests {
		lit, fold := pcreLiteral(tt.expr)
		if lit != tt.lit || fold != tt.fold {
			t.Errorf("pcreLiteral(%q) = %q, %v; want %q, %v", tt.expr, lit, fold, tt.lit, tt.fold)
		}
	}
}

// Every literal the prefilter uses must occur in every text the regex
// matches: checked on the regex tests above.
func TestPCRELiteralSound(t *testing.T) {
	cases := map[string][]string{
		`^OpenSSH_([\w.]+)`:      {"OpenSSH_9.2"},
		`(?i)^VSFTPD (\d+)`:      {"vsftpd 3"},
		`a(b)+cde`:               {"abbcde"},
		`xy+zzz`:                 {"xyyyzzz"},
		`Microsoft FTP Service$`: {"host Microsoft FTP Service"},
	}
	for expr, texts := range cases {
		re, err := PCRE(expr)
		if err != nil {
			t.Fatal(err)
		}
		lit, fold := pcreLiteral(expr)
		for _, s := range texts {
			if re.FindStringSubmatchIndex(s) == nil {
				t.Fatalf("%q does not match %q", expr, s)
			}
			hay := s
			if fold {
				hay = strings.ToLower(s)
			}
			if !strings.Contains(hay, lit) {
				t.Errorf("literal %q of %q not in matching text %q", lit, expr, s)
			}
		}
	}
}

func TestViewed(t *testing.T) {
	strip := func(s string) (string, []int, int) {
		if i := strings.Index(s, "-"); i >= 0 {
			return s[i+1:], nil, i + 1
		}
		return s, nil, 0
	}
	comp := Viewed(Ruby, strip)
	re, err := comp(`^b(c)`)
	if err != nil {
		t.Fatal(err)
	}
	idx := re.FindStringSubmatchIndex("a-bcd")
	if !reflect.DeepEqual(idx, []int{2, 4, 3, 4}) {
		t.Fatalf("idx %v", idx)
	}
}

func TestCatalogPCREDialect(t *testing.T) {
	cat := NewCatalog()
	err := cat.Add(Rule{Name: "x-pcre", Product: "X", Patterns: []Pattern{{
		Type: "banner", Dialect: "pcre", Regex: `^X server (?<version>[\d.]+)(?= ready)`, Confidence: 70,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	ms := cat.Match(map[string]string{"banner": "X server 1.2 ready"})
	if len(ms) != 1 || ms[0].Version != "1.2" {
		t.Fatalf("matches %+v", ms)
	}
	if ms := cat.Match(map[string]string{"banner": "Y server 1.2 ready"}); len(ms) != 0 {
		t.Fatalf("matches %+v", ms)
	}
}

func FuzzTranslateRegex(f *testing.F) {
	for _, s := range []string{`^OpenSSH_([\w.]+)`, `(?i)a{,3}[[:alpha:]\h]`, `\Qx\E\x{41}(?P<v>a)*+`, `(?mi:a.b)|^c$`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, fl := range []flavour{flavourPCRE, flavourRuby} {
			if re, err := compileFlavour(expr, fl); err == nil {
				re.FindStringSubmatchIndex("abc\n\xff def")
			}
		}
		pcreLiteral(expr)
	})
}

func TestUnless(t *testing.T) {
	re, err := Ruby(`^FTP (\w+)` + UnlessMarker + `(?i)^ftp server$` + UnlessMarker + `ready`)
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]bool{"FTP daemon": true, "FTP Server": false, "FTP x ready": false} {
		if got := re.FindStringSubmatchIndex(text) != nil; got != want {
			t.Errorf("%q: match %v, want %v", text, got, want)
		}
	}
	if lit, _ := pcreLiteral(`^FTP (\w+)` + UnlessMarker + `something long`); lit != "FTP " {
		t.Errorf("literal %q", lit)
	}
}

func TestAnchoredPrefix(t *testing.T) {
	tests := []struct {
		expr      string
		fl        flavour
		lit       string
		fold      bool
		lineStart bool
	}{
		{`^OpenSSH_([\w.]+)`, flavourRuby, "OpenSSH_", false, true},
		{`^OpenSSH_([\w.]+)`, flavourPCRE, "OpenSSH_", false, false},
		{`(?i)^vsFTPd (\d+)`, flavourRuby, "vsFTPd ", true, true},
		{`\AServer\: x`, flavourRuby, "Server: x", false, false},
		{`^ab?c`, flavourRuby, "a", false, false}, // too short
		{`^abc+d`, flavourRuby, "abc", false, true},
		{`^abc*d`, flavourRuby, "ab", false, true},
		{`^a|^b`, flavourRuby, "", false, false},
		{`x^abc`, flavourRuby, "", false, false},
		{`(?m)^abc`, flavourPCRE, "abc", false, true},
	}
	for _, tt := range tests {
		lit, fold, ls := anchoredPrefix(tt.expr, tt.fl)
		if tt.lit == "a" {
			tt.lit = ""
		}
		if lit != tt.lit || (lit != "" && (fold != tt.fold || ls != tt.lineStart)) {
			t.Errorf("anchoredPrefix(%q) = %q %v %v; want %q %v %v", tt.expr, lit, fold, ls, tt.lit, tt.fold, tt.lineStart)
		}
	}
	re, _ := Ruby(`(?i)^vsftpd (\d+)`)
	for text, want := range map[string]bool{"vsFTPd 3": true, "x\nVSFTPD 3": true, "x vsftpd 3": false} {
		if got := re.FindStringSubmatchIndex(text) != nil; got != want {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
}
