// Package fingerprint identifies what listens behind an open port: the
// protocol, product, version, OS hints and every technology on it, each with
// a confidence and the evidence behind it.
//
// The engine works in layers. Layer 1 reads the passive banner while the
// modules the port number suggests already run on their own connections.
// Layer 2 runs the protocol modules the banner or the silence calls for,
// concurrently, and stops as soon as one confirms its protocol with high
// confidence; TLS is detected on any port and the same layers re-run inside
// it. Layer 3 runs the rules over the merged evidence and scores the
// matches; layer 4 keeps every technology found.
package fingerprint

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/tlsprobe"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Config tunes the engine. The zero value of a field means its default.
type Config struct {
	// BannerWait is how long a silent port is given to speak first
	// (default 500ms, then the first connection keeps listening while the
	// probes run; raised for slow links from the measured connect time).
	BannerWait time.Duration
	// ProbeTimeout bounds one probe or module dialogue round (default 1s).
	ProbeTimeout time.Duration
	// PortTimeout bounds the whole fingerprint of one port (default 15s):
	// a server that keeps every read busy without ever finishing a reply
	// cannot hold a port past it. The record then says what was found.
	PortTimeout time.Duration
	// MaxRead caps each response (default 64 KiB).
	MaxRead int
	// Parallel caps the probes run at once on one port (default 8): servers
	// that limit connections per client (IRC daemons, single-worker app
	// servers) must not be flooded by one fingerprint.
	Parallel int
	// MaxProtocols stops probing a port once this many modules confirmed a
	// protocol (default 3).
	MaxProtocols int
	// Intensity (0-9) selects the data probes tried on unknown services by
	// rarity, as nmap's --version-intensity does (default 7).
	Intensity int
	// NoTLS disables TLS detection.
	NoTLS bool
	// Nmap, when set, also runs a user's nmap-service-probes file as nmap
	// does (nmapmode.go).
	Nmap *NmapMode
	// SkipPorts are reported open but never probed. The default is the raw
	// printing ports 9100-9107: printers print whatever arrives there, so
	// every probe would waste paper (nmap excludes them too). Set
	// ProbeAllPorts to probe them anyway.
	SkipPorts     []int
	ProbeAllPorts bool
}

func (c Config) withDefaults() Config {
	if c.BannerWait <= 0 {
		c.BannerWait = 500 * time.Millisecond
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = time.Second
	}
	if c.PortTimeout <= 0 {
		c.PortTimeout = 15 * time.Second
	}
	if c.MaxRead <= 0 {
		c.MaxRead = 64 << 10
	}
	if c.Parallel <= 0 {
		c.Parallel = 8
	}
	if c.MaxProtocols <= 0 {
		c.MaxProtocols = 3
	}
	if c.Intensity == 0 {
		c.Intensity = 7
	}
	if c.SkipPorts == nil {
		c.SkipPorts = []int{9100, 9101, 9102, 9103, 9104, 9105, 9106, 9107}
	}
	if c.ProbeAllPorts {
		c.SkipPorts = []int{}
	}
	return c
}

// Engine is safe for concurrent use by many ports at once.
type Engine struct {
	cfg     Config
	modules []protocol.Module
	catalog *Catalog
	probes  []Probe
	log     *slog.Logger
	dialer  net.Dialer
}

// New builds an engine from its parts. Registries are explicit: the caller
// passes the modules (protocol/all.Modules()) and the catalog.
func New(cfg Config, modules []protocol.Module, catalog *Catalog, probes []Probe, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg.withDefaults(), modules: modules, catalog: catalog, probes: probes, log: log}
}

// Catalog returns the engine's rules.
func (e *Engine) Catalog() *Catalog { return e.catalog }

// Target is one open TCP port to identify.
type Target struct {
	Addr     netip.Addr
	Hostname string // name the user gave, for SNI and Host headers
	Port     int
}

