// Package connect is stage 3 of the scan pipeline: the TCP connect scanner.
// It needs no privileges: every probe is a full connect(2), closed at once
// with SO_LINGER 0 (an RST, so no TIME_WAIT flood) and without sending a
// byte; the fingerprint engine opens its own connections to the open ports.
//
// Scheduling: targets stream in from a Source through a bounded window of
// hosts (HostWindow), and probes are dealt round-robin across the hosts in
// the window, so load is spread over many hosts instead of sending one host
// all its ports at once, while memory stays bounded whatever the size of the
// target list. A global worker pool caps concurrent connects (Concurrency,
// itself capped by RLIMIT_NOFILE), PerHost caps them per host, and Rate caps
// connects per second.
//
// Timing: the first probes of a host use Timeout; once the host has answered
// (SYN-ACK or RST), its timeouts follow the measured RTT (RTTMultiplier times
// the smoothed RTT plus four deviations, within [MinTimeout, Timeout]). A port
// that does not answer is retried (Retries). A host that has answered nothing
// after BackoffAfter silent probes gets single short probes; after SkipAfter
// its remaining ports are skipped and it is reported down, so a dead or fully
// firewalled host costs about one timeout rather than ports x timeout.
//
// Results: every open port is reported to OnPort the moment it is found, so
// fingerprinting can start while the scan goes on; closed and filtered ports
// are counted and reported only on request. Each host ends with a HostResult.
package connect

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/portrait-scanner/portrait/target"
)

// State is the verdict on one port.
type State uint8

// Port states. Error means the probe could not be made (a local resource
// failure such as running out of file descriptors); nothing is known.
const (
	Open State = iota + 1
	Closed
	Filtered
	Error
)

func (s State) String() string {
	switch s {
	case Open:
		return "open"
	case Closed:
		return "closed"
	case Filtered:
		return "filtered"
	case Error:
		return "error"
	}
	return "unknown"
}

// Reasons, as in nmap's --reason output.
const (
	ReasonSynAck      = "syn-ack"          // connected
	ReasonRefused     = "conn-refused"     // RST to our SYN
	ReasonReset       = "reset"            // reset during the handshake
	ReasonNoResponse  = "no-response"      // timed out
	ReasonHostUnreach = "host-unreach"     // ICMP host unreachable / no ARP answer
	ReasonNetUnreach  = "net-unreach"      // ICMP network unreachable / no route
	ReasonProhibited  = "admin-prohibited" // refused by a local or remote packet filter
	ReasonLocalError  = "local-error"      // we could not probe
	ReasonAllFiltered = "all filtered (no response)"
)

// PortResult is the final verdict on one port of one host.
type PortResult struct {
	Addr   netip.Addr
	Name   string // host name the target came from ("" for literal addresses)
	Port   int
	State  State
	Reason string
	RTT    time.Duration // connect time of the deciding attempt; 0 when nothing answered
	Tries  int           // connect attempts made
	Err    error         // the underlying error for Error (and unclassified) results
}

// HostState is the verdict on a host.
type HostState uint8

// Host states: Up when any port answered (open or closed), else Down.
const (
	Up HostState = iota + 1
	Down
)

func (s HostState) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "unknown"
}

// HostResult summarises one host once all its ports are decided.
type HostResult struct {
	Addr                           netip.Addr
	Name                           string
	State                          HostState
	Reason                         string // first answer's reason when up; why it is thought down otherwise
	Open, Closed, Filtered, Errors int
	Skipped                        int           // ports not probed because the host looked down
	Probes                         int           // connect attempts made
	RTT                            time.Duration // smoothed connect RTT; 0 when nothing answered
	Duration                       time.Duration // from the host's first probe to its last verdict
}

// Summary totals a whole scan.
type Summary struct {
	Hosts, Up, Down                         int
	Open, Closed, Filtered, Errors, Skipped int
	Probes                                  int
	Elapsed                                 time.Duration
	Concurrency                             int // worker count actually used
}

// Source yields targets; *target.Iterator satisfies it.
type Source interface {
	Next() (target.Target, bool)
}

// DialFunc makes one connect attempt within timeout and closes whatever it
// opened; a nil error means the port accepted the connection.
type DialFunc func(ctx context.Context, addr netip.AddrPort, timeout time.Duration) error

