package tlsprobe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// labTargets are the lab's TLS ports recorded by TestRecordLab.
var labTargets = []struct{ name, addr string }{
	{"nginx-443", "127.0.0.1:443"},
	{"dovecot-993", "127.0.0.1:993"},
	{"dovecot-995", "127.0.0.1:995"},
}

// TestRecordLab handshakes with the lab servers and writes the raw server
// flight (testdata/<name>.bin) and the fields (testdata/<name>.json).
// Run with PORTRAIT_RECORD=1.
func TestRecordLab(t *testing.T) {
	if os.Getenv("PORTRAIT_RECORD") == "" {
		t.Skip("set PORTRAIT_RECORD=1 to record the lab servers")
	}
	for _, tg := range labTargets {
		conn, err := net.DialTimeout("tcp", tg.addr, 3*time.Second)
		if err != nil {
			t.Errorf("%s: %v", tg.name, err)
			continue
		}
		rec := &recorder{Conn: conn, on: true}
		tc := tls.Client(rec, Config(""))
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Errorf("%s: %v", tg.name, err)
		}
		raw := rec.stop()
		conn.Close()
		conn, _ = net.DialTimeout("tcp", tg.addr, 3*time.Second)
		_, fields, err := Handshake(context.Background(), conn, "", 5*time.Second)
		conn.Close()
		if err != nil {
			t.Errorf("%s: %v", tg.name, err)
		}
		js, _ := json.MarshalIndent(fields, "", "  ")
		_ = os.WriteFile(filepath.Join("testdata", tg.name+".bin"), raw, 0o644)
		_ = os.WriteFile(filepath.Join("testdata", tg.name+".json"), append(js, '\n'), 0o644)
		t.Logf("%s: %s", tg.name, js)
	}
}

// TestRecordedServerHello parses the recorded flights and checks JA3S and
// version against the fields recorded from the live handshake.
func TestRecordedServerHello(t *testing.T) {
	for _, tg := range labTargets {
		t.Run(tg.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tg.name+".bin"))
			if err != nil {
				t.Skip(err)
			}
			js, err := os.ReadFile(filepath.Join("testdata", tg.name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]string
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			sh, err := ParseServerHello(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got := VersionName(sh.NegotiatedVersion()); got != want["tls.version"] {
				t.Errorf("version %s, want %s", got, want["tls.version"])
			}
			if got := tls.CipherSuiteName(sh.CipherSuite); got != want["tls.cipher"] {
				t.Errorf("cipher %s, want %s", got, want["tls.cipher"])
			}
			if want["tls.cert.self_signed"] == "" || want["tls.cert.key"] == "" {
				t.Errorf("recorded fields lack certificate data: %v", want)
			}
		})
	}
}

// selfSignedCert makes a throwaway ECDSA certificate for the loopback server.
func selfSignedCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1234),
		Subject:      pkix.Name{CommonName: "portrait.test", Organization: []string{"Portrait"}},
		DNSNames:     []string{"portrait.test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestHandshakeLoopback(t *testing.T) {
	cert := selfSignedCert(t)
	for _, tc := range []struct {
		name    string
		max     uint16
		sni     string
		version string
	}{
		{"tls13", tls.VersionTLS13, "portrait.test", "TLSv1.3"},
		{"tls12", tls.VersionTLS12, "127.0.0.1", "TLSv1.2"},
		{"tls10", tls.VersionTLS10, "portrait.test", "TLSv1.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotSNI := make(chan string, 1)
			cfg := &tls.Config{
				Certificates: []tls.Certificate{cert},
				MinVersion:   tls.VersionTLS10,
				MaxVersion:   tc.max,
				NextProtos:   []string{"http/1.1"},
				GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
					gotSNI <- h.ServerName
					return nil, nil
				},
			}
			addr := prototest.Serve(t, func(c net.Conn) {
				s := tls.Server(c, cfg)
				_ = s.Handshake()
				_, _ = s.Write([]byte("hi"))
			})
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tconn, f, err := Handshake(context.Background(), conn, tc.sni, 3*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 2)
			if _, err := io.ReadFull(tconn, buf); err != nil || string(buf) != "hi" {
				t.Errorf("read after handshake: %q %v", buf, err)
			}
			sni := <-gotSNI
			if net.ParseIP(tc.sni) != nil && sni != "" {
				t.Errorf("SNI %q sent for an IP", sni)
			}
			if net.ParseIP(tc.sni) == nil && sni != tc.sni {
				t.Errorf("SNI %q, want %q", sni, tc.sni)
			}
			want := map[string]string{
				"tls.version":            tc.version,
				"tls.alpn":               "http/1.1",
				"tls.cert.cn":            "portrait.test",
				"tls.cert.subject":       "CN=portrait.test,O=Portrait",
				"tls.cert.san":           "portrait.test,127.0.0.1",
				"tls.cert.self_signed":   "true",
				"tls.cert.key":           "ECDSA-P256",
				"tls.cert.not_before":    "2024-01-01T00:00:00Z",
				"tls.cert.serial":        "1234",
				"tls.cert.chain":         "1",
				"tls.cert.validity_days": "3653",
			}
			for k, v := range want {
				if f[k] != v {
					t.Errorf("%s = %q, want %q", k, f[k], v)
				}
			}
			legacy := "771," // TLS 1.3 keeps 0x0303 in the legacy field
			if tc.version == "TLSv1.0" {
				legacy = "769,"
			}
			if len(f["tls.ja3s"]) != 32 || !strings.HasPrefix(f["tls.ja3s_string"], legacy) {
				t.Errorf("ja3s %q / %q", f["tls.ja3s"], f["tls.ja3s_string"])
			}
		})
	}
}

