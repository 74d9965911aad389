// Package discover is stage 2 of the scan pipeline: host discovery. It
// finds which targets are up before their ports are scanned, and streams
// each live host (with the method that found it and its round-trip time)
// the moment it answers, so the port scan starts at once.
//
// Methods: ICMP echo (raw socket; an unprivileged ICMP datagram socket
// when raw sockets are not allowed), ARP for targets on a directly
// attached Ethernet network (frames built with gopacket layers, sent and
// read over AF_PACKET: a host that drops every IP packet still answers
// ARP), TCP SYN to a few common ports (a SYN-ACK or a reset both prove the
// host), and TCP connect to the same ports when raw sockets are not
// allowed. Profiles combine them:
//
//	fast      ICMP echo
//	standard  ICMP echo + ARP on local networks (the default)
//	deep      ICMP echo + ARP + TCP SYN (connect without privileges)
//	tcp       TCP SYN only (connect without privileges)
//
// Probing is stateless like the port scanners' (package sweep): the echo
// identifier and the SYN sequence number carry keyed cookies and send
// times, a host is done at its first answer, silent hosts get one retry,
// and a /24 that answers nothing is backed off and reported as dark.
package discover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/portrait-scanner/portrait/netscan/rawsock"
	"github.com/portrait-scanner/portrait/netscan/rawsock/sweep"
	"github.com/portrait-scanner/portrait/target"
)

// Methods, as reported in Host.Method.
const (
	MethodICMP    = "icmp-echo"
	MethodARP     = "arp"
	MethodSYN     = "tcp-syn"
	MethodConnect = "tcp-connect"
)

// Reasons, as nmap's --reason says them.
const (
	ReasonEchoReply   = "echo-reply"
	ReasonARPResponse = "arp-response"
	ReasonSynAck      = "syn-ack"
	ReasonReset       = "reset"
	ReasonRefused     = "conn-refused"
)

// Profiles names the discovery profiles.
var Profiles = []string{"fast", "standard", "deep", "tcp"}

// DefaultProfile is used when none is given.
const DefaultProfile = "standard"

// DefaultTCPPorts are the ports of the TCP pings: the services most hosts
// that block ICMP still expose.
var DefaultTCPPorts = []int{443, 80, 22, 445, 3389}

// Host is a live host.
type Host struct {
	Addr   netip.Addr
	Name   string
	Method string // icmp-echo, arp, tcp-syn, tcp-connect
	Reason string // echo-reply, arp-response, syn-ack, reset, conn-refused
	Port   int    // the TCP ping port that answered
	RTT    time.Duration
	MAC    string // from ARP
}

// Summary totals a discovery run.
type Summary struct {
	Targets, Up int
	DarkNets    int
	Privileged  bool
	Methods     []string
	Elapsed     time.Duration
}

// Config tunes discovery. Zero values select the defaults.
type Config struct {
	Profile  string // fast | standard | deep | tcp (default standard)
	TCPPorts []int  // default DefaultTCPPorts
	Rate     float64
	// Retries for silent hosts (default 1; -1 none).
	Retries int
	// Timeout is the wait for answers after a round (default 1s).
	Timeout time.Duration
	// Unprivileged forces the methods that need no raw sockets.
	Unprivileged bool
	// OnHost receives each live host once, as soon as it answers; calls
	// come from one goroutine at a time.
	OnHost func(Host)
	OnDark func(sweep.Dark)
	Log    *slog.Logger
}

// ErrProfile is returned for an unknown profile.
var ErrProfile = errors.New("unknown discovery profile")

// CheckProfile validates a profile name.
func CheckProfile(p string) error {
	if p == "" {
		return nil
	}
	for _, q := range Profiles {
		if strings.EqualFold(p, q) {
			return nil
		}
	}
	return fmt.Errorf("%w %q (want %s)", ErrProfile, p, strings.Join(Profiles, ", "))
}

type methods struct{ icmp, arp, tcp bool }

