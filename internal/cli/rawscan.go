package cli

// Adapters from the raw scanners (SYN, UDP) and host discovery to the
// pipeline's stage 3, with the same shape as connectScan, and the plan
// that --scan and the discovery flags make of them.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/internal/config"
	"github.com/portrait-scanner/portrait/netscan/connect"
	"github.com/portrait-scanner/portrait/netscan/discover"
	"github.com/portrait-scanner/portrait/netscan/portspec"
	"github.com/portrait-scanner/portrait/netscan/rawsock/sweep"
	"github.com/portrait-scanner/portrait/netscan/syn"
	"github.com/portrait-scanner/portrait/netscan/udp"
	"github.com/portrait-scanner/portrait/scan"
	"github.com/portrait-scanner/portrait/target"
)

// scanPlan is what --scan and the discovery flags ask for.
type scanPlan struct {
	tcp      string // "syn", "connect" or "" (no TCP scan)
	udp      bool
	discover bool
	profile  string
	only     bool // --only-discover
}

// Default packet rates of the raw scanners when --rate is not given: a
// stateless sweep has no congestion window, so without a cap it would
// send as fast as the CPU allows, a flood for most networks. Scans of
// loopback addresses only are not capped.
const (
	defaultSYNRate = 10000
	defaultUDPRate = 2000
)

// loopbackOnly says whether every target is a loopback address.
func loopbackOnly(set *target.Set) bool {
	if set.Count() > 4096 {
		return false
	}
	for t := range set.All() {
		if !t.Addr.IsLoopback() {
			return false
		}
	}
	return true
}

// rawRate is the rate for a raw scan: --rate, the config, else def
// (0 on loopback).
func rawRate(o *scanOpts, cf *config.File, loopback bool, def float64) float64 {
	if r := firstFloat(o.rate, cf.Scanner.Rate); r > 0 {
		return r
	}
	if loopback {
		return 0
	}
	return def
}

// defaultUDPPorts is how many of the ranked UDP ports a UDP scan probes
// when no -p selects them.
const defaultUDPPorts = 100

// planScan reads the method list ("syn", "connect", "udp", combined with
// commas) and the discovery options. SYN is the TCP default when raw
// sockets are allowed; without them SYN falls back to connect with a
// one-line notice.
func planScan(g *globals, o *scanOpts, cf *config.File) (scanPlan, error) {
	var p scanPlan
	method := strings.ToLower(strings.TrimSpace(o.scanMethod))
	if method == "" {
		method = "default"
	}
	for _, m := range strings.Split(method, ",") {
		switch strings.TrimSpace(m) {
		case "syn", "sS":
			p.tcp = pick(p.tcp, "syn")
		case "connect", "sT":
			p.tcp = pick(p.tcp, "connect")
		case "udp", "sU":
			p.udp = true
		case "default":
			p.tcp = pick(p.tcp, "auto")
		default:
			return p, usagef("invalid --scan %q (want syn, connect, udp, or a comma-separated combination such as syn,udp)", o.scanMethod)
		}
		if p.tcp == "conflict" {
			return p, usagef("--scan: choose syn or connect, not both")
		}
	}
	if p.tcp == "syn" || p.tcp == "auto" {
		if err := syn.Available(); err != nil {
			if p.tcp == "syn" || g.verbose > 0 {
				g.log.Warn("SYN scan needs raw sockets (root or CAP_NET_RAW); using TCP connect")
			}
			p.tcp = "connect"
		} else {
			p.tcp = "syn"
		}
	}
	profile := strings.ToLower(firstStr(o.discoverProfile, cf.Discovery.Profile))
	if profile == "none" {
		profile, o.noDiscover = "", true
	}
	if err := discover.CheckProfile(profile); err != nil {
		return p, usageError{err}
	}
	if o.noDiscover && (o.onlyDiscover || o.discoverProfile != "") {
		return p, usagef("--no-discover cannot be combined with --only-discover or --discover-profile")
	}
	p.discover = !o.noDiscover
	p.profile = firstStr(profile, discover.DefaultProfile)
	p.only = o.onlyDiscover
	return p, nil
}

func pick(cur, m string) string {
	if cur == "" || cur == m {
		return m
	}
	if cur == "auto" {
		return m
	}
	if m == "auto" {
		return cur
	}
	return "conflict"
}