// evidence gathers what all layers found on one port. It is shared by the
// goroutines of one Identify call.
type evidence struct {
	mu        sync.Mutex
	fields    map[string]string
	exchanges []Exchange
	results   []modResult
	ran       map[string]bool
	nmap      *nmapState // nmap mode's schedules (nmapmode.go)
	// probeHit is set when a data probe's answer alone names the service;
	// notify wakes the layer that may then stop early.
	probeHit atomic.Bool
	notify   func()
	// reacted is set once the server answered anything (a banner, a reply,
	// a close): a port that never reacts is not worth the last resort.
	reacted atomic.Bool
}

type modResult struct {
	module     string
	service    string
	confidence int
	tls        bool
}

func (ev *evidence) add(name string, tlsMode bool, r *protocol.Result) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if r == nil {
		return
	}
	for k, v := range r.Fields {
		if _, ok := ev.fields[k]; !ok || tlsMode {
			ev.fields[k] = v
		}
	}
	for _, x := range r.Exchanges {
		if x.Probe == "NULL" && len(x.Request) == 0 && ev.hasNull(tlsMode) {
			continue // the engine already recorded the passive banner
		}
		ev.exchanges = append(ev.exchanges, Exchange{Probe: x.Probe, TLS: tlsMode, Request: x.Request, Response: x.Response})
	}
	if r.Service != "" {
		ev.results = append(ev.results, modResult{module: name, service: r.Service, confidence: r.Confidence, tls: tlsMode})
	}
}

func (ev *evidence) hasNull(tlsMode bool) bool {
	for _, x := range ev.exchanges {
		if x.Probe == "NULL" && x.TLS == tlsMode {
			return true
		}
	}
	return false
}

func (ev *evidence) set(k, v string) {
	ev.mu.Lock()
	ev.fields[k] = v
	ev.mu.Unlock()
}

func (ev *evidence) confirmed(min int) int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	n := 0
	for _, r := range ev.results {
		if r.confidence >= min {
			n++
		}
	}
	return n
}

func (ev *evidence) markRan(name string, tlsMode bool) bool {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	k := name
	if tlsMode {
		k = "tls:" + name
	}
	if ev.ran[k] {
		return false
	}
	ev.ran[k] = true
	return true
}

// Identify fingerprints one open TCP port. It always returns a record; an
// unreachable or silent port yields a record with what could be said.
func (e *Engine) Identify(ctx context.Context, t Target) *Service {
	start := time.Now()
	ev := &evidence{fields: map[string]string{}, ran: map[string]bool{}}
	if onPort(e.cfg.SkipPorts, t.Port) {
		svc := e.decide(t, false, ev)
		svc.Info = "not probed: raw printer port (--fingerprint-all-ports probes it)"
		return svc
	}
	pctx, cancel := context.WithTimeout(ctx, e.cfg.PortTimeout)
	defer cancel()
	isTLS := e.layer(pctx, t, false, ev)
	if isTLS {
		e.layer(pctx, t, true, ev)
	}
	e.followUps(pctx, t, isTLS, ev)
	svc := e.nmapDecide(t, isTLS, ev) // decide, after nmap mode's probes if any
	if pctx.Err() != nil && ctx.Err() == nil {
		e.log.Debug("port fingerprint cut at its time budget", "target", t.Addr, "port", t.Port, "budget", e.cfg.PortTimeout)
		if svc.Info == "" && svc.Product == "" {
			svc.Info = "fingerprint cut at the port's time budget"
		}
	}
	svc.DurationMS = time.Since(start).Milliseconds()
	return svc
}

func (e *Engine) dial(ctx context.Context, t Target, tlsMode bool, ev *evidence) (net.Conn, error) {
	return e.dialTLS(ctx, t, tlsMode, false, ev)
}

