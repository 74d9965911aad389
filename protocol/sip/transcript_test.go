package sip

// Recorded dialogues. With PORTRAIT_RECORD=1 the record tests run the module
// against a real server on 127.0.0.1 through a tap that keeps every byte of
// every connection, and write testdata/<name>.json; the other tests replay
// those files through loopback fake servers (prototest.Serve), so they need no
// daemon. Synthetic transcripts (built by hand from the protocol spec, no real
// server) use the same format and say so in their note.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// step is one client write (hex, may be empty for the greeting) and the
// server bytes (hex) that followed it; Close marks that the server hung up.
type step struct {
	Sent  string `json:"sent,omitempty"`
	Got   string `json:"got,omitempty"`
	Close bool   `json:"close,omitempty"`
}

// transcript is one recorded run: the steps of each connection in dial
// order, and the fields the module produced while recording.
type transcript struct {
	Note   string            `json:"note"`
	Conns  [][]step          `json:"conns"`
	Fields map[string]string `json:"fields,omitempty"`
}

// tapConn records what passes through a connection.
type tapConn struct {
	net.Conn
	mu    *sync.Mutex
	steps *[]step
}

func (c *tapConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := *c.steps
	if k := len(s) - 1; k >= 0 && s[k].Got == "" && !s[k].Close && s[k].Sent != "" {
		s[k].Sent += hex.EncodeToString(b[:n])
	} else {
		s = append(s, step{Sent: hex.EncodeToString(b[:n])})
	}
	*c.steps = s
	return n, err
}

func (c *tapConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := *c.steps
	if len(s) == 0 {
		s = append(s, step{})
	}
	s[len(s)-1].Got += hex.EncodeToString(b[:n])
	if err != nil && !isTimeout(err) {
		s[len(s)-1].Close = true
	}
	*c.steps = s
	return n, err
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// record runs m against 127.0.0.1:port and writes testdata/<name>.json. It is
// skipped unless PORTRAIT_RECORD=1 (the lab, or a briefly started local
// daemon, must be listening).
func record(t *testing.T, m protocol.Module, name string, port int, note string, hostname string) *protocol.Result {
	t.Helper()
	if os.Getenv("PORTRAIT_RECORD") != "1" {
		t.Skip("set PORTRAIT_RECORD=1 to record from a live server on 127.0.0.1")
	}
	var mu sync.Mutex
	var conns []*[]step
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		steps := new([]step)
		mu.Lock()
		conns = append(conns, steps)
		mu.Unlock()
		return &tapConn{Conn: c, mu: &mu, steps: steps}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := dial(ctx)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	env := protocol.Env{Host: "127.0.0.1", Hostname: hostname, Port: port, Timeout: 3 * time.Second, MaxRead: 64 << 10, Dial: dial}
	var banner []byte
	if m.Info().ServerFirst {
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 4096)
		n, _ := conn.Read(buf)
		_ = conn.SetReadDeadline(time.Time{})
		banner = buf[:n]
	}
	res, err := m.Run(ctx, conn, banner, env)
	if err != nil {
		t.Fatalf("run against %s: %v", addr, err)
	}
	conn.Close()
	mu.Lock()
	tr := transcript{Note: note, Fields: res.Fields}
	for _, c := range conns {
		tr.Conns = append(tr.Conns, *c)
	}
	b, _ := json.MarshalIndent(tr, "", " ")
	mu.Unlock()
	if err := os.WriteFile(filepath.Join("testdata", name+".json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("fields: %v", res.Fields)
	return res
}

func loadTranscript(t testing.TB, name string) *transcript {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr transcript
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &tr
}

// answers returns every server answer of a transcript, for fuzz seeds.
func (tr *transcript) answers() [][]byte {
	var out [][]byte
	for _, c := range tr.Conns {
		for _, s := range c {
			if b, err := hex.DecodeString(s.Got); err == nil && len(b) > 0 {
				out = append(out, b)
			}
		}
	}
	return out
}

// serve replays tr: the n-th accepted connection plays the n-th recorded
// one. Before each answer it waits for the client's request: as many bytes as
// were recorded, or whatever arrived once the client paused (random tokens
// may change a request's length).
func serve(t testing.TB, tr *transcript) string {
	var next atomic.Int32
	return prototest.Serve(t, func(c net.Conn) {
		i := int(next.Add(1)) - 1
		if i >= len(tr.Conns) {
			return
		}
		buf := make([]byte, 65536)
		for _, s := range tr.Conns[i] {
			sent, _ := hex.DecodeString(s.Sent)
			got, _ := hex.DecodeString(s.Got)
			for have := 0; have < len(sent); {
				if have > 0 {
					_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				}
				n, err := c.Read(buf)
				have += n
				if err != nil {
					if isTimeout(err) && have > 0 {
						break
					}
					return
				}
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if len(got) > 0 {
				if _, err := c.Write(got); err != nil {
					return
				}
			}
			if s.Close {
				return
			}
		}
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
}

// replay runs the module against the transcript testdata/<name>.json.
func replay(t *testing.T, m protocol.Module, name string) (*protocol.Result, error) {
	t.Helper()
	return prototest.Run(t, m, serve(t, loadTranscript(t, name)))
}
