package emulate

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// RecordOptions tune a recording.
type RecordOptions struct {
	// Target is host:port of the original server.
	Target string
	// Protocol is smtp, ftp, pop3, imap, ssh or http.
	Protocol string
	// Name of the personality (default: protocol and target).
	Name string
	// Hostnames are the server's own names, replaced by ${hostname}; the
	// recorder adds those it finds (the SMTP greeting's domain, Apache's
	// "Server at NAME Port").
	Hostnames []string
	// Timeout is the wait for one reply (default 3s); LongWait the wait
	// for replies servers delay on purpose, after a failed login (default 10s).
	Timeout, LongWait time.Duration
	// Quiet is how long the server must stay silent after an answer
	// for the answer to be complete (default 150ms): it catches trailing
	// lines and hang-ups.
	Quiet time.Duration
	// Source is the local address to dial from (default: the system's
	// choice). Servers answer a client on their own host differently from
	// a remote one (Dovecot counts localhost as secure and offers
	// plaintext login), so the personality is the server as seen from
	// Source. When the client's and the server's addresses differ, each
	// echo of them gets its own placeholder; when they are the same, an
	// address in the greeting is taken for the server's and one elsewhere
	// for the client's.
	Source string
	// Users are local user names that exist on the original (SMTP
	// recipient classes); "postmaster" always does (RFC 5321).
	Users []string
	// By is written to recorded.by (the tool and its version).
	By string
	// Progress, when set, receives one line per step.
	Progress func(format string, a ...any)
}

// maxReply caps one recorded answer.
const maxReply = 256 << 10

// overlongLen is the length of the recorder's overlong line.
const overlongLen = 10000

// overlongTest stands for the overlong line in the test sets.
const overlongTest = "\x00OVERLONG"

// Record runs the protocol's test set against the original server and
// returns its personality.
func Record(ctx context.Context, o RecordOptions) (*Personality, error) {
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.LongWait <= 0 {
		o.LongWait = 10 * time.Second
	}
	if o.Quiet <= 0 {
		o.Quiet = 150 * time.Millisecond
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	host, port, err := net.SplitHostPort(o.Target)
	if err != nil {
		return nil, fmt.Errorf("record: target %q: %w", o.Target, err)
	}
	r := &recorder{o: o, host: host, port: port, at: time.Now().UTC()}
	r.pickSource(ctx)
	p := &Personality{
		Format:   FormatVersion,
		Protocol: o.Protocol,
		Name:     o.Name,
		Recorded: Recorded{From: o.Target, At: r.at.Truncate(time.Second), By: o.By},
		Vars:     map[string]string{},
	}
	if p.Name == "" {
		p.Name = o.Protocol + "-" + strings.ReplaceAll(o.Target, ":", "-")
	}
	switch o.Protocol {
	case "smtp", "ftp", "pop3", "imap":
		err = r.recordLines(ctx, p)
	case "ssh":
		err = r.recordSSH(ctx, p)
	case "http":
		err = r.recordHTTP(ctx, p)
	default:
		return nil, fmt.Errorf("record: unknown protocol %q (want %s)", o.Protocol, strings.Join(Protocols, ", "))
	}
	if err != nil {
		return nil, err
	}
	if len(r.hostnames) > 0 {
		p.Vars["hostname"] = r.hostnames[0]
	}
	p.Recorded.Notes = append(p.Recorded.Notes, r.notes...)
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("record: the recording does not validate: %w", err)
	}
	return p, nil
}

type recorder struct {
	o          RecordOptions
	host, port string
	at         time.Time
	source     *net.TCPAddr
	hostnames  []string
	notes      []string
	clientIP   string
	tlsLook    *TLSLook
	eol        string
	// errsPerConn is how many refusals one connection may draw (below
	// the server's error limit).
	errsPerConn int
	// tlsPrefix reaches TLS: the setup and the upgrade command.
	tlsPrefix []string
}

func (r *recorder) note(format string, a ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, a...))
}

