package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	badCfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badCfg, []byte("scanner:\n  portz: 80\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad ip", []string{"scan", "10.0.0.300", "--no-progress"}, `"10.0.0.300"`},
		{"too large", []string{"scan", "10.0.0.0/8"}, "10.0.0.0/8"},
		{"bad port", []string{"scan", "127.0.0.1", "-p", "0"}, `"0"`},
		{"no targets", []string{"scan"}, "no targets"},
		{"unknown flag", []string{"scan", "--nope"}, "unknown flag"},
		{"bad scan method", []string{"scan", "127.0.0.1", "--scan", "xmas"}, "invalid --scan"},
		{"syn and connect", []string{"scan", "127.0.0.1", "--scan", "syn,connect"}, "not both"},
		{"discovery conflict", []string{"scan", "127.0.0.1", "--only-discover", "--no-discover"}, "--no-discover"},
		{"bad discovery profile", []string{"scan", "127.0.0.1", "--discover-profile", "slow"}, "discovery profile"},
		{"unknown format", []string{"scan", "127.0.0.1", "-p", "1", "-o", "pdf"}, "unknown output format"},
		{"unknown config key", []string{"--config", badCfg, "scan", "127.0.0.1"}, "portz"},
		{"two port selectors", []string{"scan", "127.0.0.1", "-p", "22", "--top-ports", "10"}, "only one"},
		{"negative timeout", []string{"scan", "127.0.0.1", "-p", "22", "--port-timeout", "-2s"}, "--port-timeout must not be negative"},
		{"intrusive without vuln", []string{"scan", "127.0.0.1", "-p", "22", "--intrusive", "--no-vuln"}, "--intrusive needs"},
		{"nmap answer without probes", []string{"scan", "127.0.0.1", "-p", "22", "--nmap-answer", "best"}, "need --nmap-probes"},
		{"bad nmap answer", []string{"scan", "127.0.0.1", "-p", "22", "--nmap-answer", "most"}, "invalid --nmap-answer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d (stderr %q)", code, exitUsage, errs)
			}
			if out != "" {
				t.Errorf("stdout not empty: %q", out)
			}
			lines := strings.Split(strings.TrimSpace(errs), "\n")
			if len(lines) != 1 || !strings.Contains(errs, tc.want) {
				t.Errorf("stderr should be one line naming %q, got %q", tc.want, errs)
			}
		})
	}
}

func TestExpandShortFlags(t *testing.T) {
	got := strings.Join(expandShortFlags([]string{"scan", "-iL", "f", "-p-", "-iLg"}), " ")
	if got != "scan --input-file f --ports=- --input-file=g" {
		t.Errorf("got %q", got)
	}
}

func TestFingerprintTest(t *testing.T) {
	code, out, errs := run("fingerprint", "test", `SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n`)
	if code != 0 || !strings.Contains(out, "OpenSSH") || !strings.Contains(out, "9.2p1") {
		t.Errorf("exit %d out %q err %q", code, out, errs)
	}
}

func TestFingerprintValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`fingerprints:
  - name: acme-ftpd
    product: ACME ftpd
    category: ftp
    patterns:
      - type: banner
        regex: '^220 ACME ftpd (?P<version>[\d.]+)'
        confidence: 90
    examples:
      - banner: "220 ACME ftpd 1.2.3 ready"
        version: 1.2.3
`), 0o644)
	if code, out, errs := run("fingerprint", "validate", good); code != 0 {
		t.Errorf("good file: exit %d %s %s", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`fingerprints:
  - name: acme-ftpd
    product: ACME ftpd
    patterns:
      - type: banner
        regex: '^220 ACME ftpd (?P<version>[\d.]+)'
    examples:
      - banner: "220 ACME ftpd 1.2.3 ready"
        version: 9.9
`), 0o644)
	if code, out, _ := run("fingerprint", "validate", bad); code == 0 || !strings.Contains(out, "version") {
		t.Errorf("bad example accepted: exit %d %s", code, out)
	}
}
