// Package zookeeper fingerprints Apache ZooKeeper and servers that speak
// its protocol (ClickHouse Keeper). It first sends the four-letter word
// "srvr", whose answer names the version and the mode. Since 3.5 most
// four-letter words are disabled unless whitelisted; the refusal itself
// ("srvr is not executed because it is not in the whitelist.") confirms
// ZooKeeper, and the module then tries "stat" and "ruok". When the
// four-letter words get no answer at all, a binary ConnectRequest (the first
// packet of every ZooKeeper client) confirms the protocol on ZooKeeper's
// ports; the session it opens is closed at once. Every four-letter word needs its own connection:
// the server closes after answering.
//
// Fields (all strings):
//
//	zookeeper.banner            first line of the srvr/stat answer ("Zookeeper version: 3.8.0-..., built on ...")
//	zookeeper.version           the version from that line ("3.8.0")
//	zookeeper.build             the text after "version: " (version, commit, build date)
//	zookeeper.mode              Mode line: standalone, leader, follower, observer, read-only
//	zookeeper.whitelisted       "true" when srvr or stat answered, "false" when they were refused
//	zookeeper.ruok              "imok" when ruok answered
//	zookeeper.not_serving       "true" when the server said it is not serving requests
//	zookeeper.connect           "ok" when a binary ConnectRequest drew a ConnectResponse
//	zookeeper.connect.protocol  protocol version in that response (decimal)
//	zookeeper.connect.timeout   negotiated session timeout in ms (decimal; 0 = refused)
package zookeeper

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// maxAnswer bounds a four-letter-word answer (stat lists clients).
const maxAnswer = 16 << 10

// answer prefixes that show a ZooKeeper-protocol server
var knownPrefixes = []string{
	"Zookeeper version:",
	"ClickHouse Keeper version:",
	"This ZooKeeper instance is not currently serving requests",
	"imok",
}

const notWhitelisted = " is not executed because it is not in the whitelist."

type module struct{}

// New returns the ZooKeeper protocol module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{Name: "zookeeper", Service: "zookeeper", Ports: []int{2181, 2182, 9181}, Priority: 40}
}

// Claim is false: ZooKeeper never speaks first.
func (module) Claim([]byte) bool { return false }

func (module) Run(ctx context.Context, conn net.Conn, _ []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	resp, err := fourLetter(ctx, conn, env, res, "srvr")
	if len(resp) == 0 {
		// A bare close: maybe a server that drops four-letter words
		// silently. Only a binary handshake can tell; it costs a
		// connection, so it is tried on ZooKeeper's ports only (many
		// servers of other protocols hang up on "srvr").
		if env.Dial != nil && (err == nil || !wire.IsTimeout(err)) && zkPort(env.Port) {
			if binaryConnect(ctx, env, res) {
				res.Service, res.Confidence = "zookeeper", 90
				return res, nil
			}
		}
		if err == nil {
			err = errors.New("empty answer")
		}
		return res, fmt.Errorf("zookeeper: srvr: %w", err)
	}
	text := string(resp)
	switch {
	case strings.HasPrefix(text, "srvr"+notWhitelisted):
		res.Set("zookeeper.whitelisted", "false")
		res.Service, res.Confidence = "zookeeper", 90
		if env.Dial == nil {
			return res, nil
		}
		for _, word := range []string{"stat", "ruok"} {
			c, err := env.Dial(ctx)
			if err != nil {
				break
			}
			r, _ := fourLetter(ctx, c, env, res, word)
			c.Close()
			if t := string(r); len(r) > 0 && !strings.Contains(t, notWhitelisted) {
				if parseAnswer(res, t) {
					res.Confidence = 95
				}
				break
			}
		}
		return res, nil
	case parseAnswer(res, text):
		res.Service, res.Confidence = "zookeeper", 98
		return res, nil
	}
	return res, protocol.ErrNotThisProtocol
}

// zkPort reports whether port is one where ZooKeeper-protocol servers
// listen by default (0: unknown, give the benefit of the doubt).
func zkPort(port int) bool {
	switch port {
	case 0, 2181, 2182, 2281, 9181:
		return true
	}
	return false
}

// fourLetter sends one four-letter word and reads the answer until the
// server closes, stopping at once when the first bytes rule ZooKeeper out.
func fourLetter(ctx context.Context, conn net.Conn, env protocol.Env, res *protocol.Result, word string) ([]byte, error) {
	if err := wire.Write(ctx, conn, env.Timeout, []byte(word)); err != nil {
		return nil, err
	}
	max := maxAnswer
	if env.MaxRead > 0 && env.MaxRead < max {
		max = env.MaxRead
	}
	resp, err := wire.ReadUntil(ctx, conn, env.Timeout, max, func(b []byte) bool {
		return foreign(b, word)
	})
	res.Record("zookeeper-"+word, []byte(word), resp)
	return resp, err
}

// foreign reports whether b cannot be the start of a ZooKeeper answer.
func foreign(b []byte, word string) bool {
	candidates := append(append([]string{}, knownPrefixes...), word+notWhitelisted)
	for _, p := range candidates {
		n := min(len(p), len(b))
		if string(b[:n]) == p[:n] {
			return false
		}
	}
	return true
}

