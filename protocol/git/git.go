// Package git probes the git:// daemon protocol (port 9418). It asks
// git-upload-pack for a repository that does not exist; git daemon answers
// with a pkt-line "ERR ..." whose text depends on the daemon and its
// options, and a server that does serve the path advertises its refs with
// capabilities (agent=git/2.39.5). Nothing is fetched.
//
// Fields (all strings):
//
//	git.error         text of an "ERR" pkt-line ("access denied or repository
//	                  not exported: /portrait-probe")
//	git.capabilities  capabilities after the first advertised ref (space separated)
//	git.agent         the agent= capability ("git/2.39.5", "JGit/6.5")
package git

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Module is the git daemon module.
type Module struct{}

// New returns the git module.
func New() protocol.Module { return Module{} }

// Info describes the module.
func (Module) Info() protocol.Info {
	return protocol.Info{Name: "git", Service: "git", Ports: []int{9418}, Priority: 40}
}

// Claim is always false: the git client speaks first.
func (Module) Claim([]byte) bool { return false }

// probePath names a repository no server has.
const probePath = "/portrait-probe"

// Request builds the git-proto-request pkt-line for host.
func Request(host string) []byte {
	payload := "git-upload-pack " + probePath + "\x00host=" + host + "\x00"
	return []byte(fmt.Sprintf("%04x%s", len(payload)+4, payload))
}

// Answer is the daemon's first pkt-line, interpreted.
type Answer struct {
	Error        string
	Capabilities string
	Agent        string
}

// ParsePktLine splits the first pkt-line off b. ok is false when the
// length prefix is not four hex digits or is out of range; complete is false
// when more bytes are needed.
func ParsePktLine(b []byte) (payload []byte, ok, complete bool) {
	if len(b) < 4 {
		for _, c := range b {
			if !isHex(c) {
				return nil, false, false
			}
		}
		return nil, true, false
	}
	for _, c := range b[:4] {
		if !isHex(c) {
			return nil, false, false
		}
	}
	n, _ := strconv.ParseUint(string(b[:4]), 16, 16)
	switch {
	case n == 0 || n == 1 || n == 2: // flush, delim, response-end
		return nil, true, true
	case n < 4 || n > 65520:
		return nil, false, false
	}
	if len(b) < int(n) {
		return nil, true, false
	}
	return b[4:n], true, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// ParseAnswer interprets the first pkt-line payload.
func ParseAnswer(p []byte) (Answer, bool) {
	p = bytes.TrimSuffix(p, []byte("\n"))
	var a Answer
	if rest, ok := bytes.CutPrefix(p, []byte("ERR ")); ok {
		a.Error = strings.TrimSpace(string(rest))
		return a, true
	}
	// "<40 or 64 hex> <refname>\0<capabilities>", or "version 2".
	if bytes.Equal(p, []byte("version 2")) {
		a.Capabilities = "version 2"
		return a, true
	}
	sp := bytes.IndexByte(p, ' ')
	if sp != 40 && sp != 64 {
		return a, false
	}
	for _, c := range p[:sp] {
		if !isHex(c) {
			return a, false
		}
	}
	if i := bytes.IndexByte(p, 0); i >= 0 {
		a.Capabilities = strings.TrimSpace(string(p[i+1:]))
		for _, c := range strings.Fields(a.Capabilities) {
			if v, ok := strings.CutPrefix(c, "agent="); ok {
				a.Agent = v
			}
		}
	}
	return a, true
}

// Run sends the request and reads the first pkt-line.
func (Module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	if len(banner) > 0 {
		return nil, fmt.Errorf("git: server spoke first: %w", protocol.ErrNotThisProtocol)
	}
	host := env.Hostname
	if host == "" {
		host = env.Host
	}
	if i := strings.IndexAny(host, "\x00\r\n"); i >= 0 {
		host = host[:i]
	}
	req := Request(host)
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return nil, fmt.Errorf("git: send: %w", err)
	}
	max := env.MaxRead
	if max <= 0 || max > 65524 {
		max = 65524
	}
	got, err := wire.ReadUntil(ctx, conn, env.Timeout, max, func(b []byte) bool {
		_, ok, complete := ParsePktLine(b)
		return !ok || complete
	})
	res := &protocol.Result{}
	res.Record("git-upload-pack", req, got)
	if len(got) == 0 {
		return nil, fmt.Errorf("git: no answer: %w", err)
	}
	p, ok, complete := ParsePktLine(got)
	if !ok || !complete {
		return nil, fmt.Errorf("git: answer %q: %w", wire.Clip(got, 32), protocol.ErrNotThisProtocol)
	}
	a, ok := ParseAnswer(p)
	if !ok {
		return nil, fmt.Errorf("git: pkt-line %q: %w", wire.Clip(p, 32), protocol.ErrNotThisProtocol)
	}
	res.Set("git.error", a.Error)
	res.Set("git.capabilities", a.Capabilities)
	res.Set("git.agent", a.Agent)
	res.Service, res.Confidence = "git", 95
	return res, nil
}
