package zookeeper

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// TestRecordLab writes the lab servers' answers into testdata/<dir>/<probe>.bin.
// It only runs with PORTRAIT_RECORD=1 and only dials 127.0.0.1.
func TestRecordLab(t *testing.T) {
	prototest.RecordResponses(t, New(), "lab-2181", 2181)
}

// TestRecordLabExtra records the lab's answers to the fallbacks the module
// uses when srvr is refused: stat, ruok and the binary ConnectRequest.
func TestRecordLabExtra(t *testing.T) {
	prototest.SkipUnlessRecord(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", "127.0.0.1:2181")
	}
	env := protocol.Env{Host: "127.0.0.1", Port: 2181, Timeout: 2 * time.Second, MaxRead: 64 << 10, Dial: dial}
	res := &protocol.Result{}
	for _, word := range []string{"stat", "ruok"} {
		c, err := dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fourLetter(ctx, c, env, res, word)
		c.Close()
	}
	if !binaryConnect(ctx, env, res) {
		t.Errorf("binary connect failed")
	}
	for _, ex := range res.Exchanges {
		if ex.Probe == "zookeeper-connect" && len(ex.Response) >= 40 {
			// The session password is a credential of the (now closed)
			// session: keep its length, not its bytes.
			clear(ex.Response[24:40])
		}
		if err := os.WriteFile(filepath.Join("testdata", "lab-2181", ex.Probe+".bin"), ex.Response, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("fields=%q", res.Fields)
}
