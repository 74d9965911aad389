package nmapprobes

import (
	"os"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// debianFile is where Debian's nmap-common package installs nmap's probes.
const debianFile = "/usr/share/nmap/nmap-service-probes"

// TestDebianFile loads the real file: at least 99% of its match lines must
// become rules the catalog accepts. Without the file the test skips, unless
// PORTRAIT_INTEGRATION is set (CI installs nmap): then it fails.
func TestDebianFile(t *testing.T) {
	if _, err := os.Stat(debianFile); err != nil {
		if os.Getenv("PORTRAIT_INTEGRATION") != "" {
			t.Fatalf("%s missing (install nmap): %v", debianFile, err)
		}
		t.Skipf("%s not installed", debianFile)
	}
	start := time.Now()
	set, err := LoadFile(debianFile)
	if err != nil {
		t.Fatal(err)
	}
	loaded := time.Since(start)
	st := set.Stats()
	t.Logf("%v (loaded in %v)", st, loaded)
	for _, p := range set.Problems() {
		t.Logf("not compiled: %v", p)
	}
	if st.Compiled() < 99 {
		t.Errorf("only %.2f%% of the match lines compiled", st.Compiled())
	}
	cat := fingerprint.NewCatalog()
	start = time.Now()
	if err := cat.Add(set.Rules()...); err != nil {
		t.Fatalf("catalog refused a rule: %v", err)
	}
	t.Logf("catalog add: %v", time.Since(start))
	if cat.Len() != st.Rules {
		t.Errorf("catalog has %d rules, set %d", cat.Len(), st.Rules)
	}
}
