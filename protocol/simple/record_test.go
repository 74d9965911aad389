package simple

import "testing"

const labNote = "real: lab 127.0.0.1:%d, xinetd 1:2.3.15.3-1+b1 internal service (Debian 12)"

func TestRecordLabEcho(t *testing.T) {
	record(t, NewEcho(), "lab-xinetd-echo", 7, "real: lab 127.0.0.1:7, xinetd 1:2.3.15.3-1+b1 internal echo (Debian 12)", "")
}

func TestRecordLabDaytime(t *testing.T) {
	record(t, NewDaytime(), "lab-xinetd-daytime", 13, "real: lab 127.0.0.1:13, xinetd 1:2.3.15.3-1+b1 internal daytime (Debian 12)", "")
}

func TestRecordLabTime(t *testing.T) {
	record(t, NewTime(), "lab-xinetd-time", 37, "real: lab 127.0.0.1:37, xinetd 1:2.3.15.3-1+b1 internal time (Debian 12)", "")
}
