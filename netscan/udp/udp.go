// Package udp is the UDP port scanner. A UDP port that listens usually
// answers only a request in its own protocol, so each well-known port gets
// its protocol's payload (package udpproto) and other ports an empty
// datagram. A reply means open, an ICMP port unreachable closed, another
// ICMP unreachable filtered, and silence open|filtered.
//
// It needs no privileges: probes leave from one ordinary UDP socket per
// address family, replies arrive on it, and the ICMP errors about our
// probes are read from the socket's error queue (IP_RECVERR), which names
// each probe's destination. Scheduling, retries and dark-network backoff
// come from package sweep; retries to hosts that rate-limit their ICMP
// errors (Linux: one a second after a burst of six) are paced per host.
//
// Open ports carry the first reply and the name of the probe that drew it,
// so the fingerprint engine can identify the service (fingerprint
// IdentifyUDP) without asking again.
package udp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/portrait-scanner/portrait/netscan/rawsock"
	"github.com/portrait-scanner/portrait/netscan/rawsock/sweep"
	"github.com/portrait-scanner/portrait/netscan/udp/udpproto"
)

// State is the verdict on one UDP port.
type State uint8

// States, as nmap names them.
const (
	Open State = iota + 1
	Closed
	Filtered
	OpenFiltered
)

