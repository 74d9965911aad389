package fingerprint

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol/all"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// The data probes of probes.yaml and the rules of rules/probes-*.yaml
// identify services that have no protocol module. These tests replay the
// answers of real servers (testdata/probes/*.bin, recorded with
// TestRecordProbes) through the whole engine, on a random port, so the
// probes must be found by the engine's probe selection, not by a port hint.

// route answers one request: the first route whose prefix starts the
// request gets its recording.
type route struct {
	prefix string // request prefix; "probe:NAME" means the probe's payload
	file   string // recording under testdata/probes
}

type probeCase struct {
	name    string
	banner  string  // recording sent on connect (server-first services)
	routes  []route // answers to client requests
	service string
	product string
	version string
	info    string
}

var probeCases = []probeCase{
	// Real servers (Debian 12 packages, recorded on 127.0.0.1).
	{name: "rpcbind", routes: []route{{"probe:RPCCheck", "rpcbind-1.2.6.bin"}}, service: "rpcbind", version: "2-4", info: "RPC #100000"},
	{name: "xorg open", routes: []route{{"probe:X11Probe", "x11-xvfb-21.1.7-open.bin"}}, service: "X11", product: "X.Org", info: "open"},
	{name: "x11 denied", routes: []route{{"probe:X11Probe", "x11-xvfb-21.1.7-denied.bin"}}, service: "X11", info: "access denied"},
	{name: "dante socks5", routes: []route{{"probe:socks5-greeting", "socks5-dante-1.4.2.bin"}}, service: "socks5", info: "Username/password authentication required"},
	{name: "netkit fingerd", routes: []route{{"probe:finger", "finger-netkit-0.17.bin"}, {"probe:GenericLines", "finger-netkit-0.17.bin"}}, service: "finger", product: "Linux fingerd"},
	{name: "gophernicus", routes: []route{{"probe:gopher", "gopher-gophernicus-3.1.1.bin"}, {"probe:GenericLines", "gopher-gophernicus-3.1.1.bin"}}, service: "gopher", product: "Gophernicus", version: "3.1.1"},
	{name: "java rmi", routes: []route{{"probe:JavaRMI", "javarmi-openjdk17.bin"}}, service: "java-rmi", product: "Java RMI"},
	{name: "beanstalkd", routes: []route{{"probe:beanstalk-stats", "beanstalkd-1.12.bin"}}, service: "beanstalkd", product: "beanstalkd", version: "1.12"},
	{name: "coturn", routes: []route{{"probe:stun-binding", "stun-coturn-4.6.1.bin"}}, service: "stun", product: "coturn", version: "4.6.1"},
	{name: "mit kdc", routes: []route{{"probe:Kerberos", "kerberos-mit-1.20.1.bin"}}, service: "kerberos-sec", product: "MIT Kerberos"},
	{name: "bsd lpd", routes: []route{{"probe:LPDString", "lpd-bsd-lpr.bin"}}, service: "printer", product: "BSD lpd"},
	{name: "cups-lpd", routes: []route{{"probe:LPDString", "lpd-cups-2.4.2.bin"}}, service: "printer", product: "CUPS cups-lpd"},
	{name: "oidentd", routes: []route{{"probe:ident", "ident-oidentd-2.5.0.bin"}}, service: "ident", product: "oidentd"},
	{name: "tomcat ajp", routes: []route{{"probe:ajp-cping", "ajp-cpong-tomcat-10.1.60.bin"}, {"probe:ajp-request", "ajp-request-tomcat-10.1.60.bin"}}, service: "ajp13", product: "Apache Tomcat", version: "10.1.60"},
	{name: "pptpd", routes: []route{{"probe:pptp-sccrq", "pptp-pptpd-1.4.0.bin"}}, service: "pptp", product: "PoPToP pptpd"},
	{name: "openvpn", routes: []route{{"probe:openvpn-reset", "openvpn-2.6.14.bin"}}, service: "openvpn", product: "OpenVPN"},
	{name: "zabbix agent", routes: []route{{"probe:zabbix-agent", "zabbix-agent-6.0.14.bin"}}, service: "zabbix-agent", product: "Zabbix agent", version: "6.0.14"},
	{name: "omninames", routes: []route{{"probe:giop", "giop-omninames-4.2.5.bin"}}, service: "giop"},
	{name: "leafnode", banner: "nntp-leafnode-1.12.0.bin", service: "nntp", product: "Leafnode nntpd", version: "1.12.0"},
	{name: "tinyproxy", routes: []route{{"GET /", "http-tinyproxy-1.11.1.bin"}}, service: "http-proxy", product: "tinyproxy", version: "1.11.1"},
	{name: "node_exporter", routes: []route{{"GET /metrics", "node-exporter-1.5.0-metrics.bin"}, {"GET / ", "node-exporter-1.5.0-index.bin"}}, service: "http", product: "Prometheus node_exporter", version: "1.5.0"},
}

