package http

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
	"github.com/portrait-scanner/portrait/protocol/tlsprobe"
)

// labTarget is one lab server recorded into testdata/lab/<name>/.
type labTarget struct {
	Name    string `json:"name"`
	Port    int    `json:"port"`
	TLS     bool   `json:"tls"`
	Service string `json:"service"`  // expected Result.Service ("" = not confirmed)
	NotHTTP bool   `json:"not_http"` // expect ErrNotThisProtocol
}

var labTargets = []labTarget{
	{Name: "nginx-80", Port: 80, Service: "http"},
	{Name: "nginx-443", Port: 443, TLS: true, Service: "http"},
	{Name: "nginx-443-plain", Port: 443, Service: "http"},
	{Name: "apache-9443", Port: 9443, Service: "http"},
	{Name: "lighttpd-8081", Port: 8081, Service: "http"},
	{Name: "tomcat-8080", Port: 8080, Service: "http"},
	{Name: "squid-3128", Port: 3128, Service: "http"},
	{Name: "cups-631", Port: 631, Service: "http"},
	{Name: "etcd-2379", Port: 2379, Service: "http"},
	{Name: "etcd-2380", Port: 2380, Service: "http"},
	{Name: "nats-8222", Port: 8222, Service: "http"},
	{Name: "dovecot-993-plain", Port: 993, NotHTTP: true},
	{Name: "ssh-22", Port: 22, NotHTTP: true},
	{Name: "redis-6379", Port: 6379, NotHTTP: true},
	// lab2 (testenv/lab2): servers the shared lab does not have.
	{Name: "lab2-nodejs-20086", Port: 20086, Service: "http"},
	{Name: "lab2-gunicorn-20085", Port: 20085, Service: "http"},
	{Name: "lab2-nginx-notokens-20087", Port: 20087, Service: "http"},
	{Name: "lab2-apache-prod-20088", Port: 20088, Service: "http"},
	{Name: "lab2-privoxy-20118", Port: 20118, Service: "http"},
	{Name: "lab2-icecast-20800", Port: 20800, Service: "http"},
}

// entry is one recorded exchange: the path asked and the raw answer file.
type entry struct {
	Probe string `json:"probe"`
	Path  string `json:"path"`
	File  string `json:"file"`
}

type recording struct {
	Target    labTarget         `json:"target"`
	Exchanges []entry           `json:"exchanges"`
	Fields    map[string]string `json:"fields"`
	Err       string            `json:"error,omitempty"`
}

func requestPath(req []byte) string {
	line, _, _ := strings.Cut(string(req), "\r\n")
	parts := strings.Fields(line)
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// TestRecordLab runs the module against the lab servers and writes what
// they answered into testdata/lab. Run with PORTRAIT_RECORD=1.
func TestRecordLab(t *testing.T) {
	if os.Getenv("PORTRAIT_RECORD") == "" {
		t.Skip("set PORTRAIT_RECORD=1 to record the lab servers")
	}
	for _, tg := range labTargets {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tg.Port))
		dial := func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil || !tg.TLS {
				return c, err
			}
			tc, _, err := tlsprobe.Handshake(ctx, c, "", 3*time.Second)
			if err != nil {
				c.Close()
				return nil, err
			}
			return tc, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		conn, err := dial(ctx)
		if err != nil {
			cancel()
			t.Errorf("%s: %v", tg.Name, err)
			continue
		}
		env := protocol.Env{Host: "127.0.0.1", Port: tg.Port, TLS: tg.TLS, Timeout: 3 * time.Second,
			MaxRead: 64 << 10, Dial: dial}
		res, err := New().Run(ctx, conn, nil, env)
		conn.Close()
		cancel()
		rec := recording{Target: tg}
		if err != nil {
			rec.Err = err.Error()
		}
		dir := filepath.Join("testdata", "lab", tg.Name)
		_ = os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if res != nil {
			rec.Fields = res.Fields
			for i, ex := range res.Exchanges {
				file := fmt.Sprintf("%02d-%s.resp", i, ex.Probe)
				rec.Exchanges = append(rec.Exchanges, entry{Probe: ex.Probe, Path: requestPath(ex.Request), File: file})
				if err := os.WriteFile(filepath.Join(dir, file), ex.Response, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		js, _ := json.MarshalIndent(rec, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, "recording.json"), append(js, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: err=%v status=%q server=%q title=%q", tg.Name, err, rec.Fields["http.status_line"],
			rec.Fields["http.header.server"], rec.Fields["http.title"])
	}
}

func loadRecording(t testing.TB, dir string) (recording, map[string][]byte) {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(dir, "recording.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec recording
	if err := json.Unmarshal(js, &rec); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range rec.Exchanges {
		b, err := os.ReadFile(filepath.Join(dir, e.File))
		if err != nil {
			t.Fatal(err)
		}
		files[e.File] = b
	}
	return rec, files
}

// replayServer answers each connection by the path of its request with the
// recorded answer for that path (the 404 probe's random path included).
func replayServer(t *testing.T, rec recording, files map[string][]byte) string {
	byPath := map[string][]byte{}
	var first []byte
	for i, e := range rec.Exchanges {
		key := e.Path
		switch e.Probe {
		case "http-404":
			key = "404"
		case "http-badrequest":
			key = "bad"
		}
		if _, dup := byPath[key]; !dup {
			byPath[key] = files[e.File]
		}
		if i == 0 {
			first = files[e.File]
		}
	}
	return prototest.Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		line, _ := br.ReadString('\n')
		// Drain the request head.
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" || l == "\n" {
				break
			}
		}
		path := requestPath([]byte(line))
		if strings.HasPrefix(path, "/portrait-404-") {
			path = "404"
		}
		if strings.HasPrefix(line, "G\x01T ") {
			path = "bad"
		}
		resp, ok := byPath[path]
		if !ok {
			if rec.Target.NotHTTP {
				resp = first
			} else {
				resp = []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
			}
		}
		_, _ = c.Write(resp)
	})
}

// TestLabReplay serves the recorded answers and checks that the module
// derives exactly the recorded fields and verdict.
func TestLabReplay(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "lab", "*"))
	if len(dirs) == 0 {
		t.Skip("no recordings")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			rec, files := loadRecording(t, dir)
			addr := replayServer(t, rec, files)
			dial := func(ctx context.Context) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", addr)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			env := protocol.Env{Host: "127.0.0.1", Port: rec.Target.Port, TLS: rec.Target.TLS,
				Timeout: 2 * time.Second, MaxRead: 64 << 10, Dial: dial}
			res, err := New().Run(ctx, conn, nil, env)
			if rec.Target.NotHTTP {
				if !errors.Is(err, protocol.ErrNotThisProtocol) {
					t.Errorf("err = %v, want ErrNotThisProtocol", err)
				}
			} else if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Service != rec.Target.Service {
				t.Errorf("service %q, want %q", res.Service, rec.Target.Service)
			}
			if !reflect.DeepEqual(res.Fields, rec.Fields) && !(len(res.Fields) == 0 && len(rec.Fields) == 0) {
				var keys []string
				for k := range res.Fields {
					keys = append(keys, k)
				}
				for k := range rec.Fields {
					if _, ok := res.Fields[k]; !ok {
						keys = append(keys, k)
					}
				}
				sort.Strings(keys)
				for _, k := range keys {
					if res.Fields[k] != rec.Fields[k] {
						t.Errorf("%s = %.80q, recorded %.80q", k, res.Fields[k], rec.Fields[k])
					}
				}
			}
		})
	}
}
