package report

import (
	"encoding/json"
	"io"
	"sort"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
)

// JSON collects the stream and writes one document at the end, grouped by host.
type JSON struct {
	w     io.Writer
	begin scan.Meta
	hosts map[string]*jsonHost
	errs  []scan.ErrorRecord
}

type jsonHost struct {
	scan.HostRecord
	Ports    []scan.PortRecord      `json:"ports,omitempty"`
	Services []*fingerprint.Service `json:"services,omitempty"`
	Records  []scan.Record          `json:"records,omitempty"`
}

// NewJSON returns a JSON document sink.
func NewJSON(w io.Writer) *JSON { return &JSON{w: w, hosts: map[string]*jsonHost{}} }

func (j *JSON) host(addr string) *jsonHost {
	h, ok := j.hosts[addr]
	if !ok {
		h = &jsonHost{HostRecord: scan.HostRecord{Type: "host", Host: addr}}
		j.hosts[addr] = h
	}
	return h
}

func (j *JSON) Begin(m scan.Meta) error { j.begin = m; return nil }

func (j *JSON) Host(h scan.HostRecord) error {
	x := j.host(h.Host)
	h.Type = "host"
	x.HostRecord = h
	return nil
}

func (j *JSON) Port(p scan.PortRecord) error {
	p.Type = "port"
	x := j.host(p.Host)
	x.Ports = append(x.Ports, p)
	return nil
}

func (j *JSON) Service(s *fingerprint.Service) error {
	x := j.host(s.Host)
	x.Services = append(x.Services, s)
	return nil
}

func (j *JSON) Record(r scan.Record) error {
	x := j.host(r.RecordHost())
	x.Records = append(x.Records, r)
	return nil
}

func (j *JSON) Error(e scan.ErrorRecord) error {
	e.Type = "error"
	j.errs = append(j.errs, e)
	return nil
}

func (j *JSON) End(m scan.Meta) error {
	m.Type = "scan"
	doc := struct {
		Scan   scan.Meta          `json:"scan"`
		Hosts  []*jsonHost        `json:"hosts"`
		Errors []scan.ErrorRecord `json:"errors,omitempty"`
	}{Scan: m, Errors: j.errs}
	for _, h := range j.hosts {
		sort.Slice(h.Ports, func(a, b int) bool { return h.Ports[a].Port < h.Ports[b].Port })
		sort.Slice(h.Services, func(a, b int) bool { return h.Services[a].Port < h.Services[b].Port })
		doc.Hosts = append(doc.Hosts, h)
	}
	sort.Slice(doc.Hosts, func(a, b int) bool { return hostLess(doc.Hosts[a].Host, doc.Hosts[b].Host) })
	if doc.Hosts == nil {
		doc.Hosts = []*jsonHost{}
	}
	enc := json.NewEncoder(j.w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