func probeByName(t testing.TB, probes []Probe, name string) *Probe {
	t.Helper()
	for i := range probes {
		if probes[i].Name == name {
			return &probes[i]
		}
	}
	t.Fatalf("no probe %q in probes.yaml", name)
	return nil
}

func readRecording(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "probes", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replayServer answers each connection by the routes: it reads until the
// request starts with one route's prefix (or the client stops sending) and
// writes that route's recording, then closes. Requests no route knows get a
// closed connection, as from a server that did not understand them.
func replayServer(t *testing.T, probes []Probe, c probeCase) string {
	type answer struct {
		prefix []byte
		resp   []byte
	}
	var answers []answer
	for _, r := range c.routes {
		prefix := []byte(r.prefix)
		if name, ok := strings.CutPrefix(r.prefix, "probe:"); ok {
			prefix = probeByName(t, probes, name).payload("127.0.0.1", 0)
			if i := bytes.Index(prefix, []byte("127.0.0.1:0")); i >= 0 {
				prefix = prefix[:i] // payloads naming {host}:{port}
			}
		}
		answers = append(answers, answer{prefix, readRecording(t, r.file)})
	}
	var banner []byte
	if c.banner != "" {
		banner = readRecording(t, c.banner)
	}
	return prototest.Serve(t, func(conn net.Conn) {
		if len(banner) > 0 {
			if _, err := conn.Write(banner); err != nil {
				return
			}
		}
		var req []byte
		buf := make([]byte, 4096)
		for len(req) < 1<<16 {
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			n, err := conn.Read(buf)
			req = append(req, buf[:n]...)
			for _, a := range answers {
				if len(req) >= len(a.prefix) && bytes.HasPrefix(req, a.prefix) {
					_, _ = conn.Write(a.resp)
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
}

func builtinEngine(t testing.TB) (*Engine, []Probe) {
	t.Helper()
	cat, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	probes, err := BuiltinProbes()
	if err != nil {
		t.Fatal(err)
	}
	// Generous timeouts: these tests run many engines at once, beside other
	// packages' tests, on a loaded CI machine; timing is not what they test.
	cfg := Config{BannerWait: 500 * time.Millisecond, ProbeTimeout: 2 * time.Second, NoTLS: true}
	return New(cfg, all.Modules(), cat, probes, nil), probes
}

// TestProbeRecordings identifies real servers that have no protocol module
// from their recorded answers, on a port no probe names.
func TestProbeRecordings(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole engine per case")
	}
	e, probes := builtinEngine(t)
	// The cases run at once (t.Parallel would cap them at GOMAXPROCS): each
	// is mostly waiting on timeouts.
	got := make([]*Service, len(probeCases))
	var wg sync.WaitGroup
	for i, c := range probeCases {
		addr := replayServer(t, probes, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = e.Identify(context.Background(), target(t, addr))
		}()
	}
	wg.Wait()
	for i, c := range probeCases {
		t.Run(c.name, func(t *testing.T) {
			s := got[i]
			if s.Service != c.service || s.Product != c.product || s.Version != c.version || (c.info != "" && s.Info != c.info) {
				t.Fatalf("got service %q product %q version %q info %q (method %s, probes %v), want %q %q %q %q",
					s.Service, s.Product, s.Version, s.Info, s.Method, s.Probes, c.service, c.product, c.version, c.info)
			}
		})
	}
}

// TestProbePayloads checks the length fields of the binary payloads against
// the payload sizes: a hand-written \x escape off by one is a silent probe.
func TestProbePayloads(t *testing.T) {
	probes, err := BuiltinProbes()
	if err != nil {
		t.Fatal(err)
	}
	be16 := func(b []byte, off int) int { return int(binary.BigEndian.Uint16(b[off:])) }
	le16 := func(b []byte, off int) int { return int(binary.LittleEndian.Uint16(b[off:])) }
	be32 := func(b []byte, off int) int { return int(binary.BigEndian.Uint32(b[off:])) }
	checks := map[string]func(p []byte) bool{
		"ms-sql-s":          func(p []byte) bool { return p[0] == 0x12 && be16(p, 2) == len(p) },
		"oracle-tns":        func(p []byte) bool { return be16(p, 0) == len(p) && be16(p, 24) == len(p)-be16(p, 26) },
		"Kerberos":          func(p []byte) bool { return be32(p, 0) == len(p)-4 && p[4] == 0x6a },
		"epmapper-bind":     func(p []byte) bool { return p[2] == 11 && le16(p, 8) == len(p) },
		"RPCCheck":          func(p []byte) bool { return be32(p, 0) == 0x80000000|(len(p)-4) },
		"X11Probe":          func(p []byte) bool { return len(p) == 12 && p[0] == 'l' },
		"ajp-cping":         func(p []byte) bool { return be16(p, 2) == len(p)-4 },
		"ajp-request":       func(p []byte) bool { return be16(p, 2) == len(p)-4 && p[len(p)-1] == 0xff },
		"cassandra-options": func(p []byte) bool { return len(p) == 9 && be32(p, 5) == 0 },
		"kafka-apiversions": func(p []byte) bool { return be32(p, 0) == len(p)-4 },
		"modbus-deviceid":   func(p []byte) bool { return be16(p, 4) == len(p)-6 },
		"s7-cotp":           func(p []byte) bool { return be16(p, 2) == len(p) && int(p[4]) == len(p)-5 },
		"pptp-sccrq":        func(p []byte) bool { return be16(p, 0) == len(p) && len(p) == 156 },
		"openvpn-reset":     func(p []byte) bool { return be16(p, 0) == len(p)-2 },
		"stun-binding":      func(p []byte) bool { return len(p) == 20 && be16(p, 2) == 0 },
		"bgp-open":          func(p []byte) bool { return be16(p, 16) == len(p) },
		"giop":              func(p []byte) bool { return be32(p, 8) == len(p)-12 },
		"afp":               func(p []byte) bool { return len(p) == 16 },
		"zabbix-agent":      func(p []byte) bool { return int(binary.LittleEndian.Uint64(p[5:])) == len(p)-13 },
	}
	for name, ok := range checks {
		p := probeByName(t, probes, name).payload("127.0.0.1", 1)
		if !ok(p) {
			t.Errorf("probe %s: length fields disagree with its %d bytes: %q", name, len(p), p)
		}
	}
}

// TestPortHintedProbeRunsFirst: a probe whose ports include the port is sent
// in layer 1, so a service without a module on its usual port costs no
// extra round.
func TestPortHintedProbeRunsFirst(t *testing.T) {
	probes := []Probe{{Name: "hinted", Payload: "HINT\r\n", Rarity: 9, Transport: "tcp"}}
	probes[0].wait = 500 * time.Millisecond
	cat := NewCatalog()
	if err := cat.Add(Rule{Name: "hinted", Product: "Hinted", Category: "hint", Service: "hint",
		Patterns: []Pattern{{Type: "response", Probe: "hinted", Regex: `^OK hinted (?P<version>\S+)`, Confidence: 90}}}); err != nil {
		t.Fatal(err)
	}
	addr := prototest.Serve(t, func(c net.Conn) {
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		if string(buf[:n]) == "HINT\r\n" {
			c.Write([]byte("OK hinted 1.0\r\n"))
		}
	})
	tg := target(t, addr)
	probes[0].Ports = []int{tg.Port}
	e := New(Config{BannerWait: 300 * time.Millisecond, ProbeTimeout: 500 * time.Millisecond, NoTLS: true}, nil, cat, probes, nil)
	s := e.Identify(context.Background(), tg)
	if s.Service != "hint" || s.Product != "Hinted" || s.Version != "1.0" {
		t.Fatalf("got %+v", s)
	}
}

// TestRecordProbes records real servers' answers to the builtin probes:
//
//	PORTRAIT_RECORD_PROBES='RPCCheck@127.0.0.1:111=rpcbind-1.2.6.bin,...' go test -run TestRecordProbes ./fingerprint/
//
// A name that is not a probe is sent as a literal request ("GET /").
func TestRecordProbes(t *testing.T) {
	spec := os.Getenv("PORTRAIT_RECORD_PROBES")
	if spec == "" {
		t.Skip("set PORTRAIT_RECORD_PROBES to record")
	}
	probes, err := BuiltinProbes()
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range strings.Split(spec, ",") {
		name, rest, _ := strings.Cut(item, "@")
		addr, file, _ := strings.Cut(rest, "=")
		host, portS, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(portS)
		var req []byte
		for i := range probes {
			if probes[i].Name == name {
				req = probes[i].payload(host, port)
			}
		}
		if req == nil {
			req = []byte(strings.ReplaceAll(name, `\r\n`, "\r\n"))
		}
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", item, err)
		}
		_, _ = c.Write(req)
		var resp []byte
		buf := make([]byte, 65536)
		for len(resp) < 16<<10 {
			_ = c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
			n, err := c.Read(buf)
			resp = append(resp, buf[:n]...)
			if err != nil {
				break
			}
		}
		c.Close()
		if len(resp) > 16<<10 {
			resp = resp[:16<<10] // metrics dumps: the head carries the build info
		}
		if len(resp) == 0 {
			t.Errorf("%s: no answer", item)
			continue
		}
		if err := os.WriteFile(filepath.Join("testdata", "probes", file), resp, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", file, len(resp))
	}
}

// TestProbeRuleExamplesThroughEngine serves every example of the
// rules/probes-*.yaml rules to the probe (or as the banner) it was written
// for, on a random port, and checks that the whole engine names the rule's
// product or service: the examples prove the regexes, this proves that the
// probe is sent and that the rule wins. Probes of rarity 9 (sent only on
// their own ports or after another finding) are left out.
func TestProbeRuleExamplesThroughEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole engine per example")
	}
	e, probes := builtinEngine(t)
	type exCase struct {
		label string
		addr  string
		rule  Rule
		ex    Example
	}
	var cases []exCase
	for _, cr := range e.catalog.rules {
		if !strings.HasPrefix(cr.source, "builtin:probes-") || cr.Role == "component" {
			continue
		}
		for i, ex := range cr.Examples {
			var c probeCase
			switch {
			case ex.Banner != "" && len(ex.Fields) == 0:
				c.banner = "inline"
			case len(ex.Fields) == 1 && ex.Banner == "":
				for k := range ex.Fields {
					name, ok := strings.CutPrefix(k, "probe.")
					if !ok || probeByName(t, probes, name).Rarity > 7 {
						continue
					}
					c.routes = []route{{"probe:" + name, "inline"}}
				}
			}
			if c.banner == "" && len(c.routes) == 0 {
				continue
			}
			addr := inlineServer(t, probes, c, ex)
			cases = append(cases, exCase{cr.Name + "#" + strconv.Itoa(i+1), addr, cr.Rule, ex})
		}
	}
	got := make([]*Service, len(cases))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			got[i] = e.Identify(context.Background(), target(t, c.addr))
		}()
	}
	wg.Wait()
	for i, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			s := got[i]
			wantService := firstNonEmpty(c.rule.Service, c.rule.Category)
			wantProduct := c.rule.Product
			if c.rule.Role == "service" {
				wantProduct = ""
			}
			if s.Service != wantService || s.Product != wantProduct || (c.ex.Version != "" && s.Version != c.ex.Version) {
				t.Fatalf("got service %q product %q version %q (probes %v), want %q %q %q",
					s.Service, s.Product, s.Version, s.Probes, wantService, wantProduct, c.ex.Version)
			}
		})
	}
	t.Logf("%d examples identified through the engine", len(cases))
}

