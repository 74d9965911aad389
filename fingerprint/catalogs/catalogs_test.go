package catalogs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadDefault(t *testing.T) {
	start := time.Now()
	cat, infos, err := LoadCatalogs(context.Background(), Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d rules in %v", cat.Len(), time.Since(start))
	if len(infos) != 2 || infos[0].Name != "builtin" || infos[1].Name != "recog" {
		t.Fatalf("sources %+v", infos)
	}
	total := 0
	for _, in := range infos {
		t.Logf("%-10s %-50s %-10s %5d rules %v", in.Name, in.Origin, in.Version, in.Rules, in.LoadTime)
		total += in.Rules
	}
	if total != cat.Len() || infos[1].Rules < 2000 {
		t.Fatalf("rules %d, catalog %d", total, cat.Len())
	}
	ms := cat.Match(map[string]string{"ssh.banner": "SSH-2.0-OpenSSH_9.2p1"})
	var builtin, rec bool
	for _, m := range ms {
		switch {
		case m.Rule == "openssh":
			builtin = true
		case strings.HasPrefix(m.Rule, "recog:ssh_banners:"):
			rec = true
			if m.Confidence > 85 || m.Product != "OpenSSH" {
				t.Errorf("recog match %+v", m)
			}
		}
	}
	if !builtin || !rec || ms[0].Rule != "openssh" {
		t.Fatalf("matches %+v", ms)
	}
	if SourceOf(infos, "openssh") != "builtin" || !strings.HasPrefix(SourceOf(infos, ms[len(ms)-1].Rule), "") {
		t.Fatal("SourceOf")
	}
}

const miniRecog = `<?xml version="1.0"?>
<fingerprints matches="ssh.banner" protocol="ssh">
  <fingerprint pattern="^TestSSH_(\d+)$">
    <description>Test SSH</description>
    <example service.version="7">TestSSH_7</example>
    <param pos="0" name="service.vendor" value="Test"/>
    <param pos="0" name="service.product" value="TestSSH"/>
    <param pos="1" name="service.version"/>
  </fingerprint>
</fingerprints>
`

const customYAML = `fingerprints:
  - name: openssh
    product: OpenSSH (custom)
    category: ssh
    patterns:
      - type: ssh_banner
        regex: 'OpenSSH_(?P<version>[\w.]+)'
        confidence: 99
    examples:
      - fields: {ssh.banner: "SSH-2.0-OpenSSH_9.2p1"}
        version: 9.2p1
`

func TestSyncDirAndOverride(t *testing.T) {
	cache := t.TempDir()
	src := filepath.Join(t.TempDir(), "xml")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "ssh_banners.xml"), []byte(miniRecog), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Sync(context.Background(), SyncOptions{From: filepath.Dir(src), CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fresh || res.Source.Kind != "recog" || res.Source.Rules != 1 || res.Source.Files != 1 {
		t.Fatalf("sync %+v", res)
	}
	// Fresh: a second sync does nothing.
	if res, err := Sync(context.Background(), SyncOptions{From: filepath.Dir(src), CacheDir: cache}); err != nil || !res.Fresh {
		t.Fatalf("second sync %+v %v", res, err)
	}
	// Stale after the TTL.
	later := func() time.Time { return time.Now().Add(TTL + time.Hour) }
	if res, err := Sync(context.Background(), SyncOptions{From: filepath.Dir(src), CacheDir: cache, Now: later}); err != nil || res.Fresh {
		t.Fatalf("stale sync %+v %v", res, err)
	}

	custom := filepath.Join(t.TempDir(), "mine.yaml")
	if err := os.WriteFile(custom, []byte(customYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	// A user file may not shadow a builtin rule...
	if _, _, err := LoadCatalogs(context.Background(), Options{CacheDir: cache, Rules: []string{custom}}); err == nil || !strings.Contains(err.Error(), "builtin") {
		t.Fatalf("custom rule named like a builtin accepted: %v", err)
	}
	// ... it adds rules of its own, which outrank the builtins by confidence.
	if err := os.WriteFile(custom, []byte(strings.Replace(customYAML, "name: openssh", "name: openssh-custom", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, infos, err := LoadCatalogs(context.Background(), Options{CacheDir: cache, Rules: []string{custom}})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, in := range infos {
		names = append(names, in.Name)
	}
	if strings.Join(names, ",") != "builtin,synced:recog,custom:mine.yaml" {
		t.Fatalf("sources %v", names)
	}
	if infos[1].Rules != 1 || infos[2].Overrides != 0 {
		t.Fatalf("infos %+v", infos)
	}
	ms := cat.Match(map[string]string{"ssh.banner": "SSH-2.0-TestSSH_7"})
	if len(ms) == 0 || ms[0].Product != "TestSSH" || ms[0].Version != "7" {
		t.Fatalf("synced recog matches %+v", ms)
	}
	ms = cat.Match(map[string]string{"ssh.banner": "SSH-2.0-OpenSSH_9.2p1"})
	if ms[0].Product != "OpenSSH (custom)" {
		t.Fatalf("custom override %+v", ms[0])
	}
	if SourceOf(infos, "openssh-custom") != "custom:mine.yaml" {
		t.Fatalf("source of openssh-custom: %s", SourceOf(infos, "openssh-custom"))
	}
}

func TestSyncURL(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range map[string]string{
		"recog-main/xml/ssh_banners.xml":     miniRecog,
		"recog-main/spec/data/test.xml":      "<not-recog/>",
		"recog-main/.github/workflows/x.yml": "on: push",
	} {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/recog.tar.gz":
			w.Write(buf.Bytes())
		case "/rules/extra.yaml":
			w.Write([]byte(strings.ReplaceAll(customYAML, "name: openssh", "name: openssh-extra")))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cache := t.TempDir()
	res, err := Sync(context.Background(), SyncOptions{From: srv.URL + "/recog.tar.gz", CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source.Kind != "recog" || res.Source.Files != 1 {
		t.Fatalf("sync %+v", res)
	}
	res, err = Sync(context.Background(), SyncOptions{From: srv.URL + "/rules/extra.yaml", CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source.Kind != "yaml" || res.Source.Name != "extra" || res.Source.Rules != 1 {
		t.Fatalf("sync %+v", res)
	}
	// Without --from, sync refreshes recog from where it came.
	res, err = Sync(context.Background(), SyncOptions{CacheDir: cache, Force: true})
	if err != nil || res.Source.Origin != srv.URL+"/recog.tar.gz" {
		t.Fatalf("refresh %+v %v", res, err)
	}
	if _, err := Sync(context.Background(), SyncOptions{From: srv.URL + "/missing.tar.gz", CacheDir: cache}); err == nil {
		t.Fatal("404 synced")
	}
	_, infos, err := LoadCatalogs(context.Background(), Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 || infos[2].Name != "synced:extra" || infos[2].Rules != 1 {
		t.Fatalf("infos %+v", infos)
	}
}

// PORTRAIT_RECOG_DIR: sync the 2026 snapshot and load it like a scan.
func TestSyncSnapshot(t *testing.T) {
	dir := os.Getenv("PORTRAIT_RECOG_DIR")
	if dir == "" {
		t.Skip("PORTRAIT_RECOG_DIR not set")
	}
	cache := t.TempDir()
	res, err := Sync(context.Background(), SyncOptions{From: dir, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("synced %d files, %d rules (%d dropped)", res.Source.Files, res.Source.Rules, res.Dropped)
	start := time.Now()
	cat, infos, err := LoadCatalogs(context.Background(), Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d rules in %v: %+v", cat.Len(), time.Since(start), infos[1].Name)
}
