// Package imap identifies IMAP servers from their greeting, their
// capability list and their answer to the ID command (RFC 2971), which many
// servers (Dovecot, Cyrus, Gmail) answer with their name before login.
//
// Dialogue: greeting, "a001 CAPABILITY", "a002 ID NIL", "a003 STARTTLS" when
// Env.StartTLS is set and the server offers it, LOGOUT. The same dialogue
// runs inside TLS on 993 (Env.TLS), without STARTTLS.
//
// Fields (strings):
//
//	imap.banner          the greeting line without CR LF ("* OK [CAPABILITY ...] Dovecot (Debian) ready.")
//	imap.capabilities    capabilities, space separated as the server lists them ("IMAP4rev1 SASL-IR ...");
//	                     from CAPABILITY, else from the greeting's response code
//	imap.id              the ID response's parameter list as sent ("(\"name\" \"Dovecot\")"), or "NIL"
//	imap.id.<key>        each ID pair, key lower case with characters outside [a-z0-9_-] as "_"
//	                     (imap.id.name "Dovecot", imap.id.version ...)
//	imap.id.reply        the tagged reply to ID when the server has no untagged ID answer ("BAD ...")
//	imap.starttls        "true" after a successful STARTTLS upgrade, "offered" when listed but not
//	                     attempted, "refused" when declined, "failed" when the TLS handshake failed
//	imap.starttls.error  why the TLS handshake failed
//	tls.*                the TLS fields returned by Env.StartTLS (also after a failed handshake)
package imap

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

type module struct{}

// New returns the IMAP module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{
		Name:        "imap",
		Service:     "imap",
		Ports:       []int{143, 220},
		TLSPorts:    []int{993},
		ServerFirst: true,
		Priority:    80,
	}
}

// Claim accepts an IMAP greeting: "* OK", "* PREAUTH" or "* BYE".
func (module) Claim(banner []byte) bool {
	line, _, _ := strings.Cut(string(banner), "\n")
	return Greeting(line) != ""
}

// session is one connection, read response by response within Env.Timeout.
type session struct{ *wire.Session }

// readUntil reads until end(buf) >= 0 and returns that prefix.
func (s *session) readUntil(end func([]byte) int) ([]byte, error) {
	return s.Read(s.Env.Timeout, end)
}

// cmd sends "tag command" and reads up to the tagged line.
func (s *session) cmd(probe, tag, command string) ([]string, error) {
	raw, err := s.Cmd(probe, tag+" "+command, s.Env.Timeout, func(b []byte) int { return TaggedEnd(b, tag) })
	return Lines(raw), err
}

func lineEnd(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i + 1
		}
	}
	return -1
}

func (module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	s := &session{wire.NewSession(ctx, conn, env, banner, res)}
	s.Max = min(s.Max, wire.DefaultMax)

	raw, err := s.readUntil(lineEnd)
	line := strings.TrimRight(string(raw), "\r\n")
	kind := Greeting(line)
	if kind == "" {
		return nil, fmt.Errorf("imap: greeting %q: %w", wire.Clip(line, 64), wire.NotThisProtocol(err))
	}
	res.Record("NULL", nil, raw)
	res.Set("imap.banner", line)
	res.Set("imap.capabilities", GreetingCapabilities(line))
	res.Service, res.Confidence = "imap", 80
	if kind == "BYE" {
		return res, nil
	}

	lines, err := s.cmd("imap-capability", "a001", "CAPABILITY")
	if err != nil {
		return res, nil
	}
	if st, _ := Tagged(lines, "a001"); st == "" {
		return nil, fmt.Errorf("imap: no tagged reply to CAPABILITY: %w", protocol.ErrNotThisProtocol)
	}
	res.Confidence = 95
	if caps, ok := Untagged(lines, "CAPABILITY"); ok {
		res.Set("imap.capabilities", caps)
	}

	lines, err = s.cmd("imap-id", "a002", "ID NIL")
	if err == nil {
		if id, ok := Untagged(lines, "ID"); ok {
			res.Set("imap.id", id)
			for _, kv := range ParseID(id) {
				res.Set("imap.id."+fieldKey(kv[0]), kv[1])
			}
		} else if st, text := Tagged(lines, "a002"); st != "" {
			res.Set("imap.id.reply", strings.TrimSpace(st+" "+text))
		}
	}

	if hasCap(res.Fields["imap.capabilities"], "STARTTLS") && !env.TLS {
		if env.StartTLS == nil {
			res.Set("imap.starttls", "offered")
		} else if startTLS(s, res) {
			return res, nil
		}
	}
	_ = wire.Write(ctx, conn, env.Timeout, []byte("a009 LOGOUT\r\n"))
	return res, nil
}

// startTLS upgrades the session. It reports whether the plaintext session
// was consumed.
func startTLS(s *session, res *protocol.Result) bool {
	lines, err := s.cmd("imap-starttls", "a003", "STARTTLS")
	if err != nil {
		return false
	}
	if st, _ := Tagged(lines, "a003"); st != "OK" {
		res.Set("imap.starttls", "refused")
		return false
	}
	s.UpgradeTLS("imap", []byte("a009 LOGOUT\r\n"))
	return true
}
