package simple

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Echo is the echo service module (RFC 862): client-first, it sends one
// random line and expects exactly that line back.
type Echo struct{}

// NewEcho returns the echo module.
func NewEcho() protocol.Module { return Echo{} }

// Info describes the echo module.
func (Echo) Info() protocol.Info {
	return protocol.Info{Name: "echo", Service: "echo", Ports: []int{7}, Priority: 30}
}

// Claim is always false: an echo server never speaks first.
func (Echo) Claim([]byte) bool { return false }

// echoToken builds the probe line: random, so that only a server that echoes
// (and not one that happens to print a fixed text) can answer it.
func echoToken() []byte {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return []byte("portrait-echo-" + hex.EncodeToString(b[:]) + "\r\n")
}

// Run sends the token and compares the answer.
func (Echo) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	if len(banner) > 0 {
		return nil, fmt.Errorf("echo: server spoke first: %w", protocol.ErrNotThisProtocol)
	}
	token := echoToken()
	if err := wire.Write(ctx, conn, env.Timeout, token); err != nil {
		return nil, fmt.Errorf("echo: send: %w", err)
	}
	max := len(token) + 64 // an echo never needs more; a talker is cut short
	got, err := wire.ReadUntil(ctx, conn, env.Timeout, max, func(b []byte) bool {
		return len(b) >= len(token) || !bytes.HasPrefix(token, b)
	})
	res := &protocol.Result{}
	res.Record("echo", token, got)
	if len(got) == 0 {
		return nil, fmt.Errorf("echo: no answer: %w", err)
	}
	if !bytes.Equal(got, token) {
		return nil, fmt.Errorf("echo: answer %q differs from the probe: %w", wire.Clip(got, 32), protocol.ErrNotThisProtocol)
	}
	res.Set("echo.echoed", "true")
	res.Service, res.Confidence = "echo", 95
	return res, nil
}
