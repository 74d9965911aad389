package postgresql

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
	"github.com/portrait-scanner/portrait/protocol/tlsprobe"
)

// TestRecordLab writes the lab servers' answers into testdata/<dir>/<probe>.bin.
// It only runs with PORTRAIT_RECORD=1 and only dials 127.0.0.1.
func TestRecordLab(t *testing.T) {
	prototest.RecordResponses(t, New(), "lab-15432", 15432)
}

// TestLabTLS runs the module against the lab with the engine's STARTTLS
// helper (PORTRAIT_RECORD=1): the startup then travels inside TLS.
func TestLabTLS(t *testing.T) {
	prototest.SkipUnlessRecord(t)
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
