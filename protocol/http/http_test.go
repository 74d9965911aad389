package http

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// pathServer answers each request by path; unknown paths get 404.
func pathServer(t *testing.T, pages map[string]string) string {
	return prototest.Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		line, _ := br.ReadString('\n')
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		p, _, _ := strings.Cut(requestPath([]byte(line)), "?")
		if strings.HasPrefix(p, "/portrait-404-") {
			p = "404"
		}
		resp, ok := pages[p]
		if !ok {
			resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
		}
		_, _ = c.Write([]byte(resp))
	})
}

func TestRunCases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pages   map[string]string
		wantErr error
		want    map[string]string
		absent  []string
	}{
		{
			name: "chunked",
			pages: map[string]string{"/": "HTTP/1.1 200 OK\r\nServer: x/1\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"7\r\n<title>\r\n5;ext=1\r\nHello\r\n8\r\n</title>\r\n0\r\n\r\n"},
			want: map[string]string{"http.title": "Hello", "http.body": "<title>Hello</title>"},
		},
		{
			name:  "http10 close delimited",
			pages: map[string]string{"/": "HTTP/1.0 200 OK\r\nServer: x/1\r\n\r\nbody until close"},
			want:  map[string]string{"http.version": "HTTP/1.0", "http.body": "body until close"},
		},
		{
			name:  "bare LF and no reason",
			pages: map[string]string{"/": "HTTP/1.1 200\nServer: y/2\n\n<TITLE>\n  A &amp;\n B </TITLE>"},
			want:  map[string]string{"http.status": "200", "http.title": "A & B", "http.header.server": "y/2"},
		},
		{
			name: "headers joined and ordered, cookies and markers",
			pages: map[string]string{"/": "HTTP/1.1 200 OK\r\nServer: s/1\r\nSet-Cookie: PHPSESSID=abc; path=/\r\n" +
				"set-cookie: laravel_session=x; HttpOnly\r\nX-Powered-By: PHP/8.2.7\r\nContent-Length: 95\r\n\r\n" +
				`<meta content="WordPress 6.4.2" name="generator"><link href="/wp-content/x.css" rel=stylesheet>`},
			want: map[string]string{
				"http.header.set-cookie": "PHPSESSID=abc; path=/, laravel_session=x; HttpOnly",
				"http.header_order":      "Server,Set-Cookie,set-cookie,X-Powered-By,Content-Length",
				"http.cookies":           "PHPSESSID,laravel_session",
				"http.powered_by":        "PHP/8.2.7",
				"http.generator":         "WordPress 6.4.2",
				"http.markers":           "wp-content,laravel_session,PHPSESSID",
			},
		},
		{
			name: "same-origin redirect followed",
			pages: map[string]string{
				"/":      "HTTP/1.1 302 Found\r\nServer: s/1\r\nLocation: /login?next=%2F\r\nContent-Length: 0\r\n\r\n",
				"/login": "HTTP/1.1 200 OK\r\nX-Jenkins: 2.440\r\nContent-Length: 22\r\n\r\n<title>Sign in</title>",
			},
			want: map[string]string{
				"http.status":             "302",
				"http.redirect":           "/login?next=%2F",
				"http.final.status":       "200",
				"http.title":              "Sign in",
				"http.header.x-jenkins":   "2.440",
				"http.final.header_order": "X-Jenkins,Content-Length",
			},
		},
		{
			name: "off-host redirect not followed",
			pages: map[string]string{
				"/": "HTTP/1.1 301 Moved\r\nServer: s/1\r\nLocation: https://example.com/\r\nContent-Length: 0\r\n\r\n",
			},
			want:   map[string]string{"http.redirect": "https://example.com/"},
			absent: []string{"http.final.status"},
		},
		{
			name: "404 probe and favicon",
			pages: map[string]string{
				"/":             "HTTP/1.1 200 OK\r\nContent-Length: 48\r\n\r\n<link rel=\"icon\" href=\"static/i.png\"><p>hi</p>",
				"404":           "HTTP/1.1 404 Not Found\r\nContent-Length: 19\r\n\r\n404 page not found\n",
				"/static/i.png": "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 5\r\n\r\nhello",
			},
			want: map[string]string{
				"http.404.status":   "404",
				"http.404.body":     "404 page not found\n",
				"http.favicon.path": "/static/i.png",
				"http.favicon.mmh3": FaviconHash([]byte("hello")),
			},
		},
		{
			name:  "tls required",
			pages: map[string]string{"/": "HTTP/1.1 400 Bad Request\r\nContent-Length: 56\r\n\r\n<h1>The plain HTTP request was sent to HTTPS port</h1>\r\n"},
			want:  map[string]string{"http.tls_required": "true"},
		},
		{
			name:    "rtsp",
			pages:   map[string]string{"/": "RTSP/1.0 400 Bad Request\r\nCSeq: 0\r\n\r\n"},
			wantErr: protocol.ErrNotThisProtocol,
		},
		{
			name:    "sip",
			pages:   map[string]string{"/": "SIP/2.0 400 Bad Request\r\n\r\n"},
			wantErr: protocol.ErrNotThisProtocol,
		},
		{
			name:    "tls alert",
			pages:   map[string]string{"/": "\x15\x03\x01\x00\x02\x02\x46"},
			wantErr: protocol.ErrNotThisProtocol,
			want:    map[string]string{"http.tls_required": "true"},
		},
		{
			name:    "smtp banner",
			pages:   map[string]string{"/": "220 mail ESMTP Postfix\r\n"},
			wantErr: protocol.ErrNotThisProtocol,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := pathServer(t, tc.pages)
			res, err := prototest.Run(t, New(), addr)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if res.Service != "" {
					t.Errorf("service %q on error", res.Service)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if res.Service != "http" {
				t.Errorf("service %q", res.Service)
			}
			prototest.CheckFields(t, res, tc.want)
			for _, k := range tc.absent {
				if _, ok := res.Fields[k]; ok {
					t.Errorf("%s present: %q", k, res.Fields[k])
				}
			}
			if len(res.Exchanges) == 0 || res.Exchanges[0].Probe != "GetRequest" {
				t.Errorf("exchanges %v", res.Exchanges)
			}
		})
	}
}

