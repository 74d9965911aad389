package git

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// TestRecordLocal records a throw-away git daemon started by hand on
// 127.0.0.1:19418 (see testdata/README.md).
func TestRecordLocal(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "local-git-daemon-2.39.5", Port: 19418, Note: "real: git daemon from git 1:2.39.5-0+deb12u3 (Debian 12) started briefly on 127.0.0.1:19418, default options"})
}

// TestRecordLocalExported records a second throw-away daemon
// (--informative-errors --export-all, 127.0.0.1:19419) that serves a bare
// repository named like our probe path, to capture a real ref advertisement.
func TestRecordLocalExported(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "local-git-daemon-2.39.5-exported", Port: 19419, Note: "real: git daemon from git 1:2.39.5-0+deb12u3 (Debian 12) started briefly on 127.0.0.1:19419 with --informative-errors --export-all, serving a one-commit bare repo at /portrait-probe"})
}

// TestRecordLocalInformative records the same daemon once the repository is
// removed: the --informative-errors wording of the refusal.
func TestRecordLocalInformative(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "local-git-daemon-2.39.5-informative", Port: 19419, Note: "real: git daemon from git 1:2.39.5-0+deb12u3 (Debian 12) started briefly on 127.0.0.1:19419 with --informative-errors --export-all, no repository at /portrait-probe"})
}
