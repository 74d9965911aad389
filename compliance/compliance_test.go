package compliance

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBuiltin(t *testing.T) {
	names := Names()
	if len(names) != 3 {
		t.Fatalf("names %v", names)
	}
	for _, n := range names {
		f, err := Load(n)
		if err != nil {
			t.Fatal(err)
		}
		if f.ID != n {
			t.Errorf("%s: id %q", n, f.ID)
		}
	}
	fs, err := LoadList("pci, cis,nist")
	if err != nil || len(fs) != 3 {
		t.Fatal(fs, err)
	}
	if _, err := Load("sox"); err == nil {
		t.Error("unknown framework accepted")
	}
}

func TestViolates(t *testing.T) {
	f, _ := Load("pci-dss")
	ctl := map[string]*Control{}
	for i := range f.Controls {
		ctl[f.Controls[i].ID] = &f.Controls[i]
	}
	tests := []struct {
		ctl  string
		s    Subject
		want bool
	}{
		{"2.2.7", Subject{Check: "telnet-cleartext", Kind: "misconfiguration", Severity: "high", Exposure: "internal"}, true},
		{"2.2.7", Subject{Check: "redis-no-auth", Kind: "misconfiguration", Severity: "high"}, false},
		{"6.3.3", Subject{Check: "cve", Kind: "vulnerability", Severity: "low"}, true},
		{"11.3.1", Subject{Check: "cve", Kind: "vulnerability", Severity: "critical", Exposure: "internal"}, true},
		{"11.3.1", Subject{Check: "cve", Kind: "vulnerability", Severity: "medium", Exposure: "internal"}, false},
		{"11.3.2", Subject{Check: "cve", Kind: "vulnerability", Severity: "critical", Exposure: "internal"}, false},
	}
	for _, tt := range tests {
		if got := ctl[tt.ctl].Violates(tt.s); got != tt.want {
			t.Errorf("%s %+v = %v", tt.ctl, tt.s, got)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mine.yaml")
	os.WriteFile(p, []byte("framework: mine\nname: Mine\ncontrols:\n  - id: A\n    title: t\n    checks: [redis-no-auth]\n"), 0o644)
	f, err := Load(p)
	if err != nil || f.ID != "mine" {
		t.Fatal(f, err)
	}
	os.WriteFile(p, []byte("framework: mine\ncontrols:\n  - id: A\n    exposure: moon\n    kinds: [x]\n"), 0o644)
	if _, err := Load(p); err == nil {
		t.Error("bad exposure accepted")
	}
	os.WriteFile(p, []byte("framework: mine\ncontrols:\n  - id: A\n    typo: 1\n"), 0o644)
	if _, err := Load(p); err == nil {
		t.Error("unknown key accepted")
	}
}
