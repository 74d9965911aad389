// Package pop3 identifies POP3 servers from their greeting and their CAPA
// answer (RFC 2449): the wording of the "+OK" line, the order of the
// capabilities and the IMPLEMENTATION capability tell servers apart when the
// greeting is generic.
//
// Dialogue: greeting, CAPA, STLS when Env.StartTLS is set and the server
// offers it (or did not answer CAPA), QUIT. The same dialogue runs inside TLS
// on 995 (Env.TLS), without STLS.
//
// Fields (strings):
//
//	pop3.banner          the greeting line without CR LF ("+OK Dovecot (Debian) ready.")
//	pop3.capa            capabilities, one per CAPA line, comma separated ("CAPA,TOP,UIDL,...,SASL PLAIN")
//	pop3.capa.reply      the first line of the reply to CAPA ("+OK", "+OK Capability list follows", "-ERR ...")
//	pop3.starttls        "true" after a successful STLS upgrade, "offered" when listed but not
//	                     attempted, "refused" when declined, "failed" when the TLS handshake failed
//	pop3.starttls.reply  the reply to STLS
//	pop3.starttls.error  why the TLS handshake failed
//	tls.*                the TLS fields returned by Env.StartTLS (also after a failed handshake)
package pop3

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// maxCapaLines bounds the CAPA list kept.
const maxCapaLines = 128

type module struct{}

// New returns the POP3 module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{
		Name:        "pop3",
		Service:     "pop3",
		Ports:       []int{110},
		TLSPorts:    []int{995},
		ServerFirst: true,
		Priority:    80,
	}
}

// Claim accepts a POP3 greeting: "+OK" or "-ERR" (RFC 1939 §4).
func (module) Claim(banner []byte) bool {
	return status(banner) != ""
}

// status returns "+OK" or "-ERR" when a line starts with one, else "".
func status(line []byte) string {
	for _, s := range []string{"+OK", "-ERR"} {
		if len(line) >= len(s) && strings.EqualFold(string(line[:len(s)]), s) &&
			(len(line) == len(s) || line[len(s)] == ' ' || line[len(s)] == '\r' || line[len(s)] == '\n') {
			return s
		}
	}
	return ""
}

// MultiEnd returns the length of a complete multi-line response (RFC 1939
// §3: ends with a line holding a single "."), of a single "-ERR" line, or -1
// when more is needed. A first line that is neither "+OK" nor "-ERR" ends at
// its line end.
func MultiEnd(b []byte) int {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return -1
	}
	if status(b[:nl+1]) != "+OK" {
		return nl + 1
	}
	off := nl + 1
	for {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return -1
		}
		line := bytes.TrimRight(b[off:off+i], "\r")
		off += i + 1
		if len(line) == 1 && line[0] == '.' {
			return off
		}
	}
}

// ParseCapa returns the first line of a CAPA reply and its capability lines
// (byte-stuffing removed, at most maxCapaLines).
func ParseCapa(b []byte) (first string, caps []string) {
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	first = strings.TrimRight(lines[0], "\r")
	if status([]byte(first)) != "+OK" {
		return first, nil
	}
	for _, l := range lines[1:] {
		l = strings.TrimRight(l, "\r")
		if l == "." {
			break
		}
		l = strings.TrimPrefix(l, ".")
		if l = strings.TrimSpace(l); l != "" && len(caps) < maxCapaLines {
			caps = append(caps, l)
		}
	}
	return first, caps
}

func lineEnd(b []byte) int {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return i + 1
	}
	return -1
}

// session is one connection, read response by response within Env.Timeout.
type session struct{ *wire.Session }

// readUntil reads until end(buf) >= 0 and returns that prefix.
func (s *session) readUntil(end func([]byte) int) ([]byte, error) {
	return s.Read(s.Env.Timeout, end)
}

// cmd sends one command line and reads the response end delimits,
// recording the exchange.
func (s *session) cmd(probe, line string, end func([]byte) int) ([]byte, error) {
	return s.Cmd(probe, line, s.Env.Timeout, end)
}

func (module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	s := &session{wire.NewSession(ctx, conn, env, banner, res)}

	raw, err := s.readUntil(lineEnd)
	st := status(raw)
	if st == "" {
		return nil, fmt.Errorf("pop3: greeting %q: %w", wire.Clip(raw, 64), wire.NotThisProtocol(err))
	}
	res.Record("NULL", nil, raw)
	res.Set("pop3.banner", strings.TrimRight(string(raw), "\r\n"))
	res.Service, res.Confidence = "pop3", 80
	if st == "-ERR" {
		res.Confidence = 70
		return res, nil
	}

	raw, err = s.cmd("pop3-capa", "CAPA", MultiEnd)
	if err != nil {
		return res, nil
	}
	first, caps := ParseCapa(raw)
	if status([]byte(first)) == "" {
		return nil, fmt.Errorf("pop3: CAPA answered %q: %w", wire.Clip([]byte(first), 64), protocol.ErrNotThisProtocol)
	}
	res.Confidence = 95
	res.Set("pop3.capa.reply", first)
	res.Set("pop3.capa", strings.Join(caps, ","))

	offered := false
	for _, c := range caps {
		if strings.EqualFold(c, "STLS") {
			offered = true
		}
	}
	capaFailed := status([]byte(first)) == "-ERR"
	if !env.TLS && (offered || capaFailed) {
		switch {
		case env.StartTLS != nil:
			if startTLS(s, res) {
				return res, nil
			}
		case offered:
			res.Set("pop3.starttls", "offered")
		}
	}
	_ = wire.Write(ctx, conn, env.Timeout, []byte("QUIT\r\n"))
	return res, nil
}

// startTLS sends STLS and upgrades the session. It reports whether the
// plaintext session was consumed.
func startTLS(s *session, res *protocol.Result) bool {
	raw, err := s.cmd("pop3-stls", "STLS", lineEnd)
	if err != nil {
		return false
	}
	reply := strings.TrimRight(string(raw), "\r\n")
	res.Set("pop3.starttls.reply", reply)
	if status(raw) != "+OK" {
		res.Set("pop3.starttls", "refused")
		return false
	}
	s.UpgradeTLS("pop3", []byte("QUIT\r\n"))
	return true
}
