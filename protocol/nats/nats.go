// Package nats fingerprints NATS servers, which greet every client with one
// line "INFO {json}\r\n" describing themselves. The module only reads that
// line (completing it when the passive banner was cut short) and parses the
// JSON; it sends nothing.
//
// Fields (all strings):
//
//	nats.version        server version ("2.9.10")
//	nats.go             Go version the server was built with ("go1.19.8")
//	nats.proto          protocol level (decimal)
//	nats.git_commit     git commit, when the build recorded one
//	nats.server_id      the server's public key id (unique per instance: rules must not match it)
//	nats.auth_required  "true"/"false"
//	nats.tls_required   "true"/"false"
//	nats.tls_available  "true"/"false" when announced
//	nats.jetstream      "true"/"false" (absent: JetStream not enabled)
//	nats.headers        "true"/"false"
//	nats.max_payload    maximum message payload (decimal)
//	nats.cluster        cluster name, when clustered
//	nats.domain         JetStream domain, when set
//	nats.keys           the INFO keys in sorted order, comma separated (an implementation fingerprint)
package nats

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// maxInfo bounds the INFO line; connect_urls of a large cluster make it long.
const maxInfo = 32 << 10

type module struct{}

// New returns the NATS protocol module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{Name: "nats", Service: "nats", Ports: []int{4222, 6222, 7422}, ServerFirst: true, Priority: 50}
}

// Claim recognises the INFO greeting.
func (module) Claim(b []byte) bool {
	rest, ok := bytes.CutPrefix(b, []byte("INFO"))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	return len(rest) == 0 || rest[0] == '{'
}

func (m module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	line := append([]byte{}, banner...)
	if bytes.IndexByte(line, '\n') < 0 && len(line) < maxInfo {
		rest, _ := wire.ReadUntil(ctx, conn, env.Timeout, maxInfo-len(line), func(b []byte) bool {
			return bytes.IndexByte(b, '\n') >= 0
		})
		line = append(line, rest...)
	}
	res.Record("NULL", nil, line)
	if !m.Claim(line) {
		return res, protocol.ErrNotThisProtocol
	}
	info, err := ParseInfo(line)
	if err != nil {
		return res, fmt.Errorf("nats: %w: %w", protocol.ErrNotThisProtocol, err)
	}
	for _, k := range []struct{ json, field string }{
		{"version", "nats.version"}, {"go", "nats.go"}, {"proto", "nats.proto"},
		{"git_commit", "nats.git_commit"}, {"server_id", "nats.server_id"},
		{"auth_required", "nats.auth_required"}, {"tls_required", "nats.tls_required"},
		{"tls_available", "nats.tls_available"}, {"jetstream", "nats.jetstream"},
		{"headers", "nats.headers"}, {"max_payload", "nats.max_payload"},
		{"cluster", "nats.cluster"}, {"domain", "nats.domain"},
	} {
		res.Set(k.field, scalar(info[k.json]))
	}
	keys := make([]string, 0, len(info))
	for k := range info {
		if len(k) <= 64 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > 64 {
		keys = keys[:64]
	}
	res.Set("nats.keys", strings.Join(keys, ","))
	res.Service, res.Confidence = "nats", 90
	if res.Fields["nats.server_id"] != "" || res.Fields["nats.version"] != "" {
		res.Confidence = 98
	}
	return res, nil
}

// ParseInfo parses an "INFO {json}" line into its JSON object.
func ParseInfo(line []byte) (map[string]any, error) {
	rest, ok := bytes.CutPrefix(line, []byte("INFO"))
	if !ok {
		return nil, fmt.Errorf("no INFO")
	}
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	rest = bytes.TrimSpace(rest)
	if len(rest) > maxInfo {
		return nil, fmt.Errorf("INFO longer than %d bytes", maxInfo)
	}
	var out map[string]any
	if err := json.Unmarshal(rest, &out); err != nil {
		return nil, fmt.Errorf("INFO json: %w", err)
	}
	return out, nil
}

// scalar renders a JSON scalar as a field value; objects and arrays give "".
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 256 {
			return x[:256]
		}
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}
