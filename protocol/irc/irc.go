// Package irc registers with an IRC server as a throw-away client and reads
// the registration burst: the welcome numerics 001-004 name the server and
// its software version ("running version UnrealIRCd-6.1.0"), and 005
// (ISUPPORT) lists the network and features. It answers PING (some servers
// hold registration until the PONG) and leaves with QUIT before joining
// anything.
//
// Fields (all strings):
//
//	irc.server     server name (from 004, else the prefix of 001)
//	irc.version    software version from 004 ("ngircd-26.1"), else from
//	               002's "running version X"
//	irc.welcome    text of 001
//	irc.yourhost   text of 002
//	irc.created    text of 003
//	irc.usermodes  user modes from 004
//	irc.chanmodes  channel modes from 004
//	irc.network    NETWORK= from 005
//	irc.isupport   005 tokens joined with " " (capped at 2048 bytes)
//	irc.notice     first NOTICE before registration ("*** Looking up your hostname...")
//	irc.error      ERROR text or a refusal numeric ("464 Password required")
package irc

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Module is the IRC module.
type Module struct{}

// New returns the IRC module.
func New() protocol.Module { return Module{} }

// Info describes the module. IRC is handled as client-first: many servers
// wait silently for NICK/USER (ngIRCd), the others' NOTICE lines simply
// arrive before the numerics.
func (Module) Info() protocol.Info {
	return protocol.Info{Name: "irc", Service: "irc", Ports: []int{6667, 6668, 6669, 7000}, TLSPorts: []int{6697, 7070}, Priority: 50}
}

// Claim accepts the pre-registration lines servers send first.
func (Module) Claim(banner []byte) bool {
	line, _, _ := bytes.Cut(banner, []byte("\n"))
	m, ok := ParseLine(string(bytes.TrimRight(line, "\r")))
	return ok && (m.Command == "NOTICE" || m.Command == "ERROR" || m.Command == "PING" || isNumeric(m.Command))
}

const (
	maxLines    = 400
	maxISupport = 2048
	maxText     = 512
)

// Message is one parsed IRC line (RFC 1459 §2.3.1 without tags).
type Message struct {
	Prefix   string
	Command  string
	Params   []string // middle params, then the trailing one
	Trailing bool     // last param was a ":" trailing parameter
}

var commandRE = regexp.MustCompile(`^(?:[A-Za-z]{1,20}|\d{3})$`)

// ParseLine parses one line (no CR/LF). Numerics must carry a server
// prefix and prefix-less lines may only be PING, NOTICE or ERROR, so that
// SMTP's "220 ..." or an HTTP status line never pass for IRC.
func ParseLine(line string) (Message, bool) {
	var m Message
	if len(line) == 0 || len(line) > 8192 {
		return m, false
	}
	if line[0] == '@' { // IRCv3 message tags
		_, rest, ok := strings.Cut(line, " ")
		if !ok {
			return m, false
		}
		line = strings.TrimLeft(rest, " ")
	}
	if strings.HasPrefix(line, ":") {
		p, rest, ok := strings.Cut(line[1:], " ")
		if !ok || p == "" {
			return m, false
		}
		m.Prefix, line = p, strings.TrimLeft(rest, " ")
	}
	cmd, rest, _ := strings.Cut(line, " ")
	if !commandRE.MatchString(cmd) {
		return m, false
	}
	m.Command = strings.ToUpper(cmd)
	if m.Prefix == "" && (m.Command != "PING" && m.Command != "NOTICE" && m.Command != "ERROR" || rest == "") {
		// Prefix-less lines are only these three, always with a parameter
		// (memcached's bare "ERROR" is not IRC).
		return m, false
	}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			break
		}
		if rest[0] == ':' {
			m.Params = append(m.Params, rest[1:])
			m.Trailing = true
			break
		}
		var p string
		p, rest, _ = strings.Cut(rest, " ")
		m.Params = append(m.Params, p)
		if len(m.Params) > 64 {
			return m, false
		}
	}
	return m, true
}