// TestHostileServers checks that endless, trickling and silent servers cost
// at most a timeout and a size cap.
func TestHostileServers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(net.Conn)
		maxRaw  int
	}{
		{"endless headers", func(c net.Conn) {
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\n"))
			line := []byte("X-A: " + strings.Repeat("a", 1000) + "\r\n")
			for {
				if _, err := c.Write(line); err != nil {
					return
				}
			}
		}, MaxHeader + 4096},
		{"endless body", func(c net.Conn) {
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nServer: s/1\r\n\r\n"))
			chunk := []byte(strings.Repeat("b", 4096))
			for {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}, MaxHeader + MaxBody},
		{"huge content-length", func(c net.Conn) {
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nServer: s/1\r\nContent-Length: 99999999999999\r\n\r\nshort"))
			time.Sleep(3 * time.Second)
		}, 1024},
		{"huge chunk", func(c net.Conn) {
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nServer: s/1\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\nabc"))
			time.Sleep(3 * time.Second)
		}, 1024},
		{"silent", func(c net.Conn) { time.Sleep(3 * time.Second) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := prototest.Serve(t, tc.handler)
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			env := protocol.Env{Host: "127.0.0.1", Port: 80, Timeout: 500 * time.Millisecond, MaxRead: 64 << 10}
			start := time.Now()
			res, _ := New().Run(context.Background(), conn, nil, env)
			// The first answer gets firstWait timeouts; one more is slack.
			if d := time.Since(start); d > time.Duration(firstWait+2)*env.Timeout {
				t.Errorf("took %v", d)
			}
			if res != nil && len(res.Exchanges) > 0 && len(res.Exchanges[0].Response) > tc.maxRaw {
				t.Errorf("read %d bytes, cap %d", len(res.Exchanges[0].Response), tc.maxRaw)
			}
		})
	}
}

func TestParseStatusLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code int
		err  error
	}{
		{"HTTP/1.1 200 OK", 200, nil},
		{"HTTP/1.0 404", 404, nil},
		{"HTTP/1.1 200 ", 200, nil},
		{"HTTP/2 200", 200, nil},
		{"HTTP/1.1 20 OK", 0, ErrNotHTTP},
		{"HTTP/1.1 abc OK", 0, ErrNotHTTP},
		{"HTTP/ 200", 0, ErrNotHTTP},
		{"RTSP/1.0 200 OK", 0, ErrOtherStatus},
		{"SIP/2.0 200 OK", 0, ErrOtherStatus},
		{"SSH-2.0-OpenSSH", 0, ErrNotHTTP},
	} {
		_, code, _, err := ParseStatusLine(tc.in)
		if code != tc.code || !errors.Is(err, tc.err) {
			t.Errorf("%q: %d %v, want %d %v", tc.in, code, err, tc.code, tc.err)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	env := protocol.Env{Host: "127.0.0.1", Port: 8080}
	for _, tc := range []struct {
		ref, base, want string
		ok              bool
	}{
		{"/login", "/", "/login", true},
		{"login", "/app/", "/app/login", true},
		{"http://127.0.0.1:8080/x?y=1", "/", "/x?y=1", true},
		{"http://127.0.0.1/x", "/", "", false},
		{"https://127.0.0.1:8080/x", "/", "", false},
		{"//evil.example/x", "/", "", false},
		{"http://other:8080/", "/", "", false},
	} {
		got, ok := sameOrigin(tc.ref, tc.base, env)
		if got != tc.want || ok != tc.ok {
			t.Errorf("sameOrigin(%q, %q) = %q %v, want %q %v", tc.ref, tc.base, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFaviconHash(t *testing.T) {
	// MurmurHash3 x86_32 reference vectors.
	for _, tc := range []struct {
		in   string
		want uint32
	}{
		{"", 0},
		{"hello", 0x248bfa47},
		{"The quick brown fox jumps over the lazy dog", 0x2e4ff723},
	} {
		if got := murmur3([]byte(tc.in), 0); got != tc.want {
			t.Errorf("murmur3(%q) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
	// base64 wrapping: 100 bytes -> 136 chars -> one newline inside plus the final one.
	b := make([]byte, 100)
	if FaviconHash(b) == FaviconHash(b[:99]) {
		t.Error("hash ignores content")
	}
}

func TestHostHeader(t *testing.T) {
	for _, tc := range []struct {
		env  protocol.Env
		want string
	}{
		{protocol.Env{Host: "127.0.0.1", Port: 80}, "127.0.0.1"},
		{protocol.Env{Host: "127.0.0.1", Port: 443, TLS: true}, "127.0.0.1"},
		{protocol.Env{Host: "127.0.0.1", Port: 443}, "127.0.0.1:443"},
		{protocol.Env{Host: "::1", Port: 8080}, "[::1]:8080"},
		{protocol.Env{Host: "::1", Port: 80}, "[::1]"},
		{protocol.Env{Host: "127.0.0.1", Hostname: "example.test", Port: 8080}, "example.test:8080"},
	} {
		if got := HostHeader(tc.env); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.env, got, tc.want)
		}
	}
}

// FuzzParseResponse feeds arbitrary bytes to the response parser through a
// pipe, seeded with the recorded lab answers.
func FuzzParseResponse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "lab", "*", "*.resp"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\nab"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Fuzz(func(t *testing.T, b []byte) {
		client, server := net.Pipe()
		go func() {
			_, _ = server.Write(b)
			server.Close()
		}()
		defer client.Close()
		r, err := ReadResponse(context.Background(), client, 200*time.Millisecond, nil)
		if err == nil {
			if r == nil {
				t.Fatal("nil response without error")
			}
			if len(r.Body) > MaxBody {
				t.Fatalf("body %d > cap", len(r.Body))
			}
			_ = Fields("http", r)
			_ = IconHref(r.Body)
		}
	})
}

// FuzzFields runs the HTML scanners on arbitrary bodies.
func FuzzFields(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "lab", "*", "00-GetRequest.resp"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &Response{Status: 200, Body: b, Headers: []Header{{"Set-Cookie", string(b)}}}
		_ = Fields("http", r)
		_ = IconHref(b)
		_ = Title(b)
		_, _ = dechunk(b)
	})
}

// TestLateFirstAnswer: a server that works one connection at a time (lab2's
// gunicorn with its single default worker) answers our GET only after the
// connections queued before it; the first answer may come late.
func TestLateFirstAnswer(t *testing.T) {
	const timeout = 300 * time.Millisecond
	addr := prototest.Serve(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		_, _ = c.Read(buf)
		time.Sleep(timeout * 3 / 2)
		_, _ = c.Write([]byte("HTTP/1.0 200 OK\r\nServer: gunicorn\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"))
	})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	env := protocol.Env{Host: "127.0.0.1", Port: 8000, Timeout: timeout, MaxRead: 64 << 10}
	res, err := New().Run(context.Background(), conn, nil, env)
	if err != nil || res.Service != "http" || res.Fields["http.header.server"] != "gunicorn" {
		t.Fatalf("late answer lost: %v %+v", err, res)
	}
}
