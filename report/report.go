// Package report renders the scan's record stream: JSONL (streamed as
// records arrive), one JSON document, CSV, a terminal table, nmap's XML
// and a self-contained HTML report.
package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/portrait-scanner/portrait/scan"
)

// Formats lists the output formats this build writes.
var Formats = []string{"table", "json", "jsonl", "csv", "nmap-xml", "html"}

// New returns the sink for a format name.
func New(format string, w io.Writer, verbose bool) (scan.Sink, error) {
	switch strings.ToLower(format) {
	case "table", "":
		return NewTable(w, verbose), nil
	case "jsonl":
		return NewJSONL(w), nil
	case "json":
		return NewJSON(w), nil
	case "csv":
		return NewCSV(w), nil
	case "nmap-xml", "xml":
		return NewNmapXML(w), nil
	case "html":
		return NewHTML(w), nil
	}
	return nil, fmt.Errorf("unknown output format %q (available: %s)", format, strings.Join(Formats, ", "))
}
