package mysql

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// TestRecordLab writes the lab servers' answers into testdata/<dir>/<probe>.bin.
// It only runs with PORTRAIT_RECORD=1 and only dials 127.0.0.1.
func TestRecordLab(t *testing.T) {
	prototest.RecordResponses(t, New(), "lab-3306", 3306)
}
