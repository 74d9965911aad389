package vuln

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/profile"
	"github.com/portrait-scanner/portrait/scan"
	"github.com/portrait-scanner/portrait/vuln/builtin"
	"github.com/portrait-scanner/portrait/vuln/vulndb"
)

// The lab's service records, recorded with portrait scan -o jsonl (the
// profile package keeps them).
const (
	labServices  = "../profile/testdata/lab-services.jsonl"
	lab2Services = "../profile/testdata/lab2-services.jsonl"
)

func loadServices(t testing.TB, path string) []*fingerprint.Service {
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
		out = append(out, &s)
	}
	return out
}

// labNow is a time when the recorded certificates were valid: an hour
// into the life of Exim's two-hour certificate when the recording has it.
var labNow = time.Date(2026, 11, 23, 0, 30, 0, 0, time.UTC)

func init() {
	f, err := os.Open(labServices)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var s fingerprint.Service
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.Port == 2525 {
			if nb, err := time.Parse(time.RFC3339, s.Evidence["tls.cert.not_before"]); err == nil {
				labNow = nb.Add(time.Hour)
			}
		}
	}
}

func offline() *Stage {
	return New(Config{Sources: []vulndb.Source{builtin.Source{}}, Now: func() time.Time { return labNow }})
}

func keys(fs []*Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%d %s %s", f.Port, f.ID, f.Status))
	}
	sort.Strings(out)
	return out
}

