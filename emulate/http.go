package emulate

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// HTTP. What fingerprinting sees of a web server is its status lines,
// its headers and their order, its pages (the default page, the error
// pages) and how it reacts to requests that are not quite HTTP. A request
// is classified by method (GET, HEAD... UNKNOWN-METHOD for another token,
// BAD-METHOD for a method with bytes no token has) and by an argument
// class "TARGET VERSION [FLAGS]":
//
//	TARGET   root (/), asterisk (*), absolute (http://...), a recorded path
//	         (/favicon.ico, /robots.txt, /index.html), dotdot, badpct, long,
//	         relative, missing (any other path)
//	VERSION  1.0, 1.1, 0.9 (no version), 2.0, rtsp (RTSP/1.0), unsupported
//	         (another HTTP/x.y), bad
//	FLAGS    nohost (HTTP/1.1 without Host), close (Connection: close),
//	         bigheader (a header line over 4 KiB)
//
// Lines that are no request line: EMPTY (blank lines only), BINARY (a TLS
// ClientHello is "BINARY tls-hello"), BAD-REQUEST (one word, or too many
// spaces).

var httpMethods = set("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH", "PROPFIND")

// httpKnownPaths are the paths recorded under their own class.
var httpKnownPaths = set("/favicon.ico", "/robots.txt", "/index.html")

// httpMaxHead caps a request head; the recorder's big header exceeds 4 KiB.
const httpMaxHead = 64 << 10

func isTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// classifyHTTP classifies a request head (request line and headers).
func classifyHTTP(head []byte) Parsed {
	f := map[string]string{}
	trimmed := bytes.TrimLeft(head, "\r\n")
	switch {
	case len(trimmed) == 0:
		return Parsed{Command: "EMPTY", Fields: f}
	case len(trimmed) >= 3 && trimmed[0] == 0x16 && trimmed[1] == 0x03:
		return Parsed{Command: "BINARY", Arg: "tls-hello", Fields: f}
	}
	lineEnd := bytes.IndexByte(trimmed, '\n')
	if lineEnd < 0 {
		lineEnd = len(trimmed)
	}
	line := bytes.TrimRight(trimmed[:lineEnd], "\r")
	if !printable(line) {
		return Parsed{Command: "BINARY", Fields: f}
	}
	f["line"] = string(line)
	parts := strings.Split(string(line), " ")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		arg := "one-word"
		if len(parts) > 3 {
			arg = "spaces"
		} else if len(parts) >= 2 {
			arg = "empty-part"
		}
		return Parsed{Command: "BAD-REQUEST", Arg: arg, Fields: f}
	}
	method, target := parts[0], parts[1]
	f["method"], f["target"] = method, target
	path, _, _ := strings.Cut(target, "?")
	f["path"] = path
	p := Parsed{Fields: f}
	switch {
	case httpMethods[method]:
		p.Command = method
	default:
		tok := true
		for i := 0; i < len(method); i++ {
			tok = tok && isTchar(method[i])
		}
		if tok {
			p.Command = "UNKNOWN-METHOD"
		} else {
			p.Command = "BAD-METHOD"
		}
	}
	var tc string
	switch {
	case len(target) > 4096:
		tc = "long"
	case target == "/":
		tc = "root"
	case target == "*":
		tc = "asterisk"
	case strings.HasPrefix(strings.ToLower(target), "http://") || strings.HasPrefix(strings.ToLower(target), "https://"):
		tc = "absolute"
	case !strings.HasPrefix(target, "/"):
		tc = "relative"
	case httpKnownPaths[path]:
		tc = path
	case strings.Contains(path, "/../") || strings.HasSuffix(path, "/.."):
		tc = "dotdot"
	case badPercent(path):
		tc = "badpct"
	default:
		tc = "missing"
	}
	vc := "0.9"
	if len(parts) == 3 {
		switch parts[2] {
		case "HTTP/1.0":
			vc = "1.0"
		case "HTTP/1.1":
			vc = "1.1"
		case "HTTP/2.0", "HTTP/2":
			vc = "2.0"
		case "RTSP/1.0":
			vc = "rtsp"
		default:
			vc = "bad"
			if strings.HasPrefix(parts[2], "HTTP/") {
				vc = "unsupported" // HTTP/9.9
			}
		}
	}
	arg := tc + " " + vc
	hdrs := httpHeaders(trimmed[lineEnd:])
	host, hasHost := hdrs["host"]
	if hasHost {
		h := host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			h = hh
		}
		f["host"] = h
	}
	if method == "CONNECT" {
		// CONNECT names its host in the target (Apache's error page
		// repeats it).
		if hh, _, err := net.SplitHostPort(target); err == nil {
			f["host"] = hh
		}
	}
	if vc == "1.1" && !hasHost {
		arg += " nohost"
	}
	if strings.EqualFold(hdrs["connection"], "close") {
		arg += " close"
	}
	if _, big := hdrs["\x00big"]; big {
		arg += " bigheader"
	}
	p.Arg = arg
	return p
}

