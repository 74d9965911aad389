package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
)

func feed(t *testing.T, s scan.Sink) {
	t.Helper()
	steps := []error{
		s.Begin(scan.Meta{Scanner: "portrait test", Targets: []string{"127.0.0.1"}, Ports: 2}),
		s.Error(scan.ErrorRecord{Target: "nope.invalid", Error: "no such host"}),
		s.Port(scan.PortRecord{Host: "127.0.0.1", Port: 80, Transport: "tcp", State: "open", Reason: "syn-ack"}),
		s.Service(&fingerprint.Service{Type: "service", Host: "127.0.0.1", Port: 80, Transport: "tcp", State: "open",
			Service: "http", Product: "nginx", Version: "1.22.1", Confidence: 95, Method: "probed",
			Stack: []fingerprint.Tech{{Product: "nginx", Version: "1.22.1", Role: "server", Confidence: 95, Sources: []string{"http_header"}}}}),
		s.Service(&fingerprint.Service{Type: "service", Host: "127.0.0.1", Port: 443, Transport: "tcp", State: "open",
			Service: "http", TLS: true, Tunnel: "ssl", Product: "nginx", Confidence: 90, Method: "probed"}),
		s.Host(scan.HostRecord{Host: "127.0.0.1", State: "up", Reason: "syn-ack", Open: 2}),
		s.End(scan.Meta{Scanner: "portrait test", WallTimeS: 1.5, Hosts: 1, Open: 2}),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

func TestJSONLRecords(t *testing.T) {
	var b bytes.Buffer
	feed(t, NewJSONL(&b))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	wantTypes := []string{"scan", "error", "port", "service", "service", "host", "scan-end"}
	if len(lines) != len(wantTypes) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(wantTypes), b.String())
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d not JSON: %v", i+1, err)
		}
		if m["type"] != wantTypes[i] {
			t.Errorf("line %d type %v, want %s", i+1, m["type"], wantTypes[i])
		}
	}
	var svc map[string]any
	json.Unmarshal([]byte(lines[3]), &svc)
	for _, k := range []string{"host", "port", "transport", "service", "tls", "product", "version", "confidence"} {
		if _, ok := svc[k]; !ok {
			t.Errorf("service record lacks top-level %q", k)
		}
	}
	var end map[string]any
	json.Unmarshal([]byte(lines[6]), &end)
	if meta, ok := end["_meta"].(map[string]any); !ok || meta["wall_time_s"] != 1.5 {
		t.Errorf("scan-end lacks _meta wall time: %s", lines[6])
	}
}

func TestJSONDocument(t *testing.T) {
	var b bytes.Buffer
	feed(t, NewJSON(&b))
	var doc struct {
		Scan  scan.Meta `json:"scan"`
		Hosts []struct {
			Host     string                 `json:"host"`
			Services []*fingerprint.Service `json:"services"`
		} `json:"hosts"`
		Errors []scan.ErrorRecord `json:"errors"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Hosts) != 1 || len(doc.Hosts[0].Services) != 2 || doc.Hosts[0].Services[0].Port != 80 || len(doc.Errors) != 1 {
		t.Fatalf("document: %s", b.String())
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	feed(t, NewTable(&b, true))
	out := b.String()
	for _, want := range []string{
		"127.0.0.1:80/tcp", "open", "http", "nginx 1.22.1 (95%)",
		"ssl/http", "├── nginx 1.22.1 [server, 95%, http_header]", "error: nope.invalid: no such host",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, ":80/") > strings.Index(out, ":443/") {
		t.Error("rows not sorted by port")
	}
}

func TestCSV(t *testing.T) {
	var b bytes.Buffer
	feed(t, NewCSV(&b))
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(CSVColumns, ",") {
		t.Fatalf("rows: %v", rows)
	}
	if rows[1][7] != "nginx" || rows[1][8] != "1.22.1" || rows[2][6] != "true" {
		t.Errorf("row values: %v", rows[1:])
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := New("yaml", &bytes.Buffer{}, false); err == nil {
		t.Error("unknown format accepted")
	}
	for _, f := range []string{"html", "nmap-xml", "xml"} {
		if _, err := New(f, &bytes.Buffer{}, false); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
