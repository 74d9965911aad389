package fingerprint_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/fingerprint/nmapprobes"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// probesFile is a small nmap-service-probes file written for these tests
// (not nmap's data). %[1]d is the test server's port.
const probesFile = `Exclude T:%[2]d
Probe TCP NULL q||
tcpwrappedms 3000
match ftp m|^220 (\S+) ExampleFTP ready\r\n| p/ExampleFTP/ h/$1/
softmatch ftp m|^220 |

Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
rarity 1
match http m|^HTTP/1\.0 200 OK\r\nServer: Example/([\d_]+)\r\n| p/Example httpd/ v/$SUBST(1,"_",".")/

Probe TCP HTTPOptions q|OPTIONS / HTTP/1.0\r\n\r\n|
rarity 4
ports %[1]d
fallback GetRequest

Probe TCP FTPHelp q|HELP\r\n|
rarity 5
match ftp m|214 ExampleFTP (\d+)| p/ExampleFTP/ v/$1/

Probe TCP Rare q|RARE\r\n|
rarity 9
match rare m|^RARE|
`

// server answers each probe by its first bytes and records what it got.
type server struct {
	mu      sync.Mutex
	got     []string
	greet   string
	answers map[string]string // request prefix -> answer
	closeAt bool              // close every connection at once
}

func (s *server) handle(c net.Conn) {
	if s.closeAt {
		return
	}
	if s.greet != "" {
		c.Write([]byte(s.greet))
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1024)
	n, _ := c.Read(buf)
	if n == 0 {
		return
	}
	req := string(buf[:n])
	s.mu.Lock()
	s.got = append(s.got, strings.Fields(req)[0])
	s.mu.Unlock()
	for prefix, a := range s.answers {
		if strings.HasPrefix(req, prefix) {
			c.Write([]byte(a))
			return
		}
	}
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func identifyNmap(t *testing.T, s *server, excludeSelf bool, answer string, builtin ...fingerprint.Probe) *fingerprint.Service {
	t.Helper()
	return identifyNmapWith(t, s, excludeSelf, func(m *fingerprint.NmapMode, _ int) {
		if answer != "" {
			m.Answer = answer
		}
	}, builtin...)
}

// identifyNmapWith lets the test adjust the mode, knowing the server's port.
func identifyNmapWith(t *testing.T, s *server, excludeSelf bool, adjust func(m *fingerprint.NmapMode, port int), builtin ...fingerprint.Probe) *fingerprint.Service {
	t.Helper()
	addr := prototest.Serve(t, s.handle)
	_, portS, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portS)
	exclude := 1
	if excludeSelf {
		exclude = port
	}
	f, err := nmapprobes.Parse(strings.NewReader(fmt.Sprintf(probesFile, port, exclude)), "test")
	if err != nil {
		t.Fatal(err)
	}
	set := nmapprobes.Build(f)
	if n := len(set.Problems()); n != 0 {
		t.Fatalf("problems: %v", set.Problems())
	}
	cat := fingerprint.NewCatalog()
	if err := cat.Add(set.Rules()...); err != nil {
		t.Fatal(err)
	}
	mode := set.Mode(7)
	mode.MaxWait = 500 * time.Millisecond
	adjust(mode, port)
	e := fingerprint.New(fingerprint.Config{BannerWait: 300 * time.Millisecond, ProbeTimeout: 500 * time.Millisecond, NoTLS: true, Nmap: mode},
		nil, cat, builtin, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.Identify(ctx, fingerprint.Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: port})
}

func TestNmapModeSilentServer(t *testing.T) {
	s := &server{answers: map[string]string{"GET": "HTTP/1.0 200 OK\r\nServer: Example/1_2_3\r\n\r\n"}}
	svc := identifyNmap(t, s, false, "")
	if svc.Service != "http" || svc.Product != "Example httpd" || svc.Version != "1.2.3" || svc.Method != "matched" || svc.Confidence != 90 {
		t.Errorf("got %s %q %q %s %d", svc.Service, svc.Product, svc.Version, svc.Method, svc.Confidence)
	}
	if svc.Fingerprint != "" {
		t.Errorf("identified port has a fingerprint")
	}
	// HTTPOptions lists the port: sent first, alone; it answered nothing, so
	// the probes up to intensity 7 followed; the rarity-9 probe never did.
	got := s.requests()
	if len(got) == 0 || got[0] != "OPTIONS" {
		t.Errorf("requests %v: OPTIONS (the port's probe) must come first", got)
	}
	for _, r := range got {
		if r == "RARE" {
			t.Errorf("rarity 9 probe sent at intensity 7: %v", got)
		}
	}
}

// The answer of the probe nmap sends first wins, even when a later probe's
// answer also matches: nmap stops at its first hard match.
func TestNmapModeOrder(t *testing.T) {
	s := &server{answers: map[string]string{
		"OPTIONS": "HTTP/1.0 200 OK\r\nServer: Example/2_0\r\n\r\n", // via the GetRequest fallback
		"GET":     "HTTP/1.0 200 OK\r\nServer: Example/1_0\r\n\r\n",
	}}
	svc := identifyNmap(t, s, false, "")
	if svc.Version != "2.0" {
		t.Errorf("version %q: the port's own probe (HTTPOptions) should have decided", svc.Version)
	}
	for _, r := range s.requests() {
		if r == "GET" || r == "HELP" {
			t.Errorf("probes after a hard match: %v", s.requests())
		}
	}
}

func TestNmapModeBanner(t *testing.T) {
	s := &server{greet: "220 box1 ExampleFTP ready\r\n"}
	svc := identifyNmap(t, s, false, "")
	if svc.Service != "ftp" || svc.Product != "ExampleFTP" || svc.Method != "matched" {
		t.Errorf("got %s %q %s", svc.Service, svc.Product, svc.Method)
	}
	if got := s.requests(); len(got) != 0 {
		t.Errorf("probes sent after a hard NULL match: %v", got)
	}
}

