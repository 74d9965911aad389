// Package memcached fingerprints servers that speak the memcached text
// protocol. It sends "version", whose one-line answer ("VERSION 1.6.18")
// confirms the protocol, then "stats" for build details. A first answer that
// does not start like a memcached reply ends the dialogue at once, so the
// module is cheap on silent ports of other protocols.
//
// Fields (all strings):
//
//	memcached.version              version from the VERSION line ("1.6.18"; Dragonfly says "1.6.0 DF")
//	memcached.auth_required        "true" when the server answered "CLIENT_ERROR unauthenticated"
//	memcached.stats.version        STAT version
//	memcached.stats.libevent       STAT libevent ("2.1.12-stable")
//	memcached.stats.pointer_size   STAT pointer_size ("64")
//	memcached.threads              STAT threads
//	memcached.stats.max_connections STAT max_connections
//	memcached.stats.names          the STAT names in the server's order, comma separated
//	                               (an implementation fingerprint free of volatile values)
//
// The process id (STAT pid) is deliberately not recorded.
package memcached

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// statsCap bounds the stats answer (memcached 1.6 sends about 3 KiB).
const statsCap = 32 << 10

// namesCap bounds memcached.stats.names.
const namesCap = 2048

var (
	versionRequest = []byte("version\r\n")
	statsRequest   = []byte("stats\r\n")
)

type module struct{}

// New returns the memcached protocol module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{Name: "memcached", Service: "memcached", Ports: []int{11211}, Priority: 40}
}

// Claim is false: memcached never speaks first.
func (module) Claim([]byte) bool { return false }

func (module) Run(ctx context.Context, conn net.Conn, _ []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	if err := wire.Write(ctx, conn, env.Timeout, versionRequest); err != nil {
		return nil, fmt.Errorf("memcached: send version: %w", err)
	}
	resp, err := wire.ReadUntil(ctx, conn, env.Timeout, 512, lineOrForeign)
	res.Record("memcached-version", versionRequest, resp)
	if len(resp) == 0 {
		if err == nil {
			err = fmt.Errorf("empty answer")
		}
		return res, fmt.Errorf("memcached: read version: %w", err)
	}
	line := firstLine(resp)
	switch {
	case strings.HasPrefix(line, "VERSION "):
		res.Set("memcached.version", strings.TrimSpace(line[len("VERSION "):]))
	case line == "CLIENT_ERROR unauthenticated":
		res.Set("memcached.auth_required", "true")
		res.Service, res.Confidence = "memcached", 85
		return res, nil
	default:
		return res, protocol.ErrNotThisProtocol
	}
	res.Service, res.Confidence = "memcached", 95

	if err := wire.Write(ctx, conn, env.Timeout, statsRequest); err != nil {
		return res, nil
	}
	max := statsCap
	if env.MaxRead > 0 && env.MaxRead < max {
		max = env.MaxRead
	}
	stats, _ := wire.ReadUntil(ctx, conn, env.Timeout, max, statsDone)
	res.Record("memcached-stats", statsRequest, stats)
	st, names := ParseStats(stats)
	res.Set("memcached.stats.version", st["version"])
	res.Set("memcached.stats.libevent", st["libevent"])
	res.Set("memcached.stats.pointer_size", st["pointer_size"])
	res.Set("memcached.threads", st["threads"])
	res.Set("memcached.stats.max_connections", st["max_connections"])
	if len(names) > 0 {
		res.Set("memcached.stats.names", capNames(names))
		res.Confidence = 98
	}
	return res, nil
}

// lineOrForeign stops the read at the first line end, or as soon as the
// first byte cannot start a memcached reply (replies begin with an upper
// case word: VERSION, ERROR, CLIENT_ERROR, SERVER_ERROR, STAT, END).
func lineOrForeign(b []byte) bool {
	if b[0] < 'A' || b[0] > 'Z' {
		return true
	}
	return bytes.IndexByte(b, '\n') >= 0
}

// statsDone reports that a stats answer ended: "END" or an error line.
func statsDone(b []byte) bool {
	return bytes.HasSuffix(b, []byte("END\r\n")) ||
		bytes.HasPrefix(b, []byte("ERROR")) && bytes.HasSuffix(b, []byte("\n")) ||
		bytes.HasPrefix(b, []byte("CLIENT_ERROR")) && bytes.HasSuffix(b, []byte("\n")) ||
		bytes.HasPrefix(b, []byte("SERVER_ERROR")) && bytes.HasSuffix(b, []byte("\n"))
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return strings.TrimRight(string(line), "\r")
}

// ParseStats parses "STAT name value" lines up to END. It returns the
// values by name (the first occurrence wins) and the names in order.
func ParseStats(b []byte) (map[string]string, []string) {
	out := map[string]string{}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 512), statsCap)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "END" {
			break
		}
		rest, ok := strings.CutPrefix(line, "STAT ")
		if !ok {
			continue
		}
		name, value, _ := strings.Cut(rest, " ")
		if name == "" || !token(name) {
			continue
		}
		if _, seen := out[name]; seen {
			continue
		}
		out[name] = strings.TrimSpace(value)
		names = append(names, name)
	}
	return out, names
}

func token(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

func capNames(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if b.Len()+len(n)+1 > namesCap {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
	}
	return b.String()
}