// pickSource chooses the local address (see RecordOptions.Source).
func (r *recorder) pickSource(ctx context.Context) {
	src := r.o.Source
	if src == "" {
		return
	}
	a := &net.TCPAddr{IP: net.ParseIP(src)}
	d := net.Dialer{LocalAddr: a, Timeout: r.o.Timeout}
	c, err := d.DialContext(ctx, "tcp", r.o.Target)
	if err != nil {
		if r.o.Source != "" {
			r.note("could not dial from %s: %v", src, err)
		}
		return
	}
	c.Close()
	r.source = a
}

func (r *recorder) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: r.o.Timeout}
	if r.source != nil {
		d.LocalAddr = r.source
	}
	c, err := d.DialContext(ctx, "tcp", r.o.Target)
	if err != nil {
		return nil, err
	}
	if la, ok := c.LocalAddr().(*net.TCPAddr); ok {
		r.clientIP = la.IP.String()
	}
	return c, nil
}

// conn is a recorder's connection with its unread bytes.
type conn struct {
	c    net.Conn
	tls  bool
	cert *TLSLook
}

// read waits up to wait for done to hold, then for quiet more
// milliseconds of silence (trailing lines, a hang-up). It returns what
// came, how long the first byte took, and whether the server closed.
func (c *conn) read(ctx context.Context, done func([]byte) bool, wait, quiet time.Duration) (got []byte, first time.Duration, closed bool) {
	start := time.Now()
	end := start.Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	buf := make([]byte, 16<<10)
	first = -1
	complete := false
	for len(got) < maxReply {
		dl := end
		if complete {
			dl = time.Now().Add(quiet)
		}
		_ = c.c.SetReadDeadline(dl)
		n, err := c.c.Read(buf)
		if n > 0 {
			if first < 0 {
				first = time.Since(start)
			}
			got = append(got, buf[:n]...)
			if !complete && done(got) {
				complete = true
			}
			continue
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return got, first, false
			}
			return got, first, true // EOF, reset
		}
	}
	return got, first, false
}

func (c *conn) write(b []byte, timeout time.Duration) error {
	_ = c.c.SetWriteDeadline(time.Now().Add(timeout))
	_, err := c.c.Write(b)
	return err
}

func (c *conn) close() {
	if c != nil && c.c != nil {
		c.c.Close()
	}
}

// exchange is one recorded request and answer.
type exchange struct {
	state   string
	tls     bool
	line    string
	p       Parsed
	raw     []byte
	latency time.Duration
	closed  bool
	outcome string
	next    string
}

// greetingDone reports a complete greeting.
func greetingDone(protocol string) func([]byte) bool {
	switch protocol {
	case "smtp", "ftp":
		return codeReplyDone
	}
	return func(b []byte) bool { return bytes.HasSuffix(b, []byte("\n")) }
}

// startTLSLine is the command that upgrades each protocol.
var startTLSLine = map[string]string{"smtp": "STARTTLS", "ftp": "AUTH TLS", "pop3": "STLS", "imap": "a0 STARTTLS"}

var lineTests = map[string][]string{"smtp": smtpTests, "ftp": ftpTests, "pop3": pop3Tests, "imap": imapTests}
var lineSetup = map[string]map[string][]string{"smtp": smtpSetup, "ftp": ftpSetup, "pop3": pop3Setup, "imap": imapSetup}
var lineModeTests = map[string]map[string][]string{"smtp": smtpModeTests, "ftp": ftpModeTests, "pop3": pop3ModeTests, "imap": imapModeTests}

// stateOrder is the order states are recorded and listed in.
var stateOrder = map[string][]string{
	"smtp": {"init", "greeted", "mail", "rcpt", "data", "auth"},
	"ftp":  {"init", "user"},
	"pop3": {"auth", "user", "sasl"},
	"imap": {"notauth", "sasl"},
}

// tlsStates are re-recorded inside TLS after the upgrade.
var tlsStates = map[string][]string{
	"smtp": {"init", "greeted"},
	"ftp":  {"init", "user"},
	"pop3": {"auth", "user"},
	"imap": {"notauth"},
}

