package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
)

// CSVColumns are stable: new columns are only ever appended.
var CSVColumns = []string{"host", "hostname", "port", "transport", "state", "service", "tls", "product", "version", "extrainfo", "os", "confidence", "cpe", "method", "stack"}

// CSV writes one row per identified port as it arrives.
type CSV struct{ w *csv.Writer }

// NewCSV returns a CSV sink.
func NewCSV(w io.Writer) *CSV { return &CSV{w: csv.NewWriter(w)} }

func (c *CSV) Begin(scan.Meta) error { return c.flush(c.w.Write(CSVColumns)) }

func (c *CSV) Host(scan.HostRecord) error { return nil }

func (c *CSV) Port(p scan.PortRecord) error { return nil }

func (c *CSV) Service(s *fingerprint.Service) error {
	var stack []string
	for _, t := range s.Stack {
		stack = append(stack, strings.TrimSpace(t.Product+" "+t.Version))
	}
	return c.flush(c.w.Write([]string{s.Host, s.Hostname, strconv.Itoa(s.Port), s.Transport, s.State, s.Service,
		strconv.FormatBool(s.TLS), s.Product, s.Version, s.Info, s.OS, strconv.Itoa(s.Confidence), s.CPE, s.Method,
		strings.Join(stack, "; ")}))
}

func (c *CSV) Record(scan.Record) error { return nil }

func (c *CSV) Error(scan.ErrorRecord) error { return nil }

func (c *CSV) End(scan.Meta) error { c.w.Flush(); return c.w.Error() }

func (c *CSV) flush(err error) error {
	if err != nil {
		return err
	}
	c.w.Flush()
	return c.w.Error()
}
