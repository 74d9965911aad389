// Package sweep is the scheduler behind the raw SYN and UDP scanners: it
// walks targets × ports as fast as the rate limit allows, with memory that
// does not grow with the number of probes in flight.
//
// Targets stream in from a Source and are cut into blocks (at most
// MaxBlockHosts hosts and MaxBlockBits host×port pairs). A block keeps one
// bit per pair ("answered") and a few counters per host; nothing is kept
// per probe in flight: the transport validates answers statelessly (a
// keyed cookie echoed by the target) and reports them with Answer. Within a
// block, probes go out port by port, the hosts of each port in a
// pseudo-random order, so a host never gets a burst of all its ports and
// the likely-open ports (put first by the caller) are found first.
//
// Rounds: after the first round the block waits for stragglers (an
// adaptive timeout from the RTTs the cookies measure, within [MinTimeout,
// Timeout]), then resends the unanswered probes (Retries rounds). A block
// whose probes are all answered ends at once. Two blocks are live at a
// time, so one's wait overlaps the next one's sending.
//
// Backoff: a host that has answered none of SkipAfter probes (and was not
// found up by discovery) gets no more probes; a /24 (/120 in IPv6) from
// which none of DarkAfter probes drew an answer is a dark network: its
// hosts are given up after DarkHostSkip silent probes each and get no
// retries, and it is reported once (OnDark) for the operator.
//
// Pacing (UDP): hosts that rate-limit their ICMP errors (Linux sends one
// port-unreachable a second after a burst of six) answer the first probes
// and then fall silent. With PaceLimited such hosts get their retries
// paced by an additive-increase, multiplicative-decrease rate per host, so
// that retries land when the host can answer them.
package sweep

import (
	"context"
	"errors"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/portrait-scanner/portrait/target"
)

// Verdict is what an answer (or the lack of one) says about a port.
type Verdict uint8

// Verdicts. None is only used internally.
const (
	None Verdict = iota
	Open
	Closed
	Filtered
	OpenFiltered
	nVerdicts
)

func (v Verdict) String() string {
	switch v {
	case Open:
		return "open"
	case Closed:
		return "closed"
	case Filtered:
		return "filtered"
	case OpenFiltered:
		return "open|filtered"
	}
	return "unknown"
}

// Reasons, in nmap's --reason words.
const (
	ReasonNoResponse = "no-response"
	ReasonDarkNet    = "dark-network"
)

// Probe is one packet to send.
type Probe struct {
	Addr netip.Addr
	Port uint16
	Try  uint8 // 0 for the first round
}

// Transport sends probes. Send is called from one goroutine only; it may
// report a probe the kernel refused with Answer (FromHost false).
type Transport interface {
	Send(ctx context.Context, probes []Probe) error
}

// Answer is a reply (or an ICMP error) matched to a probe by the
// transport.
type Answer struct {
	Addr     netip.Addr
	Port     uint16
	Verdict  Verdict
	Reason   string
	FromHost bool          // the target itself answered (not a router, not a local error)
	RTT      time.Duration // 0 when unknown
	Data     []byte        // payload (UDP); copied
	Probe    string        // name of the probe that drew it (UDP)
}

// Result is the verdict on one port.
type Result struct {
	Addr    netip.Addr
	Name    string
	Port    int
	Verdict Verdict
	Reason  string
	RTT     time.Duration
	Tries   int
	Data    []byte
	Probe   string
	// HostFirst marks the first answer from the host itself.
	HostFirst bool
}

// HostResult summarises one host once its block is done.
type HostResult struct {
	Addr                                 netip.Addr
	Name                                 string
	Up                                   bool
	Reason                               string
	Open, Closed, Filtered, OpenFiltered int
	Skipped                              int // ports never probed (host or network gave up)
	Probes                               int
	RTT                                  time.Duration
	Duration                             time.Duration
}

// Dark is a network that answered nothing.
type Dark struct {
	Prefix  netip.Prefix
	Probes  int // probes sent into it
	Skipped int // probes saved
}

