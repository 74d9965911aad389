package store

import (
	"os"
	"time"
)

// Scan states in status.json.
const (
	StateRunning     = "running"
	StateInterrupted = "interrupted" // stopped by a signal: resumable
	StateFailed      = "failed"      // ended on an error: resumable
	StateDone        = "done"
)

// Status is a scan's status.json: where it stands, for people and for
// `portrait scans list`. A scan killed with -9 stays "running" with a pid
// that no longer lives; Effective tells that apart.
type Status struct {
	ID       string        `json:"id"`
	State    string        `json:"state"`
	PID      int           `json:"pid,omitempty"`
	Started  string        `json:"started"`
	Updated  string        `json:"updated"`
	Finished string        `json:"finished,omitempty"`
	Targets  []string      `json:"targets,omitempty"`
	Progress Progress      `json:"progress"`
	Stages   []StageTiming `json:"stages,omitempty"`
	Errors   []string      `json:"errors,omitempty"`
	Runs     []Run         `json:"runs"`
	Hosts    int           `json:"hosts"`
	Open     int           `json:"open"`
	Services int           `json:"services"`
	// WallTimeS adds up the runs (a resumed scan's downtime is not counted).
	WallTimeS float64 `json:"wall_time_s"`
}

// Progress is the latest snapshot of a running scan.
type Progress struct {
	PortsTotal   uint64 `json:"ports_total,omitempty"`
	PortsDone    int64  `json:"ports_done"`
	Open         int64  `json:"open"`
	Fingerprints int64  `json:"fingerprints"`
	Pending      int64  `json:"pending"`
}

// StageTiming is the time spent in one pipeline stage over the whole scan
// (stages run concurrently, so they add up to more than the wall time).
type StageTiming struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Calls   int64   `json:"calls,omitempty"`
}

// Run is one process's part of a scan: the first run, then each resume.
type Run struct {
	Started  string  `json:"started"`
	Finished string  `json:"finished,omitempty"`
	Seconds  float64 `json:"seconds"`
	State    string  `json:"state"`
	PID      int     `json:"pid"`
	Resumed  bool    `json:"resumed,omitempty"`
	Skipped  int     `json:"skipped,omitempty"` // ports already archived, not scanned again
}

// Status reads a scan's status.json.
func (w *Workspace) Status(id string) (*Status, error) {
	var s Status
	if err := readJSON(w.Path(id, StatusFile), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// WriteStatus replaces a scan's status.json atomically.
func (w *Workspace) WriteStatus(s *Status) error {
	s.Updated = time.Now().UTC().Format(time.RFC3339)
	return writeJSONAtomic(w.Path(s.ID, StatusFile), s)
}

// Effective is the state as a person means it: a "running" scan whose
// process is gone was killed and is shown as interrupted.
func (s *Status) Effective() string {
	if s.State == StateRunning && !processAlive(s.PID) {
		return StateInterrupted
	}
	return s.State
}

// Resumable tells whether `portrait scan --resume` can finish the scan.
func (s *Status) Resumable() bool {
	st := s.Effective()
	return st == StateInterrupted || st == StateFailed
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	_, err := os.Stat("/proc/" + itoa(pid))
	if err == nil {
		return true
	}
	if !os.IsNotExist(err) {
		return true // no /proc: assume alive
	}
	// /proc exists but not this pid: gone.
	if _, err := os.Stat("/proc/self"); err == nil {
		return false
	}
	return true
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
