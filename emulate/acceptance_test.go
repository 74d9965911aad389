package emulate

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/emulate/personalities"
	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/fingerprint/catalogs"
	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/all"
)

// The acceptance tests (PORTRAIT_INTEGRATION=1) put an emulation beside
// its original and ask nmap -sV and portrait's engine about both: the
// answers must be the same (nmap: service, product, version, extra info,
// OS type, host name; portrait: service, product, version, extra info,
// OS, confidence and the products of the stack).
//
// The emulation listens on a free high port that both scanners treat like
// the original's port: the same nmap probes list it (ports and sslports of
// the system's nmap-service-probes, read at run time) and the same portrait
// modules and probes claim it. On another kind of port the scanners would
// ask other questions (nmap sends SSLSessionReq first to 9443, GenericLines
// first to an unlisted port) and a difference would say nothing about the
// emulation.

func integration(t *testing.T) {
	t.Helper()
	if os.Getenv("PORTRAIT_INTEGRATION") != "1" {
		t.Skip("set PORTRAIT_INTEGRATION=1 (with the lab or testenv/up.sh servers on 127.0.0.1)")
	}
}

// TestShippedMatchesOriginal serves each shipped personality and compares
// it with the server it was recorded from, when that server runs here in
// the same configuration (its greeting, identification or first page is
// the personality's); another configuration on that port is skipped.
func TestShippedMatchesOriginal(t *testing.T) {
	integration(t)
	env := newAcceptanceEnv(t)
	for _, name := range personalities.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, _ := personalities.Get(name)
			p, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			_, port, _ := net.SplitHostPort(p.Recorded.From)
			orig, _ := strconv.Atoi(port)
			if !listening(orig) {
				t.Skipf("the original (127.0.0.1:%d) is not running here", orig)
			}
			if why := sameConfiguration(p, orig); why != "" {
				t.Skipf("127.0.0.1:%d runs another configuration: %s", orig, why)
			}
			env.compare(t, p, orig)
		})
	}
}

// TestEmulationMatchesOriginal records each original afresh, serves the
// recording and compares: record and emulate end to end, wherever the
// servers run.
func TestEmulationMatchesOriginal(t *testing.T) {
	integration(t)
	env := newAcceptanceEnv(t)
	for _, o := range labOriginals {
		t.Run(o.file, func(t *testing.T) {
			t.Parallel()
			if !listening(o.port) {
				t.Skipf("the original (127.0.0.1:%d) is not running here", o.port)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			p, err := Record(ctx, RecordOptions{Target: "127.0.0.1:" + strconv.Itoa(o.port), Protocol: o.protocol, Name: o.file})
			if err != nil {
				t.Fatal(err)
			}
			// The file round trip is part of the contract.
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), o.file+".yaml")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if p, err = Load(path); err != nil {
				t.Fatal(err)
			}
			env.compare(t, p, o.port)
		})
	}
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// sameConfiguration compares the original's first words with the
// personality's; "" when they agree.
func sameConfiguration(p *Personality, port int) string {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 2*time.Second)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	var want string
	switch p.Protocol {
	case "http":
		fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
		want = serverHeader(p)
	case "ssh":
		want = p.SSH.Ident
	default:
		want = strings.Join(p.Greeting.Lines, "\n")
	}
	host := p.Vars["hostname"]
	if p.Protocol == "http" {
		b, _ := io.ReadAll(io.LimitReader(c, 64<<10))
		if got := string(b); !strings.Contains(got, want) {
			return fmt.Sprintf("no %q in its answer", want)
		}
		// The server's own name shows on its error pages, where both
		// scanners read it (nmap's hostname field).
		if host != "" && !errorPageNames(port, host) {
			return fmt.Sprintf("its error page does not name %q", host)
		}
		return ""
	}
	got, _ := bufio.NewReader(c).ReadString('\n')
	// The host name is part of the configuration: a server under another
	// name greets (and is reported) differently.
	first := strings.ReplaceAll(strings.SplitN(want, "\n", 2)[0], "${hostname}", host)
	// Compare up to the first placeholder.
	if i := strings.Index(first, "${"); i >= 0 {
		first = first[:i]
	}
	if !strings.HasPrefix(strings.TrimRight(got, "\r\n"), first) {
		return fmt.Sprintf("it greets %q, the personality %q", strings.TrimSpace(got), first)
	}
	return ""
}

// errorPageNames reports whether the HTTP server on port names host on
// its 404 page.
func errorPageNames(port int, host string) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 2*time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET /portrait-no-such-page HTTP/1.0\r\n\r\n")
	b, _ := io.ReadAll(io.LimitReader(c, 64<<10))
	return strings.Contains(string(b), host)
}

