// Package prototest runs protocol modules against scripted loopback servers
// that replay transcripts recorded from real servers (testdata/), so module
// tests are fast and need no installed daemon.
package prototest

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
)

// Serve starts a loopback TCP server that runs handler for each connection
// and returns its address. The listener closes when the test ends.
func Serve(t testing.TB, handler func(conn net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				handler(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// Run dials addr, reads a passive banner when the module is server-first,
// and runs the module the way the engine does.
func Run(t testing.TB, m protocol.Module, addr string) (*protocol.Result, error) {
	t.Helper()
	return run(t, m, addr, false, Options{})
}

// run is Run inside TLS when useTLS, with the options of a transcript replay.
func run(t testing.TB, m protocol.Module, addr string, useTLS bool, opt Options) (*protocol.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host, portS, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portS)
	if opt.Port != 0 {
		port = opt.Port
	}
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil || !useTLS {
			return c, err
		}
		tc, _, err := clientTLS(ctx, c)
		if err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
	conn, err := dial(ctx)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	env := protocol.Env{Host: host, Port: port, TLS: useTLS, Timeout: 2 * time.Second, MaxRead: 64 << 10, Dial: dial}
	if opt.StartTLS {
		env.StartTLS = clientTLS
	}
	var banner []byte
	if m.Info().ServerFirst {
		banner = ReadBanner(conn)
	}
	if len(banner) > 0 && !m.Claim(banner) {
		if opt.Claim {
			t.Errorf("module %s does not claim banner %q", m.Info().Name, banner)
		} else {
			t.Logf("module %s does not claim banner %q", m.Info().Name, banner)
		}
	}
	return m.Run(ctx, conn, banner, env)
}

// ReadBanner returns what the server says unprompted within two seconds,
// as the engine's passive banner read does.
func ReadBanner(conn net.Conn) []byte {
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	_ = conn.SetReadDeadline(time.Time{})
	return buf[:n]
}

// Hex-free helper: Replay serves a fixed sequence: it sends greeting (if any),
// then for each read from the client answers with the next response.
func Replay(greeting []byte, responses ...[]byte) func(net.Conn) {
	return func(c net.Conn) {
		if len(greeting) > 0 {
			if _, err := c.Write(greeting); err != nil {
				return
			}
		}
		buf := make([]byte, 65536)
		for _, r := range responses {
			if _, err := c.Read(buf); err != nil {
				return
			}
			if _, err := c.Write(r); err != nil {
				return
			}
		}
		// Drain until the client hangs up.
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}
}

// CheckFields reports every field of want that res does not hold with that
// value (an empty want value means the field is absent or empty).
func CheckFields(t testing.TB, res *protocol.Result, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if res.Fields[k] != v {
			t.Errorf("%s = %q, want %q", k, res.Fields[k], v)
		}
	}
}
