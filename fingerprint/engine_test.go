package fingerprint

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// greeter is a server-first test module: banners starting with "HELLO".
type greeter struct{}

func (greeter) Info() protocol.Info {
	return protocol.Info{Name: "greet", Service: "greet", ServerFirst: true}
}
func (greeter) Claim(b []byte) bool { return bytes.HasPrefix(b, []byte("HELLO")) }
func (greeter) Run(ctx context.Context, c net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	r := &protocol.Result{Service: "greet", Confidence: 95}
	r.Set("greet.banner", string(bytes.TrimSpace(banner)))
	return r, nil
}

// pinger is a client-first test module: "PING" → "PONG <version>".
type pinger struct{}

func (pinger) Info() protocol.Info { return protocol.Info{Name: "ping", Service: "ping", Priority: 10} }
func (pinger) Claim(b []byte) bool { return false }
func (pinger) Run(ctx context.Context, c net.Conn, _ []byte, env protocol.Env) (*protocol.Result, error) {
	if err := wire.Write(ctx, c, env.Timeout, []byte("PING\r\n")); err != nil {
		return nil, err
	}
	b, err := wire.ReadLine(ctx, c, env.Timeout, 256)
	if !bytes.HasPrefix(b, []byte("PONG ")) {
		return nil, protocol.ErrNotThisProtocol
	}
	r := &protocol.Result{Service: "ping", Confidence: 95}
	r.Set("ping.reply", string(bytes.TrimSpace(b)))
	r.Record("ping", []byte("PING\r\n"), b)
	return r, err
}

