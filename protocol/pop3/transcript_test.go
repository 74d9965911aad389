package pop3

// Transcript recording and replay. The same helper is copied into each
// server-first module package (ssh, ftp, smtp, imap, pop3) so that every
// package's tests stand alone.
//
// Recording (needs the lab on 127.0.0.1):
//
//	PORTRAIT_RECORD=1 go test -run TestRecordLab ./protocol/pop3/
//
// A transcript holds the server's greeting and, for each line the module
// sent, the bytes the server answered. Bytes are stored as Latin-1 strings
// (each byte one rune), readable for text and lossless for binary.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

type transcript struct {
	Source   string `json:"source"`
	TLS      bool   `json:"tls,omitempty"` // the whole dialogue runs inside TLS
	Greeting string `json:"greeting"`
	Turns    []turn `json:"turns"`
}

type turn struct {
	Send     string `json:"send"`
	Recv     string `json:"recv"`
	StartTLS bool   `json:"starttls,omitempty"` // the server starts TLS after Recv
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func unlatin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return b
}

func loadTranscript(t testing.TB, name string) transcript {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var tr transcript
	if err := json.Unmarshal(data, &tr); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tr
}

// recorder captures a dialogue at the module's level.
type recorder struct {
	net.Conn
	mu  sync.Mutex
	tr  *transcript
	off bool
}

func (r *recorder) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.off && n > 0 {
		if len(r.tr.Turns) == 0 {
			r.tr.Greeting += latin1(b[:n])
		} else {
			r.tr.Turns[len(r.tr.Turns)-1].Recv += latin1(b[:n])
		}
	}
	return n, err
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	if !r.off {
		r.tr.Turns = append(r.tr.Turns, turn{Send: latin1(b)})
	}
	r.mu.Unlock()
	return r.Conn.Write(b)
}

// record runs m against a lab port and writes testdata/file.
func record(t *testing.T, m protocol.Module, port int, useTLS, startTLS bool, source, file string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer raw.Close()
	var conn net.Conn = raw
	if useTLS {
		tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
		if err := tc.HandshakeContext(ctx); err != nil {
			t.Fatalf("tls %s: %v", addr, err)
		}
		conn = tc
	}
	tr := &transcript{Source: source, TLS: useTLS}
	rec := &recorder{Conn: conn, tr: tr}
	env := protocol.Env{Host: "127.0.0.1", Port: port, TLS: useTLS, Timeout: 5 * time.Second, MaxRead: 64 << 10}
	if startTLS {
		env.StartTLS = func(ctx context.Context, c net.Conn) (*tls.Conn, map[string]string, error) {
			rec.mu.Lock()
			rec.off = true
			tr.Turns[len(tr.Turns)-1].StartTLS = true
			rec.mu.Unlock()
			return clientTLS(ctx, rec.Conn)
		}
	}
	banner := readBanner(rec)
	res, err := m.Run(ctx, rec, banner, env)
	if err != nil {
		t.Fatalf("run on %s: %v", addr, err)
	}
	t.Logf("%s: %+v", addr, res.Fields)
	out, _ := json.MarshalIndent(tr, "", " ")
	if err := os.WriteFile(filepath.Join("testdata", file), append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readBanner(c net.Conn) []byte {
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4096)
	n, _ := c.Read(buf)
	_ = c.SetReadDeadline(time.Time{})
	return buf[:n]
}

func clientTLS(ctx context.Context, c net.Conn) (*tls.Conn, map[string]string, error) {
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "lab.local"})
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, nil, err
	}
	return tc, map[string]string{"tls.version": tls.VersionName(tc.ConnectionState().Version)}, nil
}

var (
	certOnce sync.Once
	certCfg  *tls.Config
)

// serverTLS is a throwaway self-signed certificate for replayed TLS servers.
func serverTLS(t testing.TB) *tls.Config {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lab.local"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			DNSNames: []string{"lab.local"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		certCfg = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	})
	return certCfg
}

// readLine reads one client line byte by byte, so nothing after it (a TLS
// ClientHello) is swallowed.
func readLine(c net.Conn) ([]byte, error) {
	var line []byte
	b := make([]byte, 1)
	for len(line) < 4096 {
		if _, err := c.Read(b); err != nil {
			return line, err
		}
		line = append(line, b[0])
		if b[0] == '\n' {
			return line, nil
		}
	}
	return line, errors.New("line too long")
}

// replay serves tr: greeting, then each turn's answer after the client's
// line, checking that the client sent what was recorded.
func replay(t testing.TB, tr transcript) func(net.Conn) {
	return func(c net.Conn) {
		if tr.TLS {
			tc := tls.Server(c, serverTLS(t))
			if err := tc.Handshake(); err != nil {
				t.Errorf("replay tls: %v", err)
				return
			}
			c = tc
		}
		if _, err := c.Write(unlatin1(tr.Greeting)); err != nil {
			return
		}
		for i, tu := range tr.Turns {
			line, err := readLine(c)
			if err != nil {
				return
			}
			if string(line) != string(unlatin1(tu.Send)) {
				t.Errorf("turn %d: client sent %q, recorded %q", i, line, unlatin1(tu.Send))
				return
			}
			if _, err := c.Write(unlatin1(tu.Recv)); err != nil {
				return
			}
			if tu.StartTLS {
				tc := tls.Server(c, serverTLS(t))
				if err := tc.Handshake(); err != nil {
					t.Errorf("replay starttls: %v", err)
					return
				}
				c = tc
			}
		}
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}
}

// runTranscript replays tr on loopback and runs m against it the way the
// engine does (passive banner first, inside TLS when tr.TLS).
func runTranscript(t testing.TB, m protocol.Module, tr transcript, startTLS bool) (*protocol.Result, error) {
	t.Helper()
	addr := prototest.Serve(t, replay(t, tr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	env := protocol.Env{Host: "127.0.0.1", Timeout: 2 * time.Second, MaxRead: 64 << 10}
	if tr.TLS {
		tc, _, err := clientTLS(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		conn, env.TLS = tc, true
	}
	if startTLS {
		env.StartTLS = clientTLS
	}
	banner := readBanner(conn)
	if len(banner) > 0 && !m.Claim(banner) {
		t.Errorf("module does not claim banner %q", banner)
	}
	return m.Run(ctx, conn, banner, env)
}