// dialTLS dials; inside TLS, detect marks the handshake whose ALPN offer
// gathers evidence.
func (e *Engine) dialTLS(ctx context.Context, t Target, tlsMode, detect bool, ev *evidence) (net.Conn, error) {
	addr := net.JoinHostPort(t.Addr.String(), strconv.Itoa(t.Port))
	dctx, cancel := context.WithTimeout(ctx, 2*e.cfg.ProbeTimeout)
	defer cancel()
	c, err := e.dialer.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if !tlsMode {
		return c, nil
	}
	// The connection that detects TLS offers ALPN (the server's choice is
	// evidence); connections that then carry a plaintext protocol offer none.
	alpn := tlsprobe.DefaultALPN
	if ev == nil || !detect {
		alpn = nil
	}
	tc, fields, err := tlsprobe.HandshakeALPN(dctx, c, t.Hostname, e.cfg.ProbeTimeout, alpn)
	if err != nil {
		c.Close()
		return nil, err
	}
	if ev != nil {
		ev.mu.Lock()
		for k, v := range fields {
			if _, ok := ev.fields[k]; !ok {
				ev.fields[k] = v
			}
		}
		ev.mu.Unlock()
	}
	return tc, nil
}

func (e *Engine) env(t Target, tlsMode bool) protocol.Env {
	env := protocol.Env{
		Host: t.Addr.String(), Hostname: t.Hostname, Port: t.Port, TLS: tlsMode,
		Timeout: e.cfg.ProbeTimeout, MaxRead: e.cfg.MaxRead,
		Dial: func(ctx context.Context) (net.Conn, error) { return e.dial(ctx, t, tlsMode, nil) },
	}
	if !tlsMode {
		env.StartTLS = func(ctx context.Context, conn net.Conn) (*tls.Conn, map[string]string, error) {
			return tlsprobe.HandshakeALPN(ctx, conn, t.Hostname, e.cfg.ProbeTimeout, nil)
		}
	}
	return env
}

func onPort(ports []int, p int) bool {
	for _, x := range ports {
		if x == p {
			return true
		}
	}
	return false
}

