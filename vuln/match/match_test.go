package match

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/vuln/cpe"
	"github.com/portrait-scanner/portrait/vuln/nvd"
)

func or(ms ...nvd.Match) nvd.Node { return nvd.Node{Operator: "OR", Matches: ms} }

func TestEvaluateSynthetic(t *testing.T) {
	rangeCfg := []nvd.Config{{Nodes: []nvd.Node{or(
		nvd.Match{Vulnerable: true, Criteria: "cpe:2.3:a:ex:prod:*:*:*:*:*:*:*:*", StartIncl: "8.6", EndExcl: "9.8"},
		nvd.Match{Vulnerable: true, Criteria: "cpe:2.3:a:ex:prod:8.5:p1:*:*:*:*:*:*"},
		nvd.Match{Vulnerable: true, Criteria: "cpe:2.3:a:other:thing:*:*:*:*:*:*:*:*"},
	)}}}
	andCfg := []nvd.Config{{Operator: "AND", Nodes: []nvd.Node{
		or(nvd.Match{Vulnerable: true, Criteria: "cpe:2.3:a:ex:prod:*:*:*:*:*:*:*:*", EndIncl: "2.0"}),
		or(nvd.Match{Vulnerable: false, Criteria: "cpe:2.3:o:debian:debian_linux:10.0:*:*:*:*:*:*:*"}),
	}}}
	naCfg := []nvd.Config{{Nodes: []nvd.Node{or(nvd.Match{Vulnerable: true, Criteria: "cpe:2.3:a:ex:prod:-:*:*:*:*:*:*:*"})}}}
	updCfg := []nvd.Config{{Nodes: []nvd.Node{or(nvd.Match{Vulnerable: true, Criteria: "cpe:2.3:a:ex:prod:*:p2:*:*:*:*:*:*", EndIncl: "7.2"})}}}
	allCfg := []nvd.Config{{Nodes: []nvd.Node{or(nvd.Match{Vulnerable: true, Criteria: "cpe:2.3:a:ex:prod:*:*:*:*:*:*:*:*"})}}}
	debian12 := func(n cpe.Name) Tri {
		if n.Key() == "debian:debian_linux" {
			if n.Version == "12.0" {
				return True
			}
			return False
		}
		return Unknown
	}
	tests := []struct {
		name    string
		cfg     []nvd.Config
		ver     string
		plat    func(cpe.Name) Tri
		want    Tri
		rng     string
		fixedIn string
	}{
		{"in range", rangeCfg, "9.2p1", nil, True, ">= 8.6, < 9.8", "9.8"},
		{"at upper bound", rangeCfg, "9.8", nil, False, "", ""},
		{"above with patch", rangeCfg, "9.8p1", nil, False, "", ""},
		{"lower bound", rangeCfg, "8.6", nil, True, ">= 8.6, < 9.8", "9.8"},
		{"below", rangeCfg, "8.5", nil, False, "", ""},
		{"exact with update", rangeCfg, "8.5p1", nil, True, "= 8.5p1", ""},
		{"too short", rangeCfg, "9", nil, Unknown, ">= 8.6, < 9.8", "9.8"},
		{"no version", rangeCfg, "", nil, Unknown, ">= 8.6, < 9.8", "9.8"},
		{"and unknown platform", andCfg, "1.5", nil, Unknown, "<= 2.0", ""},
		{"and wrong platform", andCfg, "1.5", debian12, False, "<= 2.0", ""},
		{"and out of range", andCfg, "2.1", nil, False, "", ""},
		{"NA version never matches", naCfg, "7.0.15", nil, False, "", ""},
		{"update in bound", updCfg, "7.2p2", nil, True, "<= 7.2p2", ""},
		{"update in bound, older", updCfg, "7.1p1", nil, True, "<= 7.2p2", ""},
		{"update in bound, newer", updCfg, "7.3p1", nil, False, "", ""},
		{"all versions", allCfg, "1.0", nil, True, "all versions", ""},
	}
	for _, tt := range tests {
		r := Evaluate(tt.cfg, Target{Keys: []string{"ex:prod"}, Version: tt.ver, Platform: tt.plat})
		if r.Affected != tt.want || (tt.want != False && (r.Range != tt.rng || r.FixedIn != tt.fixedIn)) {
			t.Errorf("%s: %+v, want %v %q fixed %q", tt.name, r, tt.want, tt.rng, tt.fixedIn)
		}
	}
	// A record that does not name the product is not evaluated at all.
	if r := Evaluate(rangeCfg, Target{Keys: []string{"zz:zz"}, Version: "9.0"}); r.Affected != False {
		t.Errorf("other product: %+v", r)
	}
}

