package report

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
)

// finding is a later stage's record as the reports see it.
type finding struct {
	Type     string `json:"type"`
	Host     string `json:"host"`
	Port     int    `json:"port,omitempty"`
	ID       string `json:"id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
}

func (f finding) RecordType() string { return "finding" }
func (f finding) RecordHost() string { return f.Host }

// labScan feeds a two-host scan; v2 changes what a second run would see:
// nginx upgraded, ssh gone, MariaDB added.
func labScan(t *testing.T, s scan.Sink, v2 bool) {
	t.Helper()
	nginx := "1.22.1"
	if v2 {
		nginx = "1.24.0"
	}
	svc := func(host string, port int, name, product, version, cpe string, tls bool) *fingerprint.Service {
		return &fingerprint.Service{Type: "service", Host: host, Port: port, Transport: "tcp", State: "open", Service: name,
			Product: product, Version: version, CPE: cpe, TLS: tls, Confidence: 95, Method: "probed",
			Stack: []fingerprint.Tech{{Product: product, Version: version, Role: "server", Confidence: 95, CPE: cpe},
				{Product: "Debian", Role: "os", Confidence: 80, CPE: "cpe:2.3:o:debian:debian_linux:*:*:*:*:*:*:*:*"}},
			Evidence: map[string]string{"x.banner": "hello <world> & \"friends\"\x00\x01"}}
	}
	steps := []error{s.Begin(scan.Meta{Scanner: "portrait test", Started: "2026-11-23T00:00:00Z", Targets: []string{"127.0.0.1", "127.0.0.2"}, Ports: 1000})}
	add := func(err error) { steps = append(steps, err) }
	add(s.Port(scan.PortRecord{Host: "127.0.0.1", Port: 80, Transport: "tcp", State: "open", Reason: "syn-ack"}))
	add(s.Port(scan.PortRecord{Host: "127.0.0.1", Port: 443, Transport: "tcp", State: "open", Reason: "syn-ack"}))
	if !v2 {
		add(s.Port(scan.PortRecord{Host: "127.0.0.1", Port: 22, Transport: "tcp", State: "open", Reason: "syn-ack"}))
		add(s.Service(svc("127.0.0.1", 22, "ssh", "OpenSSH", "9.2p1", "cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*", false)))
	} else {
		add(s.Port(scan.PortRecord{Host: "127.0.0.1", Port: 3306, Transport: "tcp", State: "open", Reason: "syn-ack"}))
		add(s.Service(svc("127.0.0.1", 3306, "mysql", "MariaDB", "10.11.11", "", false)))
	}
	add(s.Service(svc("127.0.0.1", 80, "http", "nginx", nginx, "cpe:2.3:a:f5:nginx:"+nginx+":*:*:*:*:*:*:*", false)))
	add(s.Service(svc("127.0.0.1", 443, "http", "nginx", nginx, "cpe:2.3:a:f5:nginx:"+nginx+":*:*:*:*:*:*:*", true)))
	add(s.Port(scan.PortRecord{Host: "127.0.0.1", Port: 9999, Transport: "tcp", State: "open", Reason: "syn-ack"}))
	add(s.Service(&fingerprint.Service{Type: "service", Host: "127.0.0.1", Port: 9999, Transport: "tcp", State: "open", Method: "matched",
		Fingerprint: "SF-Port9999-TCP:V=0.1%I=7%D=11/23%Time=0%P=portrait%r(NULL,4,\"hi\\r\\n\");"}))
	add(s.Host(scan.HostRecord{Host: "127.0.0.1", State: "up", Reason: "syn-ack", Open: 4, Closed: 996, RTTMS: 0.05}))
	add(s.Record(finding{Type: "finding", Host: "127.0.0.1", Port: 80, ID: "CVE-2023-44487", Title: "HTTP/2 rapid reset", Severity: "high"}))
	add(s.Port(scan.PortRecord{Host: "127.0.0.2", Hostname: "web-2.test", Port: 53, Transport: "udp", State: "open", Reason: "udp-response"}))
	add(s.Service(&fingerprint.Service{Type: "service", Host: "127.0.0.2", Hostname: "web-2.test", Port: 53, Transport: "udp", State: "open", Service: "domain", Product: "ISC BIND", Version: "9.18.49", Confidence: 90, Method: "probed"}))
	add(s.Host(scan.HostRecord{Host: "127.0.0.2", Hostname: "web-2.test", State: "up", Reason: "udp-response", Open: 1, Closed: 999}))
	add(s.Host(scan.HostRecord{Host: "127.0.0.3", State: "down", Reason: "no-response", Filtered: 1000}))
	add(s.End(scan.Meta{Scanner: "portrait test", Started: "2026-11-23T00:00:00Z", Finished: "2026-11-23T00:00:04Z", WallTimeS: 4.2, Hosts: 2, Open: 5}))
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

func TestNmapXMLShape(t *testing.T) {
	var b bytes.Buffer
	labScan(t, NewNmapXML(&b), false)
	out := b.String()
	var doc xNmapRun
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, out)
	}
	if doc.Scanner != "nmap" || doc.RunStats.Hosts.Up != 2 || doc.RunStats.Hosts.Down != 1 || len(doc.Hosts) != 2 {
		t.Errorf("nmaprun: scanner %q, hosts %+v, %d host elements", doc.Scanner, doc.RunStats.Hosts, len(doc.Hosts))
	}
	for _, want := range []string{
		`<cpe>cpe:/a:f5:nginx:1.22.1</cpe>`, `<cpe>cpe:/o:debian:debian_linux</cpe>`, `tunnel="ssl"`,
		`<extraports state="closed" count="996">`, `protocol="udp" portid="53"`, `<hostname name="web-2.test" type="user">`,
		`id="portrait-finding" output="port 80: CVE-2023-44487: HTTP/2 rapid reset (high)"`, `servicefp="SF-Port9999`,
		`name="unknown"`, `conf="9"`, `method="probed"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
}

func TestCPE22(t *testing.T) {
	for in, want := range map[string]string{
		"cpe:2.3:a:isc:bind:9.18.49:*:*:*:*:*:*:*":           "cpe:/a:isc:bind:9.18.49",
		"cpe:2.3:o:debian:debian_linux:*:*:*:*:*:*:*:*":      "cpe:/o:debian:debian_linux",
		"cpe:2.3:a:openbsd:openssh:9.2p1:-:*:*:*:*:*:*":      "cpe:/a:openbsd:openssh:9.2p1",
		`cpe:2.3:a:apache:http\:server:2.4.71:*:*:*:*:*:*:*`: "cpe:/a:apache:http:server:2.4.71",
		"cpe:/a:nginx:nginx:1.2":                             "cpe:/a:nginx:nginx:1.2",
		"":                                                   "",
		"nonsense":                                           "",
		"cpe:2.3:a":                                          "",
	} {
		if got := CPE22(in); got != want {
			t.Errorf("CPE22(%q) = %q, want %q", in, got, want)
		}
	}
}

// need finds a tool, skipping the test when it is missing outside the
// integration run (testenv/up.sh installs nmap, ndiff, libxml2-utils and
// chromium; there a missing tool fails the test).
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("PORTRAIT_INTEGRATION") == "1" {
			t.Fatalf("%s not installed (testenv/up.sh installs it)", tool)
		}
		t.Skipf("%s not installed", tool)
	}
	return p
}

// TestNmapXMLValidDTD validates the output against nmap's own DTD.
func TestNmapXMLValidDTD(t *testing.T) {
	xmllint := need(t, "xmllint")
	dtd := "/usr/share/nmap/nmap.dtd"
	if _, err := os.Stat(dtd); err != nil {
		if os.Getenv("PORTRAIT_INTEGRATION") == "1" {
			t.Fatalf("%s missing (Debian package nmap)", dtd)
		}
		t.Skip("nmap.dtd not installed")
	}
	dir := t.TempDir()
	for i, v2 := range []bool{false, true} {
		var b bytes.Buffer
		labScan(t, NewNmapXML(&b), v2)
		f := filepath.Join(dir, "scan"+itoa(i)+".xml")
		os.WriteFile(f, b.Bytes(), 0o644)
		out, err := exec.Command(xmllint, "--noout", "--dtdvalid", dtd, f).CombinedOutput()
		if err != nil {
			t.Errorf("not valid against nmap.dtd: %v\n%s", err, out)
		}
	}
	// An empty scan is valid too.
	var b bytes.Buffer
	s := NewNmapXML(&b)
	s.Begin(scan.Meta{})
	s.End(scan.Meta{})
	f := filepath.Join(dir, "empty.xml")
	os.WriteFile(f, b.Bytes(), 0o644)
	if out, err := exec.Command(xmllint, "--noout", "--dtdvalid", dtd, f).CombinedOutput(); err != nil {
		t.Errorf("empty scan not valid: %v\n%s", err, out)
	}
}

// TestNdiffAcceptsNmapXML is the acceptance test: Debian's ndiff reads two
// portrait XML reports and names exactly the changes between them.
func TestNdiffAcceptsNmapXML(t *testing.T) {
	ndiff := need(t, "ndiff")
	dir := t.TempDir()
	files := make([]string, 2)
	for i, v2 := range []bool{false, true} {
		var b bytes.Buffer
		labScan(t, NewNmapXML(&b), v2)
		files[i] = filepath.Join(dir, "scan"+itoa(i)+".xml")
		os.WriteFile(files[i], b.Bytes(), 0o644)
	}
	// Same file: no difference, exit 0.
	out, err := exec.Command(ndiff, files[0], files[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("ndiff of a report with itself: %v\n%s", err, out)
	}
	// Different: exit 1 and the changes listed.
	out, err = exec.Command(ndiff, files[0], files[1]).CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("ndiff exit %v (want 1: differences)\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"-22/tcp", "OpenSSH 9.2p1", "+3306/tcp", "MariaDB 10.11.11", "-80/tcp", "nginx 1.22.1", "+80/tcp", "nginx 1.24.0"} {
		if !strings.Contains(text, want) {
			t.Errorf("ndiff output lacks %q:\n%s", want, text)
		}
	}
	// And its XML mode parses them as well.
	out, err = exec.Command(ndiff, "--xml", files[0], files[1]).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "<nmapdiff") {
		t.Errorf("ndiff --xml: %v\n%s", err, out)
	}
}