// layer runs layers 1 and 2 in plaintext or inside TLS. In plaintext it
// reports whether the port turned out to speak TLS.
func (e *Engine) layer(ctx context.Context, t Target, tlsMode bool, ev *evidence) (isTLS bool) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, e.cfg.Parallel)
	var tlsOK bool
	var tlsMu sync.Mutex
	strong := make(chan struct{}, 64)
	// signal wakes the stop check below (and a banner read waiting on it).
	signal := func() {
		select {
		case strong <- struct{}{}:
		default:
		}
	}
	ev.mu.Lock()
	ev.notify = signal
	ev.mu.Unlock()

	// A port that answers no question at all within one probe timeout of
	// the fan-out is silent for good: the modules still queued behind the
	// per-port limit are not started (a silent port must cost <= 2 s).
	reacted := &ev.reacted
	var silentStart atomic.Int64
	silentGiveUp := func() bool {
		st := silentStart.Load()
		return st != 0 && !reacted.Load() && time.Since(time.Unix(0, st)) > e.cfg.ProbeTimeout
	}
	runModule := func(m protocol.Module, conn net.Conn, banner []byte) {
		defer wg.Done()
		name := m.Info().Name
		if conn == nil {
			sem <- struct{}{}
			defer func() { <-sem }()
			if lctx.Err() != nil || silentGiveUp() {
				return
			}
			c, err := e.dial(lctx, t, tlsMode, ev)
			if err != nil {
				return
			}
			conn = c
		}
		defer conn.Close()
		mctx, mcancel := context.WithTimeout(lctx, 3*e.cfg.ProbeTimeout)
		defer mcancel()
		res, err := runSafe(mctx, m, conn, banner, e.env(t, tlsMode))
		if reaction(res, err) {
			reacted.Store(true)
		}
		if err != nil && !errors.Is(err, protocol.ErrNotThisProtocol) {
			e.log.Debug("module failed", "module", name, "port", t.Port, "tls", tlsMode, "err", err)
		}
		ev.add(name, tlsMode, res)
		if res != nil && res.Service != "" && res.Confidence >= 90 {
			signal()
		}
	}
	start := func(m protocol.Module, conn net.Conn, banner []byte) {
		if !ev.markRan(m.Info().Name, tlsMode) {
			if conn != nil {
				conn.Close()
			}
			return
		}
		wg.Add(1)
		go runModule(m, conn, banner)
	}

	// Layer 1: the modules the port number calls for start at once, each on
	// its own connection, while the first connection waits for a banner.
	for _, m := range e.modules {
		inf := m.Info()
		if inf.ServerFirst || (inf.Transport != "" && inf.Transport != "tcp") {
			continue
		}
		if onPort(inf.Ports, t.Port) || (tlsMode && onPort(inf.TLSPorts, t.Port)) {
			start(m, nil, nil)
		}
	}
	// The data probes the port number calls for start at once too: a probe
	// is the protocol knowledge of a service without a module (JavaRMI on
	// 1099, RTSPRequest on 554), so it deserves the same head start; sent
	// after the layers it would cost a whole extra round on silent ports.
	e.runProbes(lctx, t, tlsMode, ev, &wg, func(p *Probe) bool { return p.onPort(t.Port, tlsMode) })
	tryTLS := func() {
		if tlsMode || e.cfg.NoTLS || !ev.markRan("tls-detect", false) {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := e.dialTLS(lctx, t, true, true, ev)
			if err == nil {
				c.Close()
				tlsMu.Lock()
				tlsOK = true
				tlsMu.Unlock()
				signal()
			}
		}()
	}
	if !tlsMode && onTLSPort(e.modules, t.Port) {
		tryTLS()
	}

	dialStart := time.Now()
	conn0, err := e.dial(lctx, t, tlsMode, ev)
	// A slow path gets a longer wait: a few connect times, at most 5 s.
	wait := min(max(e.cfg.BannerWait, 4*time.Since(dialStart)), 5*time.Second)
	var banner []byte
	enough := func() bool {
		tlsMu.Lock()
		defer tlsMu.Unlock()
		return tlsOK || ev.confirmed(90) >= 1 || ev.probeHit.Load()
	}
	if err == nil {
		banner = e.readBanner(lctx, conn0, wait, strong, enough)
	}
	// onBanner hands a passive banner to the modules that claim it (the
	// first on conn itself) or, when none does, asks generic questions.
	onBanner := func(conn net.Conn, banner []byte) {
		ev.reacted.Store(true)
		ev.mu.Lock()
		if tlsMode {
			ev.fields["tls.banner"] = Latin1(banner)
			if _, ok := ev.fields["banner"]; !ok {
				ev.fields["banner"] = Latin1(banner)
			}
		} else {
			ev.fields["banner"] = Latin1(banner)
		}
		ev.exchanges = append(ev.exchanges, Exchange{Probe: "NULL", TLS: tlsMode, Response: banner})
		ev.mu.Unlock()
		claimed := false
		for _, m := range e.modules {
			inf := m.Info()
			if !inf.ServerFirst || !safeClaim(m, banner) {
				continue
			}
			if !claimed {
				claimed = true
				start(m, conn, banner)
				conn = nil
				continue
			}
			// Another module claims the same banner (FTP and SMTP both greet
			// with 220): it gets its own connection and re-reads the banner.
			m := m
			if !ev.markRan(inf.Name, tlsMode) {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := e.dial(lctx, t, tlsMode, ev)
				if err != nil {
					return
				}
				b, _ := wire.ReadQuiet(lctx, c, e.cfg.ProbeTimeout, 150*time.Millisecond, e.cfg.MaxRead)
				if len(b) == 0 {
					c.Close()
					return
				}
				wg.Add(1)
				runModule(m, c, b)
			}()
		}
		if conn != nil {
			conn.Close()
		}
		if !claimed && e.hardMatch("banner", banner) {
			// No module speaks this protocol, but a rule names it from the
			// greeting alone (nmap's NULL-probe hard match): done.
			ev.probeHit.Store(true)
			return
		}
		if !claimed {
			// An unknown talker: ask the generic questions on fresh connections.
			e.runProbes(lctx, t, tlsMode, ev, &wg, func(p *Probe) bool { return p.Rarity <= min(3, e.cfg.Intensity) })
			for _, m := range e.modules {
				if !m.Info().ServerFirst && (m.Info().Transport == "" || m.Info().Transport == "tcp") && m.Info().Priority >= 50 {
					start(m, nil, nil)
				}
			}
		}
	}
	if len(banner) > 0 {
		onBanner(conn0, banner)
		conn0 = nil
	} else if err == nil && enough() {
		// A port-prior module already confirmed the protocol (or TLS was
		// found): nothing more to ask on this layer.
	} else if err == nil {
		// Silent port: every client-first module and TLS, concurrently
		// (Parallel at a time, by priority).
		silentStart.Store(time.Now().UnixNano())
		giveUp := time.AfterFunc(e.cfg.ProbeTimeout, func() {
			if !reacted.Load() {
				cancel() // nothing answered anything: the port is silent
			}
		})
		defer giveUp.Stop()
		tryTLS()
		mods := append([]protocol.Module(nil), e.modules...)
		// HTTP first, then by priority. HTTP is by far the commonest
		// protocol on a port that waits for the client; its connection is
		// opened a moment before the others so that a server handling one
		// connection at a time (gunicorn's sync worker) serves it next.
		rank := func(m protocol.Module) int {
			for i, name := range silentOrder {
				if m.Info().Name == name {
					return 1<<20 - i
				}
			}
			return m.Info().Priority
		}
		sort.SliceStable(mods, func(i, j int) bool { return rank(mods[i]) > rank(mods[j]) })
		for i, m := range mods {
			inf := m.Info()
			if inf.ServerFirst || (inf.Transport != "" && inf.Transport != "tcp") {
				continue
			}
			start(m, nil, nil)
			if i == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		e.runProbes(lctx, t, tlsMode, ev, &wg, func(p *Probe) bool { return p.Rarity <= min(1, e.cfg.Intensity) })
		// Halfway through, a port that has reacted to nothing gets every
		// data probe at once, with what is left of the budget: binary
		// protocols (RMI, X11, RPC...) answer only their own request, and
		// must be found within the silent port's budget.
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-lctx.Done():
				return
			case <-time.After(e.cfg.ProbeTimeout / 2):
			}
			if reacted.Load() || enough() {
				return
			}
			e.runProbes(lctx, t, tlsMode, ev, &wg, func(p *Probe) bool { return p.Rarity <= e.cfg.Intensity },
				probeLimit{wait: e.cfg.ProbeTimeout / 2})
		}()
		// A server that greets late (a slow reverse lookup, a greeting
		// delay) still gets heard: conn0 keeps listening meanwhile.
		late := conn0
		conn0 = nil
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half a probe timeout: a single-worker server (gunicorn)
			// serves the probes only once this connection lets go.
			b := e.readBanner(lctx, late, e.cfg.ProbeTimeout/2, strong, enough)
			if len(b) == 0 || enough() {
				late.Close()
				return
			}
			onBanner(late, b)
		}()
	}
	if conn0 != nil {
		conn0.Close()
	}
	if err == nil {
		e.nmapStart(ctx, t, tlsMode, ev, banner) // nmap mode: nmap's probes, nmap's order
	}
	// Stop early once enough modules confirmed a protocol, or TLS was found
	// (the TLS layer then does the work).
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			tlsMu.Lock()
			defer tlsMu.Unlock()
			return tlsOK
		case <-strong:
			tlsMu.Lock()
			found := tlsOK
			tlsMu.Unlock()
			if found || ev.confirmed(90) >= e.cfg.MaxProtocols || ((ev.confirmed(90) >= 1 || ev.probeHit.Load()) && len(banner) == 0) {
				cancel()
			}
		case <-ctx.Done():
			cancel()
		}
	}
}

