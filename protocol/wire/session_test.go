package wire

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
)

func lineEnd(b []byte) int {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return i + 1
	}
	return -1
}

// TestSessionRead: a response already in the banner is served from it, a
// pipelined second one is kept for the next read, and an answer over the cap
// is an error.
func TestSessionRead(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	res := &protocol.Result{}
	s := NewSession(context.Background(), client, protocol.Env{Timeout: time.Second, MaxRead: 16}, []byte("+OK hi\r\n+OK"), res)
	if b, err := s.Read(time.Second, lineEnd); err != nil || string(b) != "+OK hi\r\n" {
		t.Fatalf("banner line %q %v", b, err)
	}
	go func() {
		buf := make([]byte, 64)
		n, _ := server.Read(buf)
		if string(buf[:n]) == "CAPA\r\n" {
			_, _ = server.Write([]byte(" two\r\nthird\r\n"))
		}
	}()
	b, err := s.Cmd("capa", "CAPA", time.Second, lineEnd)
	if err != nil || string(b) != "+OK two\r\n" {
		t.Fatalf("cmd %q %v", b, err)
	}
	if len(res.Exchanges) != 1 || string(res.Exchanges[0].Request) != "CAPA\r\n" {
		t.Errorf("exchanges %+v", res.Exchanges)
	}
	if b, err := s.Read(time.Second, lineEnd); err != nil || string(b) != "third\r\n" {
		t.Fatalf("pipelined %q %v", b, err)
	}
	go func() { _, _ = server.Write(bytes.Repeat([]byte("x"), 32)) }()
	if _, err := s.Read(time.Second, lineEnd); err == nil {
		t.Error("no error past the cap")
	}
}

func TestNotThisProtocol(t *testing.T) {
	cause := errors.New("eof")
	if err := NotThisProtocol(cause); !errors.Is(err, protocol.ErrNotThisProtocol) || !errors.Is(err, cause) {
		t.Errorf("chain %v", err)
	}
	if NotThisProtocol(nil) != protocol.ErrNotThisProtocol {
		t.Error("nil cause")
	}
}
