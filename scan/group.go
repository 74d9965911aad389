package scan

import (
	"sync"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// hostGroups collects one host's services until both its port scan and its
// fingerprints are finished, then hands them over together.
type hostGroups struct {
	mu    sync.Mutex
	hosts map[string]*hostGroup
	emit  func([]*fingerprint.Service, *HostRecord)
}

type hostGroup struct {
	pending int
	svcs    []*fingerprint.Service
	host    *HostRecord
}

func newHostGroups(emit func([]*fingerprint.Service, *HostRecord)) *hostGroups {
	return &hostGroups{hosts: map[string]*hostGroup{}, emit: emit}
}

func (g *hostGroups) get(h string) *hostGroup {
	x, ok := g.hosts[h]
	if !ok {
		x = &hostGroup{}
		g.hosts[h] = x
	}
	return x
}

// add registers a fingerprint about to run.
func (g *hostGroups) add(host string) {
	g.mu.Lock()
	g.get(host).pending++
	g.mu.Unlock()
}

// done records a finished fingerprint (svc may be nil when it was skipped).
func (g *hostGroups) done(host string, svc *fingerprint.Service) {
	g.mu.Lock()
	x := g.get(host)
	x.pending--
	if svc != nil {
		x.svcs = append(x.svcs, svc)
	}
	ready := x.pending == 0 && x.host != nil
	if ready {
		delete(g.hosts, host)
	}
	g.mu.Unlock()
	if ready {
		g.emit(x.svcs, x.host)
	}
}

// hostDone records the end of a host's port scan.
func (g *hostGroups) hostDone(h HostRecord) {
	g.mu.Lock()
	x := g.get(h.Host)
	x.host = &h
	ready := x.pending == 0
	if ready {
		delete(g.hosts, h.Host)
	}
	g.mu.Unlock()
	if ready {
		g.emit(x.svcs, x.host)
	}
}

// flush hands over whatever is left (hosts whose summary never came).
func (g *hostGroups) flush() {
	g.mu.Lock()
	rest := g.hosts
	g.hosts = map[string]*hostGroup{}
	g.mu.Unlock()
	for _, x := range rest {
		g.emit(x.svcs, x.host)
	}
}