func (r *recorder) dialectFor(p *Personality) dialect {
	users := map[string]bool{"postmaster": true}
	for _, u := range r.o.Users {
		users[strings.ToLower(u)] = true
	}
	return newDialect(p.Protocol, firstOr(r.hostnames, ""), users)
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// newDialect configures a protocol's dialect.
func newDialect(protocol, hostname string, users map[string]bool) dialect {
	if protocol == "smtp" {
		return smtpDialect{hostname: hostname, users: users}
	}
	return dialectFor(protocol)
}

// recordLines records a line protocol: greeting, test set in every state,
// the same inside TLS, the error limit.
func (r *recorder) recordLines(ctx context.Context, p *Personality) error {
	r.hostnames = append(r.hostnames, r.o.Hostnames...)
	_, err := r.recordGreeting(ctx, p)
	if err != nil {
		return err
	}
	d := r.dialectFor(p)
	// The error limit first: the test set must stay below it.
	r.recordErrorLimit(ctx, p, d)
	r.errsPerConn = errorsPerConn
	if m := p.Limits.MaxErrors; m > 0 {
		if !p.Limits.ErrorCloseWaits {
			m--
		}
		r.errsPerConn = max(1, min(r.errsPerConn, m))
	}
	var all []exchange
	reached := map[string]bool{}
	for _, st := range stateOrder[p.Protocol] {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		tests := lineModeTests[p.Protocol][st]
		if tests == nil {
			tests = append(append([]string{}, lineTests[p.Protocol]...), overlongTest)
		}
		ex, ok := r.runState(ctx, p, d, st, lineSetup[p.Protocol][st], tests, false, nil)
		if !ok {
			r.note("state %s could not be reached (its setup was refused): not recorded", st)
			continue
		}
		reached[st] = true
		all = append(all, ex...)
		r.o.Progress("%s: state %s: %d exchanges", p.Protocol, st, len(ex))
	}
	// Inside TLS: find where the upgrade worked.
	var up *exchange
	for i := range all {
		if d.startTLS(all[i].p, all[i].outcome) && !all[i].closed {
			up = &all[i]
			break
		}
	}
	if up != nil {
		prefix := append(append([]string{}, lineSetup[p.Protocol][up.state]...), up.line)
		r.tlsPrefix = prefix
		for _, st := range tlsStates[p.Protocol] {
			tests := append(append([]string{}, lineTests[p.Protocol]...), overlongTest)
			ex, ok := r.runState(ctx, p, d, st, lineSetup[p.Protocol][st], tests, true, prefix)
			if !ok {
				r.note("state %s inside TLS could not be reached: not recorded", st)
				continue
			}
			all = append(all, ex...)
			r.o.Progress("%s: state tls:%s: %d exchanges", p.Protocol, st, len(ex))
		}
		p.TLS = r.tlsLook
	}
	p.Replies = r.entries(ctx, p, d, all, reached)
	if p.Protocol == "smtp" && reached["data"] {
		p.Replies = append(p.Replies, smtpDataEnd(all))
	}
	return nil
}

// recordGreeting connects three times (the second while the first is
// still open, to see counters of sessions move) and templates what
// differs.
func (r *recorder) recordGreeting(ctx context.Context, p *Personality) ([]byte, error) {
	var raws [][]byte
	var held []*conn
	defer func() {
		for _, c := range held {
			c.close()
		}
	}()
	sessions := []int{1, 2, 1}
	for i := 0; i < 3; i++ {
		if i == 2 {
			for _, c := range held {
				c.close()
			}
			held = nil
			time.Sleep(300 * time.Millisecond)
		}
		nc, err := r.dial(ctx)
		if err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		c := &conn{c: nc}
		raw, _, _ := c.read(ctx, greetingDone(p.Protocol), r.o.Timeout, r.o.Quiet)
		if len(raw) == 0 {
			c.close()
			return nil, fmt.Errorf("record: %s sent no greeting within %s", r.o.Target, r.o.Timeout)
		}
		raws = append(raws, raw)
		held = append(held, c)
	}
	greet := raws[0]
	switch {
	case bytes.Contains(greet, []byte("\r\n")):
		p.EOL = "crlf"
		r.eol = "\r\n"
	default:
		p.EOL = "lf"
		r.eol = "\n"
	}
	if m := dateRules[1].re.Find(greet); m != nil {
		// The zone the original writes its dates in (Exim: "+0000").
		p.Vars["timezone"] = string(m[len(m)-5:])
	}
	if p.Protocol == "smtp" {
		// "220 mail.example.com ESMTP ...": the greeting's domain.
		f := strings.Fields(string(firstLineOf(greet)))
		if len(f) > 1 && strings.Contains(f[1], ".") {
			r.hostnames = appendNew(r.hostnames, f[1])
		}
	}
	samples := make([]segs, len(raws))
	for i, raw := range raws {
		samples[i] = r.templ(raw, nil, true)
	}
	ss := templateDiff(samples, sessions)
	if r.ambiguous(greet) {
		ss = r.relabel(ss, r.replayFromAlt(ctx, p, nil, exchange{}))
	}
	p.Greeting = r.replyOf(ss, greet)
	return greet, nil
}

// ambiguous: an answer holds the address that is both the client's and
// the server's (a recording over loopback).
func (r *recorder) ambiguous(raw []byte) bool {
	return r.o.Source == "" && r.clientIP == r.host && strings.HasPrefix(r.host, "127.") &&
		bytes.Contains(raw, []byte(r.host))
}

// altSource is another loopback address to tell the client's address
// from the server's.
func (r *recorder) altSource() string {
	if r.host == "127.0.0.2" {
		return "127.0.0.3"
	}
	return "127.0.0.2"
}

// replayFromAlt gets the same answer again from the other loopback
// address (the greeting when d is nil); nil when that is not possible.
func (r *recorder) replayFromAlt(ctx context.Context, p *Personality, d dialect, ex exchange) []byte {
	saveSrc, saveIP := r.source, r.clientIP
	r.source = &net.TCPAddr{IP: net.ParseIP(r.altSource())}
	defer func() { r.source, r.clientIP = saveSrc, saveIP }()
	if d == nil {
		nc, err := r.dial(ctx)
		if err != nil {
			return nil
		}
		c := &conn{c: nc}
		defer c.close()
		raw, _, _ := c.read(ctx, greetingDone(p.Protocol), r.o.Timeout, r.o.Quiet)
		return raw
	}
	var prefix []string
	if ex.tls {
		prefix = r.tlsPrefix
	}
	c, ok := r.reach(ctx, p, d, ex.state, lineSetup[p.Protocol][ex.state], prefix)
	if !ok {
		return nil
	}
	defer c.close()
	if c.write([]byte(ex.line+"\r\n"), r.o.Timeout) != nil {
		return nil
	}
	raw, _, _ := c.read(ctx, func(b []byte) bool { return d.replyDone(ex.p, b) }, r.o.LongWait, r.o.Quiet)
	return raw
}

// relabel decides the address placeholders of an ambiguous answer from
// the same answer to the other address: there, the client's address shows
// as itself, the server's stays.
func (r *recorder) relabel(ss segs, alt []byte) segs {
	hasAlt := bytes.Contains(alt, []byte(r.altSource()))
	hasHost := bytes.Contains(alt, []byte(r.host))
	name := ""
	switch {
	case hasAlt && !hasHost:
		name = "client_ip"
	case hasHost && !hasAlt:
		name = "server_ip"
	default:
		return ss
	}
	out := make(segs, len(ss))
	for i, s := range ss {
		if s.ph && (s.text == "client_ip" || s.text == "server_ip") {
			s.text = name
		}
		out[i] = s
	}
	return out
}

func firstLineOf(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return bytes.TrimRight(b[:i], "\r")
	}
	return b
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return list
		}
	}
	return append(list, s)
}

