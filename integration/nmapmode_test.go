package integration

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nmapData is where Debian's nmap-common installs nmap's data files. They
// are the user's, read from where nmap put them; portrait never ships them.
const nmapData = "/usr/share/nmap"

// nmapXML is the part of nmap's XML output the comparison reads.
type nmapXML struct {
	Hosts []struct {
		Ports []struct {
			Protocol string `xml:"protocol,attr"`
			Port     int    `xml:"portid,attr"`
			State    struct {
				State string `xml:"state,attr"`
			} `xml:"state"`
			Service struct {
				Name    string `xml:"name,attr"`
				Product string `xml:"product,attr"`
				Version string `xml:"version,attr"`
				Tunnel  string `xml:"tunnel,attr"`
			} `xml:"service"`
		} `xml:"ports>port"`
	} `xml:"host"`
}

// TestNmapModeAgreesWithNmap runs nmap -sV and portrait with nmap's files
// and --nmap-answer only over the same real servers, side by side: the
// issue's bar is the same service, product and version on ≥ 95% of ports.
func TestNmapModeAgreesWithNmap(t *testing.T) {
	needBinary(t)
	nmapBin, err := exec.LookPath("nmap")
	if err != nil {
		t.Skip("nmap is not installed (apt-get install nmap)")
	}
	probes, portTable := filepath.Join(nmapData, "nmap-service-probes"), filepath.Join(nmapData, "nmap-services")
	if _, err := os.Stat(probes); err != nil {
		t.Skipf("no %s", probes)
	}
	var ports []int
	for _, s := range loadServers(t) {
		if s.Port <= 0 || (s.Transport != "" && s.Transport != "tcp") {
			continue
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), 2*time.Second)
		if err != nil {
			continue
		}
		c.Close()
		ports = append(ports, s.Port)
	}
	if len(ports) < 5 {
		t.Skipf("only %d test servers run here", len(ports))
	}
	list := portList(ports)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	xmlPath := filepath.Join(t.TempDir(), "nmap.xml")
	start := time.Now()
	out, err := exec.CommandContext(ctx, nmapBin, "-sV", "-Pn", "-n", "--version-intensity", "7", "-p", list,
		"-oX", xmlPath, "127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("nmap: %v\n%s", err, tail(out, 2000))
	}
	nmapTime := time.Since(start)
	b, err := os.ReadFile(xmlPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc nmapXML
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("nmap XML: %v", err)
	}
	want := map[int]string{}
	for _, h := range doc.Hosts {
		for _, p := range h.Ports {
			if p.Protocol == "tcp" && p.State.State == "open" {
				want[p.Port] = answer(p.Service.Tunnel == "ssl", p.Service.Name, p.Service.Product, p.Service.Version)
			}
		}
	}

	r := runPortrait(t, 5*time.Minute, "scan", "127.0.0.1", "-p", list, "-o", "jsonl", "--no-vuln",
		"--nmap-probes", probes, "--nmap-answer", "only", "--nmap-services", portTable)
	if r.Exit != 0 || r.TimedOut {
		t.Fatalf("portrait exit %d (timed out: %v): %s", r.Exit, r.TimedOut, tail(r.Stderr, 2000))
	}
	recs, err := parseJSONL(r.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	same, total := 0, 0
	for _, p := range ports {
		w, ok := want[p]
		if !ok {
			continue // nmap did not see it open
		}
		total++
		got := "(no service record)"
		if s := services(recs, p); len(s) > 0 {
			got = answer(s[0].TLS, s[0].Service, s[0].Product, s[0].Version)
		}
		if got == w {
			same++
			continue
		}
		t.Logf("port %d: portrait %s, nmap %s", p, got, w)
	}
	t.Logf("agreement %d/%d ports; portrait %.1f s, nmap %.1f s", same, total, r.Elapsed.Seconds(), nmapTime.Seconds())
	if total == 0 || float64(same) < 0.95*float64(total) {
		t.Errorf("nmap mode agrees with nmap -sV on %d of %d ports, want ≥ 95%%", same, total)
	}
}

// answer is the triple compared, in one printable string.
func answer(tls bool, service, product, version string) string {
	service = strings.TrimSuffix(strings.TrimPrefix(service, "ssl/"), "?")
	if tls {
		service = "ssl/" + service
	}
	return fmt.Sprintf("%q %q %q", service, product, version)
}
