// Package diff compares two archived scans: hosts, ports, services,
// versions and findings added, removed and changed. The result renders as
// a table, JSON or HTML, and its changes become notification events.
package diff

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/store"
)

// Change kinds.
const (
	HostAdded      = "host-added"      // a host up in B that was not up in A
	HostRemoved    = "host-removed"    // up in A, not in B
	PortOpened     = "port-opened"     // open in B, not in A
	PortClosed     = "port-closed"     // open in A, not in B
	ServiceChanged = "service-changed" // another protocol on the port (or TLS added/removed)
	ProductChanged = "product-changed" // another product
	VersionChanged = "version-changed" // same product, another version
	FindingAdded   = "finding-added"
	FindingRemoved = "finding-removed"
)

// Kinds lists every change kind, in report order.
var Kinds = []string{HostAdded, HostRemoved, PortOpened, PortClosed, ServiceChanged, ProductChanged, VersionChanged, FindingAdded, FindingRemoved}

// Change is one difference between the scans.
type Change struct {
	Kind      string `json:"kind"`
	Host      string `json:"host"`
	Hostname  string `json:"hostname,omitempty"`
	Port      int    `json:"port,omitempty"`
	Transport string `json:"transport,omitempty"`
	Before    string `json:"before,omitempty"` // what A said
	After     string `json:"after,omitempty"`  // what B says
	// Severity ranks the change for notification rules: a new open port or
	// a changed service matters more than a closed one.
	Severity string `json:"severity"`
	Finding  string `json:"finding,omitempty"` // the finding's id, for finding changes
}

// Scan names one side of the comparison.
type Scan struct {
	ID      string   `json:"id"`
	Started string   `json:"started,omitempty"`
	Targets []string `json:"targets,omitempty"`
	Hosts   int      `json:"hosts"`
	Open    int      `json:"open"`
}

// Diff is the comparison of scan A (before) with scan B (after).
type Diff struct {
	A       Scan           `json:"a"`
	B       Scan           `json:"b"`
	Changes []Change       `json:"changes"`
	Counts  map[string]int `json:"counts"`
}

// Empty tells whether nothing changed.
func (d *Diff) Empty() bool { return len(d.Changes) == 0 }

// port is one open port as a scan saw it.
type port struct {
	host, hostname, transport string
	port                      int
	svc                       *fingerprint.Service
}

func (p port) key() store.Key { return store.Key{Host: p.host, Transport: p.transport, Port: p.port} }

type side struct {
	up       map[string]string // up host -> hostname
	ports    map[store.Key]*port
	findings map[string]store.Finding
}

func load(res *store.Results) side {
	s := side{up: map[string]string{}, ports: map[store.Key]*port{}, findings: map[string]store.Finding{}}
	down := map[string]bool{}
	for _, h := range res.Hosts {
		if h.State == "up" {
			s.up[h.Host] = h.Hostname
			delete(down, h.Host)
		} else if _, ok := s.up[h.Host]; !ok {
			down[h.Host] = true
		}
	}
	get := func(host, hostname, transport string, n int) *port {
		if transport == "" {
			transport = "tcp"
		}
		k := store.Key{Host: host, Transport: transport, Port: n}
		p, ok := s.ports[k]
		if !ok {
			p = &port{host: host, hostname: hostname, transport: transport, port: n}
			s.ports[k] = p
		}
		return p
	}
	for _, p := range res.Ports {
		if p.State == "open" {
			get(p.Host, p.Hostname, p.Transport, p.Port)
		}
	}
	for _, sv := range res.Services {
		if sv.State != "" && sv.State != "open" {
			continue
		}
		get(sv.Host, sv.Hostname, sv.Transport, sv.Port).svc = sv
	}
	// A host with open ports is up even if its summary never came (an
	// interrupted scan).
	for _, p := range s.ports {
		if _, ok := s.up[p.host]; !ok && !down[p.host] {
			s.up[p.host] = p.hostname
		}
	}
	for _, f := range res.Findings() {
		s.findings[findingKey(f)] = f
	}
	return s
}

func findingKey(f store.Finding) string {
	return f.Host + "|" + strconv.Itoa(f.Port) + "|" + f.ID + "|" + f.Title
}

