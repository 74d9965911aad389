package connect

import (
	"context"
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
	cfg := c.cfg(Config{Timeout: 300 * time.Millisecond, MinTimeout: 150 * time.Millisecond, ReportFiltered: true})
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
	// Two tries of at most 300ms each: generous slack for a loaded machine,
	// but far below the kernel's own SYN retransmission schedule.
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
}
