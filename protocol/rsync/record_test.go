package rsync

import "testing"

// TestRecordLocal records a throw-away rsync daemon started by hand on
// 127.0.0.1:18873 (config in testdata/README.md).
func TestRecordLocal(t *testing.T) {
	record(t, New(), "local-rsyncd-3.5.0", 18873, "real: rsync 3.5.0+ds1-0+deb12u1 (Debian 12) daemon started briefly on 127.0.0.1:18873 with two listed modules, one unlisted, and a motd", "")
}