// TestEvaluateReal checks real NVD records (PORTRAIT_NVD_DIR) against the
// versions the lab runs and versions on each side of the ranges.
func TestEvaluateReal(t *testing.T) {
	dir := os.Getenv("PORTRAIT_NVD_DIR")
	if dir == "" {
		t.Skip("PORTRAIT_NVD_DIR not set")
	}
	recs := map[string]*nvd.CVE{}
	files, _ := filepath.Glob(filepath.Join(dir, "CVE-*.json"))
	for _, f := range files {
		nvd.DecodeFile(f, func(c *nvd.CVE) error { recs[c.ID] = c; return nil })
	}
	if len(recs) == 0 {
		t.Skip("no records")
	}
	tests := []struct {
		cve, key, ver string
		want          Tri
	}{
		{"CVE-2024-6387", "openbsd:openssh", "9.2p1", True},
		{"CVE-2024-6387", "openbsd:openssh", "9.8p1", False},
		{"CVE-2024-6387", "openbsd:openssh", "8.5p1", True},
		{"CVE-2024-6387", "openbsd:openssh", "8.4p1", False},
		{"CVE-2024-6387", "openbsd:openssh", "4.3p2", True},
		{"CVE-2023-38408", "openbsd:openssh", "9.2p1", True},
		{"CVE-2023-38408", "openbsd:openssh", "9.3p2", False},
		{"CVE-2023-51385", "openbsd:openssh", "9.2p1", True},
		{"CVE-2023-51385", "openbsd:openssh", "9.6p1", False},
		{"CVE-2016-6210", "openbsd:openssh", "7.2p2", True},
		{"CVE-2016-6210", "openbsd:openssh", "9.2p1", False},
		{"CVE-2018-15473", "openbsd:openssh", "7.7p1", True}, // "<= 7.7": 7.7p1 is 7.7's portable release
		{"CVE-2018-15473", "openbsd:openssh", "9.2p1", False},
		{"CVE-2021-41773", "apache:http_server", "2.4.49", True},
		{"CVE-2021-41773", "apache:http_server", "2.4.50", False},
		{"CVE-2021-42013", "apache:http_server", "2.4.50", True},
		{"CVE-2021-42013", "apache:http_server", "2.4.71", False},
		{"CVE-2023-25690", "apache:http_server", "2.4.55", True},
		{"CVE-2023-25690", "apache:http_server", "2.4.56", False},
		{"CVE-2023-25690", "apache:http_server", "2.4.71", False},
		{"CVE-2023-25690", "apache:http_server", "2.4.9", True},
		{"CVE-2021-23017", "f5:nginx", "1.20.0", True},
		{"CVE-2021-23017", "f5:nginx", "1.22.1", False},
		{"CVE-2011-2523", "vsftpd_project:vsftpd", "2.3.4", True},
		{"CVE-2011-2523", "vsftpd_project:vsftpd", "3.0.3", False},
		{"CVE-2015-3306", "proftpd:proftpd", "1.3.5", True},
		{"CVE-2015-3306", "proftpd:proftpd", "1.3.8", False},
		{"CVE-2019-10149", "exim:exim", "4.91", True},
		{"CVE-2019-10149", "exim:exim", "4.96", False},
		{"CVE-2022-0543", "redis:redis", "7.0.15", False},
		{"CVE-2020-1938", "apache:tomcat", "9.0.30", True},
		{"CVE-2020-1938", "apache:tomcat", "10.1.60", False},
		{"CVE-2023-2454", "postgresql:postgresql", "15.2", True},
		{"CVE-2023-2454", "postgresql:postgresql", "15.18", False},
		{"CVE-2023-2454", "postgresql:postgresql", "15", Unknown},
		{"CVE-2021-44228", "apache:log4j", "2.14.1", True},
		{"CVE-2021-44228", "apache:log4j", "2.17.1", False},
		{"CVE-2022-22965", "vmware:spring_framework", "5.3.17", Unknown},
		{"CVE-2014-0160", "openssl:openssl", "1.0.1f", True},
		{"CVE-2014-0160", "openssl:openssl", "1.0.1g", False},
		{"CVE-2023-22084", "oracle:mysql", "8.0.34", True},
		{"CVE-2023-22084", "mariadb:mariadb", "10.11.19", False},
	}
	for _, tt := range tests {
		c := recs[tt.cve]
		if c == nil {
			t.Errorf("%s not in %s", tt.cve, dir)
			continue
		}
		r := Evaluate(c.Configurations, Target{Keys: []string{tt.key}, Version: tt.ver})
		if r.Affected != tt.want {
			t.Errorf("%s %s %s: %v (%+v), want %v", tt.cve, tt.key, tt.ver, r.Affected, r, tt.want)
		}
		if r.Affected == Unknown && len(r.Reasons) == 0 {
			t.Errorf("%s: unknown without a reason", tt.cve)
		}
		if tt.cve == "CVE-2022-22965" && !strings.Contains(strings.Join(r.Reasons, " "), "oracle:jdk") {
			t.Errorf("%s reasons %v", tt.cve, r.Reasons)
		}
	}
}
