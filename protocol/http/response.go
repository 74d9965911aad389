package http

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Size limits of one response. They are HTTP's own framing limits, larger
// than a typical Env.MaxRead because favicons and marker-bearing pages are
// often bigger than a banner; they still bound memory per connection.
const (
	MaxHeader = 64 << 10
	MaxBody   = 256 << 10
)

// UserAgent is honest about being a scanner while looking enough like a
// browser that servers answer with their normal page.
const UserAgent = "Mozilla/5.0 (compatible; portrait/0.1)"

// Header is one response header as sent (name in original case).
type Header struct {
	Name, Value string
}

// Response is a parsed, bounded HTTP response.
type Response struct {
	Raw        []byte // bytes read from the wire (head and body as framed), capped
	StatusLine string // "HTTP/1.1 200 OK"
	Version    string // "HTTP/1.1"
	Status     int    // 200
	Reason     string // "OK"
	Headers    []Header
	Body       []byte // de-chunked body, at most MaxBody bytes
	Truncated  bool   // body cut at MaxBody or by a timeout/early close
}

// Header returns the values of the named header (case-insensitive) joined
// with ", ", or "".
func (r *Response) Header(name string) string {
	var vals []string
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			vals = append(vals, h.Value)
		}
	}
	return strings.Join(vals, ", ")
}

// Values returns every value of the named header.
func (r *Response) Values(name string) []string {
	var vals []string
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			vals = append(vals, h.Value)
		}
	}
	return vals
}

// Errors of the response parser.
var (
	ErrNoResponse   = errors.New("http: empty response")
	ErrNotHTTP      = errors.New("http: not an HTTP status line")
	ErrOtherStatus  = errors.New("http: status line of another protocol (RTSP/SIP)")
	ErrHeaderTooBig = errors.New("http: header block too large")
)

// HostHeader is the Host value for env: the user's hostname if any, else the
// dialled address, with the port unless it is the scheme's default.
func HostHeader(env protocol.Env) string {
	host := env.Hostname
	if host == "" {
		host = env.Host
	}
	if (env.Port == 80 && !env.TLS) || (env.Port == 443 && env.TLS) || env.Port == 0 {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(env.Port))
}

// BuildRequest renders the GET request the module sends for path.
func BuildRequest(env protocol.Env, path string) []byte {
	if path == "" || (path[0] != '/' && path[0] != '*') {
		path = "/" + path
	}
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\n")
	b.WriteString("Host: " + HostHeader(env) + "\r\n")
	b.WriteString("User-Agent: " + UserAgent + "\r\n")
	b.WriteString("Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n")
	b.WriteString("Connection: close\r\n\r\n")
	return []byte(b.String())
}

// Get sends GET path on conn and reads one bounded response. The returned
// Response is non-nil whenever some bytes arrived (even when err is set:
// then only Raw is filled), so callers can record what the server said.
func Get(ctx context.Context, conn net.Conn, env protocol.Env, path string) (*Response, error) {
	if err := wire.Write(ctx, conn, env.Timeout, BuildRequest(env, path)); err != nil {
		return nil, fmt.Errorf("http: write: %w", err)
	}
	return ReadResponse(ctx, conn, env.Timeout, nil)
}

