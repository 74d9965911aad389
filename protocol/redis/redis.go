// Package redis fingerprints servers that speak RESP, the Redis protocol
// (Redis, Valkey, KeyDB, Dragonfly, Garnet, Sentinel...). It sends the inline
// command "INFO server", which every RESP server answers before any other
// command, and reads either the INFO bulk string or the error that explains
// why not (authentication, protected mode). The engine also tries this module
// on silent ports, so the first byte of the answer decides at once: anything
// that is not a RESP bulk string or error line is another protocol.
//
// Fields (all strings):
//
//	redis.version          redis_version from INFO (the Redis compatibility level on forks)
//	redis.mode             redis_mode: standalone, cluster, sentinel
//	redis.os               os line: kernel name, release and machine ("Linux 6.1.0 x86_64")
//	redis.arch             arch_bits: "64" or "32"
//	redis.git_sha1         redis_git_sha1 ("00000000" on distribution builds)
//	redis.server_name      server_name (Valkey writes "valkey")
//	redis.valkey_version   valkey_version (Valkey's own version)
//	redis.dragonfly_version dragonfly_version ("df-v1.14.1")
//	redis.garnet_version   garnet_version (Microsoft Garnet)
//	redis.executable       executable path (tells KeyDB's keydb-server apart)
//	redis.auth_required    "true" when the server demanded AUTH before INFO
//	redis.protected_mode   "true" when the server refused us for protected mode
//	redis.error            the RESP error line, when INFO was refused
//	redis.ping             "PONG" when PING answered after INFO was refused
//	redis.info             the raw INFO text, at most infoCap bytes
package redis

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// infoCap bounds the INFO text kept in redis.info; the server section is
// about 600 bytes, a full INFO can be tens of kilobytes.
const infoCap = 4096

// maxBulk bounds the bulk length we are willing to wait for.
const maxBulk = 256 << 10

var (
	infoRequest = []byte("INFO server\r\n")
	pingRequest = []byte("PING\r\n")
)

type module struct{}

// New returns the Redis protocol module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{
		Name:     "redis",
		Service:  "redis",
		Ports:    []int{6379, 6380, 26379},
		TLSPorts: []int{6380},
		Priority: 50,
	}
}

// Claim is false: Redis never speaks first.
func (module) Claim([]byte) bool { return false }

func (module) Run(ctx context.Context, conn net.Conn, _ []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	if err := wire.Write(ctx, conn, env.Timeout, infoRequest); err != nil {
		return nil, fmt.Errorf("redis: send INFO: %w", err)
	}
	max := env.MaxRead
	if max <= 0 || max > maxBulk+64 {
		max = maxBulk + 64
	}
	resp, err := wire.ReadUntil(ctx, conn, env.Timeout, max, replyComplete)
	res.Record("redis-server", infoRequest, resp)
	if len(resp) == 0 {
		if err == nil {
			err = fmt.Errorf("empty answer")
		}
		return res, fmt.Errorf("redis: read INFO: %w", err)
	}
	reply, ok := ParseReply(resp)
	if !ok {
		return res, protocol.ErrNotThisProtocol
	}
	switch reply.Kind {
	case '$':
		fields := ParseInfo(reply.Text)
		if fields["redis_version"] == "" && fields["dragonfly_version"] == "" &&
			fields["valkey_version"] == "" && fields["garnet_version"] == "" {
			// A bulk string without any version line is not an INFO answer.
			res.Set("redis.info", capString(reply.Text, infoCap))
			res.Service, res.Confidence = "redis", 60
			return res, nil
		}
		setInfoFields(res, fields)
		res.Set("redis.info", capString(reply.Text, infoCap))
		res.Service, res.Confidence = "redis", 98
		return res, nil
	case '-':
		res.Set("redis.error", capString(reply.Text, 256))
		conf := classifyError(res, reply.Text)
		if conf == 0 {
			// A generic error ("-ERR unknown command"): INFO may be renamed.
			// PING is never renamed in practice and answers +PONG.
			conf = ping(ctx, conn, env, res)
		}
		if conf == 0 {
			return res, protocol.ErrNotThisProtocol
		}
		res.Service, res.Confidence = "redis", conf
		return res, nil
	}
	return res, protocol.ErrNotThisProtocol
}