func onTLSPort(mods []protocol.Module, port int) bool {
	for _, m := range mods {
		if onPort(m.Info().TLSPorts, port) {
			return true
		}
	}
	return false
}

// readBanner waits for the server to speak first. The wait ends early when a
// port-prior module already confirmed its protocol (strong is re-signalled).
func (e *Engine) readBanner(ctx context.Context, conn net.Conn, wait time.Duration, strong chan struct{}, enough func() bool) []byte {
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-strong:
			if enough() {
				_ = conn.SetReadDeadline(time.Now())
			}
			select {
			case strong <- struct{}{}:
			default:
			}
		case <-stop:
		case <-bctx.Done():
		}
	}()
	b, _ := wire.ReadQuiet(bctx, conn, wait, 200*time.Millisecond, e.cfg.MaxRead)
	return b
}

// hardMatch says whether one probe answer alone names a service or product
// with confidence: the other probes of the port can then stop.
func (e *Engine) hardMatch(field string, resp []byte) bool {
	for _, m := range e.catalog.Match(map[string]string{field: Latin1(resp)}) {
		if m.Confidence >= 80 && (m.Role == "server" || m.Role == "service" || m.Role == "proxy") {
			return true
		}
	}
	return false
}

// silentOrder ranks the client-first protocols a port that waits for the
// client most often speaks, commonest first (the rest follow by module
// priority): with a few connections at a time per port, the likely answer
// comes in the first wave.
var silentOrder = []string{"http", "redis", "postgresql", "memcached", "mongodb", "smb", "ldap", "rdp",
	"dns", "amqp", "mqtt", "zookeeper", "epmd", "erlang-dist", "sip", "xmpp", "irc", "git", "echo"}

