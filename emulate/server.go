package emulate

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server emulates one personality. It is safe for many sessions at once:
// the personality is read-only, each session has its own state.
type Server struct {
	P   *Personality
	Log *Logger
	// MaxSessions caps the sessions served at once (default 256); a
	// connection beyond it is closed at once and logged as refused.
	MaxSessions int
	// IdleTimeout closes a session that sends nothing (default 60s);
	// SessionTimeout bounds a session's whole life (default 10m).
	IdleTimeout, SessionTimeout time.Duration
	// MaxLine caps one client line (default: limits.max_line, else 4096);
	// longer lines are classified OVERLONG and their rest is discarded.
	MaxLine int
	// MaxSessionBytes caps what one session may send in all (default 4 MiB).
	MaxSessionBytes int64
	// MaxRequests caps HTTP requests on one connection (default 100).
	MaxRequests int
	// Vars override the personality's vars (hostname...).
	Vars map[string]string
	// Users are the local users SMTP recipients are checked against
	// (default postmaster and root).
	Users []string
	// NoDelay answers at once instead of with the recorded delays.
	NoDelay bool

	index    map[string]*Entry
	vars     map[string]string
	loc      *time.Location
	certOnce sync.Once
	cert     *tls.Certificate
	certErr  error
	active   atomic.Int64
	ids      atomic.Uint64
	wg       sync.WaitGroup
}

func (s *Server) init() error {
	if s.P == nil {
		return errors.New("emulate: no personality")
	}
	if err := s.P.Validate(); err != nil {
		return err
	}
	if s.MaxSessions <= 0 {
		s.MaxSessions = 256
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = 60 * time.Second
	}
	if s.SessionTimeout <= 0 {
		s.SessionTimeout = 10 * time.Minute
	}
	if s.MaxLine <= 0 {
		s.MaxLine = s.P.Limits.MaxLine
	}
	if s.MaxLine <= 0 {
		s.MaxLine = 4096
	}
	if s.MaxSessionBytes <= 0 {
		s.MaxSessionBytes = 4 << 20
	}
	if s.MaxRequests <= 0 {
		s.MaxRequests = 100
	}
	s.vars = map[string]string{}
	for k, v := range s.P.Vars {
		s.vars[k] = v
	}
	for k, v := range s.Vars {
		s.vars[k] = v
	}
	s.loc = time.UTC
	if tz := s.vars["timezone"]; tz != "" {
		if t, err := time.Parse("-0700", tz); err == nil {
			_, off := t.Zone()
			s.loc = time.FixedZone(tz, off)
		}
	}
	s.index = map[string]*Entry{}
	for i := range s.P.Replies {
		e := &s.P.Replies[i]
		k := entryKey(e.State, e.Command, e.Arg)
		if _, dup := s.index[k]; !dup {
			s.index[k] = e
		}
	}
	return nil
}

func entryKey(state, cmd, arg string) string { return state + "\x00" + cmd + "\x00" + arg }

// tlsConfig generates the certificate look-alike once, on first use.
func (s *Server) tlsConfig() (*tls.Config, error) {
	s.certOnce.Do(func() {
		look := s.P.TLS
		if look == nil {
			look = &TLSLook{Subject: "CN=" + s.vars["hostname"], Key: "RSA-2048"}
		}
		c, err := look.certificate(s.P.Recorded.At)
		s.cert, s.certErr = &c, err
	})
	if s.certErr != nil {
		return nil, s.certErr
	}
	return &tls.Config{Certificates: []tls.Certificate{*s.cert}, MinVersion: tls.VersionTLS10}, nil
}

