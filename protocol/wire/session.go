package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
)

// Session is a command and response dialogue on one connection (FTP, SMTP,
// POP3, IMAP): bounded reads of whole responses as a framing function
// delimits them, with the bytes that arrived early (a pipelined answer, the
// passive banner) kept for the next response.
type Session struct {
	Ctx     context.Context
	Conn    net.Conn
	Env     protocol.Env
	Max     int              // cap on one response
	Pending []byte           // read but not yet returned
	Res     *protocol.Result // where Cmd records the exchanges
}

// NewSession starts a session on conn whose first bytes, already read, are
// banner. Responses are capped at Env.MaxRead (DefaultMax when unset).
func NewSession(ctx context.Context, conn net.Conn, env protocol.Env, banner []byte, res *protocol.Result) *Session {
	max := env.MaxRead
	if max <= 0 {
		max = DefaultMax
	}
	return &Session{Ctx: ctx, Conn: conn, Env: env, Max: max, Pending: append([]byte(nil), banner...), Res: res}
}

// Read returns the next response: the prefix of the stream whose length end
// reports (end returns -1 while more bytes are needed), waiting at most
// timeout. On failure it returns what arrived and the error.
func (s *Session) Read(timeout time.Duration, end func([]byte) int) ([]byte, error) {
	if e := end(s.Pending); e >= 0 {
		raw := s.Pending[:e]
		s.Pending = s.Pending[e:]
		return raw, nil
	}
	have := s.Pending
	if len(have) >= s.Max {
		return have, errors.New("response larger than the read limit")
	}
	more, err := ReadUntil(s.Ctx, s.Conn, timeout, s.Max-len(have), func(b []byte) bool {
		return end(append(have[:len(have):len(have)], b...)) >= 0
	})
	all := append(have[:len(have):len(have)], more...)
	e := end(all)
	if e < 0 {
		s.Pending = nil
		if err == nil {
			err = errors.New("incomplete response")
		}
		return all, err
	}
	s.Pending = all[e:]
	return all[:e], nil
}

// Cmd sends line and CR LF, reads the response end delimits and records the
// exchange as probe.
func (s *Session) Cmd(probe, line string, timeout time.Duration, end func([]byte) int) ([]byte, error) {
	req := []byte(line + "\r\n")
	if err := Write(s.Ctx, s.Conn, s.Env.Timeout, req); err != nil {
		return nil, err
	}
	raw, err := s.Read(timeout, end)
	s.Res.Record(probe, req, raw)
	return raw, err
}

// UpgradeTLS runs Env.StartTLS once the server has agreed to STARTTLS and
// records the outcome as <prefix>.starttls ("true" or "failed", with
// <prefix>.starttls.error), with the TLS fields, which come back even from a
// failed handshake (the alert, the ServerHello): they are evidence too. On
// success it says goodbye inside TLS. Either way the plaintext session is
// unusable afterwards.
func (s *Session) UpgradeTLS(prefix string, goodbye []byte) {
	tc, fields, err := s.Env.StartTLS(s.Ctx, s.Conn)
	for k, v := range fields {
		s.Res.Set(k, v)
	}
	if err != nil {
		s.Res.Set(prefix+".starttls", "failed")
		s.Res.Set(prefix+".starttls.error", err.Error())
		return
	}
	s.Res.Set(prefix+".starttls", "true")
	_ = Write(s.Ctx, tc, s.Env.Timeout, goodbye)
}

// NotThisProtocol is protocol.ErrNotThisProtocol, with the read error that
// ended the answer, if any, kept in the chain.
func NotThisProtocol(err error) error {
	if err != nil {
		return fmt.Errorf("%w (%w)", protocol.ErrNotThisProtocol, err)
	}
	return protocol.ErrNotThisProtocol
}
