// Package http is the HTTP/1.x module: it sends one honest GET / and turns
// the answer into evidence fields, then makes a few cheap, bounded extra
// requests (one same-origin redirect, a 404 page, the favicon, and known
// status paths) when the first answer leaves the product ambiguous. It
// never names products; the rules in fingerprint/rules/http.yaml do.
//
// Field naming. Every response is described by Fields(prefix, resp) under a
// prefix; the main page uses "http":
//
//	<p>.status          status code ("200")
//	<p>.status_line     the status line as sent ("HTTP/1.1 200 OK")
//	<p>.version         protocol version token ("HTTP/1.1")
//	<p>.header.<name>   every header, name lower-cased, repeated headers joined with ", "
//	<p>.header_order    header names in wire order, original case, comma separated
//	<p>.title           <title>, entity-decoded, whitespace collapsed
//	<p>.body            first 16 KiB of the (de-chunked) body as Latin-1 text (each
//	                    byte one rune), so rules can match any byte
//
// Headers, title, generator and cookie names are kept as UTF-8 when they are
// valid UTF-8 and converted from Latin-1 otherwise.
//
//	<p>.generator       <meta name="generator"> content(s)
//	<p>.cookies         names of the cookies set, comma separated
//	<p>.powered_by      X-Powered-By value
//	<p>.markers         framework hints found (e.g. "wp-content,PHPSESSID"), comma separated
//	<p>.tls_required    "true" when the server says plain HTTP was sent to a TLS port
//
// Prefixes:
//
//	http                  the first response to GET /; after a followed redirect its
//	                      page fields (title, body, generator, markers, cookies) are
//	                      replaced by the final page's, and its headers are completed
//	                      with the final page's headers it lacked
//	http.redirect         the Location of a 3xx answer (a value, not a prefix)
//	http.final            the page reached by following that redirect (no .body;
//	                      the body is in http.body)
//	http.404              the answer to GET /portrait-404-<random>, made when the Server
//	                      header is missing or carries no version (error pages show
//	                      Tomcat's version, Go's "404 page not found"...)
//	http.path.<path>      the answer to an extra path, e.g. http.path./version.body;
//	                      see PathPrefix and FollowUps
//	http.bad              the answer to a malformed request (BadRequest: a control
//	                      byte in the method), made on the same condition as
//	                      http.404: servers' parser errors differ where their pages
//	                      do not (Node.js answers a bare 400 with only Connection)
//	http.proxy            the answer to ProxyRequest (absolute form, for the
//	                      server's own loopback port 1), same condition: a forward
//	                      proxy answers with its error page (Privoxy's names its
//	                      version), a web server with a page as for "/"
//
// Other fields:
//
//	http.bad.raw         the first MaxBadRaw bytes of that answer as sent, Latin-1
//	                     (one rune a byte), also when it is not HTTP at all
//	http.favicon.mmh3    Shodan-style favicon hash (see FaviconHash)
//	http.favicon.path    where the favicon was fetched
//	http.favicon.size    its size in bytes
//	http.tls_required    also set to "true" (with ErrNotThisProtocol) when a TLS
//	                     record came back to the plaintext request
package http

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/tlsprobe"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// New returns the HTTP module.
func New() protocol.Module { return &module{} }

type module struct{}

func (*module) Info() protocol.Info {
	return protocol.Info{
		Name:    "http",
		Service: "http",
		Ports: []int{80, 81, 591, 631, 2379, 2380, 3000, 3128, 4000, 5000, 5601, 5984, 8000, 8008,
			8080, 8081, 8088, 8086, 8180, 8222, 8443, 8500, 8888, 9000, 9090, 9091, 9200, 9443, 10000, 15672},
		TLSPorts: []int{443, 4443, 6443, 8443, 9443, 10443},
		Priority: 80,
	}
}

// Claim accepts a server that blurts an HTTP response before any request.
func (*module) Claim(banner []byte) bool {
	_, _, _, err := ParseStatusLine(firstLine(banner))
	return err == nil
}

