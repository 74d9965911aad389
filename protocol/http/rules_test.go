package http_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// TestLabRules runs the fields recorded from the lab servers through the
// builtin rules and checks that the port's product and version come out as
// the lab's truth says (fingerprint/rules/http.yaml).
func TestLabRules(t *testing.T) {
	cat, err := fingerprint.Builtin()
	if err != nil {
		t.Skipf("builtin rules do not load: %v", err)
	}
	for _, tc := range []struct {
		dir, product, version, os string
	}{
		{"nginx-80", "nginx", "1.22.1", ""},
		{"nginx-443", "nginx", "1.22.1", ""},
		{"nginx-443-plain", "nginx", "1.22.1", ""},
		{"apache-9443", "Apache httpd", "2.4.71", "Debian"},
		{"lighttpd-8081", "lighttpd", "1.4.69", ""},
		{"tomcat-8080", "Apache Tomcat", "10.1.60", "Debian"},
		{"squid-3128", "Squid http proxy", "5.7", ""},
		{"cups-631", "CUPS", "2.4.2", ""},
		{"etcd-2379", "etcd", "3.4.23", ""},
		{"etcd-2380", "etcd", "3.4.23", ""},
		{"nats-8222", "NATS server", "2.9.10", ""},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			js, err := os.ReadFile(filepath.Join("testdata", "lab", tc.dir, "recording.json"))
			if err != nil {
				t.Fatal(err)
			}
			var rec struct {
				Fields map[string]string `json:"fields"`
			}
			if err := json.Unmarshal(js, &rec); err != nil {
				t.Fatal(err)
			}
			type score struct {
				conf    int
				version string
				os      string
				sources map[string]bool
			}
			byProduct := map[string]*score{}
			var order []string
			for _, m := range cat.Match(rec.Fields) {
				if m.Role != "server" && m.Role != "proxy" && m.Role != "" {
					continue
				}
				s := byProduct[m.Product]
				if s == nil {
					s = &score{sources: map[string]bool{}}
					byProduct[m.Product] = s
					order = append(order, m.Product)
				}
				s.sources[m.Source] = true
				s.conf = max(s.conf, m.Confidence)
				if len(m.Version) > len(s.version) {
					s.version = m.Version
				}
				if s.os == "" {
					s.os = m.OS
				}
			}
			best, bestConf := "", -1
			for _, p := range order {
				s := byProduct[p]
				c := s.conf
				if len(s.sources) > 1 {
					c += 10
				}
				if s.version != "" {
					c += 5
				}
				if c > bestConf {
					best, bestConf = p, c
				}
			}
			if best != tc.product {
				t.Fatalf("best product %q (%d), want %q; candidates %v", best, bestConf, tc.product, order)
			}
			s := byProduct[best]
			if s.version != tc.version {
				t.Errorf("version %q, want %q", s.version, tc.version)
			}
			if tc.os != "" && !strings.EqualFold(s.os, tc.os) {
				t.Errorf("os %q, want %q", s.os, tc.os)
			}
			for _, p := range order {
				if p != best && byProduct[p].conf >= byProduct[best].conf {
					t.Errorf("competing product %q at %d", p, byProduct[p].conf)
				}
			}
		})
	}
}