var versionRE = regexp.MustCompile(`^v?(\d+\.\d+(?:\.\d+)*)`)

// parseAnswer records the fields of a srvr/stat/ruok answer and reports
// whether it was one.
func parseAnswer(res *protocol.Result, text string) bool {
	if strings.HasPrefix(text, "imok") {
		res.Set("zookeeper.ruok", "imok")
		return true
	}
	if strings.HasPrefix(text, "This ZooKeeper instance is not currently serving requests") {
		res.Set("zookeeper.not_serving", "true")
		return true
	}
	a := ParseStat(text)
	if a.Banner == "" {
		return false
	}
	res.Set("zookeeper.banner", a.Banner)
	res.Set("zookeeper.build", a.Build)
	res.Set("zookeeper.version", a.Version)
	res.Set("zookeeper.mode", a.Mode)
	res.Set("zookeeper.whitelisted", "true")
	return true
}

// Stat is the useful part of a srvr or stat answer.
type Stat struct {
	Banner  string // first line
	Build   string // text after "version: "
	Version string // leading dotted number of Build
	Mode    string
}

// ParseStat parses a srvr/stat answer; Banner is empty when text is not one.
func ParseStat(text string) Stat {
	var s Stat
	first, rest, _ := strings.Cut(text, "\n")
	first = strings.TrimRight(first, "\r")
	_, build, ok := strings.Cut(first, " version: ")
	if !ok || !(strings.HasPrefix(first, "Zookeeper version:") || strings.HasPrefix(first, "ClickHouse Keeper version:")) {
		return s
	}
	s.Banner = capString(first, 256)
	s.Build = capString(strings.TrimSpace(build), 256)
	if m := versionRE.FindStringSubmatch(s.Build); m != nil {
		s.Version = m[1]
	}
	for _, line := range strings.Split(rest, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "Mode: "); ok {
			s.Mode = capString(strings.TrimSpace(v), 32)
			break
		}
	}
	return s
}

// ConnectRequest returns the first packet of a ZooKeeper client: protocol
// version 0, no zxid seen, a 30 s session timeout, a new session (id 0), an
// empty 16-byte password and the read-only flag false.
func ConnectRequest() []byte {
	body := binary.BigEndian.AppendUint32(nil, 0)     // protocolVersion
	body = binary.BigEndian.AppendUint64(body, 0)     // lastZxidSeen
	body = binary.BigEndian.AppendUint32(body, 30000) // timeOut
	body = binary.BigEndian.AppendUint64(body, 0)     // sessionId
	body = binary.BigEndian.AppendUint32(body, 16)    // passwd length
	body = append(body, make([]byte, 16)...)
	body = append(body, 0) // readOnly
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// closeSession is the CloseSession request (xid 1, op -11).
var closeSession = []byte{0, 0, 0, 8, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xf5}

// ConnectResponse is the server's answer to a ConnectRequest.
type ConnectResponse struct {
	Protocol  int32
	Timeout   int32
	SessionID int64
}

// ParseConnectResponse parses a length-prefixed ConnectResponse.
func ParseConnectResponse(b []byte) (ConnectResponse, bool) {
	var r ConnectResponse
	if len(b) < 4+4+4+8+4 {
		return r, false
	}
	n := binary.BigEndian.Uint32(b)
	if n < 20 || n > 64 {
		return r, false
	}
	r.Protocol = int32(binary.BigEndian.Uint32(b[4:]))
	r.Timeout = int32(binary.BigEndian.Uint32(b[8:]))
	r.SessionID = int64(binary.BigEndian.Uint64(b[12:]))
	pw := int32(binary.BigEndian.Uint32(b[20:]))
	if r.Protocol != 0 || r.Timeout < 0 || pw < 0 || pw > 64 || int(pw) > int(n)-20 {
		return r, false
	}
	return r, true
}

// binaryConnect opens a session on a fresh connection, records the
// response and closes the session again.
func binaryConnect(ctx context.Context, env protocol.Env, res *protocol.Result) bool {
	c, err := env.Dial(ctx)
	if err != nil {
		return false
	}
	defer c.Close()
	req := ConnectRequest()
	if err := wire.Write(ctx, c, env.Timeout, req); err != nil {
		return false
	}
	resp, _ := wire.ReadUntil(ctx, c, env.Timeout, 128, func(b []byte) bool {
		if len(b) < 4 {
			return false
		}
		n := binary.BigEndian.Uint32(b)
		return n > 64 || len(b) >= 4+int(n)
	})
	res.Record("zookeeper-connect", req, resp)
	r, ok := ParseConnectResponse(resp)
	if !ok {
		return false
	}
	res.Set("zookeeper.connect", "ok")
	res.Set("zookeeper.connect.protocol", strconv.Itoa(int(r.Protocol)))
	res.Set("zookeeper.connect.timeout", strconv.Itoa(int(r.Timeout)))
	if r.SessionID != 0 {
		_ = wire.Write(ctx, c, env.Timeout, closeSession)
		_, _ = wire.ReadUntil(ctx, c, env.Timeout, 256, func(b []byte) bool { return len(b) >= 4 })
	}
	return true
}

func capString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