func firstLine(b []byte) string {
	if len(b) > 256 {
		b = b[:256]
	}
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Run sends GET / (unless the server already spoke) and gathers the fields.
func (m *module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	req := BuildRequest(env, "/")
	var (
		resp *Response
		err  error
	)
	if len(banner) > 0 {
		req = nil
		resp, err = ReadResponse(ctx, conn, env.Timeout, banner)
	} else {
		resp, err = getFirst(ctx, conn, env)
	}
	var raw []byte
	if resp != nil {
		raw = resp.Raw
	}
	res.Record("GetRequest", req, raw)
	if err != nil {
		if len(raw) == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			// Hung up on a well-formed request without a byte: not an
			// HTTP server (Redis, TLS-only and binary services do this).
			return res, fmt.Errorf("http: closed without answer: %w", protocol.ErrNotThisProtocol)
		}
		if resp != nil && tlsprobe.Looks(resp.Raw) {
			res.Set("http.tls_required", "true")
			return res, fmt.Errorf("http: TLS record in answer: %w", protocol.ErrNotThisProtocol)
		}
		if errors.Is(err, ErrNotHTTP) || errors.Is(err, ErrOtherStatus) {
			return res, fmt.Errorf("%w: %w", protocol.ErrNotThisProtocol, err)
		}
		return res, err
	}
	res.Service = "http"
	res.Confidence = 95
	if len(resp.Headers) == 0 {
		res.Confidence = 70 // a bare status line
	}
	for k, v := range Fields("http", resp) {
		res.Set(k, v)
	}
	if env.Dial == nil {
		return res, nil
	}

	page, pagePath := resp, "/"
	if loc := resp.Header("Location"); resp.Status >= 300 && resp.Status < 400 && loc != "" {
		res.Set("http.redirect", loc)
		if path, ok := sameOrigin(loc, "/", env); ok {
			if fin, raw, ferr := fetch(ctx, env, path); raw != nil {
				res.Record("GetRequest-redirect", BuildRequest(env, path), raw)
				if ferr == nil {
					page, pagePath = fin, path
					mergeFinal(res, fin)
				}
			}
		}
	}

	// The remaining extras are independent: run them together so they cost
	// one round trip of wall time.
	type extra struct {
		probe string
		req   []byte
		apply func(*Response)
	}
	var extras []extra
	fieldsUnder := func(prefix string) func(*Response) {
		return func(r *Response) {
			for k, v := range Fields(prefix, r) {
				res.Set(k, v)
			}
		}
	}
	if needs404(resp) {
		extras = append(extras,
			extra{"http-404", BuildRequest(env, "/portrait-404-"+randHex(4)), fieldsUnder("http.404")},
			extra{"http-badrequest", BadRequest(env), fieldsUnder("http.bad")},
			extra{"http-proxy-request", ProxyRequest(env), fieldsUnder("http.proxy")})
	}
	if !TLSRequired(resp) {
		icon := "/favicon.ico"
		if href := IconHref(page.Body); href != "" {
			if p, ok := sameOrigin(href, pagePath, env); ok {
				icon = p
			}
		}
		extras = append(extras, extra{"http-favicon", BuildRequest(env, icon), func(r *Response) {
			if r.Status != 200 || len(r.Body) == 0 || r.Truncated ||
				strings.Contains(strings.ToLower(r.Header("Content-Type")), "text/html") {
				return
			}
			res.Set("http.favicon.mmh3", FaviconHash(r.Body))
			res.Set("http.favicon.path", icon)
			res.Set("http.favicon.size", strconv.Itoa(len(r.Body)))
		}})
	}
	for _, fu := range FollowUps {
		if fu.When(page) {
			extras = append(extras, extra{"http-path", BuildRequest(env, fu.Path), fieldsUnder(PathPrefix(fu.Path))})
		}
	}
	type got struct {
		resp *Response
		raw  []byte
		err  error
	}
	out := make([]got, len(extras))
	var wg sync.WaitGroup
	for i, e := range extras {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, raw, err := fetchRequest(ctx, env, e.req)
			out[i] = got{r, raw, err}
		}()
	}
	wg.Wait()
	for i, e := range extras {
		if raw := out[i].raw; e.probe == "http-badrequest" && len(raw) > 0 {
			res.Set("http.bad.raw", wire.Latin1(raw[:min(len(raw), MaxBadRaw)]))
		}
		if out[i].raw != nil {
			res.Record(e.probe, e.req, out[i].raw)
		}
		if out[i].err == nil {
			e.apply(out[i].resp)
		}
	}
	return res, nil
}

// MaxBadRaw caps http.bad.raw.
const MaxBadRaw = 1024

// BadRequest is a request no HTTP parser accepts: a control byte inside the
// method token. Servers answer it from their parser's error path, which
// names the implementation even when the configured pages and headers do
// not. It has no side effect: no server can route it.
func BadRequest(env protocol.Env) []byte {
	return []byte("G\x01T / HTTP/1.1\r\nHost: " + HostHeader(env) + "\r\nUser-Agent: " + UserAgent +
		"\r\nConnection: close\r\n\r\n")
}

// ProxyTarget is the URL of ProxyRequest: port 1 of the server's own
// loopback, closed almost everywhere, so that a forward proxy fails at once
// and answers with its error page (which names it and usually its version),
// and never reaches anything but the host being scanned.
const ProxyTarget = "http://127.0.0.1:1/"

// ProxyRequest is a request in absolute form for ProxyTarget. A web server
// treats it as a request for "/" (RFC 9112 3.2.2 has origin servers accept
// the absolute form); a forward proxy tries to fetch it.
func ProxyRequest(env protocol.Env) []byte {
	return []byte("GET " + ProxyTarget + " HTTP/1.1\r\nHost: 127.0.0.1:1\r\nUser-Agent: " + UserAgent +
		"\r\nConnection: close\r\n\r\n")
}

// firstWait is how much longer than one probe timeout the first answer may
// take. A server that works one connection at a time (gunicorn's default
// single sync worker, small embedded servers) serves the connections in the
// order they arrived, so our GET waits behind the engine's silent banner
// connection and the other modules' connections; it answers late, not never.
const firstWait = 2

