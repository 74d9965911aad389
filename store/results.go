package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
)

// maxLine bounds one record of results.jsonl: a service record with its
// evidence and SF fingerprint is a few KiB; 16 MiB leaves room for stage
// records (findings lists) while keeping a corrupt file from exhausting
// memory.
const maxLine = 16 << 20

// RawRecord is a later stage's record (asset, finding...) read back from an
// archive. It keeps the JSON as written, so re-rendering and re-archiving
// lose nothing, and satisfies scan.Record.
type RawRecord struct {
	Type string
	Host string
	Port int // 0 when the record is about the whole host
	Raw  json.RawMessage
}

func (r *RawRecord) RecordType() string { return r.Type }
func (r *RawRecord) RecordHost() string { return r.Host }

// MarshalJSON returns the record exactly as it was archived.
func (r *RawRecord) MarshalJSON() ([]byte, error) { return r.Raw, nil }

// Finding is the common shape of "finding" records, read leniently: the
// stages that write findings may name their fields differently (id or cve,
// title or name), and the workspace only needs these to index, diff and
// notify.
type Finding struct {
	Host     string   `json:"host"`
	Port     int      `json:"port,omitempty"`
	ID       string   `json:"id,omitempty"`
	Title    string   `json:"title,omitempty"`
	Severity string   `json:"severity,omitempty"`
	Tags     []string `json:"tags,omitempty"`
}

// AsFinding decodes a "finding" record into its common fields.
func (r *RawRecord) AsFinding() Finding {
	var f struct {
		Finding
		CVE   string `json:"cve"`
		Name  string `json:"name"`
		Check string `json:"check"`
	}
	_ = json.Unmarshal(r.Raw, &f)
	out := f.Finding
	out.Host = r.Host
	out.ID = firstNonEmpty(out.ID, f.CVE, f.Check, f.Name)
	out.Title = firstNonEmpty(out.Title, f.Name, out.ID)
	return out
}

// Results is an archived scan's record stream, parsed.
type Results struct {
	Begin    *scan.Meta // the "scan" record
	End      *scan.Meta // the "scan-end" record; nil while the scan is unfinished
	Hosts    []scan.HostRecord
	Ports    []scan.PortRecord
	Services []*fingerprint.Service
	Errors   []scan.ErrorRecord
	Records  []*RawRecord
	// Order lists every record in file order (for replay): each element is
	// one of the pointers/values above, boxed.
	Order []any
	// Torn is the number of bytes after the last complete line: the tail of
	// a write cut short by a crash. Readers ignore it; a resumed archive
	// truncates it before appending.
	Torn int64
	// Size is the offset just after the last complete line.
	Size int64
}

// Key identifies a port across records: host, transport and number.
type Key struct {
	Host      string
	Transport string
	Port      int
}

func (k Key) String() string { return k.Host + ":" + strconv.Itoa(k.Port) + "/" + k.Transport }

// PortKey and ServiceKey build keys from records.
func PortKey(p scan.PortRecord) Key { return Key{p.Host, transportOf(p.Transport), p.Port} }

// ServiceKey is the key of a service record.
func ServiceKey(s *fingerprint.Service) Key { return Key{s.Host, transportOf(s.Transport), s.Port} }

func transportOf(t string) string {
	if t == "" {
		return "tcp"
	}
	return t
}

// ReadResultsFile reads an archive's results.jsonl.
func ReadResultsFile(path string) (*Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ReadResults(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ReadResults parses a JSONL record stream. A last line without its newline
// is the torn tail of an interrupted write and is left out (Torn says how
// long it is); a complete line that is not JSON is an error.
func ReadResults(r io.Reader) (*Results, error) {
	res := &Results{}
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	line := 0
	for {
		b, err := readLine(br)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			// Torn tail (or a line over maxLine, which we refuse to hold).
			res.Torn = int64(len(b))
			if errors.Is(err, errTooLong) {
				return nil, fmt.Errorf("line %d longer than %d bytes", line+1, maxLine)
			}
			break
		}
		if len(b) > 0 {
			line++
			off += int64(len(b))
			if t := bytes.TrimSpace(b); len(t) > 0 {
				if err := res.add(t); err != nil {
					return nil, fmt.Errorf("line %d: %w", line, err)
				}
			}
			res.Size = off
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
	}
	return res, nil
}

var errTooLong = errors.New("line too long")

// readLine returns one line with its newline, or the partial tail at EOF.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxLine {
			return buf, errTooLong
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return buf, err
	}
}