// templ turns one raw answer into a template: dates, echoes, names,
// addresses, port.
func (r *recorder) templ(raw []byte, fields map[string]string, greeting bool) segs {
	ss := newSegs(string(raw))
	ss = templateDates(ss, r.at)
	var echoes []echo
	for _, name := range []string{"line", "arg", "addr", "user", "path", "target", "host"} {
		// Only values carrying one of the test set's markers count: a
		// server's fixed text may contain what was sent by chance
		// (Postfix's "Syntax: MAIL FROM:<address>").
		// The HTTP Host is echoed wherever it shows (Apache's "Server
		// at HOST Port"), marker or not: it is the client's to choose.
		if v := fields[name]; v != "" && (hasMarker(v) || name == "host") {
			echoes = append(echoes, echo{name, v})
		}
	}
	if fields["verb"] != "" && fields["class"] == "UNKNOWN" {
		echoes = append(echoes, echo{"verb", fields["verb"]})
	}
	ss = templateEchoes(ss, echoes)
	if tag := fields["tag"]; tag != "" {
		ss = templateTag(ss, tag)
	}
	ss = templateHost(ss, r.hostnames)
	server := r.host
	if r.clientIP != "" && r.clientIP != server {
		ss = templateAddr(ss, r.clientIP, "client_ip")
		ss = templateAddr(ss, server, "server_ip")
	} else if greeting {
		ss = templateAddr(ss, server, "server_ip")
	} else {
		ss = templateAddr(ss, server, "client_ip")
	}
	return templatePort(ss, r.port)
}

