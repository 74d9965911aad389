package scan

import (
	"context"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// The scan's record stream: every result is a typed record with a "type"
// discriminator, appended in order. Reports are projections of it.

// HostRecord says whether a host answered and what its ports cost.
type HostRecord struct {
	Type     string  `json:"type"` // "host"
	Host     string  `json:"host"`
	Hostname string  `json:"hostname,omitempty"`
	State    string  `json:"state"`  // up | down
	Reason   string  `json:"reason"` // what made us say so
	RTTMS    float64 `json:"rtt_ms,omitempty"`
	Open     int     `json:"open"`
	Closed   int     `json:"closed"`
	Filtered int     `json:"filtered"`
	Skipped  int     `json:"skipped,omitempty"` // ports not probed after the host was backed off
}

// PortRecord is one scanned port's state.
type PortRecord struct {
	Type      string  `json:"type"` // "port"
	Host      string  `json:"host"`
	Hostname  string  `json:"hostname,omitempty"`
	Port      int     `json:"port"`
	Transport string  `json:"transport"`
	State     string  `json:"state"`  // open | closed | filtered
	Reason    string  `json:"reason"` // syn-ack | conn-refused | no-response | ...
	RTTMS     float64 `json:"rtt_ms,omitempty"`
	// Service is an identification the port scan already made (a UDP
	// port, from the reply that showed it open). The pipeline takes it as
	// its own fingerprint: host correlation, checkpoint, later stages.
	Service *fingerprint.Service `json:"-"`
}

// ErrorRecord reports a target that could not be scanned (a name that did
// not resolve) without stopping the scan.
type ErrorRecord struct {
	Type   string `json:"type"` // "error"
	Target string `json:"target"`
	Error  string `json:"error"`
}

// Meta opens and closes a scan's stream.
type Meta struct {
	Type      string   `json:"type"` // "scan"
	Scanner   string   `json:"scanner"`
	Started   string   `json:"started"`
	Finished  string   `json:"finished,omitempty"`
	WallTimeS float64  `json:"wall_time_s,omitempty"`
	Targets   []string `json:"targets"`
	Ports     int      `json:"ports"`
	Hosts     int      `json:"hosts,omitempty"`
	Open      int      `json:"open,omitempty"`
}

// Record is a typed record produced by a stage after fingerprinting (an
// asset profile, a finding...). It marshals to JSON with its own "type" key.
type Record interface {
	RecordType() string // the "type" discriminator: "asset", "finding"...
	RecordHost() string // the host it belongs to
}

// Stage is a pipeline stage that runs after fingerprinting (asset
// profiling, vulnerability evaluation, risk scoring). It sees each host
// once the host is complete, with the records of the stages before it, and
// returns the records it adds. Stages run in order, on one host at a time
// per call; they must be safe for concurrent calls on different hosts.
type Stage interface {
	Name() string
	Host(ctx context.Context, h HostRecord, svcs []*fingerprint.Service, earlier []Record) []Record
}

// Sink receives the record stream. Calls come from one goroutine at a time.
type Sink interface {
	Begin(m Meta) error
	Host(h HostRecord) error
	Port(p PortRecord) error
	Service(s *fingerprint.Service) error
	// Record receives the records of the later stages (assets, findings).
	Record(r Record) error
	Error(e ErrorRecord) error
	End(m Meta) error
}
