package report

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
)

// Table prints one line per open port in the seeds' style, sorted by host
// and port once the scan ends; with verbose the technology stack and the
// fingerprint of unknown services are indented beneath.
type Table struct {
	w        io.Writer
	verbose  bool
	services []*fingerprint.Service
	ports    []scan.PortRecord
	hosts    []scan.HostRecord
	errs     []scan.ErrorRecord
	records  []tableRecord
}

// NewTable returns a table sink.
func NewTable(w io.Writer, verbose bool) *Table { return &Table{w: w, verbose: verbose} }

func (t *Table) Begin(scan.Meta) error { return nil }

func (t *Table) Host(h scan.HostRecord) error { t.hosts = append(t.hosts, h); return nil }

func (t *Table) Port(p scan.PortRecord) error { t.ports = append(t.ports, p); return nil }

func (t *Table) Service(s *fingerprint.Service) error { t.services = append(t.services, s); return nil }

// tableLiner is a record that has a line in the table (assets, findings);
// the JSON formats carry every record whole.
type tableLiner interface{ TableLine() string }

// Record keeps the records of later stages that have a table line.
func (t *Table) Record(r scan.Record) error {
	if tl, ok := r.(tableLiner); ok {
		t.records = append(t.records, tableRecord{kind: r.RecordType(), line: tl.TableLine()})
	}
	return nil
}

type tableRecord struct{ kind, line string }

func (t *Table) Error(e scan.ErrorRecord) error { t.errs = append(t.errs, e); return nil }

func (t *Table) End(m scan.Meta) error {
	for _, e := range t.errs {
		fmt.Fprintf(t.w, "error: %s: %s\n", e.Target, e.Error)
	}
	type row struct {
		host  string
		port  int
		proto string
		line  string
		extra []string
	}
	var rows []row
	seen := map[string]bool{}
	for _, s := range t.services {
		key := fmt.Sprintf("%s/%d/%s", s.Host, s.Port, s.Transport)
		seen[key] = true
		name := s.Service
		if name == "" {
			name = "unknown"
		}
		if s.TLS && name != "ssl" {
			name = "ssl/" + name
		}
		desc := strings.TrimSpace(s.Product + " " + s.Version)
		if s.Info != "" {
			desc += " (" + s.Info + ")"
		}
		conf := ""
		if s.Confidence > 0 {
			conf = fmt.Sprintf("(%d%%)", s.Confidence)
		}
		if s.Method == "table" {
			name += "?"
		}
		line := fmt.Sprintf("%-24s %-6s %-16s %s %s", fmt.Sprintf("%s:%d/%s", s.Host, s.Port, s.Transport), "open", name, desc, conf)
		r := row{host: s.Host, port: s.Port, proto: s.Transport, line: strings.TrimRight(line, " ")}
		if t.verbose {
			for _, tc := range s.Stack {
				v := strings.TrimSpace(tc.Product + " " + tc.Version)
				r.extra = append(r.extra, fmt.Sprintf("    ├── %s [%s, %d%%, %s] %s", v, tc.Role, tc.Confidence, strings.Join(tc.Sources, "+"), tc.Evidence))
			}
			if s.OS != "" {
				r.extra = append(r.extra, "    os: "+s.OS)
			}
			if s.Fingerprint != "" {
				r.extra = append(r.extra, "    fingerprint:")
				for _, l := range strings.Split(s.Fingerprint, "\n") {
					r.extra = append(r.extra, "      "+l)
				}
			}
		}
		rows = append(rows, r)
	}
	for _, p := range t.ports {
		key := fmt.Sprintf("%s/%d/%s", p.Host, p.Port, p.Transport)
		if seen[key] || (p.State != "open" && !t.verbose) {
			continue
		}
		line := fmt.Sprintf("%-24s %-6s %s", fmt.Sprintf("%s:%d/%s", p.Host, p.Port, p.Transport), p.State, p.Reason)
		rows = append(rows, row{host: p.Host, port: p.Port, proto: p.Transport, line: line})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].host != rows[j].host {
			return hostLess(rows[i].host, rows[j].host)
		}
		if rows[i].port != rows[j].port {
			return rows[i].port < rows[j].port
		}
		return rows[i].proto < rows[j].proto
	})
	for _, r := range rows {
		fmt.Fprintln(t.w, r.line)
		for _, x := range r.extra {
			fmt.Fprintln(t.w, x)
		}
	}
	for _, kind := range []string{"asset", "finding"} {
		first := true
		for _, r := range t.records {
			if r.kind != kind {
				continue
			}
			if first {
				fmt.Fprintf(t.w, "\n%ss:\n", kind)
				first = false
			}
			fmt.Fprintln(t.w, "  "+r.line)
		}
	}
	for _, h := range t.hosts {
		if h.State != "up" {
			fmt.Fprintf(t.w, "%s: %s (%s)\n", h.Host, h.State, h.Reason)
		}
	}
	fmt.Fprintf(t.w, "# %d host(s), %d open port(s), %.2f s\n", m.Hosts, m.Open, m.WallTimeS)
	return nil
}

func hostLess(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 == nil && err2 == nil {
		return x.Less(y)
	}
	return a < b
}