// markers are the distinctive words of the test sets' arguments.
var markers = []string{"portrait", "nosuchuser7q", "xyzzy", "postmaster", "someone", "x-1", "192.0.2.7"}

func hasMarker(v string) bool {
	l := strings.ToLower(v)
	for _, m := range markers {
		if strings.Contains(l, m) {
			return true
		}
	}
	return false
}

// templateTag replaces an IMAP tag at the start of a line.
func templateTag(ss segs, tag string) segs {
	return ss.replace(tag+" ", "tag", func(lit string, at int) bool {
		return at == 0 || lit[at-1] == '\n'
	}).fixTagSpace()
}

// fixTagSpace puts back the space eaten with the tag.
func (ss segs) fixTagSpace() segs {
	var out segs
	for _, s := range ss {
		out = append(out, s)
		if s.ph && s.text == "tag" {
			out = append(out, seg{text: " "})
		}
	}
	return out
}

// replyOf stores a templated answer as lines when it is made of whole
// lines with the personality's line end, else as raw text or base64.
func (r *recorder) replyOf(ss segs, raw []byte) *Reply {
	t := ss.String()
	if len(raw) == 0 {
		return &Reply{Silent: true}
	}
	if !utf8.ValidString(t) {
		return &Reply{RawB64: base64.StdEncoding.EncodeToString(raw)}
	}
	eol := r.eol
	if eol == "" {
		eol = "\r\n"
	}
	if strings.HasSuffix(t, eol) {
		body := strings.TrimSuffix(t, eol)
		lines := strings.Split(body, eol)
		ok := true
		for _, l := range lines {
			if strings.ContainsAny(l, "\r\n") {
				ok = false
			}
		}
		if ok {
			return &Reply{Lines: lines}
		}
	}
	return &Reply{Raw: t}
}