type typed struct {
	Type string `json:"type"`
	Host string `json:"host"`
	Port int    `json:"port"`
}

func (res *Results) add(b []byte) error {
	var t typed
	if err := json.Unmarshal(b, &t); err != nil {
		return err
	}
	switch t.Type {
	case "scan", "scan-end":
		var m scan.Meta
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		if t.Type == "scan" {
			res.Begin = &m
		} else {
			res.End = &m
		}
		res.Order = append(res.Order, &m)
	case "host":
		var h scan.HostRecord
		if err := json.Unmarshal(b, &h); err != nil {
			return err
		}
		res.Hosts = append(res.Hosts, h)
		res.Order = append(res.Order, h)
	case "port":
		var p scan.PortRecord
		if err := json.Unmarshal(b, &p); err != nil {
			return err
		}
		res.Ports = append(res.Ports, p)
		res.Order = append(res.Order, p)
	case "service":
		s := &fingerprint.Service{}
		if err := json.Unmarshal(b, s); err != nil {
			return err
		}
		res.Services = append(res.Services, s)
		res.Order = append(res.Order, s)
	case "error":
		var e scan.ErrorRecord
		if err := json.Unmarshal(b, &e); err != nil {
			return err
		}
		res.Errors = append(res.Errors, e)
		res.Order = append(res.Order, e)
	case "":
		return errors.New(`record without "type"`)
	default:
		r := &RawRecord{Type: t.Type, Host: t.Host, Port: t.Port, Raw: append(json.RawMessage(nil), b...)}
		res.Records = append(res.Records, r)
		res.Order = append(res.Order, r)
	}
	return nil
}

// Complete tells whether the scan ran to its end.
func (res *Results) Complete() bool { return res.End != nil }

// Meta is the best closing metadata available: the scan-end record, else
// the opening one with the totals counted from the records.
func (res *Results) Meta() scan.Meta {
	if res.End != nil {
		return *res.End
	}
	var m scan.Meta
	if res.Begin != nil {
		m = *res.Begin
	}
	m.Hosts, m.Open = res.count()
	return m
}

func (res *Results) count() (hosts, open int) {
	for _, h := range res.Hosts {
		if h.State == "up" {
			hosts++
		}
	}
	for _, p := range res.Ports {
		if p.State == "open" {
			open++
		}
	}
	return hosts, open
}

// Replay feeds the records into a sink in their archived order, as the
// scan did. A scan without its end record gets one made from what is
// there, so every sink finishes its document.
func (res *Results) Replay(s scan.Sink) error {
	begin := scan.Meta{}
	if res.Begin != nil {
		begin = *res.Begin
	}
	if err := s.Begin(begin); err != nil {
		return err
	}
	if err := res.ReplayBody(s); err != nil {
		return err
	}
	return s.End(res.Meta())
}

// ReplayBody feeds every record but the opening and closing ones.
func (res *Results) ReplayBody(s scan.Sink) error {
	for _, x := range res.Order {
		var err error
		switch v := x.(type) {
		case scan.HostRecord:
			err = s.Host(v)
		case scan.PortRecord:
			err = s.Port(v)
		case *fingerprint.Service:
			err = s.Service(v)
		case scan.ErrorRecord:
			err = s.Error(v)
		case *RawRecord:
			err = s.Record(v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Findings lists the "finding" records.
func (res *Results) Findings() []Finding {
	var out []Finding
	for _, r := range res.Records {
		if r.Type == "finding" {
			out = append(out, r.AsFinding())
		}
	}
	return out
}

// ServiceMap indexes the service records by port key (the last record of a
// key wins, as in the scan).
func (res *Results) ServiceMap() map[Key]*fingerprint.Service {
	m := make(map[Key]*fingerprint.Service, len(res.Services))
	for _, s := range res.Services {
		m[ServiceKey(s)] = s
	}
	return m
}

// HostNames lists the hosts seen in any record, sorted.
func (res *Results) HostNames() []string {
	seen := map[string]bool{}
	for _, h := range res.Hosts {
		seen[h.Host] = true
	}
	for _, p := range res.Ports {
		seen[p.Host] = true
	}
	for _, s := range res.Services {
		seen[s.Host] = true
	}
	out := make([]string, 0, len(seen))
	for h := range seen {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
