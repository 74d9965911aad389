package irc

import "testing"

// TestRecordLocal records a throw-away ngIRCd started by hand on
// 127.0.0.1:16667 (config in testdata/README.md).
func TestRecordLocal(t *testing.T) {
	record(t, New(), "local-ngircd-26.1", 16667, "real: ngircd 26.1-1+deb12u1 (Debian 12) started briefly on 127.0.0.1:16667 (Ident, DNS and PAM off)", "")
}
