package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// testCVE is a made-up record (CVE-2099 range) in NVD's API 2.0 shape.
func testCVE(id, criteria, endExcl string) map[string]any {
	return map[string]any{"id": id, "published": "2099-01-01T00:00:00.000", "lastModified": "2099-01-02T00:00:00.000",
		"descriptions": []any{map[string]any{"lang": "en", "value": "test flaw"}},
		"metrics": map[string]any{"cvssMetricV31": []any{map[string]any{"source": "nvd@nist.gov", "type": "Primary",
			"cvssData": map[string]any{"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "baseScore": 9.8, "baseSeverity": "CRITICAL"}}}},
		"configurations": []any{map[string]any{"nodes": []any{map[string]any{"operator": "OR", "cpeMatch": []any{
			map[string]any{"vulnerable": true, "criteria": criteria, "versionEndExcluding": endExcl}}}}}},
	}
}

func TestVulnDBCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "v.sqlite")
	rec, _ := json.Marshal(testCVE("CVE-2099-0001", "cpe:2.3:a:example:exampled:*:*:*:*:*:*:*:*", "2.0"))
	os.WriteFile(filepath.Join(dir, "CVE-2099-0001.json"), rec, 0o644)
	os.WriteFile(filepath.Join(dir, "kev.json"), []byte(`{"catalogVersion":"t","vulnerabilities":[{"cveID":"CVE-2099-0001","dateAdded":"2099-02-01"}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "epss.csv"), []byte("cve,epss,percentile\nCVE-2099-0001,0.5,0.9\n"), 0o644)

	if code, out, errs := run("vulndb", "--db", db, "import", dir); code != 0 || !strings.Contains(out, "imported 1 CVE records") {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}
	if code, out, _ := run("vulndb", "--db", db, "import-kev", filepath.Join(dir, "kev.json")); code != 0 || !strings.Contains(out, "1 KEV") {
		t.Fatalf("kev: %d %q", code, out)
	}
	if code, out, _ := run("vulndb", "--db", db, "import-epss", filepath.Join(dir, "epss.csv")); code != 0 || !strings.Contains(out, "1 EPSS") {
		t.Fatalf("epss: %d %q", code, out)
	}
	code, out, _ := run("vulndb", "--db", db, "lookup", "example:exampled", "1.5")
	if code != 0 || !strings.Contains(out, "CVE-2099-0001") || !strings.Contains(out, "yes") {
		t.Errorf("lookup: %d %q", code, out)
	}
	if _, out, _ := run("vulndb", "--db", db, "lookup", "example:exampled", "2.0"); !strings.Contains(out, "no known CVE") {
		t.Errorf("lookup fixed version: %q", out)
	}
	code, out, _ = run("vulndb", "--db", db, "status", "--json")
	var st map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st["exists"] != true {
		t.Errorf("status: %d %q", code, out)
	}
	// Usage errors exit 2.
	for _, args := range [][]string{
		{"vulndb", "--db", db, "import"},
		{"vulndb", "--db", db, "import", filepath.Join(dir, "missing.json")},
		{"vulndb", "--db", db, "lookup", "exampled", "1"},
		{"vulndb", "--db", db, "sync", "--since", "yesterday"},
		{"scan", "127.0.0.1", "-p", "1", "--compliance", "sox"},
		{"scan", "127.0.0.1", "-p", "1", "--compliance", "pci-dss", "--no-risk"},
		{"scan", "127.0.0.1", "-p", "1", "--internal-ranges", "10.0.0.0/40"},
		{"scan", "127.0.0.1", "-p", "1", "--vulndb", filepath.Join(dir, "none.sqlite")},
	} {
		if code, _, _ := run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestVulnDBSync runs `vulndb sync` against a local fixture of the NVD API:
// a first full pull, then an incremental one that asks from the last sync.
func TestVulnDBSync(t *testing.T) {
	var calls atomic.Int32
	var lastQuery atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		lastQuery.Store(r.URL.RawQuery)
		start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
		vulns := []any{}
		if start == 0 {
			vulns = append(vulns, map[string]any{"cve": testCVE("CVE-2099-0002", "cpe:2.3:a:example:other:*:*:*:*:*:*:*:*", "3.0")})
		}
		json.NewEncoder(w).Encode(map[string]any{"resultsPerPage": 2000, "startIndex": start, "totalResults": 1, "vulnerabilities": vulns})
	}))
	defer srv.Close()
	db := filepath.Join(t.TempDir(), "v.sqlite")
	code, out, errs := run("vulndb", "--db", db, "sync", "--url", srv.URL)
	if code != 0 || !strings.Contains(out, "synced 1 CVE records") || !strings.Contains(out, "since the beginning") {
		t.Fatalf("first sync: %d %q %q", code, out, errs)
	}
	if q, _ := lastQuery.Load().(string); strings.Contains(q, "lastModStartDate") {
		t.Errorf("first sync asked a window: %s", q)
	}
	code, out, _ = run("vulndb", "--db", db, "sync", "--url", srv.URL)
	if code != 0 || strings.Contains(out, "since the beginning") {
		t.Fatalf("second sync: %d %q", code, out)
	}
	if q, _ := lastQuery.Load().(string); !strings.Contains(q, "lastModStartDate") || !strings.Contains(q, "lastModEndDate") {
		t.Errorf("incremental sync did not ask a window: %s", q)
	}
	if _, out, _ := run("vulndb", "--db", db, "lookup", "example:other", "2.5"); !strings.Contains(out, "CVE-2099-0002") {
		t.Errorf("synced record not found: %q", out)
	}
}