// ReadResponse reads one response from conn, starting with the bytes already
// in pre (a passive banner). Each wait is bounded by timeout; the head is
// bounded by MaxHeader and the body by MaxBody.
func ReadResponse(ctx context.Context, conn net.Conn, timeout time.Duration, pre []byte) (*Response, error) {
	buf := append([]byte(nil), pre...)
	// Head: until a blank line, or until the first bytes show another protocol.
	if headEnd(buf) < 0 && !settled(buf) {
		more, err := wire.ReadUntil(ctx, conn, timeout, MaxHeader-len(buf), func(b []byte) bool {
			all := append(buf[:len(buf):len(buf)], b...)
			return headEnd(all) >= 0 || settled(all)
		})
		buf = append(buf, more...)
		if len(buf) == 0 {
			if err == nil {
				err = ErrNoResponse
			}
			return nil, fmt.Errorf("http: read: %w", err)
		}
	}
	resp, bodyStart, err := parseHead(buf)
	if err != nil {
		return &Response{Raw: buf}, err
	}
	// Skip interim 1xx answers (100 Continue) that precede the real one.
	for i := 0; i < 3 && resp.Status >= 100 && resp.Status < 200 && resp.Status != 101; i++ {
		rest := buf[bodyStart:]
		if headEnd(rest) < 0 {
			more, _ := wire.ReadUntil(ctx, conn, timeout, MaxHeader, func(b []byte) bool {
				return headEnd(append(rest[:len(rest):len(rest)], b...)) >= 0
			})
			rest = append(rest, more...)
		}
		if len(rest) == 0 {
			break
		}
		buf = rest
		if resp, bodyStart, err = parseHead(buf); err != nil {
			return &Response{Raw: buf}, err
		}
	}
	if headEnd(buf) < 0 {
		// Head cut by the size cap, a timeout or a hang-up: keep what came,
		// never wait for a body.
		resp.Raw, resp.Truncated = buf, true
		return resp, nil
	}
	body := buf[bodyStart:]
	fr := framing(resp)
	if !fr.complete(body) {
		more, rerr := wire.ReadUntil(ctx, conn, timeout, fr.limit()-len(body), func(b []byte) bool {
			return fr.complete(append(body[:len(body):len(body)], b...))
		})
		body = append(body, more...)
		if rerr != nil && !wire.IsTimeout(rerr) && fr.kind == frameClose {
			rerr = nil
		}
		if !fr.complete(body) {
			resp.Truncated = true
		}
	}
	resp.Raw = append(buf[:bodyStart:bodyStart], body...)
	resp.Body = fr.decode(body)
	if len(resp.Body) > MaxBody {
		resp.Body = resp.Body[:MaxBody]
		resp.Truncated = true
	}
	return resp, nil
}

// settled reports that the first bytes already decide the answer is not an
// HTTP head worth waiting for (a TLS alert, a binary greeting).
func settled(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	n := len(b)
	if n > 5 {
		n = 5
	}
	return !bytes.HasPrefix([]byte("HTTP/"), b[:n]) && !bytes.HasPrefix(b, []byte("HTTP/"))
}

// headEnd returns the index just past the blank line ending the head, or -1.
func headEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		if j := bytes.Index(b, []byte("\n\n")); j >= 0 && j < i {
			return j + 2
		}
		return i + 4
	}
	if j := bytes.Index(b, []byte("\n\n")); j >= 0 {
		return j + 2
	}
	return -1
}

// ParseStatusLine validates "HTTP/x.y NNN reason". It returns ErrOtherStatus
// for RTSP and SIP status lines (same shape, other protocol) and ErrNotHTTP
// for anything else.
func ParseStatusLine(line string) (version string, code int, reason string, err error) {
	line = strings.TrimRight(line, "\r\n")
	for _, p := range []string{"RTSP/", "SIP/"} {
		if strings.HasPrefix(line, p) {
			return "", 0, "", ErrOtherStatus
		}
	}
	if !strings.HasPrefix(line, "HTTP/") {
		return "", 0, "", ErrNotHTTP
	}
	version, rest, _ := strings.Cut(line, " ")
	if v := version[5:]; len(v) == 0 || len(v) > 3 || !(v[0] >= '0' && v[0] <= '9') {
		return "", 0, "", ErrNotHTTP
	}
	rest = strings.TrimLeft(rest, " ")
	codeS, reason, _ := strings.Cut(rest, " ")
	if len(codeS) != 3 {
		return "", 0, "", ErrNotHTTP
	}
	code, cerr := strconv.Atoi(codeS)
	if cerr != nil || code < 100 || code > 999 {
		return "", 0, "", ErrNotHTTP
	}
	return version, code, strings.TrimSpace(reason), nil
}

