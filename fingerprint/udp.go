package fingerprint

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/portrait-scanner/portrait/netscan/udp/udpproto"
)

// udpPortNames completes portNames for UDP, where some ports carry other
// services than on TCP.
var udpPortNames = map[int]string{
	67: "dhcps", 68: "dhcpc", 88: "kerberos-sec", 137: "netbios-ns", 138: "netbios-dgm", 162: "snmptrap",
	500: "isakmp", 514: "syslog", 520: "route", 623: "asf-rmcp", 1194: "openvpn", 1434: "ms-sql-m",
	1701: "l2tp", 1812: "radius", 1813: "radacct", 1900: "upnp", 3478: "stun", 3702: "ws-discovery",
	4500: "nat-t-ike", 5351: "nat-pmp", 5353: "mdns", 5683: "coap", 11211: "memcache",
}

// maxUDPFollowUps bounds the extra requests one UDP port gets.
const maxUDPFollowUps = 8

// IdentifyUDP identifies the service behind an open UDP port from the
// reply the scan already got (reply, drawn by the probe named probe, see
// package udpproto) and the few follow-up requests that reply calls for
// (the other CHAOS names of a DNS server, NTP control queries, the SNMPv3
// engine ID, a TFTP request with a bad mode). The evidence fields go
// through the same rules as TCP evidence. It always returns a record.
func (e *Engine) IdentifyUDP(ctx context.Context, t Target, reply []byte, probe string) *Service {
	start := time.Now()
	ev := udpproto.NewEvidence(t.Port)
	var xs []Exchange
	if reply != nil {
		ev.Add(probe, nil, reply)
		xs = append(xs, Exchange{Probe: probe, Response: reply})
	}
	asked := 0
	for round := 0; round < 2 && ctx.Err() == nil; round++ {
		reqs := ev.FollowUps()
		if len(reqs) == 0 || asked >= maxUDPFollowUps {
			break
		}
		if len(reqs) > maxUDPFollowUps-asked {
			reqs = reqs[:maxUDPFollowUps-asked]
		}
		asked += len(reqs)
		answers := e.udpAsk(ctx, t, reqs)
		for i, r := range reqs {
			ev.Add(r.Name, r.Payload, answers[i])
			if answers[i] != nil {
				xs = append(xs, Exchange{Probe: r.Name, Request: r.Payload, Response: answers[i]})
			}
		}
	}
	svc := e.decideUDP(t, ev, xs)
	svc.DurationMS = time.Since(start).Milliseconds()
	return svc
}

// udpAsk sends each request from its own socket, concurrently, and
// returns the first reply from the target to each (nil when none came
// within the probe timeout). A socket is unconnected so that a TFTP
// answer from the server's new port is still read.
func (e *Engine) udpAsk(ctx context.Context, t Target, reqs []udpproto.Request) [][]byte {
	out := make([][]byte, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = e.udpExchange(ctx, t, r)
		}()
	}
	wg.Wait()
	return out
}

func (e *Engine) udpExchange(ctx context.Context, t Target, r udpproto.Request) []byte {
	network := "udp4"
	if !t.Addr.Is4() {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, nil)
	if err != nil {
		return nil
	}
	defer c.Close()
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(t.Addr, uint16(t.Port)))
	deadline := time.Now().Add(e.cfg.ProbeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if _, err := c.WriteToUDP(r.Payload, dst); err != nil {
		return nil
	}
	buf := make([]byte, min(e.cfg.MaxRead, 65536))
	for range 16 {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return nil
		}
		if from.Addr().Unmap() != t.Addr.Unmap() {
			continue // not our target: keep waiting
		}
		if int(from.Port()) != t.Port && !udpproto.IsTFTP(buf[:n]) {
			continue
		}
		return append([]byte(nil), buf[:n]...)
	}
	return nil
}

// decideUDP names the service and runs the rules over the evidence.
func (e *Engine) decideUDP(t Target, ev *udpproto.Evidence, xs []Exchange) *Service {
	svc := &Service{Type: "service", Host: t.Addr.String(), Hostname: t.Hostname, Port: t.Port,
		Transport: "udp", State: "open", Evidence: ev.Fields, exchanges: xs}
	for _, x := range xs {
		svc.Probes = append(svc.Probes, x.Probe)
	}
	if ev.Service != "" {
		svc.Service, svc.Method, svc.Confidence = ev.Service, "probed", ev.Confidence
	}
	techs := mergeMatches(e.catalog.Match(ev.Fields))
	var primary *scoredTech
	for i := range techs {
		tc := &techs[i]
		if tc.Role != "server" && tc.Role != "proxy" {
			continue
		}
		if ev.Service != "" && !fitsUDP(tc.match, ev.Service) {
			continue
		}
		primary = tc
		break
	}
	if primary != nil {
		m := primary.match
		if svc.Service == "" {
			svc.Service, svc.Method = firstNonEmpty(m.Service, m.Category), "matched"
		}
		svc.Product, svc.Version, svc.Info, svc.CPE = primary.Product, primary.Version, primary.Info, primary.CPE
		svc.Device = m.Device
		svc.Confidence = primary.Confidence
	}
	if svc.Service == "" {
		name := udpPortNames[t.Port]
		if name == "" {
			name = portName(t.Port)
		}
		if name != "" {
			svc.Service, svc.Method, svc.Confidence = name, "table", 30
		}
		if len(xs) > 0 {
			svc.Fingerprint = SF(t.Port, "UDP", xs)
		}
	}
	bestOS := 0
	for _, tc := range techs {
		if tc.Role == "os" && tc.Confidence > bestOS {
			svc.OS, bestOS = tc.Product, tc.Confidence
		}
		if tc.match.OS != "" && tc.Confidence-10 > bestOS {
			svc.OS, bestOS = titleOS(tc.match.OS), tc.Confidence-10
		}
	}
	for i := range techs {
		svc.Stack = append(svc.Stack, techs[i].Tech)
	}
	svc.Confidence = max(0, min(svc.Confidence, 100))
	return svc
}

// fitsUDP says whether a rule's product belongs on the confirmed UDP
// service (a DNS rule's category is "dns", the service "domain").
func fitsUDP(m Match, service string) bool {
	if m.Category == "" || m.Category == service || m.Service == service {
		return true
	}
	switch service {
	case "domain":
		return m.Category == "dns"
	case "mdns":
		return m.Category == "dns" || m.Category == "mdns"
	case "upnp":
		return m.Category == "ssdp" || m.Category == "http"
	case "netbios-ns":
		return m.Category == "nbns" || m.Category == "netbios"
	case "ms-sql-m":
		return m.Category == "mssql"
	case "isakmp":
		return m.Category == "ike"
	}
	return false
}
