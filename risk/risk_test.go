package risk

import (
	"context"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/compliance"
	"github.com/portrait-scanner/portrait/profile"
	"github.com/portrait-scanner/portrait/scan"
	"github.com/portrait-scanner/portrait/vuln"
)

func TestScore(t *testing.T) {
	tests := []struct {
		name  string
		f     vuln.Finding
		x     float64
		want  float64
		level string
	}{
		{"critical cvss internet", vuln.Finding{Severity: "critical", CVSS: &vuln.CVSS{Version: "3.1", Score: 9.8}, Status: vuln.Confirmed}, ExposureInternet, 49, "high"},
		{"kev+epss", vuln.Finding{Severity: "critical", CVSS: &vuln.CVSS{Score: 9.8}, KEV: &vuln.KEV{}, EPSS: &vuln.EPSS{Score: 0.9}, Status: vuln.Confirmed}, ExposureInternet, 95.6, "critical"},
		{"potential internal", vuln.Finding{Severity: "high", CVSS: &vuln.CVSS{Score: 8.1}, Status: vuln.Potential}, ExposureInternal, 12.2, "low"},
		{"misconfig internal", vuln.Finding{Severity: "high", Status: vuln.Confirmed}, ExposureInternal, 24, "medium"},
		{"capped", vuln.Finding{Severity: "critical", CVSS: &vuln.CVSS{Score: 10}, KEV: &vuln.KEV{}, EPSS: &vuln.EPSS{Score: 1}, Status: vuln.Confirmed}, ExposureInternet, 100, "critical"},
	}
	for _, tt := range tests {
		r := Score(&tt.f, tt.x)
		if r.Score != tt.want || r.Level != tt.level {
			t.Errorf("%s: %+v", tt.name, r)
		}
		if !strings.Contains(r.Explain, "=") || len(r.Factors) != 4 {
			t.Errorf("%s: explain %q factors %v", tt.name, r.Explain, r.Factors)
		}
	}
}

func TestStage(t *testing.T) {
	pci, _ := compliance.Load("pci-dss")
	st := New(Config{Frameworks: []*compliance.Framework{pci}})
	a := &profile.Asset{Type: "asset", Host: "127.0.0.1"}
	f1 := &vuln.Finding{ID: "telnet-cleartext", Check: "telnet-cleartext", Kind: vuln.KindMisconfig, Severity: "high", Status: vuln.Confirmed, Port: 23}
	f2 := &vuln.Finding{ID: "CVE-2024-6387", Check: "cve", Kind: vuln.KindVulnerability, Severity: "high", CVSS: &vuln.CVSS{Score: 8.1}, Status: vuln.Potential, Port: 22}
	recs := st.Host(context.Background(), scan.HostRecord{Host: "127.0.0.1", State: "up"}, nil, []scan.Record{a, f1, f2})
	if f1.Risk == nil || f2.Risk == nil || a.Risk == nil || a.Exposure != "internal" {
		t.Fatalf("not scored: %+v %+v %+v", f1.Risk, f2.Risk, a)
	}
	if a.Risk.Score != 24+1.2 || a.Risk.Top[0] != "telnet-cleartext@23" {
		t.Errorf("host risk %+v", a.Risk)
	}
	if len(recs) != 1 {
		t.Fatalf("records %v", recs)
	}
	c := recs[0].(*Record)
	fail := map[string][]string{}
	for _, cr := range c.Controls {
		if cr.Status == "fail" {
			fail[cr.ID] = cr.Findings
		}
	}
	if len(fail["2.2.7"]) != 1 || len(fail["6.3.3"]) != 1 || len(fail["11.3.1"]) != 2 || fail["11.3.2"] != nil {
		t.Errorf("controls %v", fail)
	}
	if !contains(f1.Compliance, "pci-dss:2.2.7") || !contains(f2.Compliance, "pci-dss:6.3.3") {
		t.Errorf("finding tags %v %v", f1.Compliance, f2.Compliance)
	}
	if New(Config{}).Exposure("8.8.8.8") != ExposureInternet || New(Config{}).Exposure("192.168.1.1") != ExposureInternal {
		t.Error("exposure")
	}
	rs, err := ParseRanges("203.0.113.0/24, 198.51.100.7")
	if err != nil || len(rs) != 2 {
		t.Fatal(rs, err)
	}
	if New(Config{Internal: rs}).Exposure("203.0.113.9") != ExposureInternal || New(Config{Internal: rs}).Exposure("10.0.0.1") != ExposureInternet {
		t.Error("custom ranges")
	}
}

// TestMappingsNameRealChecks keeps the compliance data in step with the
// checks the vuln stage can report.
func TestMappingsNameRealChecks(t *testing.T) {
	known := map[string]bool{"cve": true}
	for id := range vuln.Checks {
		known[id] = true
	}
	kinds := map[string]bool{vuln.KindVulnerability: true, vuln.KindMisconfig: true, vuln.KindEOL: true}
	for _, n := range compliance.Names() {
		fw, err := compliance.Load(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range fw.Controls {
			for _, ch := range c.Checks {
				if !known[ch] {
					t.Errorf("%s %s: unknown check %q", n, c.ID, ch)
				}
			}
			for _, k := range c.Kinds {
				if !kinds[k] {
					t.Errorf("%s %s: unknown kind %q", n, c.ID, k)
				}
			}
		}
	}
	// Every check is mapped somewhere.
	mapped := map[string]bool{}
	for _, n := range compliance.Names() {
		fw, _ := compliance.Load(n)
		for _, c := range fw.Controls {
			for _, ch := range c.Checks {
				mapped[ch] = true
			}
		}
	}
	for id, c := range vuln.Checks {
		if !mapped[id] && c.Kind == vuln.KindMisconfig {
			t.Errorf("check %s is in no control", id)
		}
	}
}