// getFirst sends GET / and waits for the first answer with firstWait probe
// timeouts of patience (never past ctx's deadline).
func getFirst(ctx context.Context, conn net.Conn, env protocol.Env) (*Response, error) {
	if err := wire.Write(ctx, conn, env.Timeout, BuildRequest(env, "/")); err != nil {
		return nil, fmt.Errorf("http: write: %w", err)
	}
	return ReadResponse(ctx, conn, firstWait*env.Timeout, nil)
}

// FollowUp is an extra path fetched when the first page matches When.
type FollowUp struct {
	Path string
	When func(*Response) bool
}

// FollowUps are the status paths the module fetches by itself. They are
// protocol facts, not product names: Go servers often expose /version (etcd,
// Kubernetes, Docker), and a NATS-style monitoring index links /varz.
var FollowUps = []FollowUp{
	{Path: "/version", When: func(r *Response) bool {
		return r.Status == 404 && strings.HasPrefix(string(r.Body), "404 page not found")
	}},
	{Path: "/varz", When: func(r *Response) bool {
		return r.Status == 200 && reVarzLink.Match(r.Body)
	}},
}

var reVarzLink = regexp.MustCompile(`href=["']?(\./|/)?varz\b`)

// PathPrefix is the field prefix for an extra path: "http.path./version".
func PathPrefix(path string) string {
	return "http.path." + path
}

// FetchPath is the helper for the engine: it dials env.Dial, GETs path and
// returns the fields under PathPrefix(path) and the raw exchange.
func FetchPath(ctx context.Context, env protocol.Env, path string) (map[string]string, protocol.Exchange, error) {
	r, raw, err := fetch(ctx, env, path)
	ex := protocol.Exchange{Probe: "http-path", Request: BuildRequest(env, path), Response: raw}
	if err != nil {
		return nil, ex, err
	}
	return Fields(PathPrefix(path), r), ex, nil
}

// fetch opens a new connection with env.Dial and GETs path.
func fetch(ctx context.Context, env protocol.Env, path string) (*Response, []byte, error) {
	return fetchRequest(ctx, env, BuildRequest(env, path))
}

// fetchRequest opens a new connection with env.Dial, sends req and reads one
// bounded answer.
func fetchRequest(ctx context.Context, env protocol.Env, req []byte) (*Response, []byte, error) {
	if env.Dial == nil {
		return nil, nil, errors.New("http: no dialer")
	}
	c, err := env.Dial(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("http: dial: %w", err)
	}
	defer c.Close()
	if err := wire.Write(ctx, c, env.Timeout, req); err != nil {
		return nil, nil, fmt.Errorf("http: write: %w", err)
	}
	r, err := ReadResponse(ctx, c, env.Timeout, nil)
	if r == nil {
		return nil, nil, err
	}
	return r, r.Raw, err
}

// needs404 says whether the first answer leaves the server unnamed or
// unversioned, so that an error page may tell more.
func needs404(r *Response) bool {
	if TLSRequired(r) {
		return false
	}
	srv := r.Header("Server")
	return srv == "" || !strings.ContainsAny(srv, "0123456789")
}

// mergeFinal stores the redirect target's fields: status and headers under
// http.final, page content in the main fields, and the headers the first
// answer lacked.
func mergeFinal(res *protocol.Result, fin *Response) {
	ff := Fields("http.final", fin)
	for _, name := range []string{"title", "body", "generator", "markers"} {
		if v, ok := ff["http.final."+name]; ok {
			res.Fields["http."+name] = v
		} else {
			delete(res.Fields, "http."+name) // the redirect page's own content is moot
		}
	}
	delete(ff, "http.final.body")
	for k, v := range ff {
		res.Set(k, v)
		if h, ok := strings.CutPrefix(k, "http.final.header."); ok {
			if _, have := res.Fields["http.header."+h]; !have {
				res.Set("http.header."+h, v)
			}
		}
	}
	// Cookies and powered-by: union, first answer first.
	if c := strings.Join(CookieNames(fin), ","); c != "" {
		if old := res.Fields["http.cookies"]; old != "" && old != c {
			res.Fields["http.cookies"] = old + "," + c
		} else {
			res.Set("http.cookies", c)
		}
	}
	if res.Fields["http.powered_by"] == "" {
		res.Set("http.powered_by", fin.Header("X-Powered-By"))
	}
}

// sameOrigin resolves a Location or href against the page at basePath on
// the target and returns the request path when it stays on the same scheme,
// host and port.
func sameOrigin(ref, basePath string, env protocol.Env) (string, bool) {
	scheme := "http"
	if env.TLS {
		scheme = "https"
	}
	base, err := url.Parse(scheme + "://" + HostHeader(env) + basePath)
	if err != nil {
		return "", false
	}
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return "", false
	}
	u = base.ResolveReference(u)
	if !strings.EqualFold(u.Scheme, scheme) {
		return "", false
	}
	host := u.Hostname()
	if !strings.EqualFold(host, base.Hostname()) && !strings.EqualFold(host, env.Host) &&
		!(env.Hostname != "" && strings.EqualFold(host, env.Hostname)) {
		return "", false
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	if port != strconv.Itoa(env.Port) {
		return "", false
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p, true
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