// httpHeaders reads header lines into a map (lower-case names; a line
// over 4 KiB is flagged under "\x00big").
func httpHeaders(b []byte) map[string]string {
	h := map[string]string{}
	for _, l := range bytes.Split(b, []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		if len(l) > 4096 {
			h["\x00big"] = ""
		}
		k, v, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		h[strings.ToLower(string(bytes.TrimSpace(k)))] = string(bytes.TrimSpace(v))
	}
	return h
}

func badPercent(p string) bool {
	hex := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && (i+2 >= len(p) || !hex(p[i+1]) || !hex(p[i+2])) {
			return true
		}
	}
	return false
}

// httpTests are the recorder's requests: %H is the Host header value.
var httpTests = []string{
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: %H\r\nUser-Agent: portrait\r\nAccept: */*\r\nConnection: close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: %H\r\nUser-Agent: portrait\r\n\r\n",
	"GET / HTTP/1.1\r\nUser-Agent: portrait\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: %H\r\n\r\n",
	"HEAD / HTTP/1.0\r\n\r\n",
	"HEAD / HTTP/1.1\r\nHost: %H\r\nConnection: close\r\n\r\n",
	"OPTIONS / HTTP/1.0\r\n\r\n",
	"OPTIONS / HTTP/1.1\r\nHost: %H\r\nConnection: close\r\n\r\n",
	"OPTIONS * HTTP/1.0\r\n\r\n",
	"OPTIONS / RTSP/1.0\r\n\r\n",
	"POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
	"PUT /portrait.txt HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
	"DELETE /portrait.txt HTTP/1.0\r\n\r\n",
	"TRACE / HTTP/1.0\r\n\r\n",
	"PATCH / HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
	"PROPFIND / HTTP/1.0\r\n\r\n",
	"CONNECT 127.0.0.1:1 HTTP/1.0\r\n\r\n",
	"XYZZY / HTTP/1.0\r\n\r\n",
	"G\x01T / HTTP/1.1\r\nHost: %H\r\nConnection: close\r\n\r\n",
	"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n",
	"GET * HTTP/1.0\r\n\r\n",
	"GET /portrait-missing-7q HTTP/1.0\r\n\r\n",
	"GET /portrait-missing-7q HTTP/1.1\r\nHost: %H\r\nConnection: close\r\n\r\n",
	"GET /portrait%20enc%2Fpath.txt%2ebak HTTP/1.0\r\n\r\n",
	"GET /favicon.ico HTTP/1.0\r\n\r\n",
	"GET /favicon.ico HTTP/1.1\r\nHost: %H\r\nConnection: close\r\n\r\n",
	"GET /robots.txt HTTP/1.0\r\n\r\n",
	"GET /index.html HTTP/1.0\r\n\r\n",
	"GET /portrait/../../../etc/passwd HTTP/1.0\r\n\r\n",
	"GET /portrait%zz HTTP/1.0\r\n\r\n",
	"GET portrait HTTP/1.0\r\n\r\n",
	"GET /\r\n",
	"GET / HTTP/9.9\r\n\r\n",
	"GET / XTTP/1.0\r\n\r\n",
	"GET / HTTP/2.0\r\n\r\n",
	"GET /%L HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nX-Portrait: %B\r\n\r\n",
	"GET  / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0 portrait\r\n\r\n",
	"\r\n\r\n",
	"HELP\r\n",
	"\x00\x01\x02\xfe\xff\r\n\r\n",
	"%T",
}

// httpRequest expands a test request.
func (r *recorder) httpRequest(t string) []byte {
	switch t {
	case "%T":
		return clientHello(r.host)
	}
	t = strings.ReplaceAll(t, "%H", "portrait.example:"+r.port)
	t = strings.ReplaceAll(t, "%L", strings.Repeat("a", overlongLen))
	t = strings.ReplaceAll(t, "%B", strings.Repeat("b", overlongLen))
	return []byte(t)
}

// clientHello captures the first flight of a Go TLS client.
func clientHello(server string) []byte {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		c := tls.Client(a, &tls.Config{ServerName: server, InsecureSkipVerify: true}) // #nosec G402 -- the handshake never completes
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		_ = c.Handshake()
	}()
	_ = b.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n, _ := b.Read(buf)
	return buf[:n]
}

// httpResponse is a parsed response.
type httpResponse struct {
	status  string
	headers []string
	body    []byte
	chunked bool
}

// httpResponseDone reports whether raw holds one complete response to a
// request with that method.
func httpResponseDone(raw []byte, head bool) bool {
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	sep := 4
	if j := bytes.Index(raw, []byte("\n\n")); j >= 0 && (i < 0 || j < i) {
		i, sep = j, 2
	}
	if i < 0 {
		return !bytes.HasPrefix(raw, []byte("HTTP/")) && bytes.HasSuffix(raw, []byte("\n")) && len(raw) > 0 && !bytes.HasPrefix(raw, []byte("HTTP"))
	}
	h := httpHeaders(raw[:i])
	body := raw[i+sep:]
	code := ""
	if f := strings.Fields(string(firstLineOf(raw))); len(f) > 1 {
		code = f[1]
	}
	if head || code == "204" || code == "304" || strings.HasPrefix(code, "1") {
		return true
	}
	if strings.Contains(strings.ToLower(h["transfer-encoding"]), "chunked") {
		return bytes.HasSuffix(body, []byte("0\r\n\r\n"))
	}
	if cl, err := strconv.Atoi(h["content-length"]); err == nil {
		return len(body) >= cl
	}
	return false // read until close
}

// parseHTTPResponse splits a raw response; ok is false when it is not HTTP.
func parseHTTPResponse(raw []byte) (httpResponse, bool) {
	if !bytes.HasPrefix(raw, []byte("HTTP/")) {
		return httpResponse{}, false
	}
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	if i < 0 {
		return httpResponse{}, false
	}
	lines := strings.Split(string(raw[:i]), "\r\n")
	r := httpResponse{status: lines[0], headers: lines[1:], body: raw[i+4:]}
	for _, h := range r.headers {
		k, v, _ := strings.Cut(h, ":")
		if strings.EqualFold(strings.TrimSpace(k), "transfer-encoding") && strings.Contains(strings.ToLower(v), "chunked") {
			r.chunked = true
			r.body = dechunk(r.body)
		}
	}
	return r, true
}

// dechunk decodes a chunked body (what it can).
func dechunk(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			break
		}
		szs, _, _ := strings.Cut(string(b[:i]), ";")
		n, err := strconv.ParseInt(strings.TrimSpace(szs), 16, 32)
		if err != nil || n <= 0 || int(n) > len(b)-i-2 {
			break
		}
		out = append(out, b[i+2:i+2+int(n)]...)
		b = b[i+2+int(n):]
		b = bytes.TrimPrefix(b, []byte("\r\n"))
	}
	return out
}

var reServerAt = regexp.MustCompile(`Server at ([A-Za-z0-9][A-Za-z0-9.-]*) Port`)

// recordHTTP sends the test requests, each on its own connection.
func (r *recorder) recordHTTP(ctx context.Context, p *Personality) error {
	r.hostnames = append(r.hostnames, r.o.Hostnames...)
	r.eol = "\r\n"
	p.EOL = "crlf"
	type got struct {
		req     []byte
		raw     []byte
		latency time.Duration
		closed  bool
		p       Parsed
	}
	var all []got
	fetch := func(req []byte) (got, error) {
		nc, err := r.dial(ctx)
		if err != nil {
			return got{}, err
		}
		c := &conn{c: nc}
		defer c.close()
		if err := c.write(req, r.o.Timeout); err != nil {
			return got{req: req}, nil
		}
		head := bytes.HasPrefix(req, []byte("HEAD "))
		raw, first, closed := c.read(ctx, func(b []byte) bool { return httpResponseDone(b, head) }, r.o.Timeout, r.o.Quiet)
		return got{req: req, raw: raw, latency: first, closed: closed, p: classifyHTTP(req)}, nil
	}
	seen := map[string]bool{}
	for _, t := range httpTests {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		req := r.httpRequest(t)
		cls := classifyHTTP(req)
		k := cls.Command + "\x00" + cls.Arg
		if seen[k] {
			continue
		}
		seen[k] = true
		g, err := fetch(req)
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		all = append(all, g)
		if m := reServerAt.FindSubmatch(g.raw); m != nil {
			name := string(m[1])
			if net.ParseIP(name) == nil && !hasMarker(name) {
				r.hostnames = appendNew(r.hostnames, name)
			}
		}
	}
	if len(all) == 0 || len(all[0].raw) == 0 {
		return fmt.Errorf("record: %s did not answer GET /", r.o.Target)
	}
	r.o.Progress("http: %d requests", len(all))
	// The first page again, to tell what changes between two answers.
	again, err := fetch(all[0].req)
	if err != nil {
		return err
	}
	var diffed *segs
	if len(again.raw) > 0 {
		a := r.templ(all[0].raw, all[0].p.Fields, false)
		b := r.templ(again.raw, again.p.Fields, false)
		d := templateDiff([]segs{a, b}, nil)
		diffed = &d
	}
	bodies := map[string]int{}
	for i, g := range all {
		e := Entry{State: "*", Command: g.p.Command, Arg: g.p.Arg, Sent: showLine(strings.TrimSuffix(string(firstLineOf(g.req)), "\r"))}
		if len(g.req) > 300 {
			e.Sent = showLine(string(g.req))
		}
		fields := g.p.Fields
		var ss segs
		if i == 0 && diffed != nil {
			ss = *diffed
		} else {
			ss = r.templ(g.raw, fields, false)
		}
		resp, ok := parseHTTPResponse(g.raw)
		switch {
		case len(g.raw) == 0:
			e.Silent = true
		case !ok:
			e.Reply = *r.replyOf(ss, g.raw)
		default:
			e.Status, e.Headers, e.Body, e.BodyB64 = r.httpParts(ss, resp, fields)
			if len(e.Body) > 512 {
				bodies[e.Body]++
			}
		}
		e.Close = g.closed
		if g.latency > 250*time.Millisecond {
			e.Delay = Duration(roundDelay(g.latency))
		}
		p.Replies = append(p.Replies, e)
	}
	// Long bodies that recur are stored once under bodies:.
	var names []string
	for b, n := range bodies {
		if n > 1 {
			names = append(names, b)
		}
	}
	sort.Strings(names)
	for i, b := range names {
		if p.Bodies == nil {
			p.Bodies = map[string]string{}
		}
		name := "page" + strconv.Itoa(i+1)
		p.Bodies[name] = b
		for j := range p.Replies {
			if p.Replies[j].Body == b {
				p.Replies[j].Body, p.Replies[j].BodyRef = "", name
			}
		}
	}
	return nil
}

// httpParts splits a templated response into status, headers and body.
// The body is templated on its own (so placeholders in it are known) and
// Content-Length becomes ${content_length} when the body has any.
func (r *recorder) httpParts(ss segs, resp httpResponse, fields map[string]string) (status string, headers []string, body, bodyB64 string) {
	t := ss.String()
	head, _, _ := strings.Cut(t, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	status = lines[0]
	headers = lines[1:]
	if !utf8.Valid(resp.body) {
		return status, headers, "", base64.StdEncoding.EncodeToString(resp.body)
	}
	bt := r.templ(resp.body, fields, false).String()
	if bt != Escape(string(resp.body)) {
		for i, h := range headers {
			if k, _, _ := strings.Cut(h, ":"); strings.EqualFold(k, "Content-Length") {
				headers[i] = k + ": ${content_length}"
			}
		}
	}
	if resp.chunked {
		for i, h := range headers {
			if k, _, _ := strings.Cut(h, ":"); strings.EqualFold(k, "Transfer-Encoding") {
				headers[i] = k + ": chunked"
			}
		}
	}
	return status, headers, bt, ""
}

// serveHTTP answers requests until the client or the recorded reply closes.
func (ss *session) serveHTTP() {
	s := ss.s
	ss.state = "*"
	for n := 0; n < s.MaxRequests; n++ {
		head, err := ss.readHTTPHead()
		if len(head) == 0 {
			return
		}
		p := classifyHTTP(head)
		keep := httpKeepAlive(head)
		if p.Command == "POST" || p.Command == "PUT" || p.Command == "PATCH" {
			ss.discardBody(head)
		}
		e, match := ss.lookupHTTP(p)
		ev := Event{Session: ss.id, Event: "command", State: "*", Class: strings.TrimSpace(p.Command + " " + p.Arg), Match: match}
		ev.setRecv(head)
		if e == nil || e.Silent {
			s.Log.Log(ev)
			if e != nil && !e.Close && err == nil {
				continue // the original kept quiet and kept reading: so do we
			}
			return
		}
		ss.sleep(time.Duration(e.Delay))
		out := ss.renderHTTP(e, p)
		werr := ss.write(out)
		ev.setSent(out)
		s.Log.Log(ev)
		if werr != nil || err != nil || e.Close || !keep {
			if e.Close || !keep {
				ss.reason = "server"
			}
			return
		}
	}
	ss.reason = "limit"
}

// readHTTPHead reads a request head: up to the blank line for request
// lines with a version, the first line alone for lines without one, what
// has come for binary input.
func (ss *session) readHTTPHead() ([]byte, error) {
	var head []byte
	first, err := ss.br.Peek(1)
	if err != nil || len(first) == 0 {
		return nil, err
	}
	if !(first[0] >= 0x20 && first[0] < 0x7f) && first[0] != '\r' && first[0] != '\n' {
		// Binary: take what has arrived (a TLS ClientHello comes in one
		// segment); the original answered without waiting for more.
		buf := make([]byte, 16<<10)
		n, _ := ss.br.Read(buf)
		return buf[:n], nil
	}
	blank := 0
	for len(head) < httpMaxHead {
		line, overlong, err := ss.readLine(httpMaxHead - len(head))
		if err != nil {
			return head, err
		}
		raw := append(line, '\r', '\n')
		if overlong {
			raw = line
		}
		head = append(head, raw...)
		if len(head) >= httpMaxHead || overlong {
			return head, nil
		}
		if len(line) == 0 {
			blank++
			if len(bytes.TrimLeft(head, "\r\n")) > 0 || blank >= 2 {
				return head, nil // end of head, or blank lines only
			}
			continue
		}
		// A request line without a version (HTTP/0.9) or not a request
		// line at all is answered at once.
		if bytes.Equal(bytes.TrimLeft(head, "\r\n"), raw) {
			parts := strings.Split(string(line), " ")
			if len(parts) != 3 || !strings.Contains(parts[2], "/") {
				return head, nil
			}
		}
	}
	return head, nil
}

// httpKeepAlive: HTTP/1.1 without Connection: close, or 1.0 asking for it.
func httpKeepAlive(head []byte) bool {
	h := httpHeaders(head)
	conn := strings.ToLower(h["connection"])
	line := string(firstLineOf(bytes.TrimLeft(head, "\r\n")))
	switch {
	case strings.HasSuffix(line, " HTTP/1.1"):
		return conn != "close"
	case strings.HasSuffix(line, " HTTP/1.0"):
		return conn == "keep-alive"
	}
	return false
}

// discardBody reads and drops a request body announced by Content-Length
// (up to 1 MiB; the session byte budget bounds it too).
func (ss *session) discardBody(head []byte) {
	n, err := strconv.Atoi(httpHeaders(head)["content-length"])
	if err != nil || n <= 0 {
		return
	}
	_, _ = ss.br.Discard(min(n, 1<<20))
}

// lookupHTTP finds the answer: exact; without the flags; HEAD from GET
// (renderHTTP drops the body); another target or version of the same
// method; then GET's; a bad request line; the first page.
func (ss *session) lookupHTTP(p Parsed) (*Entry, string) {
	idx := ss.s.index
	get := func(cmd, arg string) *Entry { return idx[entryKey("*", cmd, arg)] }
	if e := get(p.Command, p.Arg); e != nil {
		return e, "exact"
	}
	f := strings.Fields(p.Arg)
	if len(f) >= 2 {
		cmds := []string{p.Command}
		if p.Command == "HEAD" {
			cmds = append(cmds, "GET")
		}
		for _, t := range []string{f[0], "missing", "root"} {
			for _, cmd := range cmds {
				for _, v := range []string{f[1], "1.0", "1.1"} {
					for _, flags := range []string{" close", ""} {
						if e := get(cmd, t+" "+v+flags); e != nil {
							return e, "fallback"
						}
					}
				}
			}
		}
	}
	for _, k := range [][2]string{{"UNKNOWN-METHOD", "root 1.0"}, {"BAD-REQUEST", "one-word"}, {"GET", "root 1.0"}} {
		if e := get(k[0], k[1]); e != nil {
			return e, "fallback"
		}
	}
	return nil, "none"
}

// renderHTTP builds the response bytes: headers in the recorded order,
// Content-Length recomputed where it is a placeholder, no body to HEAD.
func (ss *session) renderHTTP(e *Entry, p Parsed) []byte {
	if e.Status == "" {
		return ss.render(&e.Reply, ss.vars(p.Fields))
	}
	v := ss.vars(p.Fields)
	var body []byte
	switch {
	case e.BodyB64 != "":
		body, _ = base64.StdEncoding.DecodeString(e.BodyB64)
	case e.BodyRef != "":
		body = []byte(Expand(ss.s.P.Bodies[e.BodyRef], v))
	default:
		body = []byte(Expand(e.Body, v))
	}
	v.Text["content_length"] = strconv.Itoa(len(body))
	var b bytes.Buffer
	b.WriteString(Expand(e.Status, v) + "\r\n")
	chunked := false
	for _, h := range e.Headers {
		line := Expand(h, v)
		if k, val, _ := strings.Cut(line, ":"); strings.EqualFold(k, "Transfer-Encoding") && strings.Contains(strings.ToLower(val), "chunked") {
			chunked = true
		}
		b.WriteString(line + "\r\n")
	}
	b.WriteString("\r\n")
	if p.Command == "HEAD" {
		return b.Bytes()
	}
	if chunked && len(body) > 0 {
		fmt.Fprintf(&b, "%x\r\n", len(body))
		b.Write(body)
		b.WriteString("\r\n0\r\n\r\n")
	} else if chunked {
		b.WriteString("0\r\n\r\n")
	} else {
		b.Write(body)
	}
	return b.Bytes()
}