// Config tunes a scan. Zero values select the defaults given; a negative
// value disables a feature where noted.
type Config struct {
	// Concurrency caps connects in flight (default 1000). It is further
	// capped by the open-file limit (raised to its hard maximum at Scan)
	// minus FDReserve, which is left for the fingerprint engine.
	Concurrency int
	FDReserve   int // default 256
	// PerHost caps connects in flight to one host (default 256).
	PerHost int
	// HostWindow is how many hosts are scanned at once (default 256). It
	// bounds memory: hosts are pulled from the Source only as others finish.
	HostWindow int
	// Rate caps connect attempts per second over the whole scan (0: no cap);
	// Burst is the bucket size (default Rate/50, at least 1).
	Rate  float64
	Burst int

	// Timeout is the connect timeout before a host has answered, and the
	// ceiling of its adaptive timeout (default 1.5s).
	Timeout time.Duration
	// MinTimeout is the floor of the adaptive timeout (default 250ms: on a
	// loaded machine local scheduling alone can delay a loopback answer by
	// a few hundred milliseconds, and a too-short floor turns open ports
	// into false "filtered" verdicts).
	MinTimeout time.Duration
	// RTTMultiplier scales the smoothed RTT into a timeout (default 4).
	RTTMultiplier float64
	// Retries is how many more attempts a port that timed out gets (default
	// 1; -1 for none). Each retry doubles the timeout, up to Timeout.
	Retries int

	// BackoffAfter silent probes (timeouts or unreachables with no answer
	// from the host yet) switch the host to single attempts of
	// BackoffTimeout (default 50, -1 never). SkipAfter silent probes skip
	// its remaining ports (default 200, -1 never).
	BackoffAfter   int
	SkipAfter      int
	BackoffTimeout time.Duration // default Timeout/3

	// ReportClosed and ReportFiltered make OnPort also receive closed and
	// filtered ports (always counted). Open and Error results are always
	// reported.
	ReportClosed   bool
	ReportFiltered bool

	// OnPort receives port verdicts as soon as they are known; OnHost
	// receives each host's summary when its last port is decided. Both are
	// called from the scheduler goroutine, one call at a time, and must
	// return quickly (hand work to a queue): a slow callback stalls the scan.
	OnPort func(PortResult)
	OnHost func(HostResult)

	// Dial replaces the connect attempt (tests, source binding, proxies).
	// nil: net.Dialer with SO_LINGER 0.
	Dial DialFunc
}

// Defaults.
const (
	DefaultConcurrency   = 1000
	DefaultFDReserve     = 256
	DefaultPerHost       = 256
	DefaultHostWindow    = 256
	DefaultTimeout       = 1500 * time.Millisecond
	DefaultMinTimeout    = 250 * time.Millisecond
	DefaultRTTMultiplier = 4
	DefaultRetries       = 1
	DefaultBackoffAfter  = 50
	DefaultSkipAfter     = 200
)

// withDefaults fills in zero fields.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Concurrency, DefaultConcurrency)
	def(&c.FDReserve, DefaultFDReserve)
	def(&c.PerHost, DefaultPerHost)
	def(&c.HostWindow, DefaultHostWindow)
	def(&c.Retries, DefaultRetries)
	def(&c.BackoffAfter, DefaultBackoffAfter)
	def(&c.SkipAfter, DefaultSkipAfter)
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MinTimeout <= 0 {
		c.MinTimeout = DefaultMinTimeout
	}
	c.MinTimeout = min(c.MinTimeout, c.Timeout)
	if c.RTTMultiplier <= 0 {
		c.RTTMultiplier = DefaultRTTMultiplier
	}
	if c.BackoffTimeout <= 0 {
		c.BackoffTimeout = c.Timeout / 3
	}
	c.BackoffTimeout = min(c.BackoffTimeout, c.Timeout)
	if c.Rate > 0 && c.Burst <= 0 {
		c.Burst = max(1, int(c.Rate/50))
	}
	if c.Dial == nil {
		c.Dial = dialTCP
	}
	return c
}

// EffectiveConcurrency is the worker count Scan would use: Concurrency
// capped by the open-file limit minus FDReserve. It raises the soft limit to
// the hard limit first.
func EffectiveConcurrency(cfg Config) int {
	c := cfg.withDefaults()
	n := c.Concurrency
	if lim := raiseNOFILE(); lim > 0 {
		avail := lim - c.FDReserve
		if avail < 16 {
			avail = max(1, lim/2)
		}
		n = min(n, avail)
	}
	return max(n, 1)
}

// dialTCP is the default DialFunc: a plain connect, closed with an RST.
func dialTCP(ctx context.Context, addr netip.AddrPort, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout, Control: lingerZero, KeepAlive: -1}
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return err
	}
	return c.Close()
}

// ErrNoPorts is returned when Scan is given no ports.
var ErrNoPorts = errors.New("connect: no ports to scan")