func TestHandshakePlaintextServer(t *testing.T) {
	addr := prototest.Serve(t, prototest.Replay(nil, []byte("HTTP/1.1 400 Bad Request\r\n\r\n")))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	tc, _, err := Handshake(context.Background(), conn, "", time.Second)
	if err == nil || tc != nil {
		t.Fatal("handshake with a plaintext server succeeded")
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("handshake took %v", time.Since(start))
	}
}

func TestHandshakeSilentServer(t *testing.T) {
	addr := prototest.Serve(t, func(c net.Conn) { time.Sleep(3 * time.Second) })
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, _, err := Handshake(context.Background(), conn, "", 300*time.Millisecond); err == nil {
		t.Fatal("handshake with a silent server succeeded")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("handshake took %v", d)
	}
}

func TestLooks(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"\x15\x03\x01\x00\x02\x02\x46", true},     // alert protocol_version
		{"\x15\x03\x03\x00\x02\x02\x32", true},     // alert decode_error
		{"\x16\x03\x03\x00\x5a\x02\x00\x00", true}, // ServerHello
		{"HTTP/1.1 400 Bad Request\r\n", false},
		{"\x15\x03", false},
		{"\x15\x03\x01\x00\x09abcdefghi", false}, // alerts are 2 bytes
		{"\x16\x03\x09\x00\x05", false},
		{"\x16\x03\x01\xff\xff", false},
		{"", false},
	} {
		if got := Looks([]byte(tc.in)); got != tc.want {
			t.Errorf("Looks(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseServerHelloEdgeCases(t *testing.T) {
	// Alert only.
	sh, err := ParseServerHello([]byte("\x15\x03\x01\x00\x02\x02\x28"))
	if err == nil || sh == nil || sh.Alert != 40 {
		t.Errorf("alert: %+v %v", sh, err)
	}
	// Not TLS.
	if _, err := ParseServerHello([]byte("SSH-2.0-OpenSSH_9.2\r\n")); err == nil {
		t.Error("ssh banner parsed as TLS")
	}
	// ServerHello split across two records.
	hello := []byte{
		2, 0, 0, 0, // handshake header, length set below
		3, 3, // legacy version
	}
	hello = append(hello, make([]byte, 32)...) // random
	hello = append(hello, 0)                   // session id
	hello = append(hello, 0x13, 0x01, 0)       // cipher, compression
	hello = append(hello, 0, 6, 0, 43, 0, 2, 3, 4)
	hello[3] = byte(len(hello) - 4)
	rec := func(b []byte) []byte { return append([]byte{22, 3, 3, 0, byte(len(b))}, b...) }
	stream := append(rec(hello[:10]), rec(hello[10:])...)
	sh, err = ParseServerHello(stream)
	if err != nil {
		t.Fatal(err)
	}
	if sh.NegotiatedVersion() != tls.VersionTLS13 || sh.JA3SString() != "771,4865,43" {
		t.Errorf("split hello: %+v %s", sh, sh.JA3SString())
	}
}

func FuzzParseServerHello(f *testing.F) {
	for _, tg := range labTargets {
		if b, err := os.ReadFile(filepath.Join("testdata", tg.name+".bin")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("\x15\x03\x01\x00\x02\x02\x28"))
	f.Add([]byte("\x16\x03\x03\xff\xff\x02\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sh, err := ParseServerHello(b)
		if err == nil && sh == nil {
			t.Fatal("nil hello without error")
		}
		if sh != nil {
			_ = sh.JA3S()
		}
		_ = Looks(b)
	})
}
