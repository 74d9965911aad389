package fingerprint

import "testing"

func TestTemplateFunctions(t *testing.T) {
	tests := []struct {
		name    string
		regex   string
		version string
		info    string
		product string
		banner  string
		want    Match
	}{
		{name: "plain groups", regex: `^v(\d+)_(\d+)`, version: "{1}.{2}", banner: "v2_7 ok",
			want: Match{Version: "2.7"}},
		{name: "subst", regex: `^v([\d_]+) `, version: `{SUBST(1,"_",".")}`, banner: "v1_2_3 ok",
			want: Match{Version: "1.2.3"}},
		{name: "subst with brace and comma in args", regex: `^v(\S+)`, version: `{SUBST(1,"}",",")}`, banner: "v1}2",
			want: Match{Version: "1,2"}},
		{name: "printable", regex: `^n=(.{5})`, info: `name {P(1)}`, banner: "n=a\x01b\x7fc",
			want: Match{Info: "name abc"}},
		{name: "int big endian", regex: `(?s)^V(..)`, version: `{I(1,">")}`, banner: "V\x01\x02",
			want: Match{Version: "258"}},
		{name: "int little endian keeps a space byte", regex: `(?s)^V(..)`, version: `{I(1,"<")}`, banner: "V \x01",
			want: Match{Version: "288"}},
		{name: "int high bytes are Latin-1 runes", regex: `(?s)^V(..)`, version: `{I(1,">")}`, banner: Latin1([]byte("V\xff\xfe")),
			want: Match{Version: "65534"}},
		{name: "int longer than 8 bytes gives nothing", regex: `(?s)^V(.{9})`, version: `x{I(1,">")}`, banner: "V123456789",
			want: Match{Version: "x"}},
		{name: "product template", regex: `^DES-(\w+)`, product: "D-Link DES-{1} switch", banner: "DES-3526 ready",
			want: Match{Product: "D-Link DES-3526 switch"}},
		{name: "malformed call stays a named lookup", regex: `^(x)`, version: `{P(1}`, banner: "x",
			want: Match{Version: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCatalog()
			product := tt.product
			if product == "" {
				product = "P"
			}
			err := c.Add(Rule{Name: "r", Product: product, Patterns: []Pattern{{
				Type: "banner", Regex: tt.regex, Version: tt.version, Info: tt.info,
			}}})
			if err != nil {
				t.Fatal(err)
			}
			ms := c.Match(map[string]string{"banner": tt.banner})
			if len(ms) != 1 {
				t.Fatalf("got %d matches", len(ms))
			}
			m := ms[0]
			if m.Version != tt.want.Version || m.Info != tt.want.Info || (tt.want.Product != "" && m.Product != tt.want.Product) {
				t.Errorf("got product %q version %q info %q, want %q %q %q", m.Product, m.Version, m.Info, tt.want.Product, tt.want.Version, tt.want.Info)
			}
		})
	}
}

func TestResponseProbeListAndServiceOnlyRule(t *testing.T) {
	c := NewCatalog()
	err := c.Add(Rule{Name: "svc-only", Service: "echo", Category: "echo", Patterns: []Pattern{{
		Type: "response", Probe: "GenericLines, Help", Regex: `^\r\n\r\n$`, Hostname: "{1}",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"probe.GenericLines", "probe.Help"} {
		ms := c.Match(map[string]string{f: "\r\n\r\n"})
		if len(ms) != 1 || ms[0].Service != "echo" || ms[0].Product != "" {
			t.Errorf("%s: %+v", f, ms)
		}
	}
	if err := c.Add(Rule{Name: "nothing", Patterns: []Pattern{{Type: "banner", Regex: "x"}}}); err == nil {
		t.Error("a rule with neither product nor service was accepted")
	}
	if err := c.Add(Rule{Name: "h", Product: "H", Patterns: []Pattern{{Type: "banner", Regex: `^host=(\S+)`, Hostname: "{1}"}}}); err != nil {
		t.Fatal(err)
	}
	if ms := c.Match(map[string]string{"banner": "host=box1 up"}); len(ms) != 1 || ms[0].Hostname != "box1" {
		t.Errorf("hostname template: %+v", ms)
	}
}