// reach opens a connection in state st: greeting, then (inside TLS when
// tlsPrefix is set) the setup commands, checking each moves the state as
// expected.
func (r *recorder) reach(ctx context.Context, p *Personality, d dialect, st string, setup []string, tlsPrefix []string) (*conn, bool) {
	nc, err := r.dial(ctx)
	if err != nil {
		return nil, false
	}
	c := &conn{c: nc}
	if g, _, closed := c.read(ctx, greetingDone(p.Protocol), r.o.Timeout, min(50*time.Millisecond, r.o.Quiet)); len(g) == 0 || closed {
		c.close()
		return nil, false
	}
	cur := d.initial()
	send := func(line string) (Parsed, string, bool) {
		line = r.expandTest(line)
		pp := d.classify(cur, []byte(line), false)
		if err := c.write([]byte(line+"\r\n"), r.o.Timeout); err != nil {
			return pp, "", false
		}
		raw, _, closed := c.read(ctx, func(b []byte) bool { return d.replyDone(pp, b) }, r.o.LongWait, min(50*time.Millisecond, r.o.Quiet))
		if len(raw) == 0 || closed {
			return pp, "", false
		}
		return pp, d.outcome(pp, raw), true
	}
	if tlsPrefix != nil {
		for i, line := range tlsPrefix {
			pp, out, ok := send(line)
			if !ok {
				c.close()
				return nil, false
			}
			if i == len(tlsPrefix)-1 {
				if !d.startTLS(pp, out) {
					c.close()
					return nil, false
				}
				tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true, ServerName: firstOr(r.hostnames, "localhost")}) // #nosec G402 -- we record, not trust
				_ = tc.SetDeadline(time.Now().Add(r.o.Timeout))
				if err := tc.HandshakeContext(ctx); err != nil {
					r.note("TLS handshake after %s failed: %v", line, err)
					c.close()
					return nil, false
				}
				_ = tc.SetDeadline(time.Time{})
				if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 && r.tlsLook == nil {
					r.tlsLook = lookOf(certs[0])
					// A certificate made moments ago (Exim makes its own
					// at start) is made anew by the emulator too.
					if d := r.at.Sub(r.tlsLook.NotBefore); d > -24*time.Hour && d < 24*time.Hour {
						r.tlsLook.Relative = true
					}
				}
				c.c, c.tls = tc, true
			}
			cur = d.next(cur, pp, out)
		}
	}
	for _, line := range setup {
		pp, out, ok := send(line)
		if !ok {
			c.close()
			return nil, false
		}
		cur = d.next(cur, pp, out)
	}
	if cur != st {
		c.close()
		return nil, false
	}
	return c, true
}

// expandTest fills the test line's %h with the server's name.
func (r *recorder) expandTest(line string) string {
	if line == overlongTest {
		return strings.Repeat("A", overlongLen)
	}
	return strings.ReplaceAll(line, "%h", firstOr(r.hostnames, "localhost"))
}

// errorsPerConn is how many refused commands one recording connection
// makes before it is replaced, below the error limits servers enforce
// (Postfix slows down after 10, Dovecot hangs up after 10).
const errorsPerConn = 4

// runState sends the tests in state st, reconnecting whenever a command
// moved the session elsewhere, the server hung up, or enough errors piled
// up. ok is false when the state cannot be reached.
func (r *recorder) runState(ctx context.Context, p *Personality, d dialect, st string, setup, tests []string, inTLS bool, tlsPrefix []string) ([]exchange, bool) {
	var out []exchange
	var c *conn
	defer func() { c.close() }()
	errs := 0
	seen := map[string]bool{}
	for _, t := range tests {
		if ctx.Err() != nil {
			break
		}
		line := r.expandTest(t)
		pp := d.classify(st, []byte(line), len(line) > 4096)
		key := pp.Command + "\x00" + pp.Arg
		if seen[key] {
			continue
		}
		seen[key] = true
		if c == nil {
			var ok bool
			if c, ok = r.reach(ctx, p, d, st, setup, tlsPrefix); !ok {
				if len(out) == 0 {
					return nil, false
				}
				break
			}
			errs = 0
		}
		wait := r.o.Timeout
		switch pp.Command {
		case "PASS", "LOGIN", "APOP", "AUTH-RESPONSE":
			wait = r.o.LongWait
		}
		if strings.HasSuffix(pp.Arg, "+initial") {
			wait = r.o.LongWait
		}
		if pp.NoReply {
			wait = 400 * time.Millisecond
		}
		if err := c.write([]byte(line+"\r\n"), r.o.Timeout); err != nil {
			c.close()
			c = nil
			continue
		}
		raw, first, closed := c.read(ctx, func(b []byte) bool { return d.replyDone(pp, b) }, wait, r.o.Quiet)
		ex := exchange{state: st, tls: inTLS, line: line, p: pp, raw: raw, latency: first, closed: closed}
		if len(raw) > 0 {
			ex.outcome = d.outcome(pp, raw)
		}
		ex.next = d.next(st, pp, ex.outcome)
		out = append(out, ex)
		if ex.outcome == outcomeError {
			errs++
		}
		if closed || len(raw) == 0 || ex.next != st || d.startTLS(pp, ex.outcome) || errs >= r.errsPerConn {
			c.close()
			c = nil
		}
	}
	return out, true
}

