// Package syn is the TCP SYN ("half-open") scanner: one SYN per port, a
// SYN-ACK means open, a reset closed, an ICMP unreachable or silence
// filtered. The handshake is never completed: the kernel, which knows
// nothing of our SYNs, answers each SYN-ACK with a reset.
//
// Packets are built from a gopacket template and sent on a raw socket in
// batches (sendmmsg); replies are read from an AF_PACKET socket whose BPF
// filter passes only TCP segments to our source port and ICMP errors. The
// SYN's sequence number carries a keyed cookie of the 4-tuple (21 bits) and
// the send time in milliseconds (11 bits), so replies are validated and
// timed without any table of probes in flight: memory depends on the
// number of targets in a block, never on the rate (see package sweep for
// scheduling, retries, adaptive timeouts and dark-network backoff).
//
// It needs CAP_NET_RAW; Available says whether the process has it, so the
// caller can fall back to the connect scanner. Results use the connect
// scanner's types, so both feed the pipeline the same way.
package syn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portrait-scanner/portrait/netscan/connect"
	"github.com/portrait-scanner/portrait/netscan/rawsock"
	"github.com/portrait-scanner/portrait/netscan/rawsock/sweep"
)

// Reasons (nmap's words) beyond the connect scanner's.
const (
	ReasonPortUnreach  = "port-unreach"
	ReasonProtoUnreach = "proto-unreach"
	ReasonTimeExceeded = "time-exceeded"
)

// Config tunes a SYN scan. Zero values select the defaults (see
// sweep.Config for the ones passed through).
type Config struct {
	// Rate caps SYNs per second (0: no cap). Burst is the bucket size.
	Rate  float64
	Burst int
	// Retries of unanswered ports (default 1; -1 none).
	Retries int
	// Timeout is the wait for answers before any RTT is measured and the
	// ceiling of the adaptive wait (default 1s); MinTimeout its floor
	// (default 100ms).
	Timeout    time.Duration
	MinTimeout time.Duration
	// SkipAfter, DarkAfter: see sweep.Config (defaults 200, 64).
	SkipAfter int
	DarkAfter int
	// TTL of our SYNs (default 64).
	TTL uint8
	// ReportClosed and ReportFiltered make OnPort also receive closed and
	// filtered ports.
	ReportClosed   bool
	ReportFiltered bool
	// HostInfo tells what discovery found (nil: nothing).
	HostInfo func(netip.Addr) sweep.Hint
	// Callbacks, called one at a time from one goroutine.
	OnPort func(connect.PortResult)
	OnHost func(connect.HostResult)
	OnDark func(sweep.Dark)
	Log    *slog.Logger
	// MaxBlockHosts bounds the hosts scanned together (default 65536).
	MaxBlockHosts int
}

// Available reports whether SYN scanning is possible (raw sockets).
func Available() error { return rawsock.Check() }

// ErrNoPorts is returned when Scan is given no ports.
var ErrNoPorts = errors.New("syn: no ports to scan")