func isNumeric(c string) bool { return len(c) == 3 && c[0] >= '0' && c[0] <= '9' }

// last returns the last parameter (the text of most numerics).
func (m Message) last() string {
	if len(m.Params) == 0 {
		return ""
	}
	return m.Params[len(m.Params)-1]
}

// State accumulates what the registration burst revealed.
type State struct {
	Fields     map[string]string
	isupport   []string
	Registered bool // 001 seen
	Done       bool // burst over (005 followed by something else), or ERROR
	seen005    bool
	Lines      int
}

func (s *State) set(k, v string) {
	v = strings.TrimSpace(wire.Clip(v, maxText))
	if v == "" {
		return
	}
	if s.Fields == nil {
		s.Fields = map[string]string{}
	}
	if _, ok := s.Fields[k]; !ok {
		s.Fields[k] = v
	}
}

var runningRE = regexp.MustCompile(`(?i)running(?: version)? (\S+)`)

// Feed updates the state with one message.
func (s *State) Feed(m Message) {
	s.Lines++
	if s.seen005 && m.Command != "005" {
		s.Done = true
	}
	switch m.Command {
	case "NOTICE":
		if !s.Registered {
			s.set("irc.notice", m.last())
		}
	case "ERROR":
		s.set("irc.error", m.last())
		s.Done = true
	case "001":
		s.Registered = true
		s.set("irc.welcome", m.last())
		if m.Prefix != "" && !strings.Contains(m.Prefix, "!") {
			s.set("irc.server", m.Prefix)
		}
	case "002":
		s.set("irc.yourhost", m.last())
		if r := runningRE.FindStringSubmatch(m.last()); r != nil {
			s.set("irc.version.002", strings.TrimSuffix(r[1], ","))
		}
	case "003":
		s.set("irc.created", m.last())
	case "004":
		// <nick> <servername> <version> <usermodes> <chanmodes> [...]
		if len(m.Params) >= 3 {
			if s.Fields != nil {
				delete(s.Fields, "irc.server")
			}
			s.set("irc.server", m.Params[1])
			s.set("irc.version", m.Params[2])
		}
		if len(m.Params) >= 5 {
			s.set("irc.usermodes", m.Params[3])
			s.set("irc.chanmodes", m.Params[4])
		}
	case "005":
		s.seen005 = true
		toks := m.Params
		if len(toks) > 0 {
			toks = toks[1:] // our nick
		}
		if m.Trailing && len(toks) > 0 {
			toks = toks[:len(toks)-1] // "are supported by this server"
		}
		for _, t := range toks {
			if v, ok := strings.CutPrefix(t, "NETWORK="); ok {
				s.set("irc.network", v)
			}
			if len(strings.Join(s.isupport, " "))+len(t)+1 <= maxISupport {
				s.isupport = append(s.isupport, t)
			}
		}
	case "463", "464", "465", "466":
		// no permission, password required, banned
		s.set("irc.error", m.Command+" "+m.last())
		s.Done = true
	}
	if m.Command == "376" || m.Command == "422" { // end of MOTD, no MOTD
		s.Done = true
	}
}

// Finish returns the fields, moving the 002 version into irc.version when
// 004 gave none.
func (s *State) Finish() map[string]string {
	if len(s.isupport) > 0 {
		s.set("irc.isupport", strings.Join(s.isupport, " "))
	}
	if v := s.Fields["irc.version.002"]; v != "" {
		s.set("irc.version", v)
		delete(s.Fields, "irc.version.002")
	}
	return s.Fields
}

func nick() string {
	// RFC 1459 nicknames: 9 characters at most (ngIRCd enforces it).
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("prt%06x", int(b[0])<<16|int(b[1])<<8|int(b[2]))
}