// recordErrorLimit sends unknown commands until the server hangs up (at
// most 40, for at most a minute) and notes after how many it did, what it
// said, and from when it slowed its answers down.
func (r *recorder) recordErrorLimit(ctx context.Context, p *Personality, d dialect) {
	nc, err := r.dial(ctx)
	if err != nil {
		return
	}
	c := &conn{c: nc}
	defer c.close()
	if g, _, _ := c.read(ctx, greetingDone(p.Protocol), r.o.Timeout, min(50*time.Millisecond, r.o.Quiet)); len(g) == 0 {
		return
	}
	junk := "XyzZy"
	if p.Protocol == "imap" {
		junk = "a1 XyzZy"
	}
	pp := d.classify(d.initial(), []byte(junk), false)
	var normal []byte
	var lats []time.Duration
	deadline := time.Now().Add(time.Minute)
	for i := 0; i < 40 && time.Now().Before(deadline); i++ {
		if err := c.write([]byte(junk+"\r\n"), r.o.Timeout); err != nil {
			break
		}
		raw, first, closed := c.read(ctx, func(b []byte) bool { return d.replyDone(pp, b) }, r.o.LongWait, r.o.Quiet)
		if len(raw) == 0 {
			break
		}
		if i == 0 {
			normal = raw
		}
		if closed || !bytes.Equal(raw, normal) {
			closeRaw := raw
			n := i
			if bytes.HasPrefix(raw, normal) && len(raw) > len(normal) {
				closeRaw = raw[len(normal):]
				n = i + 1
			} else {
				p.Limits.ErrorCloseWaits = true
			}
			if !closed {
				r.note("after %d unknown commands the answer changed to %q but the session stayed open", i, closeRaw)
				return
			}
			p.Limits.MaxErrors = n
			p.Limits.ErrorClose = r.replyOf(r.templ(closeRaw, pp.Fields, false), closeRaw)
			if first > 250*time.Millisecond && p.Limits.ErrorCloseWaits {
				p.Limits.ErrorClose.Delay = Duration(roundDelay(first))
			}
			break
		}
		lats = append(lats, first)
	}
	// Slow-down: the first answer from which all later ones took > 400ms.
	for i := range lats {
		slow := true
		for _, l := range lats[i:] {
			slow = slow && l > 400*time.Millisecond
		}
		if slow && len(lats[i:]) >= 2 {
			p.Limits.SlowAfter = i
			p.Limits.SlowDelay = Duration(roundDelay(lats[len(lats)-1]))
			break
		}
	}
	if p.Limits.MaxErrors == 0 {
		r.note("the server did not hang up after %d unknown commands", len(lats))
	}
}

func roundDelay(d time.Duration) time.Duration {
	return d.Round(100 * time.Millisecond)
}