// Hint is what discovery knows of a host.
type Hint struct {
	Up     bool
	Reason string
	RTT    time.Duration
}

// Source yields targets; *target.Iterator satisfies it.
type Source interface {
	Next() (target.Target, bool)
}

// Summary totals a sweep.
type Summary struct {
	Hosts, Up, Down                                 int
	Open, Closed, Filtered, OpenFiltered, Skipped   int
	Probes, Answers, Duplicates, Strays, SendErrors int
	RecvDrops                                       int // packets the kernel dropped before we read them
	Throttles                                       int // rate cuts after receive drops
	DarkNets                                        int
	Elapsed                                         time.Duration
}

// Config tunes a sweep. Zero values select the defaults.
type Config struct {
	Ports []int // required, in the order to probe
	// Rate caps probes per second (0: no cap); Burst is the bucket size
	// (default Rate/100, at least 16).
	Rate  float64
	Burst int
	// Retries is the number of extra rounds for unanswered probes (default
	// 1; -1 for none).
	Retries int
	// Timeout is the wait after a round before any RTT is known, and the
	// ceiling of the adaptive wait (default 1s); MinTimeout its floor
	// (default 100ms).
	Timeout    time.Duration
	MinTimeout time.Duration
	// SkipAfter silent probes give up a host (default 200, -1 never).
	SkipAfter int
	// DarkAfter silent probes into a /24 make it dark (default 64, -1
	// never); its hosts are given up after DarkHostSkip silent probes
	// (default 4).
	DarkAfter    int
	DarkHostSkip int
	// Block limits (defaults 1<<26 pairs, 65536 hosts, 2 live blocks).
	MaxBlockBits  int
	MaxBlockHosts int
	MaxLiveBlocks int
	// Silent is the verdict for probes that drew nothing (default
	// Filtered; OpenFiltered for UDP).
	Silent Verdict
	// PaceLimited paces retries to hosts that rate-limit their answers.
	PaceLimited bool
	// AnyAnswer ends a host at its first answer (host discovery: one
	// method that works is enough).
	AnyAnswer bool
	// HostInfo tells what discovery knows of a host (nil: nothing).
	HostInfo func(netip.Addr) Hint
	// ReportClosed and ReportFiltered make OnPort also receive closed and
	// filtered (and open|filtered) ports.
	ReportClosed   bool
	ReportFiltered bool
	// Callbacks, called from one goroutine at a time, in order.
	OnPort func(Result)
	OnHost func(HostResult)
	OnDark func(Dark)
	Log    *slog.Logger
	// Seed fixes the probe order (tests); 0 draws one.
	Seed uint64
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Retries, 1)
	def(&c.SkipAfter, 200)
	def(&c.DarkAfter, 64)
	def(&c.DarkHostSkip, 4)
	def(&c.MaxBlockBits, 1<<26)
	def(&c.MaxBlockHosts, 65536)
	def(&c.MaxLiveBlocks, 2)
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	if c.MinTimeout <= 0 {
		c.MinTimeout = 100 * time.Millisecond
	}
	c.MinTimeout = min(c.MinTimeout, c.Timeout)
	if c.Rate > 0 && c.Burst <= 0 {
		c.Burst = max(16, int(c.Rate/100))
	}
	if c.Silent == None {
		c.Silent = Filtered
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64() | 1
	}
	return c
}

// ErrNoPorts is returned when the sweep is given no ports.
var ErrNoPorts = errors.New("sweep: no ports to scan")

// Sweep is one scan. Create it with New, start the transport's receiver
// (which calls Answer), then Run.
type Sweep struct {
	cfg     Config
	portIdx []int32 // port -> index in cfg.Ports, -1 if not scanned

	mu   sync.Mutex
	live []*block
	srtt time.Duration
	rvar time.Duration
	sum  Summary
	rnd  *rand.Rand
	wake chan struct{} // a block became fully answered

	out chan event
}