// TestLabEvidence evaluates the recorded lab without active checks: what
// the fingerprint evidence alone shows.
func TestLabEvidence(t *testing.T) {
	svcs := loadServices(t, labServices)
	h := scan.HostRecord{Host: "127.0.0.1", State: "up"}
	a := profile.Build(h, svcs)
	got := keys(offline().Evaluate(context.Background(), h, svcs, a))
	want := []string{
		"21 ftp-cleartext confirmed",
		"22 CVE-2023-38408 potential", "22 CVE-2023-51385 potential", "22 CVE-2024-6387 potential",
		"23 telnet-cleartext confirmed",
		"25 smtp-vrfy confirmed", "25 tls-cert-self-signed confirmed",
		"80 eol:nginx:1.22 potential", "80 http-security-headers confirmed",
		"110 cleartext-auth-offered confirmed", "110 tls-cert-self-signed confirmed",
		"139 smb-signing-not-required confirmed",
		"143 cleartext-auth-offered confirmed", "143 tls-cert-self-signed confirmed",
		"443 eol:nginx:1.22 potential", "443 http-security-headers confirmed", "443 tls-cert-self-signed confirmed",
		"445 smb-signing-not-required confirmed",
		"631 http-security-headers confirmed",
		"993 tls-cert-self-signed confirmed", "995 tls-cert-self-signed confirmed",
		"2121 ftp-cleartext confirmed", "2181 zookeeper-open-commands confirmed",
		"2379 etcd-cleartext-api confirmed", "2380 etcd-cleartext-api confirmed",
		"2525 tls-cert-expiring confirmed", "2525 tls-cert-self-signed confirmed",
		"3021 ftp-cleartext confirmed",
		"3389 rdp-no-nla confirmed", "3389 tls-cert-self-signed confirmed",
		"4222 nats-no-auth confirmed",
		"6379 redis-no-auth confirmed",
		"8080 http-security-headers confirmed", "8081 http-security-headers confirmed",
		"5901 vnc-no-auth confirmed",
		"8222 http-security-headers confirmed",
		"9443 http-security-headers confirmed",
		"11211 memcached-no-auth confirmed",
		"15432 tls-cert-self-signed confirmed",
		"16379 redis-no-auth confirmed",
		"50022 CVE-2023-38408 potential", "50022 CVE-2023-51385 potential", "50022 CVE-2024-6387 potential",
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLab2Evidence(t *testing.T) {
	svcs := loadServices(t, lab2Services)
	h := scan.HostRecord{Host: "127.0.0.1", State: "up"}
	got := strings.Join(keys(offline().Evaluate(context.Background(), h, svcs, profile.Build(h, svcs))), "\n")
	for _, w := range []string{"20021 ftp-anonymous confirmed", "20022 ssh-weak-algorithms confirmed", "20053 dns-open-resolver confirmed",
		"20118 http-open-proxy confirmed", "20122 CVE-2023-48795 confirmed", "20883 mqtt-anonymous confirmed"} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	for _, no := range []string{"20379 redis-no-auth", "20080 http-open-proxy", "20081 http-open-proxy", "20055 dns-open-resolver", "20022 CVE-2023-48795"} {
		if strings.Contains(got, no) {
			t.Errorf("false positive %q", no)
		}
	}
}

func svc(port int, service string, ev map[string]string) *fingerprint.Service {
	return &fingerprint.Service{Host: "192.0.2.1", Port: port, Transport: "tcp", Service: service, Evidence: ev}
}

func ids(fs []*Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func TestChecks(t *testing.T) {
	hc := &hostCtx{now: labNow}
	tests := []struct {
		name string
		s    *fingerprint.Service
		want string
	}{
		{"anonymous ftp with tls", svc(21, "ftp", map[string]string{"ftp.banner": "220 x", "ftp.anonymous": "true", "ftp.starttls": "true"}), "ftp-anonymous"},
		{"ftp over implicit tls", &fingerprint.Service{Port: 990, Service: "ftp", TLS: true, Evidence: map[string]string{"ftp.banner": "220 x"}}, ""},
		{"redis protected", svc(6379, "redis", map[string]string{"redis.protected_mode": "true", "redis.error": "-DENIED"}), ""},
		{"redis auth", svc(6379, "redis", map[string]string{"redis.auth_required": "true"}), ""},
		{"memcached sasl", svc(11211, "memcached", map[string]string{"memcached.auth_required": "true"}), ""},
		{"mongodb open", svc(27017, "mongodb", map[string]string{"mongodb.auth_required": "false", "mongodb.version": "7.0.12"}), "mongodb-no-auth"},
		{"mongodb closed", svc(27017, "mongodb", map[string]string{"mongodb.auth_required": "true"}), ""},
		{"elasticsearch", svc(9200, "http", map[string]string{"http.status": "200", "http.body": `{"name":"n","tagline" : "You Know, for Search"}`, "http.header.content-type": "application/json"}), "elasticsearch-no-auth"},
		{"nats auth", svc(4222, "nats", map[string]string{"nats.version": "2.10.1", "nats.auth_required": "true"}), ""},
		{"mqtt refused", svc(1883, "mqtt", map[string]string{"mqtt.connack.code": "5"}), ""},
		{"vnc none among others", svc(5900, "vnc", map[string]string{"vnc.security_types": "19,1"}), "vnc-no-auth"},
		{"vnc type 16 is not 1", svc(5900, "vnc", map[string]string{"vnc.security_types": "16,2"}), ""},
		{"smb required", svc(445, "microsoft-ds", map[string]string{"smb.signing": "required", "smb.smb1": "false"}), ""},
		{"smb1", svc(445, "microsoft-ds", map[string]string{"smb.signing": "required", "smb.smb1": "true"}), "smbv1-enabled"},
		{"snmp public", &fingerprint.Service{Port: 161, Transport: "udp", Service: "snmp", Evidence: map[string]string{"snmp.community": "public"}}, "snmp-default-community"},
		{"dns no ra", svc(53, "domain", map[string]string{"dns.flags": "qr aa rd"}), ""},
		{"headers present", svc(80, "http", map[string]string{"http.status": "200", "http.header.content-type": "text/html", "http.header.x-frame-options": "DENY",
			"http.header.x-content-type-options": "nosniff", "http.header.content-security-policy": "default-src 'self'"}), ""},
		{"headers on an error page", svc(80, "http", map[string]string{"http.status": "404", "http.header.content-type": "text/html"}), ""},
		{"headers on json", svc(80, "http", map[string]string{"http.status": "200", "http.header.content-type": "application/json"}), ""},
		{"reverse proxy 503 twice", svc(80, "http", map[string]string{"http.status": "503", "http.proxy.status": "503", "http.proxy.status_line": "HTTP/1.1 503 Service Unavailable", "http.proxy.body": "No server is available"}), ""},
		{"tinyproxy forwards", svc(8888, "http-proxy", map[string]string{"http.status": "400", "http.proxy.status": "500", "http.proxy.status_line": "HTTP/1.1 500 Unable to connect"}), "http-open-proxy"},
		{"proxy auth", svc(3128, "http-proxy", map[string]string{"http.status": "400", "http.proxy.status": "407"}), ""},
		{"legacy tls negotiated", &fingerprint.Service{Port: 443, Service: "http", TLS: true, Evidence: map[string]string{"tls.version": "TLSv1.0", "tls.cipher": "TLS_RSA_WITH_RC4_128_SHA"}}, "tls-legacy-protocol,tls-weak-cipher"},
		{"expired, weak key and sha1 cert", &fingerprint.Service{Port: 443, Service: "https", TLS: true, Evidence: map[string]string{"tls.version": "TLSv1.2",
			"tls.cert.sha256": "x", "tls.cert.not_after": "2020-01-01T00:00:00Z", "tls.cert.not_before": "2019-01-01T00:00:00Z", "tls.cert.key": "RSA-1024", "tls.cert.sig_alg": "SHA1-RSA"}}, "tls-cert-expired,tls-cert-weak-key,tls-cert-weak-signature"},
		{"hostname mismatch", &fingerprint.Service{Port: 443, Hostname: "www.example.org", Service: "https", TLS: true, Evidence: map[string]string{"tls.version": "TLSv1.3",
			"tls.cert.sha256": "x", "tls.cert.san": "example.org,*.example.net"}}, "tls-cert-hostname-mismatch"},
		{"hostname wildcard match", &fingerprint.Service{Port: 443, Hostname: "www.example.net", Service: "https", TLS: true, Evidence: map[string]string{"tls.version": "TLSv1.3",
			"tls.cert.sha256": "x", "tls.cert.san": "example.org,*.example.net"}}, ""},
		{"ssh weak and terrapin", svc(22, "ssh", map[string]string{"ssh.banner": "SSH-2.0-X", "ssh.proto": "2.0", "ssh.kex.algorithms": "curve25519-sha256,diffie-hellman-group1-sha1",
			"ssh.ciphers": "chacha20-poly1305@openssh.com,aes128-cbc", "ssh.macs": "hmac-sha2-256", "ssh.hostkey.algorithms": "ssh-ed25519"}), "CVE-2023-48795,ssh-weak-algorithms"},
		{"ssh 1.99", svc(22, "ssh", map[string]string{"ssh.banner": "SSH-1.99-X", "ssh.proto": "1.99"}), "ssh-protocol-1"},
		{"smtp auth after tls only", svc(25, "smtp", map[string]string{"smtp.ehlo": "250-x\n250-STARTTLS\n250 8BITMIME", "smtp.extensions": "STARTTLS,8BITMIME"}), ""},
	}
	for _, tt := range tests {
		got := ids(checks(hc, tt.s))
		if got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestBackport: the same version match is confirmed on an upstream build
// and potential on a distribution build (port evidence or host profile).
func TestBackport(t *testing.T) {
	st := offline()
	h := scan.HostRecord{Host: "192.0.2.1", State: "up"}
	up := &fingerprint.Service{Host: "192.0.2.1", Port: 80, Service: "http", Product: "Apache httpd", Version: "2.4.49",
		CPE: "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", Evidence: map[string]string{"http.header.server": "Apache/2.4.49 (Unix)"}}
	deb := &fingerprint.Service{Host: "192.0.2.1", Port: 81, Service: "http", Product: "Apache httpd", Version: "2.4.49",
		CPE: "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", Evidence: map[string]string{"http.header.server": "Apache/2.4.49 (Debian)"}}
	fs := st.Evaluate(context.Background(), h, []*fingerprint.Service{up, deb}, nil)
	status := map[string]string{}
	for _, f := range fs {
		status[strconv.Itoa(f.Port)+" "+f.ID] = f.Status
		if f.ID == "CVE-2021-41773" && (f.KEV == nil || f.CVSS == nil || f.Affected != "= 2.4.49" || f.Remediation == "") {
			t.Errorf("%+v", f)
		}
	}
	if status["80 CVE-2021-41773"] != Confirmed || status["81 CVE-2021-41773"] != Potential {
		t.Errorf("%v", status)
	}
	// No marker on the port, but the profile says the host is Ubuntu.
	a := &profile.Asset{OS: &profile.OS{Family: "Linux", Distribution: "Ubuntu", Release: "20.04", Name: "Ubuntu 20.04", Backports: true, Confidence: 80}}
	fs = st.Evaluate(context.Background(), h, []*fingerprint.Service{up}, a)
	for _, f := range fs {
		if f.ID == "CVE-2021-41773" && (f.Status != Potential || !strings.Contains(strings.Join(f.StatusReasons, " "), "Ubuntu")) {
			t.Errorf("host profile: %+v", f)
		}
	}
	// Ubuntu 20.04's standard support ended: an OS end-of-life finding.
	if !strings.Contains(ids(fs), "eol-os:ubuntu:20.04") {
		t.Errorf("no OS EOL: %s", ids(fs))
	}
	// A version too short to compare says nothing.
	pg := &fingerprint.Service{Port: 5432, Service: "postgresql", Product: "PostgreSQL DB", Version: "15", CPE: "cpe:2.3:a:postgresql:postgresql:15:*:*:*:*:*:*:*"}
	if fs := st.Evaluate(context.Background(), h, []*fingerprint.Service{pg}, nil); len(fs) != 0 {
		t.Errorf("short version: %s", ids(fs))
	}
}

// TestProbes runs the active checks against loopback servers.
func TestProbes(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/server-status", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html><head><title>Apache Status</title></head><body><h1>Apache Server Status for 127.0.0.1</h1></body></html>")
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines 8\n")
	})
	mux.HandleFunc("/.git/HEAD", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ref: refs/heads/main\n") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Host != "" || strings.HasPrefix(r.RequestURI, "http://") {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "proxy error: connection refused")
			return
		}
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	u := strings.TrimPrefix(srv.URL, "http://")
	host, portS, _ := net.SplitHostPort(u)
	port, _ := strconv.Atoi(portS)
	s := &fingerprint.Service{Host: host, Port: port, Transport: "tcp", Service: "http-proxy", Product: "Apache httpd",
		Evidence: map[string]string{"http.status_line": "HTTP/1.1 404 Not Found", "http.status": "404"}}
	st := New(Config{Probes: true, ProbeTimeout: 2 * time.Second})
	got := ids(st.probe(context.Background(), &hostCtx{h: scan.HostRecord{Host: host}, now: time.Now()}, s))
	if got != "http-git-exposed,http-metrics-exposed,http-open-proxy,http-server-status" {
		t.Errorf("probes: %s", got)
	}
	// A port named http from another probe's answer, without the http
	// module's evidence: "/" is fetched for the header check.
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><title>x</title></html>")
	}))
	defer page.Close()
	host, portS, _ = net.SplitHostPort(strings.TrimPrefix(page.URL, "http://"))
	port, _ = strconv.Atoi(portS)
	bare := &fingerprint.Service{Host: host, Port: port, Transport: "tcp", Service: "http", Product: "NATS server", Evidence: map[string]string{}}
	if got := ids(st.probe(context.Background(), &hostCtx{h: scan.HostRecord{Host: host}, now: time.Now()}, bare)); got != "http-security-headers" {
		t.Errorf("bare http: %s", got)
	}
}

