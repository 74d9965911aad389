package diff

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"text/tabwriter"
)

// Formats are the renderings of a diff.
var Formats = []string{"table", "json", "html"}

// Write renders the diff in a format.
func (d *Diff) Write(w io.Writer, format string) error {
	switch strings.ToLower(format) {
	case "", "table":
		return d.WriteTable(w)
	case "json":
		return d.WriteJSON(w)
	case "html":
		return d.WriteHTML(w)
	}
	return fmt.Errorf("unknown diff format %q (available: %s)", format, strings.Join(Formats, ", "))
}

// WriteJSON writes the diff as one JSON document.
func (d *Diff) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// WriteTable writes one line per change, marked + (added), - (removed) or
// ~ (changed), in the style of ndiff.
func (d *Diff) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "portrait diff %s -> %s: %s\n", d.A.ID, d.B.ID, d.Summary())
	if d.Empty() {
		return nil
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nCHANGE\tWHERE\tBEFORE\tAFTER\tSEVERITY")
	for _, c := range d.Changes {
		mark := "~"
		switch c.Kind {
		case HostAdded, PortOpened, FindingAdded:
			mark = "+"
		case HostRemoved, PortClosed, FindingRemoved:
			mark = "-"
		}
		where := c.Where()
		if c.Hostname != "" {
			where += " (" + c.Hostname + ")"
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\n", mark, c.Kind, where, dash(c.Before), dash(c.After), c.Severity)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var htmlTmpl = template.Must(template.New("diff").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>portrait diff {{.A.ID}} → {{.B.ID}}</title>
<style>
body{margin:0;font:14px/1.45 system-ui,"DejaVu Sans",sans-serif;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:16px 28px}h1{margin:0;font-size:20px}
main{padding:18px 28px}.meta{color:#b9c2cf;margin:4px 0 0}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e7}
th,td{border-bottom:1px solid #dde1e7;padding:6px 10px;text-align:left}
th{font-size:12px;color:#5f6b7a;text-transform:uppercase}
.add td:first-child{border-left:4px solid #17a673}.del td:first-child{border-left:4px solid #c0392b}.chg td:first-child{border-left:4px solid #d9822b}
.sev{font-size:12px;padding:1px 8px;border-radius:10px;background:#eef0f3}
.sev-high,.sev-critical{background:#c0392b;color:#fff}.sev-medium{background:#d9822b;color:#fff}.sev-low{background:#d4b106}
.counts span{display:inline-block;margin:0 12px 10px 0;background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:6px 12px}
</style></head><body>
<header><h1>Changes from {{.A.ID}} to {{.B.ID}}</h1>
<p class="meta">before: {{.A.Started}} · {{.A.Hosts}} hosts, {{.A.Open}} open ports — after: {{.B.Started}} · {{.B.Hosts}} hosts, {{.B.Open}} open ports</p></header>
<main>
<p class="counts">{{range $k, $n := .Counts}}<span><b>{{$n}}</b> {{$k}}</span>{{else}}No change.{{end}}</p>
{{if .Changes}}<table><thead><tr><th>Change</th><th>Where</th><th>Before</th><th>After</th><th>Severity</th></tr></thead><tbody>
{{range .Changes}}<tr class="{{if or (eq .Kind "host-added") (eq .Kind "port-opened") (eq .Kind "finding-added")}}add{{else if or (eq .Kind "host-removed") (eq .Kind "port-closed") (eq .Kind "finding-removed")}}del{{else}}chg{{end}}"><td>{{.Kind}}</td><td>{{.Where}}{{if .Hostname}} ({{.Hostname}}){{end}}</td><td>{{.Before}}</td><td>{{.After}}</td><td><span class="sev sev-{{.Severity}}">{{.Severity}}</span></td></tr>
{{end}}</tbody></table>{{end}}
</main></body></html>
`))

// WriteHTML writes a self-contained HTML page of the changes.
func (d *Diff) WriteHTML(w io.Writer) error { return htmlTmpl.Execute(w, d) }