// entries turns the exchanges into personality entries, merging the
// states that answered a class alike.
func (r *recorder) entries(ctx context.Context, p *Personality, d dialect, all []exchange, reached map[string]bool) []Entry {
	type key struct{ cmd, arg string }
	type rec struct {
		state string
		e     Entry
	}
	byKey := map[key][]rec{}
	var order []key
	for _, ex := range all {
		fields := map[string]string{}
		for k, v := range ex.p.Fields {
			fields[k] = v
		}
		fields["class"] = ex.p.Command
		if ex.p.Command == "OVERLONG" || ex.p.Command == "BINARY" {
			fields["line"] = "" // never echo these in full
		}
		e := Entry{Command: ex.p.Command, Arg: ex.p.Arg, Sent: showLine(ex.line)}
		ss := r.templ(ex.raw, fields, false)
		if r.ambiguous(ex.raw) {
			ss = r.relabel(ss, r.replayFromAlt(ctx, p, d, ex))
		}
		rep := r.replyOf(ss, ex.raw)
		if ex.p.NoReply && len(ex.raw) == 0 {
			continue // nothing to store: no answer was due
		}
		e.Reply = *rep
		e.Close = ex.closed
		if ex.latency > 250*time.Millisecond {
			e.Delay = Duration(roundDelay(ex.latency))
		}
		if ex.next != ex.state {
			e.Then = ex.next
		}
		e.Error = ex.outcome == outcomeError && len(ex.raw) > 0
		st := ex.state
		if ex.tls {
			st = "tls:" + st
		}
		k := key{e.Command, e.Arg}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], rec{st, e})
	}
	var plainStates []string
	for _, s := range stateOrder[p.Protocol] {
		if reached[s] && lineModeTests[p.Protocol][s] == nil {
			plainStates = append(plainStates, s)
		}
	}
	var out []Entry
	for _, k := range order {
		recs := byKey[k]
		// Merge the plain states that answered alike into "*"; TLS
		// entries equal to their plain twin are dropped (lookups fall
		// back from tls:S to S).
		plain := map[string]Entry{}
		for _, rc := range recs {
			if !strings.HasPrefix(rc.state, "tls:") {
				plain[rc.state] = rc.e
			}
		}
		merged := len(plainStates) > 1 && len(plain) == len(plainStates)
		var ref Entry
		for i, s := range plainStates {
			e, ok := plain[s]
			if !ok {
				merged = false
				break
			}
			if i == 0 {
				ref = e
			} else if !sameReply(ref.Reply, e.Reply) {
				merged = false
			}
		}
		if merged {
			ref.State = "*"
			out = append(out, ref)
		}
		for _, rc := range recs {
			tlsState := strings.HasPrefix(rc.state, "tls:")
			if !tlsState && merged && plain[rc.state].Command != "" && inList(plainStates, rc.state) {
				continue
			}
			if tlsState {
				if twin, ok := plain[strings.TrimPrefix(rc.state, "tls:")]; ok && sameReply(twin.Reply, rc.e.Reply) {
					continue
				}
			}
			e := rc.e
			e.State = rc.state
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return stateRank(p.Protocol, out[i].State) < stateRank(p.Protocol, out[j].State) })
	return out
}

func inList(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func stateRank(protocol, st string) int {
	if st == "*" {
		return -1
	}
	off := 0
	if strings.HasPrefix(st, "tls:") {
		off = 100
		st = strings.TrimPrefix(st, "tls:")
	}
	for i, s := range stateOrder[protocol] {
		if s == st {
			return off + i
		}
	}
	return off + 99
}

// sameReply compares two replies for merging (delays within 300ms).
func sameReply(a, b Reply) bool {
	da, db := time.Duration(a.Delay), time.Duration(b.Delay)
	if d := da - db; d > 300*time.Millisecond || d < -300*time.Millisecond {
		return false
	}
	return strings.Join(a.Lines, "\n") == strings.Join(b.Lines, "\n") && a.Raw == b.Raw && a.RawB64 == b.RawB64 &&
		a.Silent == b.Silent && a.Close == b.Close && a.Then == b.Then && a.Error == b.Error
}

// showLine renders a sent line for the reader of the file.
func showLine(l string) string {
	if len(l) > 200 {
		return fmt.Sprintf("<%d bytes: %q...>", len(l), l[:16])
	}
	if printable([]byte(l)) {
		return l
	}
	q := strconv.Quote(l)
	return q[1 : len(q)-1]
}

// smtpDataEnd is the synthetic answer to the end of mail data: the
// recorder never sends the final dot, so as not to deliver mail.
func smtpDataEnd(all []exchange) Entry {
	enhanced := false
	for _, ex := range all {
		if ex.p.Command == "EHLO" && bytes.Contains(ex.raw, []byte("ENHANCEDSTATUSCODES")) {
			enhanced = true
		}
	}
	line := "250 OK"
	if enhanced {
		line = "250 2.0.0 Ok: queued as ${rand:HEX:10}"
	}
	return Entry{State: "data", Command: "DATA-END", Reply: Reply{Lines: []string{line}, Then: "greeted", Synthetic: true}}
}