// A softmatch on the banner keeps only the probes that can name its service.
func TestNmapModeSoftmatchNarrows(t *testing.T) {
	s := &server{greet: "220 welcome\r\n", answers: map[string]string{"HELP": "214 ExampleFTP 7\r\n"}}
	svc := identifyNmap(t, s, false, "")
	if svc.Service != "ftp" || svc.Product != "ExampleFTP" || svc.Version != "7" {
		t.Errorf("got %s %q %q", svc.Service, svc.Product, svc.Version)
	}
	for _, r := range s.requests() {
		if r != "HELP" {
			t.Errorf("probe %s sent after the ftp softmatch: %v", r, s.requests())
		}
	}
}

func TestNmapModeSoftmatchOnly(t *testing.T) {
	s := &server{greet: "220 welcome\r\n"}
	svc := identifyNmap(t, s, false, "")
	if svc.Service != "ftp" || svc.Product != "" || svc.Confidence != 50 {
		t.Errorf("got %s %q %d", svc.Service, svc.Product, svc.Confidence)
	}
	if !strings.HasPrefix(svc.Fingerprint, "SF-Port") {
		t.Errorf("a softmatched port keeps its fingerprint, got %q", svc.Fingerprint)
	}
}

func TestNmapModeTCPWrapped(t *testing.T) {
	s := &server{closeAt: true}
	svc := identifyNmap(t, s, false, "")
	if svc.Service != "tcpwrapped" {
		t.Errorf("got service %q, want tcpwrapped", svc.Service)
	}
}

func TestNmapModeExclude(t *testing.T) {
	s := &server{answers: map[string]string{"GET": "HTTP/1.0 200 OK\r\nServer: Example/1_2_3\r\n\r\n"}}
	svc := identifyNmap(t, s, true, "")
	if got := s.requests(); len(got) != 0 {
		t.Errorf("probes sent to an excluded port: %v", got)
	}
	if svc.Product != "" {
		t.Errorf("product %q on an excluded port", svc.Product)
	}
}

func TestNmapModeLinesInFileOrder(t *testing.T) {
	// Two NULL lines match "220 box1 ExampleFTP ready": the hard one wins
	// over the softmatch, whatever their confidence.
	s := &server{greet: "220 box1 ExampleFTP ready\r\n"}
	svc := identifyNmap(t, s, false, fingerprint.BestAnswer)
	if svc.Product != "ExampleFTP" || !bytes.Contains([]byte(svc.Service), []byte("ftp")) {
		t.Errorf("got %s %q", svc.Service, svc.Product)
	}
}

// An engine probe named like an nmap probe but sending other bytes does
// not stand in for it: nmap's rules judge the answer to nmap's bytes.
func TestNmapModeNameClash(t *testing.T) {
	builtin, err := fingerprint.ParseProbes(strings.NewReader(`probes:
  - name: GetRequest
    payload: "GET /other HTTP/1.0\r\n\r\n"
    rarity: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	s := &server{answers: map[string]string{
		"GET / ":      "HTTP/1.0 200 OK\r\nServer: Example/1_2_3\r\n\r\n",
		"GET /other ": "HTTP/1.0 200 OK\r\nServer: Example/9_9\r\n\r\n",
	}}
	svc := identifyNmap(t, s, false, "", builtin...)
	if svc.Version != "1.2.3" {
		t.Errorf("version %q, want nmap's probe's 1.2.3 (requests %v)", svc.Version, s.requests())
	}
}

// --nmap-answer only: where nmap's rules match nothing the port reads as
// nmap leaves it (its port table's guess, or nothing), and host correlation
// leaves that verdict alone.
func TestNmapModeOnlyAnswer(t *testing.T) {
	for _, c := range []struct {
		name      string
		table     bool
		service   string
		method    string
		withMatch bool
	}{
		{name: "no table", service: "", method: ""},
		{name: "nmap-services", table: true, service: "example-svc", method: "table"},
		{name: "nmap match", withMatch: true, service: "http", method: "matched"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &server{greet: "hello from nowhere\r\n"}
			if c.withMatch {
				s = &server{answers: map[string]string{"GET": "HTTP/1.0 200 OK\r\nServer: Example/1_2\r\n\r\n"}}
			}
			svc := identifyNmapWith(t, s, false, func(m *fingerprint.NmapMode, port int) {
				m.Answer = fingerprint.OnlyAnswer
				if c.table {
					m.PortNames = map[int]string{port: "example-svc"}
				}
			})
			if svc.Service != c.service || svc.Method != c.method {
				t.Errorf("service %q method %q, want %q %q", svc.Service, svc.Method, c.service, c.method)
			}
			if !c.withMatch && (svc.Product != "" || svc.Version != "") {
				t.Errorf("unmatched port got product %q %q", svc.Product, svc.Version)
			}
			before := svc.Service
			epmd := &fingerprint.Service{Port: 4369, Service: "epmd", Evidence: map[string]string{"epmd.nodes": fmt.Sprintf("rabbit:%d", svc.Port)}}
			fingerprint.Correlate([]*fingerprint.Service{epmd, svc})
			if svc.Service != before || svc.Product != "" && !c.withMatch {
				t.Errorf("correlation changed nmap's verdict: %q %q", svc.Service, svc.Product)
			}
			found := false
			for _, tc := range svc.Stack {
				found = found || tc.Product == "Erlang distribution"
			}
			if !found {
				t.Errorf("the inference belongs in the stack: %+v", svc.Stack)
			}
		})
	}
}
