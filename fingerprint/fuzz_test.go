package fingerprint

import (
	"strings"
	"testing"
)

// Rule files come from users (--rules): no input may panic the loader or
// the matcher built from it.
func FuzzParseRules(f *testing.F) {
	f.Add("fingerprints:\n  - name: a\n    product: A\n    patterns:\n      - type: banner\n        regex: '^x(?P<version>\\d+)'\n    examples:\n      - banner: x1\n")
	f.Add("fingerprints:\n  - name: b\n    product: B\n    patterns:\n      - type: http_header\n        header: Server\n        regex: 'b/([\\d.]+)'\n        version: '{1}.{9}'\n        cpe: 'cpe:2.3:a:b:b:{version}'\n")
	f.Add("fingerprints: [")
	f.Fuzz(func(t *testing.T, doc string) {
		rules, err := ParseRules(strings.NewReader(doc), "fuzz.yaml")
		if err != nil {
			return
		}
		cat := NewCatalog()
		if err := cat.Add(rules...); err != nil {
			return
		}
		cat.CheckExamples()
		cat.Match(map[string]string{"banner": "x12 b/1.2", "http.header.server": "b/1.2.3", "http.body": doc})
	})
}

func FuzzParseProbes(f *testing.F) {
	f.Add(string(builtinProbes))
	f.Add("probes:\n  - name: p\n    payload: \"GET / HTTP/1.0\\r\\n\\r\\n\"\n    wait: 1x\n")
	f.Fuzz(func(t *testing.T, doc string) {
		ps, err := ParseProbes(strings.NewReader(doc))
		if err != nil {
			return
		}
		for i := range ps {
			ps[i].payload("h", 1)
		}
	})
}