// Scan SYN-scans every port of every target.
func Scan(ctx context.Context, cfg Config, src sweep.Source, ports []int) (sweep.Summary, error) {
	if len(ports) == 0 {
		return sweep.Summary{}, ErrNoPorts
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	// One source port per try: a retry from the same port with another
	// sequence number would meet the half-open connection the first SYN
	// left (its SYN-ACK lost) and draw a reset, a false "closed".
	var sports []uint16
	for range sourcePorts {
		res, err := rawsock.ReserveTCPPort()
		if err != nil {
			return sweep.Summary{}, err
		}
		defer res.Close()
		sports = append(sports, res.Port)
	}
	tr, err := newTransport(sports, cfg.TTL, cfg.Rate)
	if err != nil {
		return sweep.Summary{}, err
	}
	defer func() { _ = tr.close() }()

	scfg := sweep.Config{
		Ports: ports, Rate: cfg.Rate, Burst: cfg.Burst, Retries: cfg.Retries,
		Timeout: cfg.Timeout, MinTimeout: cfg.MinTimeout, SkipAfter: cfg.SkipAfter, DarkAfter: cfg.DarkAfter,
		MaxBlockHosts: cfg.MaxBlockHosts, Silent: sweep.Filtered, HostInfo: cfg.HostInfo,
		ReportClosed: cfg.ReportClosed, ReportFiltered: cfg.ReportFiltered, OnDark: cfg.OnDark, Log: cfg.Log,
	}
	if cfg.OnPort != nil {
		scfg.OnPort = func(r sweep.Result) { cfg.OnPort(portResult(r)) }
	}
	if cfg.OnHost != nil {
		scfg.OnHost = func(h sweep.HostResult) { cfg.OnHost(hostResult(h)) }
	}
	sw, err := sweep.New(scfg)
	if err != nil {
		return sweep.Summary{}, err
	}
	tr.sw = sw
	tr.startWorkers(sendWorkers())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tr.receive()
	}()
	sum, err := sw.Run(ctx, src, tr)
	sum.RecvDrops = int(tr.Drops())
	// Late answers are of no use once every block is done.
	if werr := tr.close(); werr != nil && err == nil {
		err = werr
	}
	wg.Wait()
	if tr.err != nil && err == nil {
		err = tr.err
	}
	sum.SendErrors = int(tr.sendErrs.Load())
	return sum, err
}

func portResult(r sweep.Result) connect.PortResult {
	st := connect.Filtered
	switch r.Verdict {
	case sweep.Open:
		st = connect.Open
	case sweep.Closed:
		st = connect.Closed
	}
	return connect.PortResult{Addr: r.Addr, Name: r.Name, Port: r.Port, State: st, Reason: r.Reason, RTT: r.RTT, Tries: r.Tries}
}

func hostResult(h sweep.HostResult) connect.HostResult {
	st := connect.Down
	if h.Up {
		st = connect.Up
	}
	reason := h.Reason
	if !h.Up && reason == sweep.ReasonNoResponse && h.Filtered+h.Skipped > 0 {
		reason = connect.ReasonAllFiltered
	}
	return connect.HostResult{Addr: h.Addr, Name: h.Name, State: st, Reason: reason, Open: h.Open, Closed: h.Closed,
		Filtered: h.Filtered + h.OpenFiltered, Skipped: h.Skipped, Probes: h.Probes, RTT: h.RTT, Duration: h.Duration}
}

// sourcePorts is how many source ports a scan uses (try i uses port i mod
// sourcePorts).
const sourcePorts = 8

type transport struct {
	sports  []uint16
	ttl     uint8
	stamp   rawsock.Stamp
	sw      *sweep.Sweep
	l       *rawsock.Listener
	workers []*sendWorker
	next    int
	pool    sync.Pool
	wwg     sync.WaitGroup
	routes  map[netip.Prefix]route // destination /24 (/64) -> how to send there
	// link: IPv4 SYNs go out as whole frames where the path allows
	// (rawsock.LinkPathTo); PORTRAIT_SYN_L2=0 sends all through the IP stack.
	link bool
	// srcs is read by the receiver: our source addresses.
	mu       sync.RWMutex
	srcs     map[netip.Addr]bool
	sendErrs atomic.Uint64
	drops    atomic.Uint64
	err      error
}

func newTransport(sports []uint16, ttl uint8, rate float64) (*transport, error) {
	f, err := rawsock.Filter(rawsock.FilterSpec{TCPPorts: sports, ICMPErrors: true, Snaplen: 128})
	if err != nil {
		return nil, err
	}
	l, err := rawsock.Listen(rawsock.ListenConfig{Filter: f, Snaplen: 128, Rate: rate})
	if err != nil {
		return nil, err
	}
	return &transport{
		sports: sports, ttl: ttl, stamp: rawsock.NewStamp(), l: l,
		routes: map[netip.Prefix]route{}, srcs: map[netip.Addr]bool{},
		link: os.Getenv("PORTRAIT_SYN_L2") != "0",
	}, nil
}

