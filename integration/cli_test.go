package integration

import (
	"bytes"
	"math/rand"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBadTarget: an invalid target is a usage error: exit status 2 and one
// line that names the offending token, before any packet is sent.
func TestBadTarget(t *testing.T) {
	needBinary(t)
	const bad = "10.0.0.300" // not an address: nothing can be sent to it
	r := runPortrait(t, 30*time.Second, "scan", bad)
	if r.Exit != 2 {
		t.Errorf("exit %d, want 2", r.Exit)
	}
	var lines []string
	for _, l := range strings.Split(string(r.Stdout)+"\n"+string(r.Stderr), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], bad) {
		t.Errorf("want exactly one line naming %q, got %d lines:\n%s", bad, len(lines), strings.Join(lines, "\n"))
	}
}

// fakeServer is a loopback listener whose connections are handled by serve
// until the test ends.
type fakeServer struct {
	ln   net.Listener
	done chan struct{}
	wg   sync.WaitGroup
}

func newFakeServer(t *testing.T, serve func(c net.Conn, done <-chan struct{})) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln, done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				// unblock serve's reads and writes when the test ends
				stop := make(chan struct{})
				defer close(stop)
				go func() {
					select {
					case <-s.done:
						c.SetDeadline(time.Now())
					case <-stop:
					}
				}()
				serve(c, s.done)
			}()
		}
	}()
	t.Cleanup(func() {
		close(s.done)
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *fakeServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// silent accepts and never speaks; it just waits (reading is allowed: it
// swallows whatever probes arrive).
func silent(c net.Conn, done <-chan struct{}) {
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// silentBound is the acceptance bound for one silent port: the contract says
// a port that accepts and never speaks is classified in at most 2 s. It is
// checked on the engine's own clock (the service record's duration_ms), so
// that process start-up on a loaded CI machine does not count; the whole
// run's wall time is logged beside it and bounded only against stalls.
const silentBound = 2 * time.Second

// TestSilentPort: a port that accepts and never answers is reported open and
// classified within the bound.
func TestSilentPort(t *testing.T) {
	needBinary(t)
	s := newFakeServer(t, silent)
	p := s.port()
	r := runPortrait(t, 30*time.Second, "scan", "127.0.0.1", "-p", strconv.Itoa(p), "-o", "jsonl")
	t.Logf("silent port %d: %.2fs, exit %d", p, r.Elapsed.Seconds(), r.Exit)
	if r.Exit != 0 {
		t.Errorf("exit %d; stderr:\n%s", r.Exit, tail(r.Stderr, 2000))
	}
	if r.Elapsed > 4*silentBound {
		t.Errorf("scan of one silent port took %.2fs: stalled", r.Elapsed.Seconds())
	}
	recs, err := parseJSONL(r.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if rec.Type == "service" && rec.Port == p {
			ms := rec.DurationMS
			t.Logf("silent port %d classified in %.0f ms (engine clock)", p, ms)
			if time.Duration(ms)*time.Millisecond > silentBound {
				t.Errorf("silent port classified in %.0f ms, bound %s", ms, silentBound)
			}
		}
	}
	if !reportedOpen(recs, p) {
		t.Errorf("silent port %d not reported open:\n%s", p, r.Stdout)
	}
}

// Hostile servers: each misbehaves in one way a real (broken or malicious)
// service might.
var hostile = []struct {
	name       string
	serve      func(c net.Conn, done <-chan struct{})
	expectOpen bool
}{
	{"endless-banner", endless, true},
	{"trickle", trickle, true},
	{"garbage", garbage, true},
	{"reset", reset, false},
	{"close-at-once", func(c net.Conn, _ <-chan struct{}) {}, false},
}

// endless sends banner-like bytes without end and without a line break, as
// fast as the client takes them.
func endless(c net.Conn, done <-chan struct{}) {
	chunk := bytes.Repeat([]byte("220 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "), 1024)
	for {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// trickle sends one byte every 50 ms, forever: each read succeeds, so only a
// total deadline ends the dialogue.
func trickle(c net.Conn, done <-chan struct{}) {
	tk := time.NewTicker(50 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-done:
			return
		case <-tk.C:
			if _, err := c.Write([]byte{'x'}); err != nil {
				return
			}
		}
	}
}

// garbage answers the connection and every probe with random binary bytes,
// including huge would-be length fields.
func garbage(c net.Conn, done <-chan struct{}) {
	rng := rand.New(rand.NewSource(int64(c.RemoteAddr().(*net.TCPAddr).Port)))
	junk := func() []byte {
		b := make([]byte, 512+rng.Intn(4096))
		rng.Read(b)
		copy(b, []byte{0xff, 0xff, 0xff, 0x7f, 0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
		return b
	}
	if _, err := c.Write(junk()); err != nil {
		return
	}
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
		if _, err := c.Write(junk()); err != nil {
			return
		}
	}
}

// reset completes the handshake and answers with a RST at once.
func reset(c net.Conn, _ <-chan struct{}) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
}

// hostileBound bounds a scan of one hostile port. Generous (a server that
// does speak may warrant more probes, and CI runs other packages' tests
// beside this one), but finite: what is tested is that nothing stalls.
const hostileBound = 30 * time.Second

// maxOutput: the record stream must stay small whatever the server sends
// (evidence is capped), here 1 MiB for one port.
const maxOutput = 1 << 20

func TestHostileServers(t *testing.T) {
	needBinary(t)
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			s := newFakeServer(t, h.serve)
			p := s.port()
			r := runPortrait(t, hostileBound+20*time.Second, "scan", "127.0.0.1", "-p", strconv.Itoa(p), "-o", "jsonl")
			t.Logf("%s port %d: %.2fs, exit %d, %d bytes out", h.name, p, r.Elapsed.Seconds(), r.Exit, len(r.Stdout))
			if r.TimedOut {
				t.Fatalf("scan still running after %s (killed)", hostileBound+20*time.Second)
			}
			if r.Exit != 0 {
				t.Errorf("exit %d; stderr:\n%s", r.Exit, tail(r.Stderr, 2000))
			}
			if r.Elapsed > hostileBound {
				t.Errorf("scan took %.2fs, bound %s", r.Elapsed.Seconds(), hostileBound)
			}
			if len(r.Stdout) > maxOutput {
				t.Errorf("output is %d bytes for one port (cap %d): evidence not bounded", len(r.Stdout), maxOutput)
			}
			recs, err := parseJSONL(r.Stdout)
			if err != nil {
				t.Fatal(err)
			}
			if h.expectOpen && !reportedOpen(recs, p) {
				t.Errorf("port %d not reported open:\n%.2000s", p, r.Stdout)
			}
		})
	}
}

// TestHostileTogether scans all hostile servers and a silent one in one run:
// a misbehaving port must not hold up the others.
func TestHostileTogether(t *testing.T) {
	needBinary(t)
	var ports []int
	for _, h := range hostile {
		ports = append(ports, newFakeServer(t, h.serve).port())
	}
	quiet := newFakeServer(t, silent).port()
	ports = append(ports, quiet)
	r := runPortrait(t, hostileBound+20*time.Second, "scan", "127.0.0.1", "-p", portList(ports), "-o", "jsonl")
	t.Logf("%d hostile ports: %.2fs, exit %d", len(ports), r.Elapsed.Seconds(), r.Exit)
	if r.Exit != 0 {
		t.Errorf("exit %d; stderr:\n%s", r.Exit, tail(r.Stderr, 2000))
	}
	if r.Elapsed > hostileBound {
		t.Errorf("scan took %.2fs, bound %s", r.Elapsed.Seconds(), hostileBound)
	}
	recs, err := parseJSONL(r.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if !reportedOpen(recs, quiet) {
		t.Errorf("silent port %d not reported open next to hostile ones", quiet)
	}
}
