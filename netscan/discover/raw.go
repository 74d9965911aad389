package discover

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/portrait-scanner/portrait/netscan/rawsock"
	"github.com/portrait-scanner/portrait/netscan/rawsock/sweep"
)

// The sweep addresses methods as ports: TCP pings by their real port,
// ICMP and ARP by pseudo ports chosen outside the TCP ping ports.
type plan struct {
	ports      []int
	icmp, arp  uint16 // pseudo ports (0: method off)
	tcp        map[uint16]bool
	methodName map[uint16]string
}

func makePlan(m methods, tcpPorts []int) plan {
	p := plan{tcp: map[uint16]bool{}, methodName: map[uint16]string{}}
	used := map[int]bool{}
	if m.tcp {
		for _, t := range tcpPorts {
			if t > 0 && t <= 65535 && !used[t] {
				used[t] = true
				p.tcp[uint16(t)] = true
				p.methodName[uint16(t)] = MethodSYN
			}
		}
	}
	pseudo := func() uint16 {
		for c := 65535; c > 0; c-- {
			if !used[c] {
				used[c] = true
				return uint16(c)
			}
		}
		return 0
	}
	if m.icmp {
		p.icmp = pseudo()
		p.methodName[p.icmp] = MethodICMP
		p.ports = append(p.ports, int(p.icmp))
	}
	if m.arp {
		p.arp = pseudo()
		p.methodName[p.arp] = MethodARP
		p.ports = append(p.ports, int(p.arp))
	}
	if m.tcp {
		added := map[int]bool{}
		for _, t := range tcpPorts {
			if p.tcp[uint16(t)] && !added[t] {
				added[t] = true
				p.ports = append(p.ports, t)
			}
		}
	}
	return p
}