// chooseUDPPorts selects the UDP ports: the U: (and unprefixed) entries of
// -p, or the top ranked UDP ports.
func chooseUDPPorts(o *scanOpts, cf *config.File) ([]int, error) {
	spec := firstStr(o.ports, cf.Scanner.Ports)
	if spec != "" {
		l, err := portspec.Parse(spec)
		if err != nil {
			return nil, err
		}
		if len(l.UDP) == 0 {
			return nil, fmt.Errorf("-p %s selects no UDP port (use U:53,161 or unprefixed ports)", spec)
		}
		return l.UDP, nil
	}
	n := defaultUDPPorts
	if o.topPorts > 0 {
		n = o.topPorts
	}
	return portspec.TopUDP(n), nil
}

// planTCPPorts tells whether the plan scans TCP (so -p must select TCP
// ports).
func (p scanPlan) scansTCP() bool { return p.tcp != "" && !p.only }

// portScan builds stage 3 (and 2) for the plan. UDP ports arrive
// identified (their service rides on the port record); the pipeline
// fingerprints TCP ports itself.
func portScan(g *globals, o *scanOpts, cf *config.File, set *target.Set, plan scanPlan, tcpPorts, udpPorts []int, engine *fingerprint.Engine) (scan.PortScanFunc, error) {
	lo := loopbackOnly(set)
	type part func(src sweep.Source, hint func(netip.Addr) sweep.Hint) (scan.PortScanFunc, error)
	var parts []part
	if !plan.only {
		switch plan.tcp {
		case "syn":
			parts = append(parts, func(src sweep.Source, hint func(netip.Addr) sweep.Hint) (scan.PortScanFunc, error) {
				return synScanFrom(g, o, cf, src, hint, tcpPorts, rawRate(o, cf, lo, defaultSYNRate))
			})
		case "connect":
			parts = append(parts, func(src sweep.Source, _ func(netip.Addr) sweep.Hint) (scan.PortScanFunc, error) {
				return connectScanFrom(g, o, cf, src, tcpPorts)
			})
		}
		if plan.udp {
			parts = append(parts, func(src sweep.Source, hint func(netip.Addr) sweep.Hint) (scan.PortScanFunc, error) {
				return udpScanFrom(g, o, cf, src, hint, udpPorts, engine, rawRate(o, cf, lo, defaultUDPRate))
			})
		}
	}
	if o.rate < 0 || cf.Scanner.Rate < 0 {
		return nil, usagef("--rate must not be negative")
	}
	return func(ctx context.Context, onPort func(scan.PortRecord), onHost func(scan.HostRecord)) error {
		var src sweep.Source = set.Iter()
		var hint func(netip.Addr) sweep.Hint
		var derr error
		var dwg sync.WaitGroup
		if plan.discover {
			ds := discover.NewSource(1024)
			src, hint = ds, ds.HostInfo
			dcfg := discover.Config{Profile: plan.profile, Rate: rawRate(o, cf, lo, defaultSYNRate), Log: g.log,
				OnDark: func(d sweep.Dark) {}, // the sweep logs dark networks itself
				OnHost: func(h discover.Host) {
					if plan.only {
						onHost(scan.HostRecord{Host: h.Addr.String(), Hostname: h.Name, State: "up", Reason: h.Reason, RTTMS: ms(h.RTT.Seconds())})
						return
					}
					ds.Push(ctx, h)
				}}
			dwg.Add(1)
			go func() {
				defer dwg.Done()
				defer ds.Close()
				sum, err := discover.Run(ctx, dcfg, set.Iter())
				if err != nil && ctx.Err() == nil {
					derr = fmt.Errorf("host discovery: %w", err)
				}
				g.log.Info("host discovery done", "targets", sum.Targets, "up", sum.Up, "methods", strings.Join(sum.Methods, ","),
					"privileged", sum.Privileged, "seconds", sum.Elapsed.Seconds())
			}()
		}
		if len(parts) == 0 { // --only-discover
			if plan.discover {
				for {
					if _, ok := src.Next(); !ok {
						break
					}
				}
			}
			dwg.Wait()
			return derr
		}
		srcs := []sweep.Source{src}
		if len(parts) > 1 {
			srcs = discover.Tee(src, len(parts))
		}
		merge := newHostMerger(len(parts), onHost)
		errs := make([]error, len(parts))
		var wg sync.WaitGroup
		for i, mk := range parts {
			ps, err := mk(srcs[i], hint)
			if err != nil {
				return err
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = ps(ctx, onPort, merge.add)
			}()
		}
		wg.Wait()
		merge.flush()
		dwg.Wait()
		return errors.Join(append(errs, derr)...)
	}, nil
}

// synScan adapts the SYN scanner to the pipeline's stage 3 (every target,
// no discovery).
func synScan(g *globals, o *scanOpts, cf *config.File, set *target.Set, ports []int) (scan.PortScanFunc, error) {
	return synScanFrom(g, o, cf, set.Iter(), nil, ports, rawRate(o, cf, loopbackOnly(set), defaultSYNRate))
}

