package diff

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/store"
)

func results(t *testing.T, lines ...string) *store.Results {
	t.Helper()
	r, err := store.ReadResults(strings.NewReader(strings.Join(lines, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const (
	begin  = `{"type":"scan","scanner":"portrait test","started":"2026-11-23T00:00:00Z","targets":["127.0.0.0/30"],"ports":1000}`
	h1up   = `{"type":"host","host":"127.0.0.1","state":"up","reason":"syn-ack","open":3}`
	h2up   = `{"type":"host","host":"127.0.0.2","hostname":"web-2","state":"up","reason":"syn-ack","open":1}`
	p22    = `{"type":"port","host":"127.0.0.1","port":22,"transport":"tcp","state":"open","reason":"syn-ack"}`
	p80    = `{"type":"port","host":"127.0.0.1","port":80,"transport":"tcp","state":"open","reason":"syn-ack"}`
	p443   = `{"type":"port","host":"127.0.0.1","port":443,"transport":"tcp","state":"open","reason":"syn-ack"}`
	p3306  = `{"type":"port","host":"127.0.0.1","port":3306,"transport":"tcp","state":"open","reason":"syn-ack"}`
	p53u   = `{"type":"port","host":"127.0.0.2","port":53,"transport":"udp","state":"open","reason":"udp-response"}`
	s22    = `{"type":"service","host":"127.0.0.1","port":22,"transport":"tcp","state":"open","service":"ssh","product":"OpenSSH","version":"9.2p1","confidence":100,"method":"probed"}`
	s80a   = `{"type":"service","host":"127.0.0.1","port":80,"transport":"tcp","state":"open","service":"http","product":"nginx","version":"1.22.1","confidence":100,"method":"probed"}`
	s80b   = `{"type":"service","host":"127.0.0.1","port":80,"transport":"tcp","state":"open","service":"http","product":"nginx","version":"1.24.0","confidence":100,"method":"probed"}`
	s443a  = `{"type":"service","host":"127.0.0.1","port":443,"transport":"tcp","state":"open","service":"http","tls":true,"product":"nginx","version":"1.22.1","confidence":100,"method":"probed"}`
	s443b  = `{"type":"service","host":"127.0.0.1","port":443,"transport":"tcp","state":"open","service":"http","tls":true,"product":"Apache httpd","version":"2.4.71","confidence":100,"method":"probed"}`
	s3306  = `{"type":"service","host":"127.0.0.1","port":3306,"transport":"tcp","state":"open","service":"mysql","product":"MariaDB","version":"10.11.11","confidence":100,"method":"probed"}`
	s53u   = `{"type":"service","host":"127.0.0.2","hostname":"web-2","port":53,"transport":"udp","state":"open","service":"domain","product":"ISC BIND","version":"9.18.49","confidence":90,"method":"probed"}`
	fA     = `{"type":"finding","host":"127.0.0.1","port":80,"id":"CVE-2023-44487","title":"HTTP/2 rapid reset","severity":"high"}`
	fB     = `{"type":"finding","host":"127.0.0.1","port":3306,"cve":"CVE-2024-0001","name":"made up","severity":"critical"}`
	endRec = `{"type":"scan-end","scanner":"portrait test","started":"2026-11-23T00:00:00Z","finished":"2026-11-23T00:00:03Z","wall_time_s":3,"targets":["127.0.0.0/30"],"ports":1000,"hosts":1,"open":3}`
)

func TestCompare(t *testing.T) {
	a := results(t, begin, p22, p80, p443, s22, s80a, s443a, h1up, fA, endRec)
	b := results(t, begin, p80, p443, p3306, s80b, s443b, s3306, h1up, fB, p53u, s53u, h2up, endRec)
	d := Compare("A", a, "B", b)
	got := map[string]string{}
	for _, c := range d.Changes {
		got[c.Kind+" "+c.Where()] = c.Before + " -> " + c.After + " [" + c.Severity + "]"
	}
	want := map[string]string{
		"port-closed 127.0.0.1:22/tcp":      "ssh OpenSSH 9.2p1 ->  [info]",
		"version-changed 127.0.0.1:80/tcp":  "http nginx 1.22.1 -> http nginx 1.24.0 [low]",
		"product-changed 127.0.0.1:443/tcp": "ssl/http nginx 1.22.1 -> ssl/http Apache httpd 2.4.71 [medium]",
		"port-opened 127.0.0.1:3306/tcp":    " -> mysql MariaDB 10.11.11 [medium]",
		"host-added 127.0.0.2":              " -> up [low]",
		"port-opened 127.0.0.2:53/udp":      " -> domain ISC BIND 9.18.49 [medium]",
		"finding-added 127.0.0.1:3306/tcp":  " -> CVE-2024-0001: made up (critical) [critical]",
		"finding-removed 127.0.0.1:80/tcp":  "CVE-2023-44487: HTTP/2 rapid reset (high) ->  [info]",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d changes, want %d: %v", len(got), len(want), got)
	}
	// Sorted by host then port.
	if d.Changes[0].Port != 22 || d.Changes[len(d.Changes)-1].Host != "127.0.0.2" {
		t.Errorf("order: %+v", d.Changes)
	}
	if s := d.Summary(); !strings.Contains(s, "2 port-opened") || !strings.Contains(s, "1 host-added") {
		t.Errorf("summary %q", s)
	}
	// Same scan: nothing.
	if d := Compare("A", a, "A", a); !d.Empty() || d.Summary() != "no change" {
		t.Errorf("self diff: %+v", d.Changes)
	}
}

func TestServiceChangeAndTLS(t *testing.T) {
	plain := `{"type":"service","host":"127.0.0.1","port":8443,"transport":"tcp","state":"open","service":"http","product":"nginx","version":"1","confidence":90,"method":"probed"}`
	tls := strings.Replace(plain, `"service":"http"`, `"service":"http","tls":true`, 1)
	p := `{"type":"port","host":"127.0.0.1","port":8443,"transport":"tcp","state":"open","reason":"syn-ack"}`
	d := Compare("A", results(t, begin, p, plain, h1up), "B", results(t, begin, p, tls, h1up))
	if len(d.Changes) != 1 || d.Changes[0].Kind != ServiceChanged || d.Changes[0].After != "ssl/http nginx 1" {
		t.Errorf("TLS added: %+v", d.Changes)
	}
	// An unfinished scan (no host record) still counts its hosts as up.
	d = Compare("A", results(t, begin), "B", results(t, begin, p))
	if d.Counts[HostAdded] != 1 || d.Counts[PortOpened] != 1 {
		t.Errorf("interrupted scan: %+v", d.Changes)
	}
}

func TestRender(t *testing.T) {
	a := results(t, begin, p22, s22, h1up, endRec)
	b := results(t, begin, p22, p80, s22, s80a, h1up, endRec)
	d := Compare("A", a, "B", b)
	for _, f := range Formats {
		var buf bytes.Buffer
		if err := d.Write(&buf, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out := buf.String()
		if !strings.Contains(out, "port-opened") || !strings.Contains(out, "nginx 1.22.1") {
			t.Errorf("%s output lacks the change:\n%s", f, out)
		}
		if f == "json" {
			var back Diff
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back.Changes) != 1 {
				t.Errorf("json: %v %+v", err, back)
			}
		}
		if f == "html" && strings.Contains(out, "http://") {
			t.Error("html fetches something")
		}
	}
	if err := d.Write(&bytes.Buffer{}, "pdf"); err == nil {
		t.Error("unknown format accepted")
	}
}
