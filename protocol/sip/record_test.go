package sip

import "testing"

// TestRecordLocal records a throw-away Kamailio started by hand on
// 127.0.0.1:15060 with Debian's stock kamailio.cfg (see testdata/README.md).
func TestRecordLocal(t *testing.T) {
	record(t, New(), "local-kamailio-5.6.3", 15060, "real: kamailio 5.6.3-2 (Debian 12) with the stock /etc/kamailio/kamailio.cfg, started briefly with -l tcp:127.0.0.1:15060", "")
}