// Serve accepts sessions on ln until ctx ends, then waits for the open
// sessions to finish (they are closed by ctx too).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.init(); err != nil {
		return err
	}
	if s.P.TLS != nil {
		// Make the certificate before the first client waits for it.
		go func() { _, _ = s.tlsConfig() }()
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	backoff := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscallEMFILE) {
				time.Sleep(backoff)
				backoff = min(2*backoff, time.Second)
				continue
			}
			s.wg.Wait()
			return err
		}
		backoff = 5 * time.Millisecond
		id := s.ids.Add(1)
		if s.active.Add(1) > int64(s.MaxSessions) {
			s.active.Add(-1)
			s.Log.Log(Event{Session: id, Event: "refused", Remote: c.RemoteAddr().String(), Reason: "max sessions"})
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.active.Add(-1)
			s.session(ctx, c, id)
		}()
	}
}

// session holds one client's state.
type session struct {
	s      *Server
	id     uint64
	c      net.Conn
	br     *bufio.Reader
	start  time.Time
	state  string
	tls    bool
	errors int
	fields map[string]string
	read   int64
	reason string
	ctx    context.Context
	ended  bool
}

func (s *Server) session(ctx context.Context, c net.Conn, id uint64) {
	sctx, cancel := context.WithTimeout(ctx, s.SessionTimeout)
	defer cancel()
	stop := context.AfterFunc(sctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	ss := &session{s: s, id: id, c: c, start: time.Now(), fields: map[string]string{}, ctx: sctx}
	ss.br = bufio.NewReaderSize(&limitedConn{ss: ss}, 4096)
	host, port, _ := net.SplitHostPort(c.RemoteAddr().String())
	lhost, lport, _ := net.SplitHostPort(c.LocalAddr().String())
	ss.fields["client_ip"], ss.fields["client_port"] = host, port
	ss.fields["server_ip"], ss.fields["server_port"] = lhost, lport
	s.Log.Log(Event{Session: id, Event: "connect", Remote: c.RemoteAddr().String(), Local: c.LocalAddr().String(),
		Personality: s.P.Name, Protocol: s.P.Protocol})
	defer func() {
		if r := recover(); r != nil {
			// A bug must cost one session, never the honeypot.
			s.Log.Log(Event{Session: id, Event: "error", Error: fmt.Sprintf("panic: %v: %s", r, debug.Stack())})
			ss.reason = "error"
		}
		c.Close()
		switch {
		case ctx.Err() != nil:
			ss.reason = "shutdown"
		case sctx.Err() != nil:
			ss.reason = "timeout" // the session's whole life was up
		case ss.reason == "":
			ss.reason = "client"
		}
		s.Log.Log(Event{Session: id, Event: "close", Reason: ss.reason, DurationMS: time.Since(ss.start).Milliseconds()})
	}()
	switch s.P.Protocol {
	case "ssh":
		ss.serveSSH()
	case "http":
		ss.serveHTTP()
	default:
		ss.serveLines()
	}
}

// limitedConn reads from the session's connection with the idle deadline
// and the session's byte budget.
type limitedConn struct{ ss *session }

func (l *limitedConn) Read(b []byte) (int, error) {
	ss := l.ss
	if ss.read >= ss.s.MaxSessionBytes {
		ss.reason = "limit"
		return 0, io.EOF
	}
	if rest := ss.s.MaxSessionBytes - ss.read; int64(len(b)) > rest {
		b = b[:rest]
	}
	_ = ss.c.SetReadDeadline(time.Now().Add(ss.s.IdleTimeout))
	n, err := ss.c.Read(b)
	ss.read += int64(n)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() && ss.reason == "" {
		ss.reason = "idle"
	}
	return n, err
}

// readLine returns one line without its end. A line longer than max is
// returned cut at max with overlong set; its rest is read and dropped.
func (ss *session) readLine(max int) (line []byte, overlong bool, err error) {
	for {
		frag, err := ss.br.ReadSlice('\n')
		if len(line)+len(frag) > max {
			overlong = true
			if room := max - len(line); room > 0 {
				line = append(line, frag[:room]...)
			}
		} else {
			line = append(line, frag...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if len(line) > 0 && errors.Is(err, io.EOF) {
				return trimEOL(line), overlong, nil
			}
			return nil, false, err
		}
		if overlong {
			return line, true, nil
		}
		return trimEOL(line), false, nil
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// write sends b with a write deadline.
func (ss *session) write(b []byte) error {
	_ = ss.c.SetWriteDeadline(time.Now().Add(ss.s.IdleTimeout))
	_, err := ss.c.Write(b)
	return err
}

// vars builds the placeholder values for one reply.
func (ss *session) vars(line map[string]string) Vars {
	v := Vars{Text: map[string]string{}, Now: time.Now(), Loc: ss.s.loc}
	for k, x := range ss.s.vars {
		v.Text[k] = x
	}
	for k, x := range ss.fields {
		v.Text[k] = x
	}
	for k, x := range line {
		v.Text[k] = x
	}
	v.Text["sessions"] = strconv.FormatInt(ss.s.active.Load(), 10)
	return v
}

// render expands a line reply into bytes.
func (ss *session) render(r *Reply, v Vars) []byte {
	switch {
	case r.RawB64 != "":
		b, _ := base64.StdEncoding.DecodeString(r.RawB64)
		return b
	case r.Raw != "":
		return []byte(Expand(r.Raw, v))
	}
	eol := ss.s.P.eol()
	var b strings.Builder
	for _, l := range r.Lines {
		b.WriteString(Expand(l, v))
		b.WriteString(eol)
	}
	return []byte(b.String())
}

// sleep waits d unless the session ends first.
func (ss *session) sleep(d time.Duration) {
	if d <= 0 || ss.s.NoDelay {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ss.ctx.Done():
	}
}

// lookup finds the answer to a class in the session's state: exact,
// then the "*" state, then inside TLS the plain twin, then the nearest
// argument class, then the server's answer to an unknown command.
func (ss *session) lookup(p Parsed) (*Entry, string) {
	states := []string{ss.state, "*"}
	if ss.tls {
		states = []string{"tls:" + ss.state, "tls:*", ss.state, "*"}
	}
	find := func(cmd, arg string) *Entry {
		for _, st := range states {
			if e := ss.s.index[entryKey(st, cmd, arg)]; e != nil {
				return e
			}
		}
		return nil
	}
	if e := find(p.Command, p.Arg); e != nil {
		return e, "exact"
	}
	for _, arg := range []string{"unknown", "invalid", "arg", "any", "word", ""} {
		if arg == p.Arg {
			continue
		}
		if e := find(p.Command, arg); e != nil {
			return e, "fallback"
		}
	}
	for _, arg := range []string{"word", "word+arg", "other"} {
		if e := find("UNKNOWN", arg); e != nil {
			return e, "fallback"
		}
	}
	return nil, "none"
}

// serveLines runs a line protocol session (SMTP, FTP, POP3, IMAP).
func (ss *session) serveLines() {
	s := ss.s
	d := newDialect(s.P.Protocol, s.vars["hostname"], s.users())
	ss.state = d.initial()
	v := ss.vars(nil)
	g := ss.render(s.P.Greeting, v)
	ss.sleep(time.Duration(s.P.Greeting.Delay))
	if len(g) > 0 {
		if ss.write(g) != nil {
			return
		}
	}
	ev := Event{Session: ss.id, Event: "greeting"}
	ev.setSent(g)
	s.Log.Log(ev)
	if s.P.Greeting.Close {
		ss.reason = "limit"
		return
	}
	for {
		line, overlong, err := ss.readLine(s.MaxLine)
		if err != nil {
			return
		}
		p := d.classify(ss.state, line, overlong)
		ev := Event{Session: ss.id, Event: "command", State: ss.stateName(), Class: strings.TrimSpace(p.Command + " " + p.Arg)}
		ev.setRecv(line)
		if overlong {
			ev.RecvLen = len(line)
		}
		if p.NoReply {
			s.Log.Log(ev)
			continue
		}
		for _, k := range d.sticky() {
			if x, ok := p.Fields[k]; ok {
				ss.fields[k] = x
			}
		}
		e, match := ss.lookup(p)
		ev.Match = match
		if e == nil {
			s.Log.Log(ev)
			continue
		}
		// The error limit: a server that hangs up on the next refusal.
		lim := s.P.Limits
		if e.Error && lim.MaxErrors > 0 && lim.ErrorClose != nil && lim.ErrorCloseWaits && ss.errors >= lim.MaxErrors {
			ss.sleep(time.Duration(lim.ErrorClose.Delay))
			out := ss.render(lim.ErrorClose, ss.vars(p.Fields))
			_ = ss.write(out)
			ev.setSent(out)
			s.Log.Log(ev)
			ss.reason = "errors"
			return
		}
		delay := time.Duration(e.Delay)
		if e.Error && lim.SlowAfter > 0 && ss.errors >= lim.SlowAfter {
			delay = max(delay, time.Duration(lim.SlowDelay))
		}
		ss.sleep(delay)
		out := ss.render(&e.Reply, ss.vars(p.Fields))
		if len(out) > 0 {
			if err := ss.write(out); err != nil {
				return
			}
		}
		ev.setSent(out)
		s.Log.Log(ev)
		if e.Error {
			ss.errors++
			if lim.MaxErrors > 0 && lim.ErrorClose != nil && !lim.ErrorCloseWaits && ss.errors >= lim.MaxErrors {
				out := ss.render(lim.ErrorClose, ss.vars(p.Fields))
				_ = ss.write(out)
				e2 := Event{Session: ss.id, Event: "command", State: ss.stateName(), Class: "ERROR-LIMIT"}
				e2.setSent(out)
				s.Log.Log(e2)
				ss.reason = "errors"
				return
			}
		}
		if e.Close {
			ss.reason = "quit"
			if p.Command != "QUIT" && p.Command != "LOGOUT" {
				ss.reason = "server"
			}
			return
		}
		outcome := d.outcome(p, out)
		if e.Then != "" {
			ss.state = e.Then
		}
		if d.startTLS(p, outcome) && !ss.tls {
			if !ss.startTLS() {
				return
			}
		}
	}
}

func (ss *session) stateName() string {
	if ss.tls {
		return "tls:" + ss.state
	}
	return ss.state
}

func (s *Server) users() map[string]bool {
	u := map[string]bool{"postmaster": true, "root": true}
	if len(s.Users) > 0 {
		u = map[string]bool{"postmaster": true}
	}
	for _, x := range s.Users {
		u[strings.ToLower(x)] = true
	}
	return u
}

// startTLS upgrades the session after a positive STARTTLS, STLS or AUTH TLS.
func (ss *session) startTLS() bool {
	cfg, err := ss.s.tlsConfig()
	if err != nil {
		ss.s.Log.Log(Event{Session: ss.id, Event: "tls", Error: err.Error()})
		ss.reason = "tls"
		return false
	}
	// Bytes pipelined after the command belong to the cleartext session
	// and are dropped (RFC 3207 section 4.2).
	if n := ss.br.Buffered(); n > 0 {
		_, _ = ss.br.Discard(n)
	}
	tc := tls.Server(ss.c, cfg)
	_ = tc.SetDeadline(time.Now().Add(ss.s.IdleTimeout))
	if err := tc.HandshakeContext(ss.ctx); err != nil {
		ss.s.Log.Log(Event{Session: ss.id, Event: "tls", Error: err.Error()})
		ss.reason = "tls"
		return false
	}
	_ = tc.SetDeadline(time.Time{})
	ss.c = tc
	ss.br = bufio.NewReaderSize(&limitedConn{ss: ss}, 4096)
	ss.tls = true
	ss.s.Log.Log(Event{Session: ss.id, Event: "tls", State: ss.stateName()})
	return true
}
