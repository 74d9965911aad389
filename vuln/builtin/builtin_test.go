package builtin

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/vuln/match"
	"github.com/portrait-scanner/portrait/vuln/nvd"
)

func TestLoad(t *testing.T) {
	if err := Err(); err != nil {
		t.Fatal(err)
	}
	if len(Records()) < 15 {
		t.Fatalf("only %d builtin records", len(Records()))
	}
	for _, r := range Records() {
		if r.Title == "" || r.Remediation == "" || r.Published == "" {
			t.Errorf("%s: missing text", r.ID)
		}
		if r.Scope != "server" && r.Scope != "client" {
			t.Errorf("%s: scope %q", r.ID, r.Scope)
		}
	}
	if len(EOLProducts()) == 0 {
		t.Fatal("no EOL products")
	}
}

func TestLookupAndMatch(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		key, ver string
		want     []string // CVEs that must match (True)
		not      []string // CVEs that must not
	}{
		{"openbsd:openssh", "9.2p1", []string{"CVE-2024-6387", "CVE-2023-38408", "CVE-2023-51385"}, []string{"CVE-2016-6210", "CVE-2018-15473"}},
		{"openbsd:openssh", "9.9p1", nil, []string{"CVE-2024-6387", "CVE-2023-38408", "CVE-2023-51385"}},
		{"apache:http_server", "2.4.71", nil, []string{"CVE-2021-41773", "CVE-2021-42013", "CVE-2023-25690"}},
		{"apache:http_server", "2.4.49", []string{"CVE-2021-41773", "CVE-2021-42013", "CVE-2023-25690"}, nil},
		{"f5:nginx", "1.22.1", nil, []string{"CVE-2021-23017"}},
		{"beasts:vsftpd", "2.3.4", []string{"CVE-2011-2523"}, nil},
		{"beasts:vsftpd", "3.0.3", nil, []string{"CVE-2011-2523"}},
		{"exim:exim", "4.96", nil, []string{"CVE-2019-10149"}},
		{"redis:redis", "7.0.15", nil, []string{"CVE-2022-0543"}},
		{"apache:tomcat", "10.1.60", nil, []string{"CVE-2020-1938"}},
		{"postgresql:postgresql", "15.18", nil, []string{"CVE-2023-2454"}},
	}
	for _, tt := range tests {
		keys := Aliases(tt.key)
		entries, err := Source{}.Lookup(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]match.Tri{}
		for _, e := range entries {
			got[e.CVE.ID] = match.Evaluate(e.CVE.Configurations, match.Target{Keys: keys, Version: tt.ver}).Affected
		}
		for _, id := range tt.want {
			if got[id] != match.True {
				t.Errorf("%s %s: %s = %v, want true", tt.key, tt.ver, id, got[id])
			}
		}
		for _, id := range tt.not {
			if got[id] == match.True {
				t.Errorf("%s %s: %s matched", tt.key, tt.ver, id)
			}
		}
	}
}

func TestEOL(t *testing.T) {
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		key, ver string
		want     string // cycle, "" = not EOL
	}{
		{"f5:nginx", "1.22.1", "1.22"},
		{"nginx:nginx", "1.22.1", "1.22"},
		{"f5:nginx", "1.26.2", ""},
		{"f5:nginx", "1.220", ""},
		{"apache:http_server", "2.4.71", ""},
		{"apache:http_server", "2.2.34", "2.2"},
		{"postgresql:postgresql", "15.18", ""},
		{"postgresql:postgresql", "14.5", "14"},
		{"postgresql:postgresql", "9.6.24", "9.6"},
		{"openssl:openssl", "1.0.2k", "1.0.2"},
		{"apache:tomcat", "10.1.60", ""},
		{"apache:tomcat", "8.5.100", "8.5"},
	}
	for _, tt := range tests {
		_, c := ProductEOL(Aliases(tt.key), tt.ver, now)
		got := ""
		if c != nil {
			got = c.Cycle
		}
		if got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.key, tt.ver, got, tt.want)
		}
	}
	if OSReleaseEOL("Debian", "12", now) != nil || OSReleaseEOL("debian", "11", now) == nil {
		t.Error("Debian EOL table")
	}
	// Before the date, not EOL.
	if _, c := ProductEOL([]string{"postgresql:postgresql"}, "14.5", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); c != nil {
		t.Error("14 EOL before its date")
	}
}

// TestBuiltinMatchesNVD checks the facts of every builtin record against
// NVD's own record when PORTRAIT_NVD_DIR points at them.
func TestBuiltinMatchesNVD(t *testing.T) {
	dir := os.Getenv("PORTRAIT_NVD_DIR")
	if dir == "" {
		t.Skip("PORTRAIT_NVD_DIR not set")
	}
	for _, r := range Records() {
		var src *nvd.CVE
		if _, err := nvd.DecodeFile(filepath.Join(dir, r.ID+".json"), func(c *nvd.CVE) error { src = c; return nil }); err != nil {
			t.Errorf("%s: %v", r.ID, err)
			continue
		}
		if (r.CVSS == nil) != (src.CVSS == nil) {
			t.Errorf("%s: cvss presence differs", r.ID)
		} else if r.CVSS != nil && *r.CVSS != *src.CVSS {
			t.Errorf("%s: cvss %+v, NVD %+v", r.ID, *r.CVSS, *src.CVSS)
		}
		if r.KEVAdded != src.KEVAdded || r.Published != src.Published {
			t.Errorf("%s: dates differ", r.ID)
		}
		// Every builtin match is one of NVD's, bounds included.
		all := map[nvd.Match]bool{}
		for _, c := range src.Configurations {
			for _, n := range c.Nodes {
				for _, m := range n.Matches {
					all[m] = true
				}
			}
		}
		for _, c := range r.Configurations {
			for _, n := range c.Nodes {
				for _, m := range n.Matches {
					if !all[m] {
						t.Errorf("%s: match %+v is not in NVD's record", r.ID, m)
					}
				}
			}
		}
	}
}
