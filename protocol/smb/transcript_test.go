package smb

// Recording and replay of real server dialogues. With PORTRAIT_RECORD=1 the
// record tests dial the lab on 127.0.0.1 through a tap that keeps every byte
// per connection and write testdata/<name>.json; the other tests replay those
// files through loopback fake servers.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
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

// tExchange is one client write (hex) and the server bytes that followed.
type tExchange struct {
	Request  string `json:"request"`
	Response string `json:"response"`
}

// transcript is a recorded session: one list of exchanges per connection,
// in dial order, plus the fields the module produced when recording.
type transcript struct {
	Note   string            `json:"note"`
	Conns  [][]tExchange     `json:"conns"`
	Fields map[string]string `json:"fields"`
}

type tap struct {
	net.Conn
	mu  *sync.Mutex
	exs *[]tExchange
}

func (c *tap) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	ex := *c.exs
	if len(ex) > 0 && ex[len(ex)-1].Response == "" && ex[len(ex)-1].Request != "" {
		ex[len(ex)-1].Request += hex.EncodeToString(b[:n])
	} else {
		ex = append(ex, tExchange{Request: hex.EncodeToString(b[:n])})
	}
	*c.exs = ex
	return n, err
}

func (c *tap) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		ex := *c.exs
		if len(ex) == 0 {
			ex = append(ex, tExchange{})
		}
		ex[len(ex)-1].Response += hex.EncodeToString(b[:n])
		*c.exs = ex
		c.mu.Unlock()
	}
	return n, err
}

// recordLab runs the module against the lab server on port and saves the
// transcript. It is skipped unless PORTRAIT_RECORD=1.
func recordLab(t *testing.T, m protocol.Module, name string, port int, note string) *protocol.Result {
	t.Helper()
	if os.Getenv("PORTRAIT_RECORD") != "1" {
		t.Skip("set PORTRAIT_RECORD=1 to record from the lab")
	}
	var mu sync.Mutex
	var conns []*[]tExchange
	tr := &transcript{Note: note}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		exs := new([]tExchange)
		mu.Lock()
		conns = append(conns, exs)
		mu.Unlock()
		return &tap{Conn: c, mu: &mu, exs: exs}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := dial(ctx)
	if err != nil {
		t.Fatalf("dial lab: %v", err)
	}
	defer conn.Close()
	env := protocol.Env{Host: "127.0.0.1", Port: port, Timeout: 3 * time.Second, MaxRead: 64 << 10, Dial: dial}
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
		t.Fatalf("run against lab: %v", err)
	}
	mu.Lock()
	for _, c := range conns {
		tr.Conns = append(tr.Conns, *c)
	}
	tr.Fields = res.Fields
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
		t.Fatal(err)
	}
	return &tr
}

// responses returns every recorded server answer of a transcript, for fuzz
// seeds.
func (tr *transcript) responses() [][]byte {
	var out [][]byte
	for _, c := range tr.Conns {
		for _, ex := range c {
			if b, err := hex.DecodeString(ex.Response); err == nil && len(b) > 0 {
				out = append(out, b)
			}
		}
	}
	return out
}

// serveTranscript replays tr: the n-th accepted connection plays the n-th
// recorded one, reading as many bytes as the client sent when recording
// before answering; an empty recorded answer closes the connection.
func serveTranscript(t testing.TB, tr *transcript) string {
	var next atomic.Int32
	return prototest.Serve(t, func(c net.Conn) {
		i := int(next.Add(1)) - 1
		if i >= len(tr.Conns) {
			return
		}
		for _, ex := range tr.Conns[i] {
			req, _ := hex.DecodeString(ex.Request)
			resp, _ := hex.DecodeString(ex.Response)
			if len(req) > 0 {
				if _, err := io.ReadFull(c, make([]byte, len(req))); err != nil {
					return
				}
			}
			if len(resp) == 0 {
				return
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
		_, _ = io.Copy(io.Discard, c)
	})
}

// replay runs the module against a replayed transcript.
func replay(t *testing.T, m protocol.Module, name string) (*protocol.Result, error) {
	t.Helper()
	return prototest.Run(t, m, serveTranscript(t, loadTranscript(t, name)))
}