// close closes the listener and stops the senders at once: releasing a
// packet socket waits for an RCU grace period, and concurrent releases
// share one.
func (t *transport) close() error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.l.Close()
	}()
	err := t.stopWorkers()
	<-done
	return err
}

// route is how SYNs reach a destination network: the source address,
// and the frame path when they can skip the IP output path.
type route struct {
	src  netip.Addr
	link *rawsock.LinkRoute
}

// source returns the route to dst, looked up once per /24 (/64 in IPv6):
// hosts of one subnet share a route.
func (t *transport) source(dst netip.Addr) (route, error) {
	bits := 24
	if !dst.Is4() {
		bits = 64
	}
	k, _ := dst.Prefix(bits)
	if dst.IsLoopback() {
		k = netip.PrefixFrom(dst, dst.BitLen()) // 127.0.0.0/8 answers from each address itself
	}
	if r, ok := t.routes[k]; ok {
		return r, nil
	}
	src, err := rawsock.SourceFor(dst)
	if err != nil {
		return route{}, err
	}
	r := route{src: src}
	if t.link && src.Is4() {
		if lr, ok := rawsock.LinkRouteTo(dst); ok {
			r.link = lr
		}
	}
	t.routes[k] = r
	t.mu.Lock()
	t.srcs[src] = true
	t.mu.Unlock()
	return r, nil
}

type tplKey struct {
	src   netip.Addr
	sport uint16
}

// sendItem is one SYN to build: the route is looked up by Send (one
// goroutine), the packet built and sent by a worker.
type sendItem struct {
	dst   netip.Addr
	src   netip.Addr
	link  *rawsock.LinkRoute // with hdr: sent as a frame
	hdr   *[14]byte
	port  uint16
	sport uint16
}

// sendWorker owns raw sockets and templates; several run in parallel
// because on a fast path (loopback, veth, a local network) most of the
// cost of a probe is the kernel's work on the sending CPU.
type sendWorker struct {
	t   *transport
	in  chan []sendItem
	ip  *rawsock.SenderSet      // through the IP stack
	ls  map[int]*rawsock.Sender // frame senders by interface
	tpl map[tplKey]*rawsock.SYNTemplate
	err error
}

func (t *transport) startWorkers(n int) {
	t.pool = sync.Pool{New: func() any { return make([]sendItem, 0, 128) }}
	for i := 0; i < n; i++ {
		w := &sendWorker{t: t, in: make(chan []sendItem, 4), ip: rawsock.NewSenderSet(rawsock.IPv4, rawsock.TCP6), ls: map[int]*rawsock.Sender{}, tpl: map[tplKey]*rawsock.SYNTemplate{}}
		t.workers = append(t.workers, w)
		t.wwg.Add(1)
		go func() {
			defer t.wwg.Done()
			for items := range w.in {
				if w.err == nil {
					w.err = w.send(items)
				}
				t.pool.Put(items[:0])
			}
			w.close()
		}()
	}
}

func (t *transport) stopWorkers() error {
	for _, w := range t.workers {
		close(w.in)
	}
	t.wwg.Wait()
	var err error
	for _, w := range t.workers {
		if w.err != nil && err == nil {
			err = w.err
		}
	}
	t.workers = nil
	return err
}

