package profile

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
)

// loadServices reads service records recorded from the lab (portrait scan
// -o jsonl, service lines only).
func loadServices(t *testing.T, path string) []*fingerprint.Service {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*fingerprint.Service
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var s fingerprint.Service
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		if s.Type == "service" {
			out = append(out, &s)
		}
	}
	return out
}

func TestLabProfile(t *testing.T) {
	svcs := loadServices(t, "testdata/lab-services.jsonl")
	a := Build(scan.HostRecord{Host: "127.0.0.1", State: "up"}, svcs)
	if a.OS == nil {
		t.Fatal("no OS")
	}
	if a.OS.Family != "Linux" || a.OS.Distribution != "Debian" || a.OS.Release != "12" || a.OS.Kernel != "6.18.44" || !a.OS.Backports {
		t.Errorf("OS %+v", a.OS)
	}
	if a.OS.Name != "Debian 12 (bookworm)" || a.OS.Confidence < 70 {
		t.Errorf("OS name %q confidence %d", a.OS.Name, a.OS.Confidence)
	}
	// Samba's NTLM "6.1.0" is shown, not counted.
	ignored := false
	for _, s := range a.OS.Evidence {
		if s.Source == "smb.ntlm.os_version" && s.Ignored != "" {
			ignored = true
		}
	}
	if !ignored {
		t.Error("Samba's NTLM version not listed as ignored")
	}
	if a.DeviceType.Value != "server" || a.DeviceType.Confidence < 80 {
		t.Errorf("device %+v", a.DeviceType)
	}
	for _, f := range []string{"web", "mail", "dns", "database", "directory", "file", "remote access", "messaging", "print", "coordination", "cache", "proxy"} {
		if !contains(a.Functions, f) {
			t.Errorf("function %q missing from %v", f, a.Functions)
		}
	}
	roles := map[string]string{}
	for _, it := range a.Stack {
		roles[it.Product] = it.Role
	}
	for p, r := range map[string]string{"nginx": "web server", "Apache Tomcat": "application server", "Postfix smtpd": "mail transfer agent",
		"MariaDB": "database server", "Redis key-value store": "key-value store", "OpenSSH": "remote access", "ISC BIND": "DNS server",
		"Squid http proxy": "proxy", "OpenLDAP": "directory server"} {
		if roles[p] != r {
			t.Errorf("role of %s = %q, want %q", p, roles[p], r)
		}
	}
	// OpenSSH on two ports is one stack item.
	for _, it := range a.Stack {
		if it.Product == "OpenSSH" && len(it.Ports) != 2 {
			t.Errorf("OpenSSH ports %v", it.Ports)
		}
	}
	if !contains(a.Names, "localhost") || !contains(a.Names, "lab.local") {
		t.Errorf("names %v", a.Names)
	}
	b, _ := json.Marshal(a)
	if !strings.Contains(string(b), `"type":"asset"`) {
		t.Errorf("json %s", b)
	}
}

func TestConflictsLowerConfidence(t *testing.T) {
	svcs := []*fingerprint.Service{
		{Port: 22, Product: "OpenSSH", Version: "9.2p1", Service: "ssh", Evidence: map[string]string{"ssh.comment": "Debian-2+deb12u10"}},
		{Port: 80, Product: "Apache httpd", Service: "http", Evidence: map[string]string{"http.header.server": "Apache/2.4.41 (Ubuntu)"}},
		{Port: 3389, Product: "Microsoft Terminal Services", Service: "ms-wbt-server", Evidence: map[string]string{"rdp.ntlm.os_version": "10.0.17763"}},
	}
	a := Build(scan.HostRecord{Host: "10.0.0.1", State: "up"}, svcs)
	if a.OS == nil || len(a.OS.Conflicts) == 0 {
		t.Fatalf("want conflicts: %+v", a.OS)
	}
	clean := Build(scan.HostRecord{Host: "10.0.0.1", State: "up"}, svcs[:1])
	if clean.OS.Confidence <= a.OS.Confidence {
		t.Errorf("conflicts did not lower confidence: %d vs %d", a.OS.Confidence, clean.OS.Confidence)
	}
}

func TestWindowsWorkstation(t *testing.T) {
	svcs := []*fingerprint.Service{
		{Port: 445, Product: "Microsoft Windows SMB", Service: "microsoft-ds", Evidence: map[string]string{"smb.ntlm.os_version": "6.1.7601"}},
		{Port: 3389, Service: "ms-wbt-server", Evidence: map[string]string{"rdp.ntlm.os_version": "6.1.7601"}},
	}
	a := Build(scan.HostRecord{Host: "10.0.0.2", State: "up"}, svcs)
	if a.OS == nil || a.OS.Family != "Windows" || a.OS.Name != "Windows 7 / Server 2008 R2" {
		t.Fatalf("%+v", a.OS)
	}
	if a.DeviceType.Value != "server" { // file sharing is a server role
		t.Errorf("device %+v", a.DeviceType)
	}
	p := Build(scan.HostRecord{Host: "10.0.0.3", State: "up"}, []*fingerprint.Service{{Port: 9100, Service: "jetdirect", Device: "printer", Product: "HP LaserJet"}})
	if p.DeviceType.Value != "printer" {
		t.Errorf("printer %+v", p.DeviceType)
	}
}
