package nmapprobes

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sample is a small probes file written for these tests in nmap's format
// (it is not nmap's data): every directive, several delimiters, escapes,
// fallbacks across transports and a line that must be skipped.
const sample = `# test file
Exclude T:9100-9102,U:5

Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 3000
match ssh m|^SSH-([\d.]+)-OpenSSH_([\w._-]+)\r?\n| p/OpenSSH/ v/$2/ i/protocol $1/ cpe:/a:openbsd:openssh:$2/a
match ftp m=^220 (\S+) FTP ready= p/ExampleFTP/ h/$1/ o/Unix/
softmatch ftp m|^220 .*ftp|i
match broken m|^(unclosed| p/Broken/
match weird m|^x| p/Weird/ q/bad/

Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
rarity 1
ports 80-82,8080
sslports 443
match http m%^HTTP/1\.[01] \d\d\d .*\r\nServer: Example/([\d_]+)%s p/Example httpd/ v/$SUBST(1,"_",".")/ d/router/ cpe:/h:example:box/ cpe:/a:example:httpd:$SUBST(1,"_",".")/

Probe TCP HTTPOptions q|OPTIONS / HTTP/1.0\r\n\r\n|
rarity 4
ports 80
fallback GetRequest

Probe UDP DNSReq q|\0\x06\x01\0\0\x01|
rarity 1
ports 53
match domain m|^\0\x06\x81| p/Example DNS/

Probe TCP DNSReqTCP q|\0\x06\0\x06\x01\0\0\x01| no-payload
rarity 3
ports 53
fallback DNSReq
match domain m|^\0\x06\0\x06\x85| p/Other DNS/ v/$I(1,">")/
`

