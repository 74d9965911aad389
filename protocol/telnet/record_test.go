package telnet

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// TestRecordLab records the lab's inetutils telnetd (xinetd, port 23).
func TestRecordLab(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "lab-inetutils-telnetd-2.4", Port: 23, Note: "real: lab 127.0.0.1:23, inetutils-telnetd 2:2.4-2+deb12u3 under xinetd (Debian 12)"})
}
