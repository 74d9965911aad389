package telnet

import "testing"

// TestRecordLab records the lab's inetutils telnetd (xinetd, port 23).
func TestRecordLab(t *testing.T) {
	record(t, New(), "lab-inetutils-telnetd-2.4", 23, "real: lab 127.0.0.1:23, inetutils-telnetd 2:2.4-2+deb12u3 under xinetd (Debian 12)", "")
}