// FuzzChecks feeds arbitrary evidence values to every check: no panic.
func FuzzChecks(f *testing.F) {
	f.Add("ftp", "true", "TLSv1.0", "2020-01-01T00:00:00Z", "chacha20-poly1305@openssh.com,aes128-cbc", "250-AUTH PLAIN")
	f.Add("http", "200", "", "not a date", ",,,", "")
	f.Fuzz(func(t *testing.T, service, a, b, c, d, e string) {
		ev := map[string]string{}
		for _, k := range []string{"ftp.anonymous", "ftp.banner", "redis.version", "vnc.security_types", "smb.signing", "dns.flags", "http.status",
			"http.proxy.status", "mqtt.connack.code", "zookeeper.whitelisted", "snmp.community", "imap.capabilities", "pop3.capa"} {
			ev[k] = a
		}
		ev["tls.version"], ev["tls.cipher"], ev["tls.cert.not_after"], ev["tls.cert.not_before"], ev["tls.cert.key"] = b, b, c, c, b
		ev["tls.cert.san"], ev["tls.cert.sha256"] = d, "x"
		ev["ssh.banner"], ev["ssh.kex.algorithms"], ev["ssh.ciphers"], ev["ssh.macs"], ev["ssh.proto"] = "SSH-2.0-x", d, d, d, a
		ev["smtp.ehlo"], ev["http.header.content-type"] = e, e
		s := &fingerprint.Service{Port: 1, Service: service, Hostname: e, Evidence: ev}
		_ = checks(&hostCtx{now: labNow}, s)
	})
}

// TestChecksDocumented keeps docs/intel.md's check table complete.
func TestChecksDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/intel.md")
	if err != nil {
		t.Skip(err)
	}
	for id, c := range Checks {
		if !strings.Contains(string(b), "| `"+id+"` | "+c.Severity+" | "+c.Kind+" |") {
			t.Errorf("check %s (%s, %s) is not in docs/intel.md's table", id, c.Severity, c.Kind)
		}
	}
}