func retriesFrom(o *scanOpts, cf *config.File, def int) int {
	r := def
	if cf.Scanner.Retries != nil {
		r = *cf.Scanner.Retries
	}
	if o.retries >= 0 {
		r = o.retries
	}
	if r == 0 {
		r = -1 // the scanners' "none"
	}
	return r
}

func synScanFrom(g *globals, o *scanOpts, cf *config.File, src sweep.Source, hint func(netip.Addr) sweep.Hint, ports []int, rate float64) (scan.PortScanFunc, error) {
	cfg := syn.Config{
		Rate:           rate,
		Retries:        retriesFrom(o, cf, 1),
		Timeout:        firstDur(o.timeout, cf.Scanner.Timeout.Get(0)),
		ReportClosed:   o.reportClosed,
		ReportFiltered: o.reportClosed,
		HostInfo:       hint,
		Log:            g.log,
	}
	return func(ctx context.Context, onPort func(scan.PortRecord), onHost func(scan.HostRecord)) error {
		cfg.OnPort = func(r connect.PortResult) {
			onPort(scan.PortRecord{Host: r.Addr.String(), Hostname: r.Name, Port: r.Port, Transport: "tcp",
				State: r.State.String(), Reason: r.Reason, RTTMS: ms(r.RTT.Seconds())})
		}
		cfg.OnHost = func(h connect.HostResult) { onHost(hostRecord(g, h)) }
		sum, err := syn.Scan(ctx, cfg, src, ports)
		g.log.Debug("syn scan done", "hosts", sum.Hosts, "probes", sum.Probes, "answers", sum.Answers,
			"duplicates", sum.Duplicates, "strays", sum.Strays, "recv_drops", sum.RecvDrops, "throttles", sum.Throttles, "send_errors", sum.SendErrors,
			"seconds", sum.Elapsed.Seconds())
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("syn scan: %w", err)
		}
		return nil
	}, nil
}

func hostRecord(g *globals, h connect.HostResult) scan.HostRecord {
	if h.State == connect.Down {
		g.log.Info("host did not answer", "host", h.Addr, "reason", h.Reason, "skipped", h.Skipped)
	}
	return scan.HostRecord{Host: h.Addr.String(), Hostname: h.Name, State: h.State.String(), Reason: h.Reason,
		RTTMS: ms(h.RTT.Seconds()), Open: h.Open, Closed: h.Closed, Filtered: h.Filtered, Skipped: h.Skipped}
}

// connectScanFrom is connectScan over any source (discovery's live hosts).
func connectScanFrom(g *globals, o *scanOpts, cf *config.File, src sweep.Source, ports []int) (scan.PortScanFunc, error) {
	cfg := connect.Config{
		Concurrency:    firstInt(o.concurrency, cf.Scanner.Concurrency),
		PerHost:        firstInt(o.hostConc, cf.Scanner.HostConcurrency),
		Rate:           firstFloat(o.rate, cf.Scanner.Rate),
		Timeout:        firstDur(o.timeout, cf.Scanner.Timeout.Get(0)),
		Retries:        retriesFrom(o, cf, connect.DefaultRetries),
		ReportClosed:   o.reportClosed,
		ReportFiltered: o.reportClosed,
	}
	return func(ctx context.Context, onPort func(scan.PortRecord), onHost func(scan.HostRecord)) error {
		cfg.OnPort = func(r connect.PortResult) {
			if r.State == connect.Error {
				g.log.Warn("port not probed", "host", r.Addr, "port", r.Port, "err", r.Err)
			}
			onPort(scan.PortRecord{Host: r.Addr.String(), Hostname: r.Name, Port: r.Port, Transport: "tcp",
				State: r.State.String(), Reason: r.Reason, RTTMS: ms(r.RTT.Seconds())})
		}
		cfg.OnHost = func(h connect.HostResult) { onHost(hostRecord(g, h)) }
		if _, err := connect.Scan(ctx, cfg, src, ports); err != nil && ctx.Err() == nil {
			return fmt.Errorf("port scan: %w", err)
		}
		return nil
	}, nil
}

// udpIdentifyConcurrency bounds the UDP ports identified at once.
const udpIdentifyConcurrency = 32