// reaction says whether a module's outcome shows the server reacted to
// what was sent (an answer, another protocol, a close) rather than staying
// silent until the timeout.
func reaction(res *protocol.Result, err error) bool {
	if res != nil {
		for _, x := range res.Exchanges {
			if len(x.Response) > 0 {
				return true
			}
		}
		if res.Service != "" {
			return true
		}
	}
	if err == nil {
		return false
	}
	if errors.Is(err, protocol.ErrNotThisProtocol) {
		return true
	}
	return !wire.IsTimeout(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// runSafe turns a module panic into an error: one bad parser must not take
// the scan down.
func runSafe(ctx context.Context, m protocol.Module, conn net.Conn, banner []byte, env protocol.Env) (res *protocol.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("module %s panicked: %v", m.Info().Name, r)
		}
	}()
	return m.Run(ctx, conn, banner, env)
}

func safeClaim(m protocol.Module, banner []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return m.Claim(banner)
}

// probeLimit paces a batch of probes: at most cap(sem) in flight, the
// commonest (lowest rarity) first, and answered called after each answer.
type probeLimit struct {
	sem      chan struct{}
	answered func()
	wait     time.Duration // when set, caps each probe's wait
}

// runProbes sends the data probes that pass the filter, each on its own
// connection, and stores the answers as probe.<name> fields. Without a limit
// they all start at once.
func (e *Engine) runProbes(ctx context.Context, t Target, tlsMode bool, ev *evidence, wg *sync.WaitGroup, want func(*Probe) bool, limit ...probeLimit) (started int) {
	order := make([]*Probe, 0, len(e.probes))
	for i := range e.probes {
		order = append(order, &e.probes[i])
	}
	var lim probeLimit
	if len(limit) > 0 {
		lim = limit[0]
		sort.SliceStable(order, func(i, j int) bool { return order[i].Rarity < order[j].Rarity })
	}
	for _, p := range order {
		if p.Transport != "tcp" || !want(p) || !ev.markRan("probe:"+p.Name, tlsMode) {
			continue
		}
		if lim.sem != nil {
			select {
			case lim.sem <- struct{}{}:
			case <-ctx.Done():
				return started
			}
		}
		started++
		wg.Add(1)
		go func() {
			defer wg.Done()
			if lim.sem != nil {
				defer func() { <-lim.sem }()
			}
			c, err := e.dial(ctx, t, tlsMode, ev)
			if err != nil {
				return
			}
			defer c.Close()
			host := t.Hostname
			if host == "" {
				host = t.Addr.String()
			}
			req := p.payload(host, t.Port)
			if wire.Write(ctx, c, e.cfg.ProbeTimeout, req) != nil {
				return
			}
			wait := p.wait
			if lim.wait > 0 && lim.wait < wait {
				wait = lim.wait
			}
			resp, _ := wire.ReadQuiet(ctx, c, wait, 300*time.Millisecond, e.cfg.MaxRead)
			if len(resp) == 0 {
				return
			}
			ev.mu.Lock()
			ev.fields["probe."+p.Name] = Latin1(resp)
			ev.exchanges = append(ev.exchanges, Exchange{Probe: p.Name, TLS: tlsMode, Request: req, Response: resp})
			ev.reacted.Store(true)
			ev.mu.Unlock()
			if e.hardMatch("probe."+p.Name, resp) {
				ev.probeHit.Store(true)
				ev.mu.Lock()
				notify := ev.notify
				ev.mu.Unlock()
				if notify != nil {
					notify()
				}
			}
			if lim.answered != nil {
				lim.answered()
			}
		}()
	}
	return started
}

