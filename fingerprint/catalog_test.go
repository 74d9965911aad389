package fingerprint

import (
	"strings"
	"testing"
)

// Every builtin rule carries examples; they are the rules' tests.
func TestBuiltinRuleExamples(t *testing.T) {
	cat, err := Builtin()
	if err != nil {
		t.Fatalf("builtin rules: %v", err)
	}
	passed, failures := cat.CheckExamples()
	for _, f := range failures {
		t.Errorf("%v", f)
	}
	if passed == 0 {
		t.Fatal("no rule example ran")
	}
	t.Logf("%d rules, %d examples passed", cat.Len(), passed)
}

func TestProbesParse(t *testing.T) {
	ps, err := BuiltinProbes()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) == 0 {
		t.Fatal("no probes")
	}
}

func TestRuleMatching(t *testing.T) {
	cat := NewCatalog()
	err := cat.Add(Rule{
		Name: "x-nginx", Product: "nginx", Category: "http", CPE: "cpe:2.3:a:f5:nginx:{version}:*:*:*:*:*:*:*",
		Patterns: []Pattern{
			{Type: "http_header", Header: "Server", Regex: `nginx/(?P<version>[\d.]+)(?: \((?P<os>\w+)\))?`, Confidence: 95},
			{Type: "http_content", Regex: `<center>nginx</center>`, Confidence: 70},
		},
	}, Rule{
		Name: "x-combo", Product: "Combo", Category: "ftp",
		Patterns: []Pattern{{Type: "banner", Regex: `Combo v(\d+)_(\d+)`, Version: "{1}.{2}", Info: "build {2}", Confidence: 60}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		fields  map[string]string
		product string
		version string
		os      string
		cpe     string
		conf    int
	}{
		{"header", map[string]string{"http.header.server": "nginx/1.22.1 (Debian)"}, "nginx", "1.22.1", "Debian", "cpe:2.3:a:f5:nginx:1.22.1:*:*:*:*:*:*:*", 95},
		{"content only", map[string]string{"http.body": "<hr><center>nginx</center>"}, "nginx", "", "", "cpe:2.3:a:f5:nginx:*:*:*:*:*:*:*:*", 70},
		{"template", map[string]string{"banner": "220 Combo v3_14 ready"}, "Combo", "3.14", "", "", 60},
		{"none", map[string]string{"banner": "hello"}, "", "", "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms := cat.Match(tc.fields)
			if tc.product == "" {
				if len(ms) != 0 {
					t.Fatalf("want no match, got %+v", ms)
				}
				return
			}
			if len(ms) == 0 {
				t.Fatal("no match")
			}
			m := ms[0]
			if m.Product != tc.product || m.Version != tc.version || m.OS != tc.os || m.CPE != tc.cpe || m.Confidence != tc.conf {
				t.Errorf("got %q %q os=%q cpe=%q conf=%d", m.Product, m.Version, m.OS, m.CPE, m.Confidence)
			}
		})
	}
}

func TestRuleErrors(t *testing.T) {
	bad := []string{
		"fingerprints:\n  - name: a\n    product: A\n    patterns:\n      - type: banner\n        regex: '('\n",
		"fingerprints:\n  - name: a\n    product: A\n    patterns:\n      - type: nope\n        regex: 'x'\n",
		"fingerprints:\n  - name: a\n    product: A\n    unknown_key: 1\n    patterns:\n      - type: banner\n        regex: 'x'\n",
		"fingerprints:\n  - name: a\n    patterns:\n      - type: banner\n        regex: 'x'\n",
	}
	for _, y := range bad {
		rules, err := ParseRules(strings.NewReader(y), "t.yaml")
		if err == nil {
			err = NewCatalog().Add(rules...)
		}
		if err == nil {
			t.Errorf("accepted bad rule file:\n%s", y)
		}
	}
}

func TestMergeScoring(t *testing.T) {
	ms := []Match{
		{Rule: "a", Product: "nginx", Version: "1.22.1", Confidence: 95, Source: "http_header", Role: "server"},
		{Rule: "b", Product: "nginx", Confidence: 70, Source: "http_content", Role: "server"},
	}
	got := mergeMatches(ms)
	if len(got) != 1 {
		t.Fatalf("want one merged tech, got %d", len(got))
	}
	if got[0].Confidence != 100 || len(got[0].Sources) != 2 || got[0].Version != "1.22.1" {
		t.Errorf("merged: %+v", got[0].Tech)
	}
}

func TestRequiredLiteral(t *testing.T) {
	for _, tc := range []struct{ re, lit string }{
		{`nginx/([\d.]+)`, "nginx/"},
		{`(?i)server: apache`, "server: apache"},
		{`^\d+$`, ""},
		{`a|b`, ""},
	} {
		if lit, _ := requiredLiteral(tc.re); lit != tc.lit {
			t.Errorf("%s: literal %q, want %q", tc.re, lit, tc.lit)
		}
	}
}

func TestRequiredAlternatives(t *testing.T) {
	for _, tc := range []struct {
		re   string
		want string
	}{
		{`(nginx|openresty)/([\d.]+)`, "nginx,openresty"},
		{`(?i)(?:Server: )?(apache|httpd)`, "apache,httpd"},
		{`(ab|cdef)`, ""},   // too short to help
		{`(nginx|.*)x`, ""}, // a branch without a literal
		{`^(?:foo)+bar?`, "foo"},
	} {
		got, _ := requiredAlternatives(tc.re)
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: %v, want %q", tc.re, got, tc.want)
		}
	}
}
