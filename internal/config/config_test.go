package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name     string
		path     string
		explicit bool
		wantErr  string
		check    func(t *testing.T, f *File)
	}{
		{name: "missing default file", path: filepath.Join(dir, "none.yaml"), check: func(t *testing.T, f *File) {
			if f.Scanner.Ports != "" {
				t.Errorf("%+v", f)
			}
		}},
		{name: "missing named file", path: filepath.Join(dir, "none.yaml"), explicit: true, wantErr: "no such file"},
		{name: "no path", path: ""},
		{name: "sections", explicit: true, path: write("ok.yaml", `scanner:
  ports: "22,80"
  rate: 500
  timeout: 1.5s
  target_expansion: {max_cidr_size: /20}
fingerprint:
  banner_wait: 250ms
  port_timeout: 10s
  intensity: 0
`), check: func(t *testing.T, f *File) {
			if f.Scanner.Ports != "22,80" || f.Scanner.Rate != 500 || f.Scanner.TargetExpansion.MaxCIDRSize != "/20" {
				t.Errorf("scanner %+v", f.Scanner)
			}
			if f.Scanner.Timeout.Get(0) != 1500*time.Millisecond || f.Fingerprint.BannerWait.Get(0) != 250*time.Millisecond ||
				f.Fingerprint.PortTimeout.Get(0) != 10*time.Second || f.Fingerprint.ProbeTimeout.Get(time.Second) != time.Second {
				t.Errorf("durations %+v", f.Fingerprint)
			}
			if f.Fingerprint.Intensity == nil || *f.Fingerprint.Intensity != 0 {
				t.Errorf("an explicit intensity 0 is kept: %v", f.Fingerprint.Intensity)
			}
		}},
		{name: "unknown key", explicit: true, path: write("bad.yaml", "scanner:\n  portz: 22\n"), wantErr: "portz"},
		{name: "bad duration", explicit: true, path: write("dur.yaml", "scanner:\n  timeout: soon\n"), wantErr: "line 2"},
		{name: "bad notifications", explicit: true, path: write("n.yaml", "notifications:\n  channels:\n    - {name: a, type: pigeon}\n"), wantErr: "pigeon"},
		{name: "notifications", explicit: true, path: write("n2.yaml", "notifications:\n  channels:\n    - {name: a, type: slack, url: \"https://hooks.example/x\"}\n")},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Load(c.path, c.explicit)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.check != nil {
				c.check(t, f)
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("scanner:\n  ports: \"22\"\n  timeout: 2s\n")
	f.Add("fingerprint: {intensity: 9, rules: [a.yaml]}\n")
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = Load(p, true)
	})
}