// followUps runs the data probes that earlier findings call for (GET
// /version once a Go HTTP server looks like etcd...).
func (e *Engine) followUps(ctx context.Context, t Target, isTLS bool, ev *evidence) {
	// Two rounds: a probe sent in the first (the last resort below) may
	// identify what a second one is "after" (ajp-cping's CPong calls for
	// ajp-request). Probes run once per port, so a round with nothing new
	// to send ends the loop.
	for round := 0; round < 2; round++ {
		hits, unknown := e.findings(ev)
		var wg sync.WaitGroup
		sent := e.runProbes(ctx, t, isTLS, ev, &wg, func(p *Probe) bool {
			for _, a := range p.After {
				if hits[strings.ToLower(a)] {
					return true
				}
			}
			return false
		})
		if unknown && ev.reacted.Load() && !ev.deaf() {
			// Last resort, as nmap does: a port no module and no rule could
			// name gets the probes up to the configured intensity, so
			// services on unusual ports are still found by their data
			// probes. A few at a time, commonest first, and no more once an
			// answer names the service: an unknown port costs a handful of
			// connections, not one per probe at once. Identified ports
			// never pay for this.
			lctx, cancel := context.WithCancel(ctx)
			sent += e.runProbes(lctx, t, isTLS, ev, &wg, func(p *Probe) bool {
				return p.onPort(t.Port, isTLS) || p.Rarity <= e.cfg.Intensity
			}, probeLimit{sem: make(chan struct{}, 6), answered: func() {
				if _, still := e.findings(ev); !still || ev.deaf() {
					cancel()
				}
			}})
			wg.Wait()
			cancel()
		}
		wg.Wait()
		if sent == 0 {
			return
		}
	}
}

// deafAfter is how many different requests must have drawn the same
// stream before a server is taken not to listen.
const deafAfter = 4

// deaf says whether the server's answers do not depend on what it is sent:
// at least deafAfter different requests drew one and the same byte stream
// (each answer a prefix of the longest, the greeting included). More
// probes cannot teach anything about a server that does not listen (a
// trickle, a banner on a loop), so the last resort is skipped.
func (ev *evidence) deaf() bool {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var longest []byte
	reqs := map[string]bool{}
	for _, x := range ev.exchanges {
		if len(x.Response) > len(longest) {
			longest = x.Response
		}
	}
	for _, x := range ev.exchanges {
		if len(x.Response) == 0 {
			continue
		}
		if !bytes.HasPrefix(longest, x.Response) {
			return false
		}
		if len(x.Request) > 0 {
			reqs[string(x.Request)] = true
		}
	}
	return len(reqs) >= deafAfter
}

// findings lists the rule names, products and services identified so far
// (what probes are "after"), and says whether the port is still unknown: no
// module confirmed a protocol and no rule names its service or product.
func (e *Engine) findings(ev *evidence) (hits map[string]bool, unknown bool) {
	ev.mu.Lock()
	fields := make(map[string]string, len(ev.fields))
	for k, v := range ev.fields {
		fields[k] = v
	}
	hits = map[string]bool{}
	for _, r := range ev.results {
		hits[r.service] = true
	}
	unknown = len(ev.results) == 0
	ev.mu.Unlock()
	for _, m := range e.catalog.Match(fields) {
		hits[m.Rule] = true
		hits[strings.ToLower(m.Product)] = true
		if m.Role == "server" || m.Role == "proxy" || m.Role == "service" {
			unknown = false
		}
	}
	return hits, unknown
}
