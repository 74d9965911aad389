package recog

import (
	"testing"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// FuzzDatabase feeds arbitrary XML through the whole loader: parse,
// convert, compile, and match the examples. Nothing may panic or hang.
func FuzzDatabase(f *testing.F) {
	f.Add([]byte(`<fingerprints matches="ssh.banner"><fingerprint pattern="^Foo_(\d+)$"><example service.version="1">Foo_1</example><param pos="0" name="service.product" value="Foo"/><param pos="1" name="service.version"/><param pos="0" name="service.cpe23" value="cpe:/a:foo:foo:{service.version}"/></fingerprint></fingerprints>`))
	f.Add([]byte(`<fingerprints matches="ftp.banner"><fingerprint pattern="(?i)^x" flags="REG_DOT_NEWLINE"><param pos="0" name="os.product" value="{os.product}"/></fingerprint><fingerprint pattern="^y"><example _encoding="base64">eQ==</example></fingerprint></fingerprints>`))
	f.Add([]byte(`<fingerprints matches="http_header.cookie"><fingerprint pattern="^(a)=(?:b)+"><param pos="9" name="service.product"/></fingerprint></fingerprints>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := ParseDatabase("fuzz.xml", data)
		if err != nil {
			return
		}
		rules, _ := Rules([]*Database{db}, Options{IncludeUnmapped: true})
		cat := fingerprint.NewCatalog()
		Dialects(cat)
		for _, r := range rules {
			if cat.Add(r) != nil {
				continue
			}
			for _, e := range r.Examples {
				cat.Match(e.Fields)
			}
		}
		Verify(cat, []*Database{db}, Options{IncludeUnmapped: true})
	})
}

// FuzzViews checks that every view maps each of its bytes back inside the
// field, whatever the field holds.
func FuzzViews(f *testing.F) {
	for _, s := range []string{"SSH-2.0-OpenSSH_9.2p1 Debian", "220-a\n220-b\n c\n220 d", "+OK x", "* OK [CAPABILITY X] y",
		"a=1; path=/, b=2; Expires=Wed, 19-May-21 01:11:11 GMT", "Apache/2.4 (Debian) PHP/8", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, view := range views {
			v, offs, base := view(s)
			if offs != nil && len(offs) != len(v)+1 {
				t.Fatalf("%s(%q): %d offsets for %d bytes", name, s, len(offs), len(v))
			}
			for i := 0; i <= len(v); i++ {
				o := base + i
				if offs != nil {
					o = offs[i]
				}
				if o < 0 || o > len(s) {
					t.Fatalf("%s(%q): offset %d out of range", name, s, o)
				}
			}
		}
	})
}
