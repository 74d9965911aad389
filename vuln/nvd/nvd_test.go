package nvd

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// synthetic builds a record in the API 2.0 shape. The values are made up
// for the tests (IDs in the CVE-2099 range), not copied from NVD.
func synthetic(id, lastMod string) map[string]any {
	return map[string]any{
		"id":           id,
		"published":    "2099-01-01T00:00:00.000",
		"lastModified": lastMod,
		"vulnStatus":   "Analyzed",
		"descriptions": []any{
			map[string]any{"lang": "es", "value": "texto"},
			map[string]any{"lang": "en", "value": "A test flaw in exampled."},
		},
		"metrics": map[string]any{
			"cvssMetricV2": []any{map[string]any{"source": "nvd@nist.gov", "type": "Primary",
				"cvssData":     map[string]any{"version": "2.0", "vectorString": "AV:N/AC:L/Au:N/C:P/I:P/A:P", "baseScore": 7.5},
				"baseSeverity": "HIGH"}},
			"cvssMetricV31": []any{
				map[string]any{"source": "cna@example.org", "type": "Secondary",
					"cvssData": map[string]any{"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", "baseScore": 5.3, "baseSeverity": "MEDIUM"}},
				map[string]any{"source": "nvd@nist.gov", "type": "Primary",
					"cvssData": map[string]any{"baseScore": 9.8, "baseSeverity": "CRITICAL", "version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
			},
		},
		"weaknesses": []any{map[string]any{"source": "nvd@nist.gov", "type": "Primary",
			"description": []any{map[string]any{"lang": "en", "value": "CWE-787"}, map[string]any{"lang": "en", "value": "NVD-CWE-Other"}}}},
		"configurations": []any{map[string]any{"operator": "AND", "nodes": []any{
			map[string]any{"operator": "OR", "negate": false, "cpeMatch": []any{
				map[string]any{"vulnerable": true, "criteria": "cpe:2.3:a:example:exampled:*:*:*:*:*:*:*:*", "versionStartIncluding": "1.0", "versionEndExcluding": "1.4.2", "matchCriteriaId": "X"},
			}},
			map[string]any{"operator": "OR", "negate": false, "cpeMatch": []any{
				map[string]any{"vulnerable": false, "criteria": "cpe:2.3:o:example:os:-:*:*:*:*:*:*:*", "matchCriteriaId": "Y"},
			}},
		}}},
		"references": []any{
			map[string]any{"url": "https://example.org/a", "source": "x"},
			map[string]any{"url": "https://example.org/a", "source": "y"},
			map[string]any{"url": "https://example.org/b", "source": "x"},
		},
		"cisaExploitAdd":     "2099-02-01",
		"cisaActionDue":      "2099-02-22",
		"cisaRequiredAction": "Apply updates.",
	}
}

func collect(t *testing.T, b []byte) []*CVE {
	t.Helper()
	var out []*CVE
	_, err := Decode(bytes.NewReader(b), func(c *CVE) error { out = append(out, c); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeShapes(t *testing.T) {
	rec := synthetic("CVE-2099-0001", "2099-01-02T00:00:00.000")
	bare, _ := json.MarshalIndent(rec, "", "  ")
	wrapped, _ := json.Marshal(map[string]any{"cve": rec})
	api, _ := json.Marshal(map[string]any{"resultsPerPage": 2, "startIndex": 0, "totalResults": 2, "format": "NVD_CVE", "version": "2.0",
		"vulnerabilities": []any{map[string]any{"cve": rec}, map[string]any{"cve": synthetic("CVE-2099-0002", "2099-01-03T00:00:00.000")}}})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(api)
	zw.Close()
	seq := append(append([]byte{}, bare...), wrapped...)

	for name, tc := range map[string]struct {
		in []byte
		n  int
	}{"bare": {bare, 1}, "wrapped": {wrapped, 1}, "api": {api, 2}, "sequence": {seq, 2}} {
		got := collect(t, tc.in)
		if len(got) != tc.n {
			t.Errorf("%s: %d records, want %d", name, len(got), tc.n)
			continue
		}
		c := got[0]
		if c.ID != "CVE-2099-0001" || c.Description != "A test flaw in exampled." {
			t.Errorf("%s: %+v", name, c)
		}
		if c.CVSS == nil || c.CVSS.Score != 9.8 || c.CVSS.Severity != "critical" || c.CVSS.Source != "nvd@nist.gov" || c.CVSS.Version != "3.1" {
			t.Errorf("%s: cvss %+v", name, c.CVSS)
		}
		if len(c.CWEs) != 1 || c.CWEs[0] != "CWE-787" {
			t.Errorf("%s: cwes %v", name, c.CWEs)
		}
		if len(c.References) != 2 {
			t.Errorf("%s: refs %v", name, c.References)
		}
		if c.KEVAdded != "2099-02-01" {
			t.Errorf("%s: kev %q", name, c.KEVAdded)
		}
		if len(c.Configurations) != 1 || c.Configurations[0].Operator != "AND" || len(c.Configurations[0].Nodes) != 2 ||
			c.Configurations[0].Nodes[0].Matches[0].EndExcl != "1.4.2" || c.Configurations[0].Nodes[1].Matches[0].Vulnerable {
			t.Errorf("%s: configs %+v", name, c.Configurations)
		}
	}
	// gzip through Open.
	dir := t.TempDir()
	p := filepath.Join(dir, "feed.json.gz")
	os.WriteFile(p, gz.Bytes(), 0o644)
	n, err := DecodeFile(p, func(*CVE) error { return nil })
	if err != nil || n != 2 {
		t.Errorf("gzip feed: %d %v", n, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, in := range []string{"", "[]", `{"a":1}`, `{"CVE_Items":[]}`, `{"vulnerabilities":{}}`, `{"id":`, "\x1f\x8bgarbage"} {
		_, err := Decode(strings.NewReader(in), func(*CVE) error { return nil })
		if err == nil {
			t.Errorf("Decode(%q): no error", in)
		}
	}
}

// TestDecodeRealRecords reads NVD's own records when PORTRAIT_NVD_DIR
// points at a folder of them (one cve object per file).
func TestDecodeRealRecords(t *testing.T) {
	dir := os.Getenv("PORTRAIT_NVD_DIR")
	if dir == "" {
		t.Skip("PORTRAIT_NVD_DIR not set")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "CVE-*.json"))
	if len(files) == 0 {
		t.Skipf("no CVE-*.json in %s", dir)
	}
	for _, f := range files {
		var got []*CVE
		if _, err := DecodeFile(f, func(c *CVE) error { got = append(got, c); return nil }); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(got) != 1 || !strings.HasPrefix(filepath.Base(f), got[0].ID) {
			t.Errorf("%s: %d records", f, len(got))
			continue
		}
		c := got[0]
		if c.Description == "" || c.Published == "" {
			t.Errorf("%s: missing fields: %+v", f, c)
		}
		switch c.ID {
		case "CVE-2024-6387":
			if c.CVSS == nil || c.CVSS.Score != 8.1 || c.CVSS.Version != "3.1" {
				t.Errorf("%s cvss %+v", c.ID, c.CVSS)
			}
		case "CVE-2023-48795":
			if c.CVSS != nil || len(c.Configurations) != 0 {
				t.Errorf("%s: want no metric and no configuration", c.ID)
			}
		case "CVE-2016-6210":
			if c.CVSS == nil || c.CVSS.Version != "3.1" && c.CVSS.Version != "3.0" {
				t.Errorf("%s cvss %+v", c.ID, c.CVSS)
			}
		case "CVE-2021-41773":
			if c.KEVAdded != "2021-11-03" {
				t.Errorf("%s kev %q", c.ID, c.KEVAdded)
			}
		}
	}
}

func TestSync(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	all := []map[string]any{}
	for i := 1; i <= 5; i++ {
		all = append(all, synthetic(fmt.Sprintf("CVE-2099-%04d", i), "2099-01-02T00:00:00.000"))
	}
	fails := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("apiKey") != "k" {
			t.Errorf("api key header %q", r.Header.Get("apiKey"))
		}
		q := r.URL.Query()
		queries = append(queries, r.URL.RawQuery)
		start, _ := strconv.Atoi(q.Get("startIndex"))
		per, _ := strconv.Atoi(q.Get("resultsPerPage"))
		end := start + per
		if end > len(all) {
			end = len(all)
		}
		var vulns []any
		for _, c := range all[start:end] {
			vulns = append(vulns, map[string]any{"cve": c})
		}
		json.NewEncoder(w).Encode(map[string]any{"resultsPerPage": per, "startIndex": start, "totalResults": len(all), "vulnerabilities": vulns})
	}))
	defer srv.Close()
	var got []string
	since := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	until := since.Add(200 * 24 * time.Hour) // two windows
	res, err := Sync(context.Background(), SyncConfig{URL: srv.URL, APIKey: "k", Since: since, Until: until, PageSize: 2,
		Sleep: func(context.Context, time.Duration) error { return nil }},
		func(c *CVE) error { got = append(got, c.ID); return nil })
	if err != nil {
		t.Fatal(err)
	}
	// 2 windows x 3 pages.
	if res.Records != 10 || len(got) != 10 || res.Requests != 6 {
		t.Errorf("records %d, got %d, requests %d", res.Records, len(got), res.Requests)
	}
	if !strings.Contains(queries[0], "lastModStartDate=2099-01-01T00%3A00%3A00.000%2B00%3A00") {
		t.Errorf("first query %s", queries[0])
	}
	if !strings.Contains(queries[3], "lastModStartDate=2099-05-01") {
		t.Errorf("second window query %s", queries[3])
	}
}

func TestSyncClientError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Message", "Invalid apiKey")
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	_, err := Sync(context.Background(), SyncConfig{URL: srv.URL, Sleep: func(context.Context, time.Duration) error { return nil }},
		func(*CVE) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "Invalid apiKey") {
		t.Errorf("err = %v", err)
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic.
func FuzzDecode(f *testing.F) {
	rec, _ := json.Marshal(synthetic("CVE-2099-0001", "x"))
	f.Add(rec)
	f.Add([]byte(`{"vulnerabilities":[{"cve":{"id":"CVE-1"}}]}`))
	f.Add([]byte(`{"id":"CVE-1","configurations":[{"nodes":[{"cpeMatch":[{"criteria":1}]}]}]}`))
	if dir := os.Getenv("PORTRAIT_NVD_DIR"); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "CVE-*.json"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 20000 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Decode(bytes.NewReader(b), func(*CVE) error { return nil })
	})
}
