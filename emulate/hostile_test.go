package emulate

import (
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// alive checks that the emulator still greets a fresh client.
func alive(t *testing.T, addr string) {
	t.Helper()
	c := dial(t, addr)
	if g := c.reply(); !strings.HasPrefix(g, "220 ") {
		t.Fatalf("greeting after abuse: %q", g)
	}
}

func TestHostileClients(t *testing.T) {
	s := &Server{P: shipped(t, "postfix"), NoDelay: true, MaxSessionBytes: 2 << 20}
	addr, log := serve(t, s)

	// An overlong line: cut, classified OVERLONG, the session goes on.
	c := dial(t, addr)
	c.reply()
	big := strings.Repeat("A", 1<<20)
	if _, err := io.WriteString(c.c, big+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if r := c.reply(); !strings.HasPrefix(r, "500 ") {
		t.Errorf("overlong: %q", r)
	}
	if r := c.cmd("NOOP"); r != "250 2.0.0 Ok" {
		t.Errorf("NOOP after overlong: %q", r)
	}
	c.c.Close()

	// Endless data without a line end: the byte budget ends the session.
	c = dial(t, addr)
	c.reply()
	go func() {
		chunk := make([]byte, 64<<10)
		for i := 0; i < 64; i++ {
			if _, err := c.c.Write(chunk); err != nil {
				return
			}
		}
	}()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c.br); err != nil && !isReset(err) {
		t.Errorf("endless line: %v", err)
	}

	// Binary garbage in lines.
	c = dial(t, addr)
	c.reply()
	garbage := make([]byte, 4096)
	_, _ = rand.Read(garbage)
	_, _ = c.c.Write(garbage)
	c.c.Close()

	// Abrupt disconnects: before the greeting, mid-line, mid-TLS.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			switch i % 3 {
			case 1:
				nc.Write([]byte("EHLO half-a-li"))
			case 2:
				nc.Write([]byte("EHLO x\r\nSTARTTLS\r\n\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"))
			}
			nc.Close()
		}(i)
	}
	wg.Wait()
	alive(t, addr)

	// Every session that ended is logged as closed.
	time.Sleep(200 * time.Millisecond)
	connects, closes := 0, 0
	for _, e := range log.events(t) {
		switch e.Event {
		case "connect":
			connects++
		case "close":
			closes++
		}
	}
	if closes < connects-1 { // the last alive() session may still be open
		t.Errorf("%d connects, %d closes", connects, closes)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "broken pipe"))
}

func TestHostileHTTPAndSSH(t *testing.T) {
	for _, name := range []string{"nginx", "apache", "openssh"} {
		addr, _ := serve(t, &Server{P: shipped(t, name), NoDelay: true, IdleTimeout: 2 * time.Second})
		inputs := [][]byte{
			[]byte("GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("y", 100<<10) + "\r\n\r\n"),
			[]byte("\x00\x00\xff\xff garbage"),
			[]byte("SSH-2.0-x\r\n\xff\xff\xff\xff\x00\x00\x00\x00"),
			[]byte("SSH-2.0-x\r\n\x00\x00\x00\x0c\x0a\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
			[]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc"),
			[]byte(strings.Repeat("\r\n", 10000)),
		}
		for i, in := range inputs {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = nc.Write(in)
			_, _ = io.Copy(io.Discard, nc)
			nc.Close()
			_ = i
		}
		// Still answering.
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_ = nc.SetDeadline(time.Now().Add(3 * time.Second))
		if name == "openssh" {
			b := make([]byte, 8)
			if _, err := io.ReadFull(nc, b); err != nil || string(b[:4]) != "SSH-" {
				t.Errorf("%s after abuse: %q %v", name, b, err)
			}
		} else {
			fmt.Fprintf(nc, "GET / HTTP/1.0\r\n\r\n")
			b := make([]byte, 12)
			if _, err := io.ReadFull(nc, b); err != nil || string(b[:5]) != "HTTP/" {
				t.Errorf("%s after abuse: %q %v", name, b, err)
			}
		}
		nc.Close()
	}
}

func TestSessionLimits(t *testing.T) {
	s := &Server{P: shipped(t, "vsftpd"), NoDelay: true, MaxSessions: 2, IdleTimeout: 300 * time.Millisecond}
	addr, log := serve(t, s)
	a := dial(t, addr)
	a.reply()
	b := dial(t, addr)
	b.reply()
	c := dial(t, addr)
	if _, err := c.br.ReadByte(); err == nil {
		t.Error("a third session was served with MaxSessions 2")
	}
	// Idle sessions are closed.
	time.Sleep(600 * time.Millisecond)
	if _, err := a.br.ReadByte(); err == nil {
		t.Error("idle session still open")
	}
	time.Sleep(100 * time.Millisecond)
	reasons := map[string]int{}
	for _, e := range log.events(t) {
		if e.Event == "refused" || e.Event == "close" {
			reasons[e.Event+":"+e.Reason]++
		}
	}
	if reasons["refused:max sessions"] != 1 || reasons["close:idle"] != 2 {
		t.Errorf("log reasons %v", reasons)
	}
}

// TestConcurrentLogLosesNothing: 200 clients at once, every event of
// every session in the log, each line whole.
func TestConcurrentLogLosesNothing(t *testing.T) {
	const clients = 200
	s := &Server{P: shipped(t, "postfix"), NoDelay: true}
	addr, log := serve(t, s)
	cmds := []string{"EHLO c.example", "MAIL FROM:<a@b.example>", "RCPT TO:<postmaster@lab.local>", "NOOP", "RSET", "QUIT"}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := make(chan struct{})
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
			c := &client{t: t, c: nc, br: newReader(nc)}
			if _, err := readReply(c); err != nil {
				errs <- err
				return
			}
			for _, cmd := range cmds {
				fmt.Fprintf(nc, "%s\r\n", cmd)
				if _, err := readReply(c); err != nil {
					errs <- fmt.Errorf("client %d %s: %w", i, cmd, err)
					return
				}
			}
		}(i)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs := log.events(t)
		perSession := map[uint64]int{}
		for _, e := range evs {
			perSession[e.Session]++
		}
		complete := 0
		for _, n := range perSession {
			if n == 3+len(cmds) { // connect, greeting, commands, close
				complete++
			}
		}
		if complete == clients && len(evs) == clients*(3+len(cmds)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events for %d sessions, %d complete; want %d each", len(evs), len(perSession), complete, 3+len(cmds))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
