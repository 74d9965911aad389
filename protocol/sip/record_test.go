package sip

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// TestRecordLocal records a throw-away Kamailio started by hand on
// 127.0.0.1:15060 with Debian's stock kamailio.cfg (see testdata/README.md).
func TestRecordLocal(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "local-kamailio-5.6.3", Port: 15060, Note: "real: kamailio 5.6.3-2 (Debian 12) with the stock /etc/kamailio/kamailio.cfg, started briefly with -l tcp:127.0.0.1:15060"})
}