// inlineServer is replayServer for an example's own bytes.
func inlineServer(t *testing.T, probes []Probe, c probeCase, ex Example) string {
	var resp []byte
	for _, v := range ex.Fields {
		resp = latin1Bytes(v)
	}
	var banner []byte
	if c.banner != "" {
		banner = latin1Bytes(ex.Banner)
	}
	var prefix []byte
	if len(c.routes) > 0 {
		name := strings.TrimPrefix(c.routes[0].prefix, "probe:")
		prefix = probeByName(t, probes, name).payload("127.0.0.1", 0)
		if i := bytes.Index(prefix, []byte("127.0.0.1:0")); i >= 0 {
			prefix = prefix[:i]
		}
	}
	return prototest.Serve(t, func(conn net.Conn) {
		if len(banner) > 0 {
			if _, err := conn.Write(banner); err != nil {
				return
			}
		}
		if prefix == nil {
			_, _ = io.Copy(io.Discard, conn)
			return
		}
		var req []byte
		buf := make([]byte, 4096)
		for len(req) < 1<<16 {
			// Silent to other requests for longer than the engine waits.
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := conn.Read(buf)
			req = append(req, buf[:n]...)
			if len(req) >= len(prefix) && bytes.HasPrefix(req, prefix) {
				_, _ = conn.Write(resp)
				return
			}
			if err != nil {
				return
			}
		}
	})
}

// latin1Bytes turns a field back into the bytes it was decoded from.
func latin1Bytes(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		out = append(out, byte(r))
	}
	return out
}

// FuzzProbeAnswers runs the whole catalog over arbitrary answers to every
// probe and as a banner: hostile bytes must never panic the matcher.
func FuzzProbeAnswers(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "probes", "*.bin"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	cat, err := Builtin()
	if err != nil {
		f.Fatal(err)
	}
	probes, err := BuiltinProbes()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Latin1(b)
		fields := map[string]string{"banner": s}
		for _, p := range probes {
			fields["probe."+p.Name] = s
		}
		_ = cat.Match(fields)
	})
}
