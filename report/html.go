package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/scan"
)

// HTML writes a self-contained report: one file with its styles, charts
// (inline SVG) and script inside, that fetches nothing (a
// Content-Security-Policy forbids it) and works offline. It shows the
// summary, the services and the product versions found as charts, each
// host's ports with their stack and evidence, the later stages' findings,
// and a search box that filters hosts and ports as you type (also from the
// URL: report.html#q=nginx).
type HTML struct {
	w io.Writer
	*collector
}

// NewHTML returns an HTML report sink.
func NewHTML(w io.Writer) *HTML { return &HTML{w: w, collector: newCollector()} }

//go:embed html/report.tmpl
var htmlTemplate string

//go:embed html/report.css
var htmlCSS string

//go:embed html/report.js
var htmlJS string

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(n, of int) string {
		if of == 0 {
			return "0"
		}
		return fmt.Sprintf("%.1f", 100*float64(n)/float64(of))
	},
	"lower": strings.ToLower,
	"css":   func(s string) template.CSS { return template.CSS(s) },
	"js":    func(s string) template.JS { return template.JS(s) },
}).Parse(htmlTemplate))

type htmlDoc struct {
	Title    string
	Scanner  string
	Started  string
	Finished string
	Wall     string
	Targets  string
	Ports    int
	Up, Down int
	Open     int
	Known    int
	Unknown  int
	Findings int
	Hosts    []htmlHost
	Errors   []scan.ErrorRecord
	Services []htmlBar
	Products []htmlBar
	Severity []htmlBar
	CSS      string
	JS       string
	Empty    bool
}

type htmlHost struct {
	ID       string
	Host     string
	Hostname string
	State    string
	Reason   string
	Open     int
	Closed   int
	Filtered int
	RTT      string
	Ports    []htmlPort
	Findings []htmlFinding
	Others   []htmlRecord
	Search   string
}

type htmlPort struct {
	Port       string
	State      string
	Service    string
	TLS        bool
	Product    string
	Version    string
	Info       string
	OS         string
	Confidence int
	Method     string
	CPE        string
	Stack      []htmlTech
	Evidence   []htmlKV
	Probes     string
	FP         string
	Search     string
	Detail     bool
}

type htmlTech struct {
	Product, Version, Role string
	Confidence             int
	Sources                string
	Evidence               string
}

type htmlKV struct{ K, V string }

type htmlFinding struct {
	Status   string // confirmed, potential... as the stage says
	Severity string
	ID       string
	Title    string
	Port     string
	Search   string
}

type htmlRecord struct {
	Type   string
	Fields []htmlKV
}

type htmlBar struct {
	Label string
	N     int
	Width float64 // percent of the largest bar
}

