package connect

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// silentListener makes a loopback port that drops SYNs, without sending a
// packet anywhere else: a listener with backlog 0 that never accepts. Once
// one connection fills its accept queue, Linux drops further SYNs, so a
// connect times out exactly as against a DROP firewall rule.
func silentListener(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skip("socket:", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skip("bind:", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skip("listen:", err)
	}
	sa, _ := syscall.Getsockname(fd)
	port := sa.(*syscall.SockaddrInet4).Port
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for range 4 { // fill the accept queue
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return port
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("the accept queue never filled; cannot make a silent port")
	return 0
}

func TestFilteredLoopback(t *testing.T) {
	silent := silentListener(t)
	open, _ := listen(t)
	var c collector
	cfg := c.cfg(Config{Timeout: time.Second, MinTimeout: 200 * time.Millisecond, ReportFiltered: true})
	start := time.Now()
	sum, err := Scan(context.Background(), cfg, loopback(t, "127.0.0.1"), []int{silent, open})
	if err != nil {
		t.Fatal(err)
	}
	got := c.byPort()
	r := got[silent]
	if r.State != Filtered || r.Reason != ReasonNoResponse || r.Tries != 2 || r.RTT != 0 {
		t.Errorf("silent port: %+v, want filtered no-response after 2 tries", r)
	}
	if got[open].State != Open {
		t.Errorf("open port: %+v", got[open])
	}
	if sum.Filtered != 1 || sum.Open != 1 || sum.Up != 1 {
		t.Errorf("summary %+v", sum)
	}
	// Two tries of at most 1s each (the retry usually far less): slack
	// for a loaded machine.
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
}

// TestCloseSendsReset checks the SO_LINGER 0 close: the server must see a
// reset, not an orderly FIN, so the scanner's side keeps no TIME_WAIT.
func TestCloseSendsReset(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- err
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		got <- err
	}()
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	if err := dialTCP(context.Background(), ap, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := <-got; !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("server read %v, want connection reset (no FIN, nothing sent)", err)
	}
}

func TestLoopbackIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	var c collector
	if _, err := Scan(context.Background(), c.cfg(Config{}), loopback(t, "::1"), []int{port}); err != nil {
		t.Fatal(err)
	}
	if len(c.ports) != 1 || c.ports[0].State != Open || c.ports[0].Addr.String() != "::1" {
		t.Errorf("results %+v", c.ports)
	}
}
