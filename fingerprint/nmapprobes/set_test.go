package nmapprobes

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
)

func sampleSet(t *testing.T) *Set {
	t.Helper()
	f, err := Parse(strings.NewReader(sample), "sample")
	if err != nil {
		t.Fatal(err)
	}
	return Build(f)
}

func TestBuildSample(t *testing.T) {
	s := sampleSet(t)
	st := s.Stats()
	if st.Probes != 5 || st.TCPProbes != 4 || st.UDPProbes != 1 || st.MatchLines != 8 || st.Rules != 6 ||
		st.Soft != 1 || st.Skipped != 1 || st.Rejected != 1 {
		t.Errorf("stats %+v", st)
	}
	if p := s.Problems(); len(p) != 2 || p[0].Line != 10 || p[1].Line != 11 || !strings.Contains(p[0].Msg, "regex") {
		t.Errorf("problems %v", p)
	}
	byName := map[string]fingerprint.Rule{}
	for _, r := range s.Rules() {
		byName[r.Name] = r
	}
	ssh, ok := byName["nmap-7-ssh"]
	if !ok {
		t.Fatalf("no ssh rule in %v", byName)
	}
	if len(ssh.Patterns) != 2 || ssh.Patterns[0].Type != "banner" || ssh.Patterns[1].Type != "response" ||
		ssh.Patterns[1].Probe != "GetRequest,HTTPOptions,DNSReqTCP" {
		t.Errorf("NULL rule patterns %+v", ssh.Patterns)
	}
	p := ssh.Patterns[0]
	if ssh.Product != "OpenSSH" || ssh.Service != "ssh" || p.Version != "{2}" || p.Info != "protocol {1}" ||
		p.CPE != "cpe:/a:openbsd:openssh:{2}" || p.Dialect != "pcre" || p.Confidence != HardConfidence {
		t.Errorf("ssh rule %+v", ssh)
	}
	if r := byName["nmap-soft-9-ftp"]; r.Product != "" || r.Patterns[0].Confidence != SoftConfidence {
		t.Errorf("softmatch rule %+v", r)
	}
	if r := byName["nmap-17-http"]; len(r.Patterns) != 1 || r.Patterns[0].Probe != "GetRequest,HTTPOptions" {
		t.Errorf("GetRequest rule patterns %+v", r.Patterns)
	}
	if r := byName["nmap-27-domain"]; r.Patterns[0].Probe != "udp:DNSReq,DNSReqTCP" {
		t.Errorf("UDP rule read by a TCP fallback: %+v", r.Patterns)
	}
	var names []string
	for _, p := range s.Probes() {
		names = append(names, p.Name)
	}
	if !reflect.DeepEqual(names, []string{"GetRequest", "HTTPOptions", "udp:DNSReq"}) {
		t.Errorf("probes %v", names)
	}
	get := s.Probes()[0]
	if get.Payload != "GET / HTTP/1.0\r\n\r\n" || get.Rarity != 1 || get.Wait != "5000ms" ||
		!reflect.DeepEqual(get.Ports, []int{80, 81, 82, 8080}) || !reflect.DeepEqual(get.TLSPorts, []int{443}) {
		t.Errorf("GetRequest %+v", get)
	}
	if opt := s.Probes()[1]; opt.Fallback != "GetRequest,NULL" || opt.Rarity != 4 {
		t.Errorf("HTTPOptions %+v", opt)
	}
	m := s.Mode(-1)
	if m.Intensity != 7 || len(m.Probes) != 2 || !reflect.DeepEqual(m.Exclude, []int{9100, 9101, 9102}) ||
		m.TCPWrapped != 3*time.Second || m.Answer != fingerprint.NmapAnswer {
		t.Errorf("mode %+v", m)
	}
	if !reflect.DeepEqual(m.Fallbacks["HTTPOptions"], []string{"HTTPOptions", "GetRequest", "NULL"}) ||
		!reflect.DeepEqual(m.Fallbacks["DNSReqTCP"], []string{"DNSReqTCP", "udp:DNSReq", "NULL"}) {
		t.Errorf("fallbacks %v", m.Fallbacks)
	}
	if r := m.Rules["nmap-soft-9-ftp"]; !r.Soft || r.Probe != "NULL" || r.Line != 9 {
		t.Errorf("rule place %+v", r)
	}
	if !reflect.DeepEqual(m.Services["NULL"], []string{"ssh", "ftp", "broken"}) {
		t.Errorf("services %v", m.Services["NULL"])
	}
}

// TestSampleThroughCatalog runs the converted rules through the engine's
// matcher: templates, fallbacks and Latin-1 all as nmap would.
func TestSampleThroughCatalog(t *testing.T) {
	s := sampleSet(t)
	cat := fingerprint.NewCatalog()
	if err := cat.Add(s.Rules()...); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		fields map[string]string
		want   fingerprint.Match
	}{
		{"banner", map[string]string{"banner": "SSH-2.0-OpenSSH_9.2p1\r\n"},
			fingerprint.Match{Rule: "nmap-7-ssh", Product: "OpenSSH", Version: "9.2p1", Info: "protocol 2.0", CPE: "cpe:/a:openbsd:openssh:9.2p1", Service: "ssh"}},
		{"NULL rules read other probes' answers", map[string]string{"probe.GetRequest": "SSH-2.0-OpenSSH_8.4\n"},
			fingerprint.Match{Rule: "nmap-7-ssh", Product: "OpenSSH", Version: "8.4", Info: "protocol 2.0", CPE: "cpe:/a:openbsd:openssh:8.4", Service: "ssh"}},
		{"hostname and os", map[string]string{"banner": "220 ftp.example FTP ready\r\n"},
			fingerprint.Match{Rule: "nmap-8-ftp", Product: "ExampleFTP", Hostname: "ftp.example", OS: "Unix", Service: "ftp"}},
		{"fallback probe and SUBST", map[string]string{"probe.HTTPOptions": "HTTP/1.1 200 OK\r\nServer: Example/1_2_3\r\n\r\n"},
			fingerprint.Match{Rule: "nmap-17-http", Product: "Example httpd", Version: "1.2.3", Device: "router", CPE: "cpe:/a:example:httpd:1.2.3", Service: "http"}},
		{"binary answer, UDP rule via a TCP fallback", map[string]string{"probe.DNSReqTCP": fingerprint.Latin1([]byte("\x00\x06\x81\xff"))},
			fingerprint.Match{Rule: "nmap-27-domain", Product: "Example DNS", Service: "domain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := cat.Match(tt.fields)
			if len(ms) == 0 {
				t.Fatal("no match")
			}
			g := ms[0]
			got := fingerprint.Match{Rule: g.Rule, Product: g.Product, Version: g.Version, Info: g.Info, CPE: g.CPE,
				Service: g.Service, Hostname: g.Hostname, OS: g.OS, Device: g.Device}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	// The softmatch also fires on an FTP greeting, below the hard match.
	ms := cat.Match(map[string]string{"banner": "220 box FTP ready\r\n"})
	if len(ms) != 2 || ms[1].Rule != "nmap-soft-9-ftp" || ms[1].Confidence != SoftConfidence {
		t.Errorf("soft match: %+v", ms)
	}
}