type event struct {
	port *Result
	host *HostResult
	dark *Dark
}

// New prepares a sweep.
func New(cfg Config) (*Sweep, error) {
	if len(cfg.Ports) == 0 {
		return nil, ErrNoPorts
	}
	c := cfg.withDefaults()
	s := &Sweep{cfg: c, portIdx: make([]int32, 65536), wake: make(chan struct{}, 1), out: make(chan event, 4096)}
	for i := range s.portIdx {
		s.portIdx[i] = -1
	}
	// Duplicates would leave bits no answer can set: keep the first.
	uniq := make([]int, 0, len(c.Ports))
	for _, p := range c.Ports {
		if p <= 0 || p > 65535 {
			return nil, errors.New("sweep: port out of range")
		}
		if s.portIdx[p] < 0 {
			s.portIdx[p] = int32(len(uniq))
			uniq = append(uniq, p)
		}
	}
	s.cfg.Ports = uniq
	s.rnd = rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	return s, nil
}

// hostState is a block's bookkeeping for one host.
type hostState struct {
	addr       netip.Addr
	name       string
	net        *subnet
	pace       *hostPacer // non-nil once the host is paced
	closedMark int32      // counts[Closed] when the current round started
	reason     string     // first answer's reason (or discovery's)
	unreach    string     // last error a router or the kernel gave
	firstSend  time.Time
	srtt       time.Duration
	rvar       time.Duration
	sent       int32 // probes sent
	probed0    int32 // first-round probes sent
	answers    int32 // answers from the host itself
	unans      int32 // ports neither answered nor given up
	skipAt     int32 // first unprobed port index when given up in round 0; -1
	counts     [nVerdicts]int32
	known      bool // discovery found it up
	abandoned  bool
}

type subnet struct {
	prefix    netip.Prefix
	sent      int
	answers   int
	skipped   int
	firstSend time.Time
	dark      bool
	reported  bool
}

type block struct {
	hosts      []hostState
	lo, hi     netip.Addr
	np         int
	answered   []uint64
	sentRound  []uint64 // pacing only
	nets       []*subnet
	perm       perm
	round      int
	maxRound   int
	cursor     int
	sending    bool
	due        time.Time
	lastSend   time.Time
	start      time.Time
	remaining  int
	deferred   int
	nextToken  time.Time // earliest token of a deferred paced host
	roundStart time.Time
}

func (b *block) find(a netip.Addr) int {
	if a.Less(b.lo) || b.hi.Less(a) {
		return -1
	}
	i, ok := slices.BinarySearchFunc(b.hosts, a, func(h hostState, a netip.Addr) int { return h.addr.Compare(a) })
	if !ok {
		return -1
	}
	return i
}

func testBit(bm []uint64, i int) bool { return bm[i>>6]&(1<<(uint(i)&63)) != 0 }
func setBit(bm []uint64, i int)       { bm[i>>6] |= 1 << (uint(i) & 63) }

// perm is a pseudo-random permutation of [0, n): an affine map modulo a
// power of two, cycle-walked into range. It spreads a round's probes over
// the hosts of a block without storing an order.
type perm struct{ n, mask, a, c uint64 }

func newPerm(n int, r *rand.Rand) perm {
	k := bits.Len64(uint64(max(n, 1) - 1))
	mask := uint64(1)<<k - 1
	return perm{n: uint64(n), mask: mask, a: (r.Uint64() | 1) & mask, c: r.Uint64() & mask}
}

func (p perm) at(i int) int {
	if p.mask == 0 {
		return i
	}
	x := uint64(i)
	for {
		x = (p.a*x + p.c) & p.mask
		if x < p.n {
			return int(x)
		}
	}
}

// netKey is the dark-network unit of an address.
func netKey(a netip.Addr) netip.Prefix {
	if a.Is4() {
		p, _ := a.Prefix(24)
		return p
	}
	p, _ := a.Prefix(120)
	return p
}
