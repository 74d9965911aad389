package postgresql

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
	"github.com/portrait-scanner/portrait/protocol/tlsprobe"
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
	}{{"lab-15432", 15432}} {
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

// TestLabTLS runs the module against the lab with the engine's STARTTLS
// helper (PORTRAIT_RECORD=1): the startup then travels inside TLS.
func TestLabTLS(t *testing.T) {
	if os.Getenv("PORTRAIT_RECORD") == "" {
		t.Skip("set PORTRAIT_RECORD=1 to run against the lab")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", "127.0.0.1:15432")
	}
	conn, err := dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	env := protocol.Env{Host: "127.0.0.1", Port: 15432, Timeout: 2 * time.Second, MaxRead: 64 << 10,
		Dial: dial, StartTLS: tlsprobe.StartTLSFunc("", 2*time.Second)}
	res, err := New().Run(ctx, conn, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fields=%q", res.Fields)
}
