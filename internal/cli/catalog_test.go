package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The catalog commands run on an empty workspace so no synced data of the
// machine leaks into the tests.
func withWorkspace(t *testing.T) string {
	ws := t.TempDir()
	t.Setenv("PORTRAIT_WORKSPACE", ws)
	return ws
}

func TestCatalogList(t *testing.T) {
	withWorkspace(t)
	code, out, errs := run("fingerprint", "list", "--sources")
	if code != 0 || !strings.Contains(out, "builtin") || !strings.Contains(out, "recog-go") {
		t.Fatalf("--sources: exit %d out %q err %q", code, out, errs)
	}
	code, out, _ = run("fingerprint", "list", "--search", "openssh", "--source", "builtin")
	if code != 0 || !strings.Contains(out, "openssh") || strings.Contains(out, "recog:") {
		t.Fatalf("search: exit %d out %q", code, out)
	}
	code, out, _ = run("fingerprint", "list", "--category", "ssh", "-o", "json")
	var rules []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rules) != nil || len(rules) < 50 {
		t.Fatalf("json: exit %d, %d rules", code, len(rules))
	}
	for _, r := range rules {
		if r["category"] != "ssh" {
			t.Fatalf("category filter let %v through", r["name"])
		}
	}
	// -o yaml round-trips through validate as a rule file.
	code, out, _ = run("fingerprint", "list", "--search", "vsftpd", "--source", "builtin", "-o", "yaml")
	f := filepath.Join(t.TempDir(), "vsftpd.yaml")
	os.WriteFile(f, []byte(strings.ReplaceAll(out, "name: vsftpd", "name: vsftpd-copy")), 0o644)
	if code, out, errs := run("fingerprint", "validate", f); code != 0 {
		t.Fatalf("validate listed yaml: exit %d %s %s", code, out, errs)
	}
	if code, _, errs := run("fingerprint", "list", "-o", "xml"); code != exitUsage {
		t.Fatalf("bad format: exit %d %s", code, errs)
	}
}

func TestCatalogShow(t *testing.T) {
	withWorkspace(t)
	code, out, _ := run("fingerprint", "show", "openssh")
	if code != 0 || !strings.Contains(out, "# source: builtin") || !strings.Contains(out, "product: OpenSSH") {
		t.Fatalf("show: exit %d out %q", code, out)
	}
	code, _, errs := run("fingerprint", "show", "opens")
	if code != exitUsage || !strings.Contains(errs, "did you mean") {
		t.Fatalf("near miss: exit %d err %q", code, errs)
	}
}

const testRecogDB = `<?xml version="1.0"?>
<fingerprints matches="ftp.banner" protocol="ftp">
  <fingerprint pattern="^TestFTPd (\d+\.\d+) ready$">
    <description>Test FTP daemon</description>
    <example service.version="1.5">TestFTPd 1.5 ready</example>
    <param pos="0" name="service.vendor" value="Test"/>
    <param pos="0" name="service.product" value="TestFTPd"/>
    <param pos="1" name="service.version"/>
  </fingerprint>
</fingerprints>
`

func TestCatalogSync(t *testing.T) {
	ws := withWorkspace(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "ftp_banners.xml"), []byte(testRecogDB), 0o644)
	code, out, errs := run("fingerprint", "sync", "--from", src)
	if code != 0 || !strings.Contains(out, "synced recog") || !strings.Contains(out, "1 rules") {
		t.Fatalf("sync: exit %d out %q err %q", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(ws, "fingerprints", "meta.json")); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run("fingerprint", "sync", "--from", src)
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("second sync: exit %d out %q", code, out)
	}
	code, out, _ = run("fingerprint", "list", "--sources")
	if code != 0 || !strings.Contains(out, "synced:recog") {
		t.Fatalf("sources after sync: %q", out)
	}
	code, out, _ = run("fingerprint", "list", "--source", "synced")
	if code != 0 || !strings.Contains(out, "recog:ftp_banners:test-ftp-daemon") {
		t.Fatalf("synced rules: %q", out)
	}
	if code, _, _ := run("fingerprint", "sync", "--from", filepath.Join(src, "missing")); code == 0 {
		t.Fatal("sync from a missing directory succeeded")
	}
}

func TestCatalogValidateChecks(t *testing.T) {
	withWorkspace(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		f := filepath.Join(dir, name)
		os.WriteFile(f, []byte(body), 0o644)
		return f
	}
	dup := write("dup.yaml", `fingerprints:
  - name: acme-x
    product: ACME
    patterns: [{type: banner, regex: '^ACME x'}]
    examples: [{banner: "ACME x"}]
  - name: acme-x
    product: ACME
    patterns: [{type: banner, regex: '^ACME y'}]
    examples: [{banner: "ACME y"}]
`)
	empty := write("empty.yaml", `fingerprints:
  - name: acme-empty
    product: ACME
    patterns: [{type: banner, regex: '(\d+)?'}]
    examples: [{banner: "ACME 1"}]
`)
	broad := write("broad.yaml", `fingerprints:
  - name: acme-broad
    product: ACME
    patterns: [{type: banner, regex: '\w\w'}]
    examples: [{banner: "ACME 1"}]
`)
	badre := write("badre.yaml", `fingerprints:
  - name: acme-bad
    product: ACME
    patterns: [{type: banner, dialect: pcre, regex: '(unclosed'}]
    examples: [{banner: "ACME 1"}]
`)
	for _, tc := range []struct {
		file, want string
	}{
		{dup, "duplicate rule name"},
		{empty, "matches the empty string"},
		{broad, "too broad"},
		{badre, "bad regex"},
	} {
		code, out, _ := run("fingerprint", "validate", tc.file)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want %q in %q", filepath.Base(tc.file), code, tc.want, out)
		}
	}
}

func TestCatalogValidateAll(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every builtin and recog example")
	}
	withWorkspace(t)
	code, out, errs := run("fingerprint", "validate")
	if code != 0 || !strings.Contains(out, "examples identify as they say") {
		t.Fatalf("validate: exit %d out %q err %q", code, out, errs)
	}
}
