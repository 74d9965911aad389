package report

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
)

// JSONL writes one typed record per line and flushes each line at once, so
// a consumer (or a crash) sees every record that was produced.
type JSONL struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// NewJSONL returns a JSONL sink.
func NewJSONL(w io.Writer) *JSONL {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &JSONL{w: bw, enc: enc}
}

func (j *JSONL) put(v any) error {
	if err := j.enc.Encode(v); err != nil {
		return err
	}
	return j.w.Flush()
}

func (j *JSONL) Begin(m scan.Meta) error { m.Type = "scan"; return j.put(m) }

func (j *JSONL) Host(h scan.HostRecord) error { h.Type = "host"; return j.put(h) }

func (j *JSONL) Port(p scan.PortRecord) error { p.Type = "port"; return j.put(p) }

func (j *JSONL) Service(s *fingerprint.Service) error { return j.put(s) }

func (j *JSONL) Record(r scan.Record) error { return j.put(r) }

func (j *JSONL) Error(e scan.ErrorRecord) error { e.Type = "error"; return j.put(e) }

type wallMeta struct {
	WallTimeS float64 `json:"wall_time_s"`
	Scanner   string  `json:"scanner"`
}

// End writes the closing record. Its "_meta" key carries the wall time in
// the shape generic scorers (the lab's score.py) read.
func (j *JSONL) End(m scan.Meta) error {
	m.Type = "scan-end"
	return j.put(struct {
		scan.Meta
		X wallMeta `json:"_meta"`
	}{m, wallMeta{WallTimeS: m.WallTimeS, Scanner: m.Scanner}})
}