func (s State) String() string {
	switch s {
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

// Reasons (nmap's --reason words).
const (
	ReasonResponse     = "udp-response"
	ReasonPortUnreach  = "port-unreach"
	ReasonHostUnreach  = "host-unreach"
	ReasonNetUnreach   = "net-unreach"
	ReasonProtoUnreach = "proto-unreach"
	ReasonProhibited   = "admin-prohibited"
	ReasonTimeExceeded = "time-exceeded"
	ReasonNoResponse   = sweep.ReasonNoResponse
)

// MaxReply caps the reply kept for fingerprinting.
const MaxReply = 4096

// PortResult is the verdict on one port, with the reply that decided it:
// the fields of the pipeline's port record plus the raw reply.
type PortResult struct {
	Addr   netip.Addr
	Name   string
	Port   int
	State  State
	Reason string
	RTT    time.Duration
	Tries  int
	Reply  []byte // first reply (open ports), at most MaxReply bytes
	Probe  string // name of the probe that drew it (udpproto)
}

// HostResult summarises one host (sweep's summary: Up, counts, Skipped...).
type HostResult = sweep.HostResult

// Config tunes a UDP scan; zero values select the defaults.
type Config struct {
	// Rate caps datagrams per second over the scan (0: no cap).
	Rate  float64
	Burst int
	// Retries of silent ports (default 2; -1 none); hosts that rate-limit
	// ICMP get two more paced rounds.
	Retries int
	// Timeout is the wait after a round (default 1s); MinTimeout its floor
	// once RTTs are known (default 200ms).
	Timeout    time.Duration
	MinTimeout time.Duration
	SkipAfter  int // see sweep.Config (default 200)
	DarkAfter  int // see sweep.Config (default 64)
	// ReportClosed and ReportFiltered make OnPort receive closed and
	// filtered / open|filtered ports too.
	ReportClosed   bool
	ReportFiltered bool
	HostInfo       func(netip.Addr) sweep.Hint
	OnPort         func(PortResult)
	OnHost         func(HostResult)
	OnDark         func(sweep.Dark)
	Log            *slog.Logger
	MaxBlockHosts  int
}

// ErrNoPorts is returned when Scan is given no ports.
var ErrNoPorts = errors.New("udp: no ports to scan")

// Scan UDP-scans every port of every target.
func Scan(ctx context.Context, cfg Config, src sweep.Source, ports []int) (sweep.Summary, error) {
	if len(ports) == 0 {
		return sweep.Summary{}, ErrNoPorts
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	if cfg.MinTimeout <= 0 {
		cfg.MinTimeout = 200 * time.Millisecond
	}
	sock, err := rawsock.OpenUDP(0)
	if err != nil {
		return sweep.Summary{}, err
	}
	defer sock.Close()
	t := &transport{sock: sock, names: map[uint16]string{}}
	for _, p := range ports {
		t.names[uint16(p)] = udpproto.ProbeName(p)
	}
	scfg := sweep.Config{
		Ports: ports, Rate: cfg.Rate, Burst: cfg.Burst, Retries: cfg.Retries, Timeout: cfg.Timeout,
		MinTimeout: cfg.MinTimeout, SkipAfter: cfg.SkipAfter, DarkAfter: cfg.DarkAfter, MaxBlockHosts: cfg.MaxBlockHosts,
		Silent: sweep.OpenFiltered, PaceLimited: true, HostInfo: cfg.HostInfo,
		ReportClosed: cfg.ReportClosed, ReportFiltered: cfg.ReportFiltered, OnHost: cfg.OnHost, OnDark: cfg.OnDark, Log: cfg.Log,
	}
	if cfg.OnPort != nil {
		scfg.OnPort = func(r sweep.Result) { cfg.OnPort(portResult(r)) }
	}
	sw, err := sweep.New(scfg)
	if err != nil {
		return sweep.Summary{}, err
	}
	t.sw = sw
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t.receive()
	}()
	sum, err := sw.Run(ctx, src, t)
	sock.Close()
	wg.Wait()
	if t.err != nil && err == nil {
		err = t.err
	}
	sum.SendErrors = int(t.sendErrs)
	return sum, err
}

func portResult(r sweep.Result) PortResult {
	st := OpenFiltered
	switch r.Verdict {
	case sweep.Open:
		st = Open
	case sweep.Closed:
		st = Closed
	case sweep.Filtered:
		st = Filtered
	}
	return PortResult{Addr: r.Addr, Name: r.Name, Port: r.Port, State: st, Reason: r.Reason, RTT: r.RTT,
		Tries: r.Tries, Reply: r.Data, Probe: r.Probe}
}

type transport struct {
	sock     *rawsock.UDPSocket
	sw       *sweep.Sweep
	names    map[uint16]string // read-only once the scan starts
	sendErrs uint64
	err      error
}

// Send queues one datagram per probe: the port's payload for this try.
func (t *transport) Send(ctx context.Context, probes []sweep.Probe) error {
	var used [2]*rawsock.Sender
	for _, p := range probes {
		s := t.sock.Sender(p.Addr)
		if s == nil {
			t.sw.Answer(sweep.Answer{Addr: p.Addr, Port: p.Port, Verdict: sweep.Filtered, Reason: ReasonNetUnreach})
			continue
		}
		if s.Full() {
			if err := s.Flush(t.onSendErr); err != nil {
				return err
			}
		}
		req := udpproto.Probe(int(p.Port), int(p.Try))
		s.Add(netip.AddrPortFrom(p.Addr, p.Port), append(s.Buffer(), req.Payload...), uint32(p.Port))
		if p.Addr.Is4() {
			used[0] = s
		} else {
			used[1] = s
		}
	}
	for _, s := range used {
		if s != nil && s.Len() > 0 {
			if err := s.Flush(t.onSendErr); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *transport) onSendErr(dst netip.AddrPort, port uint32, err error) {
	t.sendErrs++
	// A route error is final; others (a full buffer) leave the probe to
	// its retry.
	if reason := errnoReason(err); reason != "" {
		t.sw.Answer(sweep.Answer{Addr: dst.Addr(), Port: uint16(port), Verdict: sweep.Filtered, Reason: reason})
	}
}

func (t *transport) receive() {
	for {
		_, err := t.sock.Read(t.handle)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				t.err = fmt.Errorf("udp: read: %w", err)
			}
			return
		}
	}
}

func (t *transport) handle(m *rawsock.UDPMessage) {
	if !m.IsError {
		addr := m.From.Addr().Unmap()
		port := m.From.Port()
		name, ok := t.names[port]
		if !ok && udpproto.IsTFTP(m.Data) {
			// TFTP servers answer from a fresh port (their transfer ID).
			port, name, ok = 69, t.names[69], t.names[69] != ""
		}
		if !ok {
			return
		}
		t.sw.Answer(sweep.Answer{Addr: addr, Port: port, Verdict: sweep.Open, Reason: ReasonResponse, FromHost: true,
			Data: clip(m.Data, MaxReply), Probe: name})
		return
	}
	dst := m.To.Addr().Unmap()
	v, reason := icmpVerdict(m.ICMPv6, m.Type, m.Code)
	if v == sweep.None {
		return
	}
	t.sw.Answer(sweep.Answer{Addr: dst, Port: m.To.Port(), Verdict: v, Reason: reason,
		FromHost: m.Offender.Unmap() == dst})
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// icmpVerdict maps an ICMP error about a probe to a port verdict.
func icmpVerdict(v6 bool, typ, code uint8) (sweep.Verdict, string) {
	if v6 {
		switch typ {
		case rawsock.ICMPv6Unreachable:
			switch code {
			case 4:
				return sweep.Closed, ReasonPortUnreach
			case 1, 5, 6:
				return sweep.Filtered, ReasonProhibited
			case 0:
				return sweep.Filtered, ReasonNetUnreach
			}
			return sweep.Filtered, ReasonHostUnreach
		case rawsock.ICMPv6TimeExceeded:
			return sweep.Filtered, ReasonTimeExceeded
		}
		return sweep.None, ""
	}
	switch typ {
	case rawsock.ICMPUnreachable:
		switch code {
		case 3:
			return sweep.Closed, ReasonPortUnreach
		case 0, 6, 11:
			return sweep.Filtered, ReasonNetUnreach
		case 2:
			return sweep.Filtered, ReasonProtoUnreach
		case 9, 10, 13:
			return sweep.Filtered, ReasonProhibited
		}
		return sweep.Filtered, ReasonHostUnreach
	case rawsock.ICMPTimeExceeded:
		return sweep.Filtered, ReasonTimeExceeded
	}
	return sweep.None, ""
}
