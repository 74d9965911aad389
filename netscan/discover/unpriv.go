package discover

import (
	"context"
	"net/netip"
	"sync"

	"github.com/portrait-scanner/portrait/netscan/connect"
	"github.com/portrait-scanner/portrait/netscan/rawsock"
	"github.com/portrait-scanner/portrait/netscan/rawsock/sweep"
)

// runUnprivileged uses the methods that need no raw sockets: ICMP echo
// over a datagram ICMP socket (Linux allows it to the groups in
// net.ipv4.ping_group_range) and TCP connect pings. ARP needs a packet
// socket and is left out; when ICMP is not allowed either, connect pings
// stand in so that discovery still finds something.
func runUnprivileged(ctx context.Context, cfg Config, m methods, src sweep.Source, report func(Host)) (sweep.Summary, []string, error) {
	var ping *rawsock.PingSocket
	if m.icmp {
		p, err := rawsock.OpenPing()
		if err == nil {
			ping = p
			defer ping.Close()
		} else {
			cfg.Log.Info("ICMP echo not allowed without privileges; using TCP connect pings", "err", err)
		}
	}
	if m.arp {
		cfg.Log.Debug("ARP discovery needs raw sockets (CAP_NET_RAW): skipped")
	}
	useTCP := m.tcp || ping == nil
	var methods []string
	n := 0
	if ping != nil {
		methods = append(methods, MethodICMP)
		n++
	}
	if useTCP {
		methods = append(methods, MethodConnect)
		n++
	}
	srcs := []sweep.Source{src}
	if n > 1 {
		srcs = Tee(src, n)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sum sweep.Summary
	var firstErr error
	i := 0
	if ping != nil {
		s := srcs[i]
		i++
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss, err := runPing(ctx, cfg, ping, s, report)
			mu.Lock()
			defer mu.Unlock()
			sum.Hosts, sum.DarkNets = ss.Hosts, ss.DarkNets
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	if useTCP {
		s := srcs[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs, err := connect.Scan(ctx, connect.Config{
				Timeout: cfg.Timeout, Retries: cfg.Retries, Rate: cfg.Rate, SkipAfter: -1, BackoffAfter: -1,
				ReportClosed: true,
				OnPort: func(r connect.PortResult) {
					if r.State == connect.Open || r.State == connect.Closed {
						report(Host{Addr: r.Addr, Name: r.Name, Method: MethodConnect, Reason: r.Reason, Port: r.Port, RTT: r.RTT})
					}
				},
			}, s, cfg.TCPPorts)
			mu.Lock()
			defer mu.Unlock()
			if sum.Hosts == 0 {
				sum.Hosts = cs.Hosts
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	return sum, methods, firstErr
}

// pingPort is the pseudo port of the echo method in the sweep.
const pingPort = 1

func runPing(ctx context.Context, cfg Config, ping *rawsock.PingSocket, src sweep.Source, report func(Host)) (sweep.Summary, error) {
	t := &pingTransport{ping: ping, stamp: rawsock.NewStamp()}
	sw, err := sweep.New(sweep.Config{
		Ports: []int{pingPort}, Rate: cfg.Rate, Retries: cfg.Retries, Timeout: cfg.Timeout, SkipAfter: -1,
		DarkAfter: 64, DarkHostSkip: 1, AnyAnswer: true, OnDark: cfg.OnDark, Log: cfg.Log,
		OnPort: func(r sweep.Result) {
			if r.HostFirst {
				report(Host{Addr: r.Addr, Name: r.Name, Method: MethodICMP, Reason: ReasonEchoReply, RTT: r.RTT})
			}
		},
	})
	if err != nil {
		return sweep.Summary{}, err
	}
	t.sw = sw
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if _, err := ping.Read(t.handle); err != nil {
				return
			}
		}
	}()
	sum, err := sw.Run(ctx, src, t)
	ping.Close()
	wg.Wait()
	return sum, err
}

type pingTransport struct {
	ping  *rawsock.PingSocket
	stamp rawsock.Stamp
	sw    *sweep.Sweep
}

func (t *pingTransport) Send(ctx context.Context, probes []sweep.Probe) error {
	for _, p := range probes {
		// The kernel sets the identifier (the socket's); the sequence
		// number carries the send time.
		_ = t.ping.Send(p.Addr, t.stamp.EchoSeq())
	}
	return nil
}

func (t *pingTransport) handle(from netip.Addr, seq uint16) {
	t.sw.Answer(sweep.Answer{Addr: from, Port: pingPort, Verdict: sweep.Open, Reason: ReasonEchoReply,
		FromHost: true, RTT: t.stamp.EchoRTT(seq)})
}