func serverHeader(p *Personality) string {
	for _, e := range p.Replies {
		if e.Command == "GET" && strings.HasPrefix(e.Arg, "root 1.0") {
			for _, h := range e.Headers {
				if strings.HasPrefix(strings.ToLower(h), "server:") {
					return h
				}
			}
		}
	}
	return "HTTP/"
}

type acceptanceEnv struct {
	engine   *fingerprint.Engine
	nmap     string
	sigs     func(port int) map[string]bool
	portsMu  sync.Mutex
	reserved map[int]bool
}

func newAcceptanceEnv(t *testing.T) *acceptanceEnv {
	t.Helper()
	ctx := context.Background()
	cat, _, err := catalogs.LoadCatalogs(ctx, catalogs.Options{NoSynced: true})
	if err != nil {
		t.Fatal(err)
	}
	probes, err := fingerprint.BuiltinProbes()
	if err != nil {
		t.Fatal(err)
	}
	mods := all.Modules()
	env := &acceptanceEnv{engine: fingerprint.New(fingerprint.Config{}, mods, cat, probes, nil), reserved: map[int]bool{}}
	env.nmap, _ = exec.LookPath("nmap")
	nmapPorts := nmapProbePorts("/usr/share/nmap/nmap-service-probes")
	env.sigs = func(port int) map[string]bool { return portSignature(port, nmapPorts, mods, probes) }
	return env
}

// compare serves p on a mirror port and checks both scanners' answers.
func (env *acceptanceEnv) compare(t *testing.T, p *Personality, orig int) {
	t.Helper()
	ln, port, note := env.mirrorListener(t, orig)
	defer ln.Close()
	t.Logf("original 127.0.0.1:%d, emulation 127.0.0.1:%d (%s)", orig, port, note)
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Server{P: p}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()

	// portrait's engine.
	id := func(port int) *fingerprint.Service {
		ictx, icancel := context.WithTimeout(ctx, time.Minute)
		defer icancel()
		return env.engine.Identify(ictx, fingerprint.Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: port})
	}
	var a, b *fingerprint.Service
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a = id(orig) }()
	go func() { defer wg.Done(); b = id(port) }()
	wg.Wait()
	ga, gb := portraitIdentity(a), portraitIdentity(b)
	if ga != gb {
		t.Errorf("portrait differs:\n original:  %s\n emulation: %s", ga, gb)
	} else {
		t.Logf("portrait, both: %s", ga)
	}
	if d := evidenceDiff(a.Evidence, b.Evidence); d != "" {
		t.Logf("portrait evidence differences (not part of the identity): %s", d)
	}

	// nmap -sV.
	if env.nmap == "" {
		t.Log("nmap is not installed: nmap comparison skipped")
		return
	}
	na, nb, err := nmapBoth(ctx, env.nmap, orig, port)
	if err != nil {
		t.Fatalf("nmap: %v", err)
	}
	if na != nb {
		t.Errorf("nmap -sV differs:\n original:  %s\n emulation: %s", na, nb)
	} else {
		t.Logf("nmap -sV, both: %s", na)
	}
}

func portraitIdentity(s *fingerprint.Service) string {
	if s == nil {
		return "<nil>"
	}
	var stack []string
	for _, x := range s.Stack {
		stack = append(stack, fmt.Sprintf("%s %s (%s %d)", x.Product, x.Version, x.Role, x.Confidence))
	}
	return fmt.Sprintf("service=%q product=%q version=%q extrainfo=%q os=%q confidence=%d stack=[%s]",
		s.Service, s.Product, s.Version, s.Info, s.OS, s.Confidence, strings.Join(stack, "; "))
}

// evidenceDiff lists the evidence fields whose values differ, skipping
// those that differ between any two sessions (dates, keys, port numbers).
func evidenceDiff(a, b map[string]string) string {
	var out []string
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		if strings.HasSuffix(k, ".date") || strings.Contains(k, "sha256") {
			continue
		}
		if a[k] != b[k] {
			out = append(out, fmt.Sprintf("%s: %q vs %q", k, trunc(a[k], 80), trunc(b[k], 80)))
		}
	}
	return strings.Join(out, "; ")
}

type nmapRun struct {
	Ports []struct {
		Port    int `xml:"portid,attr"`
		Service struct {
			Name      string `xml:"name,attr"`
			Product   string `xml:"product,attr"`
			Version   string `xml:"version,attr"`
			ExtraInfo string `xml:"extrainfo,attr"`
			OSType    string `xml:"ostype,attr"`
			Hostname  string `xml:"hostname,attr"`
			Device    string `xml:"devicetype,attr"`
			Tunnel    string `xml:"tunnel,attr"`
		} `xml:"service"`
	} `xml:"host>ports>port"`
}