func runRaw(ctx context.Context, cfg Config, m methods, src sweep.Source, report func(Host)) (sweep.Summary, error) {
	pl := makePlan(m, cfg.TCPPorts)
	res, err := rawsock.ReserveTCPPort()
	if err != nil {
		return sweep.Summary{}, err
	}
	defer res.Close()
	f, err := rawsock.Filter(rawsock.FilterSpec{TCPDstPort: res.Port, ICMPErrors: true, Echo: true, Snaplen: 128})
	if err != nil {
		return sweep.Summary{}, err
	}
	l, err := rawsock.Listen(rawsock.ListenConfig{Filter: f, Snaplen: 128, RcvBuf: 8 << 20, Rate: cfg.Rate})
	if err != nil {
		return sweep.Summary{}, err
	}
	t := &rawTransport{
		plan: pl, sport: res.Port, stamp: rawsock.NewStamp(), l: l,
		routes: map[netip.Prefix]route{}, srcs: map[netip.Addr]bool{},
		tpl: map[netip.Addr]*rawsock.SYNTemplate{}, tcp: rawsock.NewSenderSet(rawsock.IPv4, rawsock.TCP6),
		icmp: rawsock.NewSenderSet(rawsock.ICMP4, rawsock.ICMP6),
		arps: map[int]*arpSock{}, arpSent: map[netip.Addr]time.Time{}, log: cfg,
	}
	defer t.close()
	scfg := sweep.Config{
		Ports: pl.ports, Rate: cfg.Rate, Retries: cfg.Retries, Timeout: cfg.Timeout, MinTimeout: 250 * time.Millisecond,
		SkipAfter: -1, DarkAfter: 64, DarkHostSkip: 4, AnyAnswer: true, ReportClosed: true,
		OnDark: cfg.OnDark, Log: cfg.Log,
		OnPort: func(r sweep.Result) {
			if !r.HostFirst {
				return
			}
			h := Host{Addr: r.Addr, Name: r.Name, Method: pl.methodName[uint16(r.Port)], Reason: r.Reason, RTT: r.RTT}
			if pl.tcp[uint16(r.Port)] {
				h.Port = r.Port
			}
			if h.Method == MethodARP {
				h.MAC = string(r.Data)
			}
			report(h)
		},
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
	l.Close()
	t.closeARP()
	wg.Wait()
	return sum, err
}

// route is what one /24 (/64) of targets shares: the source address and
// the interface holding it, whose ARP socket serves the targets that are
// on its link.
type route struct {
	src netip.Addr
	ifc rawsock.Iface
	arp *arpSock // nil when the interface cannot do ARP
	err error
}

type rawTransport struct {
	plan   plan
	sport  uint16
	stamp  rawsock.Stamp
	sw     *sweep.Sweep
	l      *rawsock.Listener
	log    Config
	routes map[netip.Prefix]route
	tcp    *rawsock.SenderSet
	icmp   *rawsock.SenderSet
	tpl    map[netip.Addr]*rawsock.SYNTemplate
	echo   map[netip.Addr]*rawsock.EchoTemplate

	mu      sync.Mutex // guards srcs, arps, arpSent (the receivers read them)
	srcs    map[netip.Addr]bool
	arps    map[int]*arpSock
	arpSent map[netip.Addr]time.Time
	arpWG   sync.WaitGroup
}

func (t *rawTransport) close() {
	t.l.Close()
	t.tcp.Close()
	t.icmp.Close()
	t.closeARP()
}

func (t *rawTransport) closeARP() {
	t.mu.Lock()
	socks := t.arps
	t.arps = map[int]*arpSock{}
	t.mu.Unlock()
	for _, a := range socks {
		a.close()
	}
	t.arpWG.Wait()
}

func (t *rawTransport) route(dst netip.Addr) route {
	bits := 24
	if !dst.Is4() {
		bits = 64
	}
	k, _ := dst.Prefix(bits)
	if dst.IsLoopback() {
		k = netip.PrefixFrom(dst, dst.BitLen())
	}
	if r, ok := t.routes[k]; ok {
		return r
	}
	var r route
	r.src, r.err = rawsock.SourceFor(dst)
	if r.err == nil {
		t.mu.Lock()
		t.srcs[r.src] = true
		t.mu.Unlock()
		if ifc, err := rawsock.InterfaceOf(r.src); err == nil {
			r.ifc = ifc
			if t.plan.arp != 0 && len(ifc.MAC) == 6 && ifc.Prefix.Addr().Is4() {
				r.arp = t.arpSock(ifc)
			}
		}
	}
	t.routes[k] = r
	return r
}

func (t *rawTransport) arpSock(ifc rawsock.Iface) *arpSock {
	t.mu.Lock()
	a, ok := t.arps[ifc.Index]
	t.mu.Unlock()
	if ok {
		return a
	}
	a, err := openARP(ifc)
	if err != nil {
		t.log.Log.Debug("arp unavailable", "iface", ifc.Name, "err", err)
		t.mu.Lock()
		t.arps[ifc.Index] = nil
		t.mu.Unlock()
		return nil
	}
	t.mu.Lock()
	t.arps[ifc.Index] = a
	t.mu.Unlock()
	t.arpWG.Add(1)
	go func() {
		defer t.arpWG.Done()
		t.receiveARP(a)
	}()
	return a
}

// Send sends each probe by its method.
func (t *rawTransport) Send(ctx context.Context, probes []sweep.Probe) error {
	var used []*rawsock.Sender
	flush := func(s *rawsock.Sender) error {
		if s.Full() {
			return s.Flush(nil)
		}
		return nil
	}
	mark := func(s *rawsock.Sender) {
		for _, u := range used {
			if u == s {
				return
			}
		}
		used = append(used, s)
	}
	for _, p := range probes {
		r := t.route(p.Addr)
		if r.err != nil {
			continue // no route: the host stays silent
		}
		switch {
		case p.Port == t.plan.icmp:
			s, err := t.icmpSender(r.src)
			if err != nil {
				return err
			}
			if err := flush(s); err != nil {
				return err
			}
			tpl := t.echoTemplate(r.src)
			s.Add(netip.AddrPortFrom(p.Addr, 0), tpl.Build(s.Buffer(), p.Addr, t.stamp.Echo16(r.src, p.Addr), t.stamp.EchoSeq()), 0)
			mark(s)
		case p.Port == t.plan.arp:
			if r.arp == nil || !r.ifc.Reaches(p.Addr) {
				continue // not on a local Ethernet: ARP does not apply
			}
			t.mu.Lock()
			t.arpSent[p.Addr] = time.Now()
			t.mu.Unlock()
			_ = r.arp.request(p.Addr)
		case t.plan.tcp[p.Port]:
			s, tpl, err := t.synSender(r.src)
			if err != nil {
				return err
			}
			if err := flush(s); err != nil {
				return err
			}
			seq := t.stamp.Seq(rawsock.ProtoTCP, r.src, p.Addr, t.sport, p.Port)
			s.Add(netip.AddrPortFrom(p.Addr, 0), tpl.Build(s.Buffer(), p.Addr, p.Port, seq, uint16(seq>>11)), uint32(p.Port))
			mark(s)
		}
	}
	for _, s := range used {
		if s.Len() > 0 {
			if err := s.Flush(nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *rawTransport) echoTemplate(src netip.Addr) *rawsock.EchoTemplate {
	if t.echo == nil {
		t.echo = map[netip.Addr]*rawsock.EchoTemplate{}
	}
	e := t.echo[src]
	if e == nil {
		e = rawsock.NewEchoTemplate(src, []byte("portrait-discovery"))
		t.echo[src] = e
	}
	return e
}

func (t *rawTransport) icmpSender(src netip.Addr) (*rawsock.Sender, error) {
	return t.icmp.For(src)
}

func (t *rawTransport) synSender(src netip.Addr) (*rawsock.Sender, *rawsock.SYNTemplate, error) {
	tpl := t.tpl[src]
	if tpl == nil {
		var err error
		if tpl, err = rawsock.NewSYNTemplate(src, t.sport, 64); err != nil {
			return nil, nil, err
		}
		t.tpl[src] = tpl
	}
	s, err := t.tcp.For(src)
	if err != nil {
		return nil, nil, err
	}
	return s, tpl, nil
}

func (t *rawTransport) isSource(a netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.srcs[a]
}

func (t *rawTransport) receive() {
	var p rawsock.Packet
	for {
		_, err := t.l.ReadTS(func(b []byte, at time.Time) {
			if rawsock.Parse(b, &p) {
				t.handle(&p, at)
			}
		})
		if err != nil {
			return
		}
	}
}

func (t *rawTransport) handle(p *rawsock.Packet, at time.Time) {
	switch p.Proto {
	case rawsock.ProtoTCP:
		if t.plan.tcp == nil || !t.plan.tcp[p.SrcPort] || p.DstPort != t.sport || p.Flags&rawsock.FlagACK == 0 || !t.isSource(p.Dst) {
			return
		}
		rtt, ok := t.stamp.CheckAt(rawsock.ProtoTCP, p.Dst, p.Src, t.sport, p.SrcPort, p.Ack-1, at)
		if !ok {
			return
		}
		a := sweep.Answer{Addr: p.Src, Port: p.SrcPort, FromHost: true, RTT: rtt, Verdict: sweep.Open, Reason: ReasonSynAck}
		if p.Flags&rawsock.FlagRST != 0 {
			a.Verdict, a.Reason = sweep.Closed, ReasonReset
		} else if p.Flags&rawsock.FlagSYN == 0 {
			return
		}
		t.sw.Answer(a)
	case rawsock.ProtoICMP, rawsock.ProtoICMPv6:
		reply := p.Proto == rawsock.ProtoICMP && p.ICMPType == rawsock.ICMPEchoReply ||
			p.Proto == rawsock.ProtoICMPv6 && p.ICMPType == rawsock.ICMPv6EchoReply
		if !reply || t.plan.icmp == 0 || !t.isSource(p.Dst) || p.ICMPID != t.stamp.Echo16(p.Dst, p.Src) {
			return
		}
		t.sw.Answer(sweep.Answer{Addr: p.Src, Port: t.plan.icmp, Verdict: sweep.Open, Reason: ReasonEchoReply,
			FromHost: true, RTT: t.stamp.EchoRTTAt(p.ICMPSeq, at)})
	}
}

func (t *rawTransport) receiveARP(a *arpSock) {
	for {
		err := a.read(func(ip netip.Addr, mac net.HardwareAddr) {
			t.mu.Lock()
			sent, ok := t.arpSent[ip]
			delete(t.arpSent, ip)
			t.mu.Unlock()
			if !ok {
				return // not a host we asked about
			}
			t.sw.Answer(sweep.Answer{Addr: ip, Port: t.plan.arp, Verdict: sweep.Open, Reason: ReasonARPResponse,
				FromHost: true, RTT: time.Since(sent), Data: []byte(mac.String())})
		})
		if err != nil {
			return
		}
	}
}

// arpSock sends ARP requests and reads replies on one Ethernet interface.
type arpSock struct {
	ifc rawsock.Iface
	raw *rawsock.Raw
	buf gopacket.SerializeBuffer
}

func openARP(ifc rawsock.Iface) (*arpSock, error) {
	f, err := rawsock.ARPReplyFilter()
	if err != nil {
		return nil, err
	}
	raw, err := rawsock.OpenEthernet(ifc.Index, 0x0806, f)
	if err != nil {
		return nil, err
	}
	return &arpSock{ifc: ifc, raw: raw, buf: gopacket.NewSerializeBuffer()}, nil
}

func (a *arpSock) close() { a.raw.Close() }

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// request broadcasts "who has dst, tell us".
func (a *arpSock) request(dst netip.Addr) error {
	eth := &layers.Ethernet{SrcMAC: a.ifc.MAC, DstMAC: broadcast, EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: a.ifc.MAC, SourceProtAddress: a.ifc.Prefix.Addr().AsSlice(),
		DstHwAddress: make([]byte, 6), DstProtAddress: dst.AsSlice(),
	}
	if err := gopacket.SerializeLayers(a.buf, gopacket.SerializeOptions{FixLengths: true}, eth, arp); err != nil {
		return err
	}
	return a.raw.Send(a.buf.Bytes(), broadcast)
}

// read hands each ARP reply's sender to fn; it returns an error once the
// socket is closed.
func (a *arpSock) read(fn func(netip.Addr, net.HardwareAddr)) error {
	_, err := a.raw.Read(func(frame []byte) {
		pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.NoCopy)
		l, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
		if !ok || l.Operation != layers.ARPReply || len(l.SourceProtAddress) != 4 {
			return
		}
		ip := netip.AddrFrom4([4]byte(l.SourceProtAddress))
		fn(ip, append(net.HardwareAddr(nil), l.SourceHwAddress...))
	})
	if errors.Is(err, os.ErrClosed) {
		return err
	}
	return err
}