func udpScanFrom(g *globals, o *scanOpts, cf *config.File, src sweep.Source, hint func(netip.Addr) sweep.Hint, ports []int,
	engine *fingerprint.Engine, rate float64) (scan.PortScanFunc, error) {
	cfg := udp.Config{
		Rate:           rate,
		Retries:        retriesFrom(o, cf, 2),
		Timeout:        firstDur(o.timeout, cf.Scanner.Timeout.Get(0)),
		ReportClosed:   o.reportClosed,
		ReportFiltered: o.reportClosed,
		HostInfo:       hint,
		Log:            g.log,
	}
	return func(ctx context.Context, onPort func(scan.PortRecord), onHost func(scan.HostRecord)) error {
		// Open ports are identified from the reply the scan got (plus a
		// few follow-ups) before their record goes out, so the service
		// record can follow its port; a host's record waits for its ports.
		var mu sync.Mutex
		pending := map[netip.Addr]int{}
		heldHost := map[netip.Addr]scan.HostRecord{}
		sem := make(chan struct{}, udpIdentifyConcurrency)
		var wg sync.WaitGroup
		record := func(r udp.PortResult) scan.PortRecord {
			return scan.PortRecord{Host: r.Addr.String(), Hostname: r.Name, Port: r.Port, Transport: "udp",
				State: r.State.String(), Reason: r.Reason, RTTMS: ms(r.RTT.Seconds())}
		}
		cfg.OnPort = func(r udp.PortResult) {
			if r.State != udp.Open || engine == nil {
				onPort(record(r))
				return
			}
			mu.Lock()
			pending[r.Addr]++
			mu.Unlock()
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				rec := record(r)
				rec.Service = engine.IdentifyUDP(ctx, fingerprint.Target{Addr: r.Addr, Hostname: r.Name, Port: r.Port}, r.Reply, r.Probe)
				onPort(rec)
				mu.Lock()
				pending[r.Addr]--
				h, held := heldHost[r.Addr]
				release := pending[r.Addr] == 0 && held
				if pending[r.Addr] == 0 {
					delete(pending, r.Addr)
					delete(heldHost, r.Addr)
				}
				mu.Unlock()
				if release {
					onHost(h)
				}
			}()
		}
		cfg.OnHost = func(h udp.HostResult) {
			st := connect.Down
			if h.Up {
				st = connect.Up
			}
			rec := hostRecord(g, connect.HostResult{Addr: h.Addr, Name: h.Name, State: st, Reason: h.Reason, Open: h.Open,
				Closed: h.Closed, Filtered: h.Filtered + h.OpenFiltered, Skipped: h.Skipped, RTT: h.RTT})
			mu.Lock()
			if pending[h.Addr] > 0 {
				heldHost[h.Addr] = rec
				mu.Unlock()
				return
			}
			mu.Unlock()
			onHost(rec)
		}
		sum, err := udp.Scan(ctx, cfg, src, ports)
		wg.Wait()
		g.log.Debug("udp scan done", "hosts", sum.Hosts, "probes", sum.Probes, "answers", sum.Answers, "seconds", sum.Elapsed.Seconds())
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("udp scan: %w", err)
		}
		return nil
	}, nil
}

// hostMerger joins the host records of parallel scans (SYN and UDP) into
// one per host, sent once every scan has reported the host.
type hostMerger struct {
	mu    sync.Mutex
	n     int
	parts map[string]*mergedHost
	out   func(scan.HostRecord)
}

type mergedHost struct {
	rec  scan.HostRecord
	seen int
}

func newHostMerger(n int, out func(scan.HostRecord)) *hostMerger {
	return &hostMerger{n: n, parts: map[string]*mergedHost{}, out: out}
}

func (m *hostMerger) add(h scan.HostRecord) {
	if m.n == 1 {
		m.out(h)
		return
	}
	m.mu.Lock()
	x, ok := m.parts[h.Host]
	if !ok {
		x = &mergedHost{rec: h}
		m.parts[h.Host] = x
	} else {
		r := &x.rec
		if r.State != "up" && h.State == "up" {
			r.State, r.Reason = "up", h.Reason
		}
		if r.RTTMS == 0 || (h.RTTMS > 0 && h.RTTMS < r.RTTMS) {
			r.RTTMS = h.RTTMS
		}
		r.Open += h.Open
		r.Closed += h.Closed
		r.Filtered += h.Filtered
		r.Skipped += h.Skipped
	}
	x.seen++
	done := x.seen >= m.n
	if done {
		delete(m.parts, h.Host)
	}
	m.mu.Unlock()
	if done {
		m.out(x.rec)
	}
}

func (m *hostMerger) flush() {
	m.mu.Lock()
	rest := m.parts
	m.parts = map[string]*mergedHost{}
	m.mu.Unlock()
	for _, x := range rest {
		m.out(x.rec)
	}
}

func firstFloat(s ...float64) float64 {
	for _, x := range s {
		if x > 0 {
			return x
		}
	}
	return 0
}
