package vulndb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/vuln/nvd"
)

func rec(id, lastMod, criteria string, score float64) *nvd.CVE {
	return &nvd.CVE{ID: id, LastModified: lastMod, Description: "test " + id,
		CVSS: &nvd.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: score, Severity: nvd.SeverityFromScore(score)},
		CWEs: []string{"CWE-787"},
		Configurations: []nvd.Config{{Operator: "AND", Nodes: []nvd.Node{
			{Operator: "OR", Matches: []nvd.Match{{Vulnerable: true, Criteria: criteria, EndExcl: "2.0"}}},
			{Operator: "OR", Matches: []nvd.Match{{Vulnerable: false, Criteria: "cpe:2.3:o:example:os:-:*:*:*:*:*:*:*"}}},
		}}},
		References: []string{"https://example.org/" + id},
	}
}

func TestImportLookup(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "v.sqlite")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	im := db.NewImporter(ctx)
	for _, c := range []*nvd.CVE{
		rec("CVE-2099-0001", "2099-01-01T00:00:00.000", "cpe:2.3:a:example:exampled:*:*:*:*:*:*:*:*", 9.8),
		rec("CVE-2099-0002", "2099-01-03T00:00:00.000", "cpe:2.3:a:example:other:*:*:*:*:*:*:*:*", 5.0),
		rec("CVE-2099-0001", "2099-01-05T00:00:00.000", "cpe:2.3:a:example:exampled:*:*:*:*:*:*:*:*", 7.5), // newer copy
	} {
		if err := im.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	res, err := im.Close()
	if err != nil || res.Records != 3 || res.Newest != "2099-01-05T00:00:00.000" {
		t.Fatalf("%+v %v", res, err)
	}
	_, n, err := db.ImportKEV(ctx, strings.NewReader(`{"catalogVersion":"x","vulnerabilities":[{"cveID":"CVE-2099-0001","dateAdded":"2099-02-01","knownRansomwareCampaignUse":"Known"}]}`))
	if err != nil || n != 1 {
		t.Fatal(n, err)
	}
	_, n, err = db.ImportEPSS(ctx, strings.NewReader("#model_version:m,score_date:2099-03-01T00:00:00+0000\ncve,epss,percentile\nCVE-2099-0001,0.5,0.9\n"))
	if err != nil || n != 1 {
		t.Fatal(n, err)
	}
	got, err := db.Lookup(ctx, []string{"example:exampled"})
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	e := got[0]
	if e.CVE.CVSS.Score != 7.5 || e.KEV == nil || e.KEV.Ransomware != "Known" || e.EPSS == nil || e.EPSS.EPSS != 0.5 || e.EPSSDate != "2099-03-01" {
		t.Errorf("%+v %+v %+v", e.CVE, e.KEV, e.EPSS)
	}
	if len(e.CVE.Configurations) != 1 || len(e.CVE.Configurations[0].Nodes) != 2 || e.CVE.Configurations[0].Nodes[0].Matches[0].EndExcl != "2.0" {
		t.Errorf("configs %+v", e.CVE.Configurations)
	}
	// The platform (vulnerable=false) is not indexed.
	if got, _ := db.Lookup(ctx, []string{"example:os"}); len(got) != 0 {
		t.Errorf("platform indexed: %v", got)
	}
	st, err := db.Stats(ctx)
	if err != nil || st.CVEs != 2 || st.KEV != 1 || st.EPSS != 1 || st.Products != 2 || st.Schema != len(migrations) {
		t.Errorf("%+v %v", st, err)
	}
	db.Close()

	// Reopen read-only; reopen read-write migrates nothing twice.
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := ro.Lookup(ctx, []string{"example:other"}); len(got) != 1 || got[0].KEV != nil {
		t.Errorf("ro lookup %+v", got)
	}
	ro.Close()
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenReadOnly(ctx, filepath.Join(t.TempDir(), "none.sqlite")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing db: %v", err)
	}
}

// TestImportReal imports the real NVD records and KEV catalog when
// PORTRAIT_NVD_DIR / PORTRAIT_KEV_DIR name their folders.
func TestImportReal(t *testing.T) {
	dir := os.Getenv("PORTRAIT_NVD_DIR")
	if dir == "" {
		t.Skip("PORTRAIT_NVD_DIR not set")
	}
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "v.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "CVE-*.json"))
	im := db.NewImporter(ctx)
	for _, f := range files {
		if _, err := nvd.DecodeFile(f, im.Add); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := im.Close(); err != nil {
		t.Fatal(err)
	}
	if kd := os.Getenv("PORTRAIT_KEV_DIR"); kd != "" {
		f, err := os.Open(filepath.Join(kd, "known_exploited_vulnerabilities.json"))
		if err == nil {
			_, n, err := db.ImportKEV(ctx, f)
			f.Close()
			if err != nil || n < 1000 {
				t.Fatalf("kev: %d %v", n, err)
			}
		}
	}
	got, err := db.Lookup(ctx, []string{"openbsd:openssh"})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range got {
		ids[e.CVE.ID] = true
	}
	for _, id := range []string{"CVE-2024-6387", "CVE-2023-38408", "CVE-2023-51385", "CVE-2016-6210", "CVE-2018-15473"} {
		if !ids[id] {
			t.Errorf("openssh lookup lacks %s (got %v)", id, ids)
		}
	}
	if e, _ := db.Get(ctx, "CVE-2021-41773"); e == nil || e.KEV == nil || e.KEV.DateAdded != "2021-11-03" {
		t.Errorf("CVE-2021-41773: %+v", e)
	}
}