func profileMethods(p string) methods {
	switch strings.ToLower(p) {
	case "fast":
		return methods{icmp: true}
	case "deep":
		return methods{icmp: true, arp: true, tcp: true}
	case "tcp":
		return methods{tcp: true}
	}
	return methods{icmp: true, arp: true}
}

// Run probes every target of src and reports the live ones through
// cfg.OnHost. Without raw sockets it uses an ICMP datagram socket (where
// the system allows one) and TCP connect pings.
func Run(ctx context.Context, cfg Config, src sweep.Source) (Summary, error) {
	if err := CheckProfile(cfg.Profile); err != nil {
		return Summary{}, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if len(cfg.TCPPorts) == 0 {
		cfg.TCPPorts = DefaultTCPPorts
	}
	m := profileMethods(cfg.Profile)
	start := time.Now()
	var sum Summary
	var mu sync.Mutex
	seen := map[netip.Addr]bool{}
	report := func(h Host) {
		mu.Lock()
		defer mu.Unlock()
		if seen[h.Addr] {
			return
		}
		seen[h.Addr] = true
		sum.Up++
		if cfg.OnHost != nil {
			cfg.OnHost(h)
		}
	}
	if !cfg.Unprivileged && rawsock.Check() == nil {
		sum.Privileged = true
		s, err := runRaw(ctx, cfg, m, src, report)
		sum.Targets, sum.DarkNets, sum.Methods = s.Hosts, s.DarkNets, rawMethods(m)
		sum.Elapsed = time.Since(start)
		return sum, err
	}
	s, methods, err := runUnprivileged(ctx, cfg, m, src, report)
	sum.Targets, sum.DarkNets, sum.Methods = s.Hosts, s.DarkNets, methods
	sum.Elapsed = time.Since(start)
	return sum, err
}

func rawMethods(m methods) []string {
	var out []string
	if m.icmp {
		out = append(out, MethodICMP)
	}
	if m.arp {
		out = append(out, MethodARP)
	}
	if m.tcp {
		out = append(out, MethodSYN)
	}
	return out
}

// Tee splits one source into n that yield the same targets; each output
// buffers up to 1024 targets ahead of the slowest reader.
func Tee(src sweep.Source, n int) []sweep.Source {
	chans := make([]chan target.Target, n)
	out := make([]sweep.Source, n)
	for i := range chans {
		chans[i] = make(chan target.Target, 1024)
		out[i] = chanSource(chans[i])
	}
	go func() {
		for {
			t, ok := src.Next()
			if !ok {
				break
			}
			for _, c := range chans {
				c <- t
			}
		}
		for _, c := range chans {
			close(c)
		}
	}()
	return out
}

type chanSource chan target.Target

func (c chanSource) Next() (target.Target, bool) {
	t, ok := <-c
	return t, ok
}

// Source is a sweep.Source fed by discovery: Push adds a live host, Close
// ends the stream. It also remembers what discovery said of each host
// (HostInfo), so the port scanner knows them up and starts from their RTT.
type Source struct {
	ch    chan target.Target
	mu    sync.Mutex
	hints map[netip.Addr]sweep.Hint
}

// NewSource makes a Source with a buffer of n hosts.
func NewSource(n int) *Source {
	return &Source{ch: make(chan target.Target, n), hints: map[netip.Addr]sweep.Hint{}}
}

// Push adds a live host (blocks while the buffer is full).
func (s *Source) Push(ctx context.Context, h Host) {
	s.mu.Lock()
	s.hints[h.Addr] = sweep.Hint{Up: true, Reason: h.Reason, RTT: h.RTT}
	s.mu.Unlock()
	select {
	case s.ch <- target.Target{Addr: h.Addr, Name: h.Name}:
	case <-ctx.Done():
	}
}

// Close ends the stream.
func (s *Source) Close() { close(s.ch) }

// Next implements sweep.Source.
func (s *Source) Next() (target.Target, bool) {
	t, ok := <-s.ch
	return t, ok
}

// HostInfo implements the scanners' HostInfo hook.
func (s *Source) HostInfo(a netip.Addr) sweep.Hint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hints[a]
}
