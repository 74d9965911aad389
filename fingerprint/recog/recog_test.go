package recog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// examplesFor loads the builtin YAML rules plus the recog databases of
// fsys and runs every recog example, as the acceptance criterion asks:
// at least 99% must identify as the example says.
func examplesFor(t *testing.T, name string, dbs []*Database, opts Options, min float64) {
	t.Helper()
	cat, err := fingerprint.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	rules, rep := Rules(dbs, opts)
	Dialects(cat)
	start := time.Now()
	for _, r := range rules {
		if err := cat.Add(r); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	t.Logf("%s: %s (compiled in %v)", name, rep.Summary(), time.Since(start).Round(time.Millisecond))
	for _, p := range rep.Problems {
		t.Logf("  dropped: %s", p)
	}
	v := Verify(cat, dbs, opts)
	for _, f := range v.Failures {
		t.Logf("  FAIL %s", f)
	}
	t.Logf("%s: %d/%d examples identify as they say (%.2f%%)", name, v.Passed, v.Total, 100*v.Rate())
	if v.Total == 0 {
		t.Fatalf("%s: no examples ran", name)
	}
	if v.Rate() < min {
		t.Errorf("%s: %.2f%% of examples pass, want >= %.0f%%", name, 100*v.Rate(), 100*min)
	}
}

func TestBuiltinExamples(t *testing.T) {
	dbs, err := ReadDatabases(BuiltinFS())
	if err != nil {
		t.Fatal(err)
	}
	examplesFor(t, BuiltinVersion(), dbs, Options{Source: BuiltinVersion()}, 0.99)
}

func TestBuiltinExamplesAllDatabases(t *testing.T) {
	dbs, err := ReadDatabases(BuiltinFS())
	if err != nil {
		t.Fatal(err)
	}
	examplesFor(t, BuiltinVersion()+" (all databases)", dbs, Options{Source: BuiltinVersion(), IncludeUnmapped: true}, 0.99)
}

// PORTRAIT_RECOG_DIR points at a recog checkout's xml/ directory (for
// example the 2026 snapshot in ../shared/data/recog/xml); never committed.
func recogDir(t *testing.T) string {
	dir := os.Getenv("PORTRAIT_RECOG_DIR")
	if dir == "" {
		t.Skip("PORTRAIT_RECOG_DIR not set")
	}
	if _, err := os.Stat(filepath.Join(dir, "xml")); err == nil {
		dir = filepath.Join(dir, "xml")
	}
	return dir
}

func TestDirExamples(t *testing.T) {
	dir := recogDir(t)
	dbs, err := ReadDatabases(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	examplesFor(t, dir, dbs, Options{Source: dir}, 0.99)
	examplesFor(t, dir+" (all databases)", dbs, Options{Source: dir, IncludeUnmapped: true}, 0.99)
}

func TestLoadReport(t *testing.T) {
	cat := fingerprint.NewCatalog()
	rep, err := Load(cat, BuiltinFS(), Options{Source: "builtin"})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.String())
	if rep.Loaded == 0 || rep.Rules < 1000 || cat.Len() != rep.Rules {
		t.Fatalf("loaded %d databases, %d rules, catalog %d", rep.Loaded, rep.Rules, cat.Len())
	}
	for _, d := range rep.Databases {
		if d.Skipped == "" && !strings.Contains(d.Field, ".") {
			t.Errorf("%s: field %q", d.File, d.Field)
		}
	}
}

func TestConvert(t *testing.T) {
	const xmlDB = `<?xml version="1.0"?>
<fingerprints matches="ssh.banner" protocol="ssh" database_type="service" preference="0.90">
  <fingerprint pattern="^OpenSSH_([\w.]+)\s+Debian-(\S+)$" certainty="0.5">
    <description>OpenSSH on Debian</description>
    <example service.version="9.2p1" openssh.comment="Debian-2+deb12u3">OpenSSH_9.2p1 Debian-2+deb12u3</example>
    <param pos="0" name="service.vendor" value="OpenBSD"/>
    <param pos="0" name="service.product" value="OpenSSH"/>
    <param pos="1" name="service.version"/>
    <param pos="0" name="openssh.comment" value="Debian-{debian.rev}"/>
    <param pos="2" name="debian.rev"/>
    <param pos="0" name="service.cpe23" value="cpe:/a:openbsd:openssh:{service.version}"/>
    <param pos="0" name="os.vendor" value="Debian"/>
    <param pos="0" name="os.family" value="Linux"/>
    <param pos="0" name="os.product" value="Linux"/>
  </fingerprint>
  <fingerprint pattern="^Cisco-(\S+)$">
    <description>Cisco</description>
    <param pos="0" name="hw.vendor" value="Cisco"/>
    <param pos="1" name="hw.product"/>
    <param pos="0" name="hw.device" value="Router"/>
  </fingerprint>
</fingerprints>`
	db, err := ParseDatabase("ssh_banners.xml", []byte(xmlDB))
	if err != nil {
		t.Fatal(err)
	}
	rules, rep := Rules([]*Database{db}, Options{})
	if len(rules) != 2 || rep.Examples != 1 {
		t.Fatalf("rules %d, report %+v", len(rules), rep)
	}
	r := rules[0]
	if r.Name != "recog:ssh_banners:openssh-on-debian" || r.Product != "OpenSSH" || r.Role != "server" || r.Vendor != "OpenBSD" {
		t.Fatalf("rule %+v", r)
	}
	p := r.Patterns[0]
	if p.Dialect != "recog:ssh" || p.Type != "ssh_banner" || p.VersionGroup != 1 || p.Confidence != 65 ||
		p.CPE != "cpe:2.3:a:openbsd:openssh:{version}:*:*:*:*:*:*:*" || p.OS != "Debian" {
		t.Fatalf("pattern %+v", p)
	}
	if r.Examples[0].Fields["ssh.banner"] != "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3" || r.Examples[0].Version != "9.2p1" {
		t.Fatalf("example %+v", r.Examples[0])
	}
	hw := rules[1]
	if hw.Product != "Cisco Router" || hw.Role != "device" || hw.Patterns[0].Info != "{1}" || hw.Patterns[0].Device != "Router" {
		t.Fatalf("hw rule %+v %+v", hw, hw.Patterns[0])
	}
	cat := fingerprint.NewCatalog()
	Dialects(cat)
	if err := cat.Add(rules...); err != nil {
		t.Fatal(err)
	}
	ms := cat.Match(map[string]string{"ssh.banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"})
	if len(ms) != 1 || ms[0].Version != "9.2p1" || ms[0].CPE != "cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*" {
		t.Fatalf("matches %+v", ms)
	}
	v := Verify(cat, []*Database{db}, Options{})
	if v.Total != 1 || v.Passed != 1 {
		t.Fatalf("verify %+v", v)
	}
}

func TestViews(t *testing.T) {
	tests := []struct {
		view, in, want string
	}{
		{"ssh", "SSH-2.0-OpenSSH_9.2p1 Debian", "OpenSSH_9.2p1 Debian"},
		{"ssh", "SSH-1.99-Cisco-1.25", "Cisco-1.25"},
		{"codes", "220 (vsFTPd 3.0.3)", "(vsFTPd 3.0.3)"},
		{"codes", "220-line one\n220-line two\n more\n220 last", "line one\nline two\n more\nlast"},
		{"pop3", "+OK Dovecot (Debian) ready.", "Dovecot (Debian) ready."},
		{"imap", "* OK [CAPABILITY IMAP4rev1] Dovecot ready.", "[CAPABILITY IMAP4rev1] Dovecot ready."},
		{"cookies", "a=1; path=/, b=2; Expires=Wed, 19-May-21 01:11:11 GMT", "a=1; path=/\nb=2; Expires=Wed, 19-May-21 01:11:11 GMT"},
		{"tokens", "Apache/2.4.1 (Unix) PHP/8.1", "Apache/2.4.1\n(Unix)\nPHP/8.1"},
	}
	for _, tt := range tests {
		v, offs, base := views[tt.view](tt.in)
		if v != tt.want {
			t.Errorf("%s(%q) = %q, want %q", tt.view, tt.in, v, tt.want)
			continue
		}
		// Offsets map every view byte back onto the same byte of the field
		// (or onto the replaced separator).
		for i := 0; i < len(v); i++ {
			o := base + i
			if offs != nil {
				o = offs[i]
			}
			if v[i] != tt.in[o] && v[i] != '\n' {
				t.Errorf("%s(%q): view byte %d %q maps to %q", tt.view, tt.in, i, v[i], tt.in[o])
			}
		}
	}
}

func TestRender(t *testing.T) {
	if got := withCode("220")("a\r\nb"); got != "220-a\n220 b" {
		t.Fatalf("render %q", got)
	}
	if got := cpe23("cpe:/o:microsoft:windows_2000:-"); got != "cpe:2.3:o:microsoft:windows_2000:-:*:*:*:*:*:*:*" {
		t.Fatalf("cpe %q", got)
	}
}