// ping sends PING after a refused INFO and returns the confidence its
// answer gives.
func ping(ctx context.Context, conn net.Conn, env protocol.Env, res *protocol.Result) int {
	if err := wire.Write(ctx, conn, env.Timeout, pingRequest); err != nil {
		return 0
	}
	resp, _ := wire.ReadUntil(ctx, conn, env.Timeout, 512, replyComplete)
	res.Record("redis-ping", pingRequest, resp)
	reply, ok := ParseReply(resp)
	if !ok {
		return 0
	}
	if reply.Kind == '+' && strings.EqualFold(reply.Text, "PONG") {
		res.Set("redis.ping", "PONG")
		return 90
	}
	if reply.Kind == '-' {
		return classifyError(res, reply.Text)
	}
	return 0
}

// classifyError sets fields from a RESP error and returns the confidence
// it gives that the peer is a RESP server (0 = says nothing).
func classifyError(res *protocol.Result, msg string) int {
	switch {
	case strings.HasPrefix(msg, "NOAUTH"),
		strings.HasPrefix(msg, "WRONGPASS"),
		strings.HasPrefix(msg, "ERR operation not permitted"),
		strings.Contains(msg, "AUTH") && strings.HasPrefix(msg, "ERR"):
		res.Set("redis.auth_required", "true")
		return 90
	case strings.HasPrefix(msg, "DENIED") && strings.Contains(msg, "protected mode"):
		res.Set("redis.protected_mode", "true")
		return 95
	}
	return 0
}

func setInfoFields(res *protocol.Result, f map[string]string) {
	res.Set("redis.version", f["redis_version"])
	res.Set("redis.mode", f["redis_mode"])
	res.Set("redis.os", f["os"])
	res.Set("redis.arch", f["arch_bits"])
	res.Set("redis.git_sha1", f["redis_git_sha1"])
	res.Set("redis.server_name", f["server_name"])
	res.Set("redis.valkey_version", f["valkey_version"])
	res.Set("redis.dragonfly_version", f["dragonfly_version"])
	res.Set("redis.garnet_version", f["garnet_version"])
	res.Set("redis.executable", f["executable"])
}

// Reply is one parsed RESP reply: Kind is the type byte ('$' bulk string,
// '-' error, '+' simple string, ':' integer) and Text its payload.
type Reply struct {
	Kind byte
	Text string
}

// ParseReply parses the first RESP reply of b. ok is false when b is not
// RESP. A bulk string cut short is returned with what arrived.
func ParseReply(b []byte) (Reply, bool) {
	if len(b) < 1 {
		return Reply{}, false
	}
	kind := b[0]
	line, _, found := bytes.Cut(b[1:], []byte("\r\n"))
	switch kind {
	case '-', '+', ':':
		if !found && len(b) > 1024 {
			return Reply{}, false
		}
		if !printable(line) {
			return Reply{}, false
		}
		return Reply{Kind: kind, Text: string(line)}, true
	case '$':
		if !found {
			return Reply{}, false
		}
		n, err := strconv.Atoi(string(line))
		if err != nil || n < -1 || n > maxBulk {
			return Reply{}, false
		}
		if n == -1 {
			return Reply{Kind: '$'}, true
		}
		body := b[1+len(line)+2:]
		if len(body) > n {
			body = body[:n]
		}
		return Reply{Kind: '$', Text: string(body)}, true
	}
	return Reply{}, false
}

// replyComplete reports whether b holds a whole RESP reply, or enough to see
// that it is not RESP at all (so a foreign protocol costs no timeout).
func replyComplete(b []byte) bool {
	switch b[0] {
	case '-', '+', ':':
		return bytes.Contains(b, []byte("\r\n")) || len(b) > 1024
	case '$':
		line, _, found := bytes.Cut(b[1:], []byte("\r\n"))
		if !found {
			return len(b) > 32
		}
		n, err := strconv.Atoi(string(line))
		if err != nil || n < 0 || n > maxBulk {
			return true
		}
		return len(b) >= 1+len(line)+2+n+2
	}
	return true
}

// ParseInfo splits INFO text into its "key:value" lines ("# Section"
// headers and blank lines are skipped). The first occurrence of a key wins.
func ParseInfo(text string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 1024), maxBulk)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" {
			continue
		}
		if _, seen := out[k]; !seen {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func capString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
