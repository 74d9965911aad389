package fingerprint

// Service is the fingerprint of one open port: the "service" record of the
// scan's record stream. Its top-level keys follow the shape nmap users and the
// lab's score.py read; the stack and the evidence sit beside them.
type Service struct {
	Type       string `json:"type"` // always "service"
	Host       string `json:"host"`
	Hostname   string `json:"hostname,omitempty"`
	Port       int    `json:"port"`
	Transport  string `json:"transport"`
	State      string `json:"state"`
	Service    string `json:"service,omitempty"` // nmap-style name; "" = unknown
	TLS        bool   `json:"tls"`
	Tunnel     string `json:"tunnel,omitempty"` // "ssl" when TLS, as nmap's XML says
	Product    string `json:"product,omitempty"`
	Version    string `json:"version,omitempty"`
	Info       string `json:"extrainfo,omitempty"`
	OS         string `json:"os,omitempty"`
	Device     string `json:"device,omitempty"`
	Confidence int    `json:"confidence"`
	CPE        string `json:"cpe,omitempty"`
	// Method says how the service name was reached: "probed" (a protocol
	// dialogue confirmed it), "matched" (a rule on raw bytes), or "table"
	// (port number only; confidence never above 40).
	Method string `json:"method"`
	// Stack is every technology found on the port, best first.
	Stack []Tech `json:"stack,omitempty"`
	// Evidence holds the named fields the protocol modules produced.
	Evidence map[string]string `json:"evidence,omitempty"`
	// Probes lists the probes that drew an answer, in order.
	Probes []string `json:"probes,omitempty"`
	// Fingerprint is the nmap-style SF fingerprint of an unidentified service.
	Fingerprint string `json:"fingerprint,omitempty"`
	DurationMS  int64  `json:"duration_ms"`

	exchanges []Exchange
	// pinned: the top-level answer is nmap's verdict (--nmap-answer
	// only), which host correlation must not change.
	pinned bool
}

// Tech is one technology on a port: a server, runtime, framework, OS...
type Tech struct {
	Product    string   `json:"product"`
	Version    string   `json:"version,omitempty"`
	Role       string   `json:"role"`
	Confidence int      `json:"confidence"`
	Sources    []string `json:"sources"`
	Evidence   string   `json:"evidence,omitempty"`
	CPE        string   `json:"cpe,omitempty"`
	Info       string   `json:"info,omitempty"`
	Rule       string   `json:"rule,omitempty"`
}

// Exchange is a raw probe and its response, kept for the SF fingerprint and
// for the banner artifacts.
type Exchange struct {
	Probe    string
	TLS      bool
	Request  []byte
	Response []byte
}

// Exchanges returns the raw exchanges behind the record.
func (s *Service) Exchanges() []Exchange { return s.exchanges }
