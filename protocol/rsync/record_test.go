package rsync

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// TestRecordLocal records a throw-away rsync daemon started by hand on
// 127.0.0.1:18873 (config in testdata/README.md).
func TestRecordLocal(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "local-rsyncd-3.5.0", Port: 18873, Note: "real: rsync 3.5.0+ds1-0+deb12u1 (Debian 12) daemon started briefly on 127.0.0.1:18873 with two listed modules, one unlisted, and a motd"})
}
