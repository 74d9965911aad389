package simple

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

const labNote = "real: lab 127.0.0.1:%d, xinetd 1:2.3.15.3-1+b1 internal service (Debian 12)"

func TestRecordLabEcho(t *testing.T) {
	prototest.Record(t, NewEcho(), prototest.Recording{Name: "lab-xinetd-echo", Port: 7, Note: "real: lab 127.0.0.1:7, xinetd 1:2.3.15.3-1+b1 internal echo (Debian 12)"})
}

func TestRecordLabDaytime(t *testing.T) {
	prototest.Record(t, NewDaytime(), prototest.Recording{Name: "lab-xinetd-daytime", Port: 13, Note: "real: lab 127.0.0.1:13, xinetd 1:2.3.15.3-1+b1 internal daytime (Debian 12)"})
}

func TestRecordLabTime(t *testing.T) {
	prototest.Record(t, NewTime(), prototest.Recording{Name: "lab-xinetd-time", Port: 37, Note: "real: lab 127.0.0.1:37, xinetd 1:2.3.15.3-1+b1 internal time (Debian 12)"})
}