// Send hands the probes to the next worker (round robin) and returns:
// the sweep fills the next batch while the kernel sends this one.
func (t *transport) Send(ctx context.Context, probes []sweep.Probe) error {
	items := t.pool.Get().([]sendItem)[:0]
	for _, p := range probes {
		r, err := t.source(p.Addr)
		if err != nil {
			t.sendErrs.Add(1)
			t.sw.Answer(sweep.Answer{Addr: p.Addr, Port: p.Port, Verdict: sweep.Filtered, Reason: connect.ReasonNetUnreach})
			continue
		}
		it := sendItem{dst: p.Addr, src: r.src, port: p.Port, sport: t.sports[int(p.Try)%len(t.sports)]}
		if r.link != nil {
			if h, ok := r.link.Header(p.Addr); ok {
				it.link, it.hdr = r.link, h
			}
		}
		items = append(items, it)
	}
	w := t.workers[t.next%len(t.workers)]
	t.next++
	if w.err != nil {
		return w.err
	}
	select {
	case w.in <- items:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func (w *sendWorker) send(items []sendItem) error {
	var used []*rawsock.Sender
	for _, it := range items {
		s, tpl, err := w.sender(it.src, it.sport, it.link)
		if err != nil {
			return err
		}
		if s.Full() {
			if err := s.Flush(w.t.onSendErr); err != nil {
				return err
			}
		}
		seq := w.t.stamp.Seq(rawsock.ProtoTCP, it.src, it.dst, it.sport, it.port)
		buf := s.Buffer()
		hdr := 0
		if it.hdr != nil {
			hdr = copy(buf[:len(it.hdr)], it.hdr[:])
		}
		pkt := tpl.Build(buf[hdr:hdr], it.dst, it.port, seq, uint16(seq>>11))
		s.Add(netip.AddrPortFrom(it.dst, 0), buf[:hdr+len(pkt)], uint32(it.port))
		if len(used) == 0 || used[len(used)-1] != s {
			used = append(used, s)
		}
	}
	for _, s := range used {
		if s.Len() > 0 {
			if err := s.Flush(w.t.onSendErr); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *sendWorker) sender(src netip.Addr, sport uint16, link *rawsock.LinkRoute) (*rawsock.Sender, *rawsock.SYNTemplate, error) {
	k := tplKey{src, sport}
	tpl := w.tpl[k]
	if tpl == nil {
		var err error
		if tpl, err = rawsock.NewSYNTemplate(src, sport, w.t.ttl); err != nil {
			return nil, nil, err
		}
		w.tpl[k] = tpl
	}
	if link != nil {
		s := w.ls[link.Ifindex]
		if s == nil {
			var err error
			if s, err = rawsock.NewLinkSender(link.Ifindex); err != nil {
				return nil, nil, err
			}
			w.ls[link.Ifindex] = s
		}
		return s, tpl, nil
	}
	s, err := w.ip.For(src)
	if err != nil {
		return nil, nil, err
	}
	return s, tpl, nil
}

func (w *sendWorker) close() {
	w.ip.Close()
	for _, s := range w.ls {
		s.Close()
	}
}

// onSendErr turns a refused send into a verdict: the kernel had no route,
// or a local firewall refused the SYN. Nothing will answer, so the port is
// decided now rather than after retries. Other errors leave the probe
// unanswered: a retry may get through.
func (t *transport) onSendErr(dst netip.AddrPort, port uint32, err error) {
	t.sendErrs.Add(1)
	reason := ""
	switch {
	case errors.Is(err, syscall.ENETUNREACH):
		reason = connect.ReasonNetUnreach
	case errors.Is(err, syscall.EHOSTUNREACH):
		reason = connect.ReasonHostUnreach
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		reason = connect.ReasonProhibited
	default:
		return
	}
	t.sw.Answer(sweep.Answer{Addr: dst.Addr(), Port: uint16(port), Verdict: sweep.Filtered, Reason: reason})
}

// receive reads replies until the listener is closed.
func (t *transport) receive() {
	rawsock.BoostReader() // the goroutine ends with its thread
	var p rawsock.Packet
	for {
		_, err := t.l.ReadTS(func(b []byte, at time.Time) {
			if rawsock.Parse(b, &p) {
				t.handle(&p, at)
			}
		})
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				t.err = fmt.Errorf("syn: read: %w", err)
			}
			return
		}
	}
}

// Drops is the cumulative count of packets the kernel dropped before the
// receiver read them (sweep.Dropper).
func (t *transport) Drops() uint64 {
	t.drops.Add(uint64(t.l.Drops())) // PACKET_STATISTICS resets on read
	return t.drops.Load()
}

func (t *transport) ours(port uint16) bool {
	for _, p := range t.sports {
		if p == port {
			return true
		}
	}
	return false
}

func (t *transport) isSource(a netip.Addr) bool {
	t.mu.RLock()
	ok := t.srcs[a]
	t.mu.RUnlock()
	return ok
}

func (t *transport) handle(p *rawsock.Packet, at time.Time) {
	switch p.Proto {
	case rawsock.ProtoTCP:
		if !t.ours(p.DstPort) || p.Flags&rawsock.FlagACK == 0 || !t.isSource(p.Dst) {
			return
		}
		rtt, ok := t.stamp.CheckAt(rawsock.ProtoTCP, p.Dst, p.Src, p.DstPort, p.SrcPort, p.Ack-1, at)
		if !ok {
			return
		}
		a := sweep.Answer{Addr: p.Src, Port: p.SrcPort, FromHost: true, RTT: rtt}
		switch {
		case p.Flags&rawsock.FlagRST != 0:
			a.Verdict, a.Reason = sweep.Closed, connect.ReasonReset
		case p.Flags&rawsock.FlagSYN != 0:
			a.Verdict, a.Reason = sweep.Open, connect.ReasonSynAck
		default:
			return
		}
		t.sw.Answer(a)
	case rawsock.ProtoICMP, rawsock.ProtoICMPv6:
		in := &p.Inner
		if !in.Valid || in.Proto != rawsock.ProtoTCP || !t.ours(in.SrcPort) || !t.isSource(in.Src) {
			return
		}
		rtt, ok := t.stamp.CheckAt(rawsock.ProtoTCP, in.Src, in.Dst, in.SrcPort, in.DstPort, in.Seq, at)
		if !ok {
			return
		}
		reason := icmpReason(p.Proto == rawsock.ProtoICMPv6, p.ICMPType, p.ICMPCode)
		t.sw.Answer(sweep.Answer{Addr: in.Dst, Port: in.DstPort, Verdict: sweep.Filtered, Reason: reason,
			FromHost: p.Src == in.Dst, RTT: rtt})
	}
}

// icmpReason names an ICMP error as nmap's --reason does.
func icmpReason(v6 bool, typ, code uint8) string {
	if v6 {
		if typ == rawsock.ICMPv6TimeExceeded {
			return ReasonTimeExceeded
		}
		switch code {
		case 0:
			return connect.ReasonNetUnreach
		case 1, 5, 6:
			return connect.ReasonProhibited
		case 3:
			return connect.ReasonHostUnreach
		case 4:
			return ReasonPortUnreach
		}
		return connect.ReasonHostUnreach
	}
	if typ == rawsock.ICMPTimeExceeded {
		return ReasonTimeExceeded
	}
	switch code {
	case 0, 6, 11:
		return connect.ReasonNetUnreach
	case 1, 7, 12:
		return connect.ReasonHostUnreach
	case 2:
		return ReasonProtoUnreach
	case 3:
		return ReasonPortUnreach
	case 9, 10, 13:
		return connect.ReasonProhibited
	}
	return connect.ReasonHostUnreach
}

// sendWorkers is how many goroutines send SYNs: two per CPU, at most
// four. On fast paths (loopback, veth, a local network) most of a probe's
// cost is the kernel's work in the sending thread, and part of it waits
// (the device queue, the peer's softirq): with two senders per CPU one
// runs while the other waits. Measured on two CPUs against a veth peer,
// the full sweep took 0.46-0.51 s with one sender, 0.32-0.39 s with two,
// 0.27-0.29 s with four and no less with eight. PORTRAIT_SYN_SENDERS
// overrides it, for benchmarks.
func sendWorkers() int {
	if v, err := strconv.Atoi(os.Getenv("PORTRAIT_SYN_SENDERS")); err == nil && v > 0 && v <= runtime.GOMAXPROCS(0)*8 {
		return v
	}
	return min(4, 2*runtime.GOMAXPROCS(0))
}