func testEngine(t *testing.T) *Engine {
	cat := NewCatalog()
	err := cat.Add(
		Rule{Name: "greetd", Product: "Greetd", Category: "greet", Patterns: []Pattern{{Type: "field", Field: "greet.banner", Regex: `greetd/(?P<version>\S+)`, Confidence: 90}}},
		Rule{Name: "pongd", Product: "Pongd", Category: "ping", Patterns: []Pattern{{Type: "field", Field: "ping.reply", Regex: `PONG (?P<version>\S+)`, Confidence: 90}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{BannerWait: 300 * time.Millisecond, ProbeTimeout: 500 * time.Millisecond}, []protocol.Module{greeter{}, pinger{}}, cat, nil, nil)
}

func target(t *testing.T, addr string) Target {
	h, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	return Target{Addr: netip.MustParseAddr(h), Port: port}
}

func TestIdentifyServerFirst(t *testing.T) {
	addr := prototest.Serve(t, prototest.Replay([]byte("HELLO greetd/2.1\r\n")))
	s := testEngine(t).Identify(context.Background(), target(t, addr))
	if s.Service != "greet" || s.Product != "Greetd" || s.Version != "2.1" || s.Method != "probed" {
		t.Fatalf("got %+v", s)
	}
	if s.Confidence < 90 {
		t.Errorf("confidence %d", s.Confidence)
	}
}

func TestIdentifyClientFirst(t *testing.T) {
	addr := prototest.Serve(t, func(c net.Conn) {
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		if string(buf[:n]) == "PING\r\n" {
			c.Write([]byte("PONG 7.0\r\n"))
		}
	})
	s := testEngine(t).Identify(context.Background(), target(t, addr))
	if s.Service != "ping" || s.Product != "Pongd" || s.Version != "7.0" {
		t.Fatalf("got %+v", s)
	}
}

// A port that accepts and never speaks is classified quickly and still gets
// a record.
func TestIdentifySilent(t *testing.T) {
	addr := prototest.Serve(t, func(c net.Conn) {
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	start := time.Now()
	s := testEngine(t).Identify(context.Background(), target(t, addr))
	if s.Product != "" || s.State != "open" {
		t.Fatalf("got %+v", s)
	}
	t.Logf("silent port classified in %v", time.Since(start))
}

// An unknown talker gets an SF fingerprint.
func TestIdentifyUnknownGetsSF(t *testing.T) {
	addr := prototest.Serve(t, prototest.Replay([]byte("\x00\x01weird\xff")))
	s := testEngine(t).Identify(context.Background(), target(t, addr))
	if s.Service != "" && s.Method != "table" {
		t.Fatalf("unexpected identification %+v", s)
	}
	joined := strings.ReplaceAll(s.Fingerprint, "\nSF:", "")
	if s.Fingerprint == "" || !strings.Contains(joined, `%r(NULL,8,"\0\x01weird\xff")`) {
		t.Fatalf("fingerprint: %q", s.Fingerprint)
	}
}

// A server that floods its banner forever costs one cap, not a stall.
func TestIdentifyEndlessBanner(t *testing.T) {
	addr := prototest.Serve(t, func(c net.Conn) {
		chunk := bytes.Repeat([]byte("A"), 4096)
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	done := make(chan *Service, 1)
	go func() { done <- testEngine(t).Identify(context.Background(), target(t, addr)) }()
	select {
	case s := <-done:
		if len(s.Evidence["banner"]) > 64<<10 {
			t.Errorf("banner not capped: %d bytes", len(s.Evidence["banner"]))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("endless banner stalled the engine")
	}
}

// A server that greets after the banner wait is still heard.
func TestIdentifyLateBanner(t *testing.T) {
	addr := prototest.Serve(t, func(c net.Conn) {
		time.Sleep(550 * time.Millisecond)
		c.Write([]byte("HELLO greetd/3.0\r\n"))
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	s := testEngine(t).Identify(context.Background(), target(t, addr))
	if s.Product != "Greetd" || s.Version != "3.0" {
		t.Fatalf("late greeting missed: %+v", s)
	}
}

// A server that streams the same bytes whatever it is sent (a trickle)
// does not get the last-resort probes: the answers show it does not
// listen. One that answers each request differently still does.
func TestIdentifyDeafServerSkipsLastResort(t *testing.T) {
	probes, err := BuiltinProbes()
	if err != nil {
		t.Fatal(err)
	}
	run := func(serve func(c net.Conn)) int {
		var mu sync.Mutex
		conns := 0
		addr := prototest.Serve(t, func(c net.Conn) {
			mu.Lock()
			conns++
			mu.Unlock()
			serve(c)
		})
		e := New(Config{BannerWait: 200 * time.Millisecond, ProbeTimeout: 300 * time.Millisecond}, nil, NewCatalog(), probes, nil)
		e.Identify(context.Background(), target(t, addr))
		mu.Lock()
		defer mu.Unlock()
		return conns
	}
	trickle := run(func(c net.Conn) {
		for i := 0; i < 200; i++ {
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	echo := run(func(c net.Conn) {
		c.Write([]byte("? "))
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			c.Write(buf[:n])
		}
	})
	if trickle >= echo {
		t.Errorf("the deaf server got %d connections, the listening one %d: the last resort ran for both", trickle, echo)
	}
	t.Logf("connections: deaf %d, listening %d", trickle, echo)
}

func TestDeaf(t *testing.T) {
	x := func(req, resp string) Exchange { return Exchange{Request: []byte(req), Response: []byte(resp)} }
	for _, c := range []struct {
		name string
		xs   []Exchange
		want bool
	}{
		{"stream", []Exchange{x("", "xxxx"), x("a", "x"), x("b", "xxxxxxxx"), x("c", "xx"), x("d", "xxx")}, true},
		{"too few requests", []Exchange{x("", "xxxx"), x("a", "x"), x("b", "xx")}, false},
		{"answers differ", []Exchange{x("a", "ERR a"), x("b", "ERR b"), x("c", "ERR c"), x("d", "ERR d")}, false},
		{"same banner, silent probes", []Exchange{x("", "HI"), x("a", ""), x("b", ""), x("c", ""), x("d", "")}, false},
	} {
		ev := &evidence{exchanges: c.xs}
		if got := ev.deaf(); got != c.want {
			t.Errorf("%s: deaf %v, want %v", c.name, got, c.want)
		}
	}
}