// Run registers, reads the burst, answers PINGs and quits.
func (Module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	max := env.MaxRead
	if max <= 0 {
		max = wire.DefaultMax
	}
	timeout := env.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	// Registration may wait for the server's ident and DNS look-ups: allow a
	// few read timeouts in all, each read bounded by one.
	overall := time.Now().Add(3 * timeout)
	n := nick()
	reg := []byte("NICK " + n + "\r\nUSER portrait 0 * :portrait\r\n")
	if len(banner) > 0 {
		if !New().Claim(banner) {
			return nil, fmt.Errorf("irc: banner %q: %w", wire.Clip(banner, 32), protocol.ErrNotThisProtocol)
		}
		res.Record("NULL", nil, banner)
	}
	if err := wire.Write(ctx, conn, timeout, reg); err != nil {
		return nil, fmt.Errorf("irc: send: %w", err)
	}
	var st State
	buf := append([]byte(nil), banner...)
	var all []byte
	total := len(buf)
	renamed := false
	sawIRC := false
	var lastErr error
	for !st.Done && st.Lines < maxLines && total < max && time.Now().Before(overall) {
		// Consume complete lines.
		for {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				break
			}
			line := string(bytes.TrimRight(buf[:i], "\r"))
			buf = buf[i+1:]
			if line == "" {
				continue
			}
			m, ok := ParseLine(line)
			if !ok {
				if !sawIRC {
					res.Record("irc-register", reg, all)
					return nil, fmt.Errorf("irc: line %q: %w", wire.Clip(line, 40), protocol.ErrNotThisProtocol)
				}
				continue
			}
			sawIRC = true
			switch {
			case m.Command == "PING":
				pong := []byte("PONG :" + m.last() + "\r\n")
				if m.last() == "" {
					pong = []byte("PONG\r\n")
				}
				_ = wire.Write(ctx, conn, timeout, pong)
				res.Record("irc-pong", pong, nil)
			case !st.Registered && !renamed && (m.Command == "432" || m.Command == "433" || m.Command == "436" || m.Command == "437"):
				renamed = true
				n = nick()
				_ = wire.Write(ctx, conn, timeout, []byte("NICK "+n+"\r\n"))
			}
			st.Feed(m)
			if st.Done || st.Lines >= maxLines {
				break
			}
		}
		if st.Done || st.Lines >= maxLines {
			break
		}
		if len(buf) > maxText*16 {
			break // a line that never ends
		}
		if !sawIRC && len(buf) > 0 && !ircStart(buf[0]) {
			break
		}
		b, err := wire.ReadUntil(ctx, conn, timeout, max-total, func(b []byte) bool {
			return bytes.IndexByte(b, '\n') >= 0 || !sawIRC && len(buf) == 0 && !ircStart(b[0])
		})
		all = append(all, b...)
		total += len(b)
		buf = append(buf, b...)
		if err != nil {
			lastErr = err
			if len(b) == 0 {
				break
			}
		}
	}
	res.Record("irc-register", reg, all)
	quit := []byte("QUIT :portrait\r\n")
	_ = wire.Write(ctx, conn, timeout, quit)
	if !sawIRC {
		if len(all) == 0 && len(banner) == 0 {
			return nil, fmt.Errorf("irc: no answer: %w", lastErr)
		}
		return nil, fmt.Errorf("irc: no IRC line: %w", protocol.ErrNotThisProtocol)
	}
	for k, v := range st.Finish() {
		res.Set(k, v)
	}
	res.Service, res.Confidence = "irc", 80
	if st.Registered || res.Fields["irc.version"] != "" {
		res.Service, res.Confidence = "irc", 95
	}
	return res, nil
}

// ircStart reports whether c may begin a server line: a prefix, message
// tags, or one of the prefix-less commands PING, NOTICE and ERROR.
func ircStart(c byte) bool { return strings.IndexByte(":@PNE", c) >= 0 }