func TestParseSample(t *testing.T) {
	f, err := Parse(strings.NewReader(sample), "sample")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Probes) != 5 {
		t.Fatalf("%d probes", len(f.Probes))
	}
	if !reflect.DeepEqual(f.Exclude.TCP, PortList{{9100, 9102}}) || !reflect.DeepEqual(f.Exclude.UDP, PortList{{5, 5}}) {
		t.Errorf("exclude %+v", f.Exclude)
	}
	null := f.Probes[0]
	if null.Name != "NULL" || len(null.Payload) != 0 || null.TotalWaitMS != 6000 || null.TCPWrappedMS != 3000 {
		t.Errorf("NULL probe %+v", null)
	}
	if len(null.Matches) != 4 {
		t.Fatalf("NULL: %d matches, want 4 (1 line skipped)", len(null.Matches))
	}
	ssh := null.Matches[0]
	want := &Match{Service: "ssh", Regex: `^SSH-([\d.]+)-OpenSSH_([\w._-]+)\r?\n`, Product: "OpenSSH", Version: "$2",
		Info: "protocol $1", CPE: []string{"cpe:/a:openbsd:openssh:$2"}, Line: 7, Raw: ssh.Raw}
	if !reflect.DeepEqual(ssh, want) {
		t.Errorf("ssh match\n got %+v\nwant %+v", ssh, want)
	}
	if m := null.Matches[1]; m.Regex != `^220 (\S+) FTP ready` || m.Hostname != "$1" || m.OS != "Unix" {
		t.Errorf("= delimiter: %+v", m)
	}
	if m := null.Matches[2]; !m.Soft || m.Flags != "i" || m.Service != "ftp" {
		t.Errorf("softmatch: %+v", m)
	}
	if len(f.Skipped) != 1 || f.Skipped[0].Line != 11 {
		t.Errorf("skipped: %v", f.Skipped)
	}
	get := f.Probes[1]
	if string(get.Payload) != "GET / HTTP/1.0\r\n\r\n" || get.Rarity != 1 ||
		!reflect.DeepEqual(get.Ports, PortList{{80, 82}, {8080, 8080}}) || !reflect.DeepEqual(get.SSLPorts, PortList{{443, 443}}) {
		t.Errorf("GetRequest %+v", get)
	}
	if m := get.Matches[0]; m.Flags != "s" || m.Device != "router" || len(m.CPE) != 2 || m.Version != `$SUBST(1,"_",".")` {
		t.Errorf("%% delimiter: %+v", m)
	}
	if f.Probes[2].Fallback[0] != "GetRequest" {
		t.Errorf("fallback %v", f.Probes[2].Fallback)
	}
	udp := f.Probes[3]
	if udp.Transport != "udp" || string(udp.Payload) != "\x00\x06\x01\x00\x00\x01" {
		t.Errorf("UDP probe %+v", udp)
	}
	if !f.Probes[4].NoPayload {
		t.Error("no-payload not read")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"unknown directive", "Probe TCP NULL q||\nfrobnicate 1\n", "t:2: unknown directive"},
		{"match before probe", "match x m|y|\n", "t:1: match before any Probe"},
		{"bad protocol", "Probe SCTP X q|a|\n", "t:1: Probe protocol must be TCP or UDP"},
		{"unterminated probe string", "Probe TCP X q|abc\n", "t:1: probe string not terminated"},
		{"bad escape", "Probe TCP X q|\\q|\n", `t:1: probe string: unknown escape \q`},
		{"bad hex", "Probe TCP X q|\\x4|\n", `t:1: probe string: \x needs two hex digits`},
		{"rarity range", "Probe TCP X q|a|\nrarity 10\n", "t:2: rarity must be 1-9"},
		{"wait range", "Probe TCP X q|a|\ntotalwaitms 5\n", "t:2: totalwaitms must be 100-300000"},
		{"bad port", "Probe TCP X q|a|\nports 80,99999\n", `t:2: bad port "99999"`},
		{"backwards range", "Probe TCP X q|a|\nports 90-80\n", `t:2: port range "90-80" runs backwards`},
		{"exclude after probe", "Probe TCP X q|a|\nExclude 1\n", "t:2: Exclude must precede every Probe"},
		{"two excludes", "Exclude 1\nExclude 2\n", "t:2: only one Exclude"},
		{"duplicate probe", "Probe TCP X q|a|\nProbe TCP X q|b|\n", "t:2: probe TCP X defined twice"},
		{"unknown fallback", "Probe TCP X q|a|\nfallback Y\n", `t:1: unknown fallback probe "Y"`},
		{"unknown option", "Probe TCP X q|a| fast\n", `t:1: unknown probe option "fast"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.file), "t")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a ParseError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want %q", err, tt.want)
			}
		})
	}
}

func TestParseMatchLines(t *testing.T) {
	tests := []struct {
		line    string
		want    *Match
		wantErr string
	}{
		{line: `match a m|x|`, want: &Match{Service: "a", Regex: "x"}},
		{line: `match a m/x\/y/ p|a/b|`, wantErr: "unknown regex flag 'y'"}, // no escaping of the delimiter
		{line: `match a m@^x@is p@Prod@ v#1#`, want: &Match{Service: "a", Regex: "^x", Flags: "is", Product: "Prod", Version: "1"}},
		{line: `match a m|x|si`, want: &Match{Service: "a", Regex: "x", Flags: "si"}},
		{line: `match a m|x|g`, wantErr: `unknown regex flag 'g'`},
		{line: `match a m|x| cpe:|a:b:c|a cpe:/o:linux:linux_kernel/`, want: &Match{Service: "a", Regex: "x", CPE: []string{"cpe:/a:b:c", "cpe:/o:linux:linux_kernel"}}},
		{line: `match a m|x| cpe:/a:b/z`, wantErr: "cpe: unknown flag"},
		{line: `match a m|x| p/unterminated`, wantErr: "not terminated"},
		{line: `match a m|x| z/1/`, wantErr: `unknown version field "z"`},
		{line: `match a m|x| pa/`, wantErr: "bad delimiter"},
		{line: `match a x|y|`, wantErr: "pattern must be m"},
		{line: `match a`, wantErr: "needs a service"},
		{line: `match a m|x| p`, wantErr: "has no value"},
		{line: `softmatch b m|^y|`, want: &Match{Soft: true, Service: "b", Regex: "^y"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := ParseMatch(tt.line)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Raw = tt.line
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestMatchPattern(t *testing.T) {
	tests := []struct{ regex, flags, want string }{
		{`^a`, "", `^a`},
		{`^a`, "is", `(?is)^a`},
		{"caf\xe9", "", `caf\xe9`},
		{"Ostrze\xc5\xbcenie", "", `Ostrze\xc5\xbcenie`},
		{"x\\\xe9", "", `x\xe9`},     // escaped raw byte
		{"x\\\\\xe9", "", `x\\\xe9`}, // escaped backslash, then the byte
		{"[\xe0-\xef]", "", `[\xe0-\xef]`},
	}
	for _, tt := range tests {
		m := &Match{Regex: tt.regex, Flags: tt.flags}
		if got := m.Pattern(); got != tt.want {
			t.Errorf("Pattern(%q) = %q, want %q", tt.regex, got, tt.want)
		}
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{`GET / HTTP/1.0\r\n\r\n`, "GET / HTTP/1.0\r\n\r\n", ""},
		{`\0\x00\xFF\xab\\\a\b\f\t\v`, "\x00\x00\xff\xab\\\a\b\f\t\v", ""},
		{`\|\"\'`, `|"'`, ""},
		{`abc\`, "", "trailing backslash"},
		{`\xg0`, "", "two hex digits"},
		{`\z`, "", "unknown escape"},
	}
	for _, tt := range tests {
		got, err := Unescape(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Unescape(%q): %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("Unescape(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestPortLists(t *testing.T) {
	l, err := ParsePortList("21, 23,1040-1043 ,80")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Expand(); !reflect.DeepEqual(got, []int{21, 23, 1040, 1041, 1042, 1043, 80}) {
		t.Errorf("expand %v", got)
	}
	if !l.Contains(1042) || l.Contains(1044) {
		t.Error("Contains")
	}
	for _, bad := range []string{"", "a", "1-", "-5", "+5", "65536", "5-3"} {
		if _, err := ParsePortList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	ps, err := ParsePortSet("7,T:9100-9101,U:53,S:9")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ps.TCP, PortList{{7, 7}, {9100, 9101}}) || !reflect.DeepEqual(ps.UDP, PortList{{7, 7}, {53, 53}}) {
		t.Errorf("port set %+v", ps)
	}
	if _, err := ParsePortSet("X:1"); err == nil {
		t.Error("X: prefix accepted")
	}
}

func TestConvertTemplate(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"", "", ""},
		{"plain", "plain", ""},
		{"$1.$2", "{1}.{2}", ""},
		{"v$9 costs $$5 $0 $", "v{9} costs ${5} $0 $", ""},
		{"$P(3)", "{P(3)}", ""},
		{`$SUBST(1,"_",".")`, `{SUBST(1,"_",".")}`, ""},
		{`$SUBST(1, "\r\n", ",")`, "{SUBST(1,\"\r\n\",\",\")}", ""},
		{`$I(2,"<") bytes`, `{I(2,"<")} bytes`, ""},
		{`$I(2,"=")`, "", "endianness"},
		{`$SUBST(1,"_")`, "", "takes 2"},
		{`$P(0)`, "", "group number"},
		{`$P(1`, "", "missing )"},
		{`$SUBST(1,_,.)`, "", "quoted"},
		{`a {b}`, "", "braces"},
	}
	for _, tt := range tests {
		got, err := ConvertTemplate(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ConvertTemplate(%q): %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ConvertTemplate(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("Probe TCP X q|\\x00\\xff|\nmatch a m|(?:\\d+)*+$|s p/$P(1)/ v/$SUBST(1,\"a\",\"b\")/ i/$I(1,\"<\")/\n")
	f.Add("Exclude T:1-2,U:3\nProbe UDP Y q/a/ no-payload\nports 1-65535\nsslports 443\nfallback Y\n")
	f.Fuzz(func(t *testing.T, s string) {
		file, err := Parse(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		set := Build(file)
		_ = set.Stats().String()
		for _, r := range set.Rules() {
			if r.Name == "" || len(r.Patterns) == 0 {
				t.Fatalf("empty rule %+v", r)
			}
		}
		_ = set.Mode(7)
	})
}