// parseHead parses the status line and headers in b and returns the offset
// where the body starts. A head cut short (no blank line) is accepted: the
// headers present are kept and the body is empty.
func parseHead(b []byte) (*Response, int, error) {
	end := headEnd(b)
	head := b
	if end >= 0 {
		head = b[:end]
	} else {
		end = len(b)
	}
	lines := strings.Split(string(head), "\n")
	version, code, reason, err := ParseStatusLine(lines[0])
	if err != nil {
		return nil, 0, err
	}
	r := &Response{
		StatusLine: strings.TrimRight(lines[0], "\r"),
		Version:    version,
		Status:     code,
		Reason:     reason,
	}
	for _, l := range lines[1:] {
		l = strings.TrimRight(l, "\r")
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(r.Headers) > 0 {
			// Obsolete line folding: continue the previous value.
			r.Headers[len(r.Headers)-1].Value += " " + strings.TrimSpace(l)
			continue
		}
		name, val, ok := strings.Cut(l, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			continue
		}
		if len(r.Headers) >= 256 {
			break
		}
		r.Headers = append(r.Headers, Header{Name: name, Value: strings.TrimSpace(val)})
	}
	return r, end, nil
}

// Body framing kinds.
const (
	frameNone = iota
	frameLength
	frameChunked
	frameClose
)

type frame struct {
	kind int
	n    int // Content-Length (capped at MaxBody)
}

func framing(r *Response) frame {
	if r.Status == 204 || r.Status == 304 || (r.Status >= 100 && r.Status < 200) {
		return frame{kind: frameNone}
	}
	if strings.Contains(strings.ToLower(r.Header("Transfer-Encoding")), "chunked") {
		return frame{kind: frameChunked}
	}
	if cl := r.Header("Content-Length"); cl != "" {
		if i := strings.IndexByte(cl, ','); i >= 0 {
			cl = cl[:i]
		}
		n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
		if err == nil && n >= 0 {
			if n > MaxBody {
				n = MaxBody
			}
			return frame{kind: frameLength, n: int(n)}
		}
	}
	return frame{kind: frameClose}
}

// limit is how many raw body bytes may be read.
func (f frame) limit() int {
	switch f.kind {
	case frameNone:
		return 0
	case frameLength:
		return f.n
	case frameChunked:
		return MaxBody + MaxBody/8 // room for chunk size lines
	}
	return MaxBody
}

func (f frame) complete(b []byte) bool {
	switch f.kind {
	case frameNone:
		return true
	case frameLength:
		return len(b) >= f.n
	case frameChunked:
		_, done := dechunk(b)
		return done || len(b) >= f.limit()
	}
	return len(b) >= MaxBody
}

func (f frame) decode(b []byte) []byte {
	switch f.kind {
	case frameNone:
		return nil
	case frameLength:
		if len(b) > f.n {
			b = b[:f.n]
		}
		return b
	case frameChunked:
		out, _ := dechunk(b)
		return out
	}
	return b
}

// dechunk decodes a chunked body as far as it goes and reports whether the
// terminating zero-size chunk was seen. Sizes are capped so a hostile size
// line cannot make it allocate.
func dechunk(b []byte) ([]byte, bool) {
	var out []byte
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return out, false
		}
		line := strings.TrimSpace(string(b[:i]))
		if j := strings.IndexByte(line, ';'); j >= 0 {
			line = strings.TrimSpace(line[:j])
		}
		if line == "" || len(line) > 8 {
			// Not a size line: the server lied about chunking; keep the rest raw.
			return append(out, b...), false
		}
		n, err := strconv.ParseUint(line, 16, 32)
		if err != nil {
			return append(out, b...), false
		}
		b = b[i+1:]
		if n == 0 {
			return out, true
		}
		if int(n) > len(b) {
			return append(out, b...), false
		}
		if len(out)+int(n) <= MaxBody {
			out = append(out, b[:n]...)
		}
		b = b[n:]
		// Trailing CRLF after the chunk data.
		if len(b) > 0 && b[0] == '\r' {
			b = b[1:]
		}
		if len(b) > 0 && b[0] == '\n' {
			b = b[1:]
		}
	}
}