// nmapBoth runs one nmap -sV over both ports and returns each port's line.
func nmapBoth(ctx context.Context, nmap string, a, b int) (string, string, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, nmap, "-sV", "-Pn", "-n", "-p", fmt.Sprintf("%d,%d", a, b), "-oX", "-", "127.0.0.1").Output()
	if err != nil {
		return "", "", err
	}
	var run nmapRun
	if err := xml.Unmarshal(out, &run); err != nil {
		return "", "", err
	}
	line := map[int]string{}
	for _, p := range run.Ports {
		s := p.Service
		line[p.Port] = fmt.Sprintf("service=%q product=%q version=%q extrainfo=%q ostype=%q hostname=%q device=%q tunnel=%q",
			s.Name, s.Product, s.Version, s.ExtraInfo, s.OSType, s.Hostname, s.Device, s.Tunnel)
	}
	return line[a], line[b], nil
}

// nmapProbePorts reads the ports and sslports lines of nmap's TCP probes
// (from the installed file, at run time; nothing of it is kept).
func nmapProbePorts(path string) map[string][][2]int {
	out := map[string][][2]int{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	probe := ""
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "Probe "):
			f := strings.Fields(l)
			probe = ""
			if len(f) >= 3 && f[1] == "TCP" {
				probe = f[2]
			}
		case probe != "" && (strings.HasPrefix(l, "ports ") || strings.HasPrefix(l, "sslports ")):
			kind, list, _ := strings.Cut(l, " ")
			for _, r := range strings.Split(strings.TrimSpace(list), ",") {
				lo, hi, isRange := strings.Cut(r, "-")
				a, err1 := strconv.Atoi(lo)
				b := a
				var err2 error
				if isRange {
					b, err2 = strconv.Atoi(hi)
				}
				if err1 == nil && err2 == nil {
					out[probe+"/"+kind] = append(out[probe+"/"+kind], [2]int{a, b})
				}
			}
		}
	}
	return out
}

// portSignature is what makes the scanners treat a port in their own way.
func portSignature(port int, nmapPorts map[string][][2]int, mods []protocol.Module, probes []fingerprint.Probe) map[string]bool {
	sig := map[string]bool{}
	for k, ranges := range nmapPorts {
		for _, r := range ranges {
			if port >= r[0] && port <= r[1] {
				sig["nmap:"+k] = true
			}
		}
	}
	has := func(list []int) bool {
		for _, x := range list {
			if x == port {
				return true
			}
		}
		return false
	}
	for _, m := range mods {
		inf := m.Info()
		if has(inf.Ports) {
			sig["module:"+inf.Name] = true
		}
		if has(inf.TLSPorts) {
			sig["module-tls:"+inf.Name] = true
		}
	}
	for _, p := range probes {
		if has(p.Ports) {
			sig["probe:"+p.Name] = true
		}
		if has(p.TLSPorts) {
			sig["probe-tls:"+p.Name] = true
		}
	}
	if port >= 9100 && port <= 9107 {
		sig["skipped"] = true
	}
	return sig
}

// mirrorListener listens on a free port > 1024 with the original's
// signature, or the closest one.
func (env *acceptanceEnv) mirrorListener(t *testing.T, orig int) (net.Listener, int, string) {
	t.Helper()
	want := env.sigs(orig)
	type cand struct {
		port int
		diff []string
	}
	var cands []cand
	for p := 1025; p < 65536; p++ {
		if p == orig {
			continue
		}
		got := env.sigs(p)
		var diff []string
		for k := range want {
			if !got[k] {
				diff = append(diff, "-"+k)
			}
		}
		for k := range got {
			if !want[k] {
				diff = append(diff, "+"+k)
			}
		}
		sort.Strings(diff)
		cands = append(cands, cand{p, diff})
	}
	sort.SliceStable(cands, func(i, j int) bool { return len(cands[i].diff) < len(cands[j].diff) })
	env.portsMu.Lock()
	defer env.portsMu.Unlock()
	for _, c := range cands {
		if env.reserved[c.port] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(c.port))
		if err != nil {
			continue
		}
		env.reserved[c.port] = true
		note := "same scanner treatment"
		if len(c.diff) > 0 {
			note = "closest scanner treatment, differs in " + strings.Join(c.diff, " ")
		}
		return ln, c.port, note
	}
	t.Fatal("no free port")
	return nil, 0, ""
}
