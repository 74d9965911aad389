package irc

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// TestRecordLocal records a throw-away ngIRCd started by hand on
// 127.0.0.1:16667 (config in testdata/README.md).
func TestRecordLocal(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "local-ngircd-26.1", Port: 16667, Note: "real: ngircd 26.1-1+deb12u1 (Debian 12) started briefly on 127.0.0.1:16667 (Ident, DNS and PAM off)"})
}