// End renders the document.
func (h *HTML) End(m scan.Meta) error {
	begin := h.begin
	doc := htmlDoc{
		Scanner:  firstNonEmpty(m.Scanner, begin.Scanner, "portrait"),
		Started:  humanTime(firstNonEmpty(begin.Started, m.Started)),
		Finished: humanTime(m.Finished),
		Targets:  strings.Join(firstSlice(m.Targets, begin.Targets), " "),
		Ports:    max(m.Ports, begin.Ports),
		Errors:   h.errs,
		CSS:      htmlCSS,
		JS:       htmlJS,
	}
	if m.WallTimeS > 0 {
		doc.Wall = fmt.Sprintf("%.1f s", m.WallTimeS)
	}
	doc.Title = "portrait scan of " + firstNonEmpty(doc.Targets, "no target")
	services := map[string]int{}
	products := map[string]int{}
	severity := map[string]int{}
	for i, hv := range h.sorted() {
		x := htmlHost{ID: fmt.Sprintf("h%d", i+1), Host: hv.Host, Hostname: hv.Hostname, State: "up"}
		if r := hv.Record; r != nil {
			x.State, x.Reason, x.Open, x.Closed, x.Filtered = r.State, r.Reason, r.Open, r.Closed, r.Filtered
			if r.RTTMS > 0 {
				x.RTT = fmt.Sprintf("%.2f ms", r.RTTMS)
			}
		}
		if x.State == "up" {
			doc.Up++
		} else {
			doc.Down++
		}
		words := []string{hv.Host, hv.Hostname}
		for _, p := range hv.Ports {
			hp := htmlPort{Port: fmt.Sprintf("%d/%s", p.Port, p.Transport), State: p.State}
			if p.State == "open" {
				doc.Open++
				if hv.Record == nil {
					x.Open++
				}
			}
			if s := p.Service; s != nil {
				hp.Service, hp.TLS, hp.Product, hp.Version, hp.Info, hp.OS = s.Service, s.TLS, s.Product, s.Version, s.Info, s.OS
				hp.Confidence, hp.Method, hp.CPE, hp.FP = s.Confidence, s.Method, s.CPE, s.Fingerprint
				hp.Probes = strings.Join(s.Probes, ", ")
				for _, t := range s.Stack {
					hp.Stack = append(hp.Stack, htmlTech{Product: t.Product, Version: t.Version, Role: t.Role,
						Confidence: t.Confidence, Sources: strings.Join(t.Sources, ", "), Evidence: t.Evidence})
				}
				keys := make([]string, 0, len(s.Evidence))
				for k := range s.Evidence {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					v := s.Evidence[k]
					if len(v) > 600 {
						v = v[:600] + "…"
					}
					hp.Evidence = append(hp.Evidence, htmlKV{k, v})
				}
				name := s.Service
				if name == "" {
					name = "unknown"
					doc.Unknown++
				} else {
					doc.Known++
				}
				if s.TLS {
					name += " (tls)"
				}
				services[name]++
				if s.Product != "" {
					products[strings.TrimSpace(s.Product+" "+s.Version)]++
				}
				hp.Detail = len(hp.Stack) > 0 || len(hp.Evidence) > 0 || hp.FP != "" || hp.Probes != ""
			}
			hp.Search = strings.ToLower(strings.Join([]string{hv.Host, hv.Hostname, hp.Port, hp.State, hp.Service, hp.Product, hp.Version, hp.Info, hp.OS, hp.CPE}, " "))
			for _, t := range hp.Stack {
				hp.Search += " " + strings.ToLower(t.Product+" "+t.Version)
			}
			words = append(words, hp.Search)
			x.Ports = append(x.Ports, hp)
		}
		for _, rec := range hv.Records {
			f := recordFields(rec)
			if rec.RecordType() == "finding" {
				hf := htmlFinding{
					Severity: strings.ToLower(firstNonEmpty(str(f["severity"]), "info")),
					ID:       firstNonEmpty(str(f["id"]), str(f["cve"]), str(f["check"]), str(f["name"])),
					Title:    firstNonEmpty(str(f["title"]), str(f["name"]), str(f["description"])),
				}
				if p := str(f["port"]); p != "" && p != "0" {
					hf.Port = p
				}
				hf.Status = str(f["status"])
				hf.Search = strings.ToLower(hv.Host + " " + hf.Severity + " " + hf.ID + " " + hf.Title + " " + hf.Port)
				words = append(words, hf.Search)
				x.Findings = append(x.Findings, hf)
				severity[hf.Severity]++
				doc.Findings++
				continue
			}
			hr := htmlRecord{Type: rec.RecordType()}
			keys := make([]string, 0, len(f))
			for k := range f {
				if k != "type" && k != "host" {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				v := str(f[k])
				if len(v) > 600 {
					v = v[:600] + "…"
				}
				hr.Fields = append(hr.Fields, htmlKV{k, v})
			}
			x.Others = append(x.Others, hr)
		}
		sort.SliceStable(x.Findings, func(a, b int) bool {
			return severityRank(x.Findings[a].Severity) > severityRank(x.Findings[b].Severity)
		})
		x.Search = strings.ToLower(strings.Join(words, " "))
		doc.Hosts = append(doc.Hosts, x)
	}
	doc.Empty = len(doc.Hosts) == 0
	doc.Services = bars(services, 20)
	doc.Products = bars(products, 20)
	doc.Severity = bars(severity, 10)
	sort.SliceStable(doc.Severity, func(a, b int) bool {
		return severityRank(doc.Severity[a].Label) > severityRank(doc.Severity[b].Label)
	})
	return htmlTmpl.Execute(h.w, doc)
}

// bars sorts counts, largest first, keeping the n largest.
func bars(m map[string]int, n int) []htmlBar {
	out := make([]htmlBar, 0, len(m))
	for k, v := range m {
		out = append(out, htmlBar{Label: k, N: v})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].N != out[b].N {
			return out[a].N > out[b].N
		}
		return out[a].Label < out[b].Label
	})
	if len(out) > n {
		out = out[:n]
	}
	for i := range out {
		out[i].Width = 100 * float64(out[i].N) / float64(out[0].N)
	}
	return out
}

// severityRank orders severities, unknown ones lowest.
func severityRank(s string) int {
	switch s {
	case "critical":
		return 5
	case "high":
		return 4
	case "medium", "moderate":
		return 3
	case "low":
		return 2
	case "info", "informational", "none":
		return 1
	}
	return 0
}

func humanTime(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
