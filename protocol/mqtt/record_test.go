package mqtt

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// TestRecordLab writes the lab servers' answers into testdata/<dir>/<probe>.bin.
// It only runs with PORTRAIT_RECORD=1 and only dials 127.0.0.1.
func TestRecordLab(t *testing.T) {
	if os.Getenv("PORTRAIT_RECORD") == "" {
		t.Skip("set PORTRAIT_RECORD=1 to record the lab")
	}
	for _, lab := range []struct {
		dir  string
		port int
	}{{"lab-1883", 1883}} {
		res, err := prototest.Run(t, New(), fmt.Sprintf("127.0.0.1:%d", lab.port))
		if err != nil {
			t.Fatalf("%s: %v", lab.dir, err)
		}
		dir := filepath.Join("testdata", lab.dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, ex := range res.Exchanges {
			if err := os.WriteFile(filepath.Join(dir, ex.Probe+".bin"), ex.Response, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: service=%s conf=%d fields=%q", lab.dir, res.Service, res.Confidence, res.Fields)
	}
}
