package scan

import "github.com/portrait-scanner/portrait/fingerprint"

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

// Sink receives the record stream. Calls come from one goroutine at a time.
type Sink interface {
	Begin(m Meta) error
	Host(h HostRecord) error
	Port(p PortRecord) error
	Service(s *fingerprint.Service) error
	Error(e ErrorRecord) error
	End(m Meta) error
}