// Compare returns what changed from a to b.
func Compare(aID string, a *store.Results, bID string, b *store.Results) *Diff {
	A, B := load(a), load(b)
	d := &Diff{A: scanOf(aID, a), B: scanOf(bID, b), Counts: map[string]int{}}
	add := func(c Change) {
		d.Changes = append(d.Changes, c)
		d.Counts[c.Kind]++
	}
	for h, name := range B.up {
		if _, ok := A.up[h]; !ok {
			add(Change{Kind: HostAdded, Host: h, Hostname: name, After: "up", Severity: "low"})
		}
	}
	for h, name := range A.up {
		if _, ok := B.up[h]; !ok {
			add(Change{Kind: HostRemoved, Host: h, Hostname: name, Before: "up", After: "down or not scanned", Severity: "low"})
		}
	}
	for k, p := range B.ports {
		old, ok := A.ports[k]
		if !ok {
			add(Change{Kind: PortOpened, Host: p.host, Hostname: p.hostname, Port: p.port, Transport: p.transport, After: describe(p.svc), Severity: "medium"})
			continue
		}
		compareService(old, p, add)
	}
	for k, p := range A.ports {
		if _, ok := B.ports[k]; !ok {
			add(Change{Kind: PortClosed, Host: p.host, Hostname: p.hostname, Port: p.port, Transport: p.transport, Before: describe(p.svc), Severity: "info"})
		}
	}
	for k, f := range B.findings {
		if _, ok := A.findings[k]; !ok {
			add(Change{Kind: FindingAdded, Host: f.Host, Port: f.Port, After: findingText(f), Finding: f.ID, Severity: normSeverity(f.Severity)})
		}
	}
	for k, f := range A.findings {
		if _, ok := B.findings[k]; !ok {
			add(Change{Kind: FindingRemoved, Host: f.Host, Port: f.Port, Before: findingText(f), Finding: f.ID, Severity: "info"})
		}
	}
	sortChanges(d.Changes)
	if d.Changes == nil {
		d.Changes = []Change{}
	}
	return d
}

func compareService(a, b *port, add func(Change)) {
	if a.svc == nil || b.svc == nil {
		return // one side not fingerprinted: nothing to compare
	}
	base := Change{Host: b.host, Hostname: b.hostname, Port: b.port, Transport: b.transport, Before: describe(a.svc), After: describe(b.svc)}
	switch {
	case serviceName(a.svc) != serviceName(b.svc):
		c := base
		c.Kind, c.Severity = ServiceChanged, "medium"
		add(c)
	case !strings.EqualFold(a.svc.Product, b.svc.Product):
		c := base
		c.Kind, c.Severity = ProductChanged, "medium"
		add(c)
	case a.svc.Version != b.svc.Version:
		c := base
		c.Kind, c.Severity = VersionChanged, "low"
		add(c)
	}
}

// serviceName is the service as people write it: "https" for HTTP in TLS.
func serviceName(s *fingerprint.Service) string {
	name := s.Service
	if name == "" {
		name = "unknown"
	}
	if s.TLS {
		name = "ssl/" + name
	}
	return name
}

// describe is one port's service in one line: "ssl/http nginx 1.22.1".
func describe(s *fingerprint.Service) string {
	if s == nil {
		return "open"
	}
	return strings.TrimSpace(serviceName(s) + " " + strings.TrimSpace(s.Product+" "+s.Version))
}

func findingText(f store.Finding) string {
	t := f.ID
	if f.Title != "" && f.Title != f.ID {
		t += ": " + f.Title
	}
	if f.Severity != "" {
		t += " (" + f.Severity + ")"
	}
	return t
}

// Severities in increasing order.
var Severities = []string{"info", "low", "medium", "high", "critical"}

// SeverityRank orders severities (unknown ones rank as info).
func SeverityRank(s string) int {
	for i, x := range Severities {
		if strings.EqualFold(s, x) {
			return i
		}
	}
	return 0
}

func normSeverity(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "moderate" {
		s = "medium"
	}
	for _, x := range Severities {
		if s == x {
			return s
		}
	}
	return "info"
}

func scanOf(id string, r *store.Results) Scan {
	m := r.Meta()
	return Scan{ID: id, Started: m.Started, Targets: m.Targets, Hosts: m.Hosts, Open: m.Open}
}

func kindRank(k string) int {
	for i, x := range Kinds {
		if x == k {
			return i
		}
	}
	return len(Kinds)
}

// sortChanges orders by host (address order), port, then kind.
func sortChanges(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Host != b.Host {
			return hostLess(a.Host, b.Host)
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		if a.Transport != b.Transport {
			return a.Transport < b.Transport
		}
		if a.Kind != b.Kind {
			return kindRank(a.Kind) < kindRank(b.Kind)
		}
		return a.Finding < b.Finding
	})
}

func hostLess(a, b string) bool {
	x, e1 := netip.ParseAddr(a)
	y, e2 := netip.ParseAddr(b)
	if e1 == nil && e2 == nil {
		return x.Less(y)
	}
	return a < b
}

// Where names the port of a change: "127.0.0.1:22/tcp" or the host alone.
func (c Change) Where() string {
	if c.Port == 0 {
		return c.Host
	}
	t := c.Transport
	if t == "" {
		t = "tcp"
	}
	return fmt.Sprintf("%s:%d/%s", c.Host, c.Port, t)
}

// Summary is a one-line count of the changes.
func (d *Diff) Summary() string {
	if d.Empty() {
		return "no change"
	}
	var parts []string
	for _, k := range Kinds {
		if n := d.Counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	return strings.Join(parts, ", ")
}
