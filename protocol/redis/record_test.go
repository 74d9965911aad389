package redis

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// TestRecordLab writes the lab servers' answers into testdata/<dir>/<probe>.bin.
// It only runs with PORTRAIT_RECORD=1 and only dials 127.0.0.1.
func TestRecordLab(t *testing.T) {
	prototest.RecordResponses(t, New(), "lab-6379", 6379)
	prototest.RecordResponses(t, New(), "lab-16379", 16379)
}
