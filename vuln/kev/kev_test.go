package kev

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A catalog in KEV's shape; the entries are made up for the test.
const sample = `{
  "title": "CISA Catalog of Known Exploited Vulnerabilities",
  "catalogVersion": "2099.01.01",
  "dateReleased": "2099-01-01T00:00:00.000Z",
  "count": 2,
  "vulnerabilities": [
    {"cveID": "CVE-2099-0001", "vendorProject": "Example", "product": "exampled", "vulnerabilityName": "Exampled Overflow",
     "dateAdded": "2099-01-01", "shortDescription": "x", "requiredAction": "Apply updates.", "dueDate": "2099-01-22",
     "knownRansomwareCampaignUse": "Known", "notes": "", "cwes": ["CWE-787"]},
    {"cveID": "cve-2099-0002", "vendorProject": "Example", "product": "other", "vulnerabilityName": "Other",
     "dateAdded": "2099-01-02", "requiredAction": "x", "dueDate": "2099-01-23", "knownRansomwareCampaignUse": "Unknown"}
  ]
}`

func TestDecode(t *testing.T) {
	var got []Entry
	cat, n, err := Decode(strings.NewReader(sample), func(e Entry) error { got = append(got, e); return nil })
	if err != nil || n != 2 || cat.Version != "2099.01.01" || cat.Count != 2 {
		t.Fatalf("%+v %d %v", cat, n, err)
	}
	if got[0].CVE != "CVE-2099-0001" || got[0].Ransomware != "Known" || got[0].DueDate != "2099-01-22" || got[1].CVE != "CVE-2099-0002" {
		t.Errorf("%+v", got)
	}
	for _, bad := range []string{"", "[]", `{"a":1}`, `{"vulnerabilities":{}}`, `{"vulnerabilities":[1]}`} {
		if _, _, err := Decode(strings.NewReader(bad), func(Entry) error { return nil }); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestRealCatalog reads CISA's file when PORTRAIT_KEV_DIR names its folder.
func TestRealCatalog(t *testing.T) {
	dir := os.Getenv("PORTRAIT_KEV_DIR")
	if dir == "" {
		t.Skip("PORTRAIT_KEV_DIR not set")
	}
	f, err := os.Open(filepath.Join(dir, "known_exploited_vulnerabilities.json"))
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	seen := map[string]Entry{}
	cat, n, err := Decode(f, func(e Entry) error { seen[e.CVE] = e; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if n != cat.Count || n < 1000 {
		t.Errorf("read %d entries, catalog says %d", n, cat.Count)
	}
	if e, ok := seen["CVE-2021-41773"]; !ok || e.DateAdded != "2021-11-03" {
		t.Errorf("CVE-2021-41773: %+v", e)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(sample))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = Decode(strings.NewReader(string(b)), func(Entry) error { return nil })
	})
}
