package report

import (
	"sort"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
)

// collector gathers the stream by host for the formats that can only be
// written once the scan is over (nmap XML, HTML).
type collector struct {
	begin scan.Meta
	hosts map[string]*hostView
	errs  []scan.ErrorRecord
}

// hostView is one host with its ports joined to their services.
type hostView struct {
	Host     string
	Hostname string
	Record   *scan.HostRecord
	Ports    []*portView
	Records  []scan.Record
	byKey    map[string]*portView
}

// portView is a port and its service (nil when not fingerprinted).
type portView struct {
	Port      int
	Transport string
	State     string
	Reason    string
	RTTMS     float64
	Service   *fingerprint.Service
}

func newCollector() *collector { return &collector{hosts: map[string]*hostView{}} }

func (c *collector) host(addr string) *hostView {
	h, ok := c.hosts[addr]
	if !ok {
		h = &hostView{Host: addr, byKey: map[string]*portView{}}
		c.hosts[addr] = h
	}
	return h
}

func portKey(transport string, port int) string {
	if transport == "" {
		transport = "tcp"
	}
	return transport + "/" + itoa(port)
}

func (h *hostView) port(transport string, port int) *portView {
	if transport == "" {
		transport = "tcp"
	}
	k := portKey(transport, port)
	p, ok := h.byKey[k]
	if !ok {
		p = &portView{Port: port, Transport: transport, State: "open"}
		h.byKey[k] = p
		h.Ports = append(h.Ports, p)
	}
	return p
}

func (c *collector) Begin(m scan.Meta) error { c.begin = m; return nil }

func (c *collector) Host(r scan.HostRecord) error {
	h := c.host(r.Host)
	r.Type = "host"
	h.Record = &r
	if r.Hostname != "" {
		h.Hostname = r.Hostname
	}
	return nil
}

func (c *collector) Port(r scan.PortRecord) error {
	h := c.host(r.Host)
	if r.Hostname != "" {
		h.Hostname = r.Hostname
	}
	p := h.port(r.Transport, r.Port)
	p.State, p.Reason, p.RTTMS = r.State, r.Reason, r.RTTMS
	return nil
}

func (c *collector) Service(s *fingerprint.Service) error {
	h := c.host(s.Host)
	if s.Hostname != "" && h.Hostname == "" {
		h.Hostname = s.Hostname
	}
	p := h.port(s.Transport, s.Port)
	p.Service = s
	if s.State != "" && p.Reason == "" {
		p.State = s.State
	}
	return nil
}

func (c *collector) Record(r scan.Record) error {
	h := c.host(r.RecordHost())
	h.Records = append(h.Records, r)
	return nil
}

func (c *collector) Error(e scan.ErrorRecord) error {
	e.Type = "error"
	c.errs = append(c.errs, e)
	return nil
}

// sorted returns the hosts in address order with their ports in order.
func (c *collector) sorted() []*hostView {
	out := make([]*hostView, 0, len(c.hosts))
	for _, h := range c.hosts {
		sort.Slice(h.Ports, func(a, b int) bool {
			if h.Ports[a].Transport != h.Ports[b].Transport {
				return h.Ports[a].Transport < h.Ports[b].Transport
			}
			return h.Ports[a].Port < h.Ports[b].Port
		})
		out = append(out, h)
	}
	sort.Slice(out, func(a, b int) bool { return hostLess(out[a].Host, out[b].Host) })
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
