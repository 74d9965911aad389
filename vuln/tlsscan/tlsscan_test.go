package tlsscan

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testCert makes a throwaway self-signed certificate.
func testCert(t *testing.T, rsaKey bool) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"test"}}
	var pub, priv any
	if rsaKey {
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		pub, priv = &k.PublicKey, k
	} else {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub, priv = &k.PublicKey, k
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}
}

// serve runs a TLS server on loopback with cfg; preamble, when set,
// handles a STARTTLS exchange on the plain connection first.
func serve(t *testing.T, cfg *tls.Config, preamble func(net.Conn) bool) func(ctx context.Context) (net.Conn, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if preamble != nil && !preamble(c) {
					return
				}
				s := tls.Server(c, cfg)
				_ = s.Handshake()
			}(c)
		}
	}()
	addr := ln.Addr().String()
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

func TestScanModern(t *testing.T) {
	dial := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t, true)}, MinVersion: tls.VersionTLS12}, nil)
	r := Scan(context.Background(), Config{Dial: dial, Timeout: 2 * time.Second})
	if len(r.Legacy) != 0 || len(r.Weak) != 0 {
		t.Errorf("modern server: %+v", r)
	}
	if len(r.Errors) != 0 {
		t.Errorf("errors: %v", r.Errors)
	}
}

func TestScanLegacy(t *testing.T) {
	dial := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t, true)}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}}, nil)
	r := Scan(context.Background(), Config{Dial: dial, Timeout: 2 * time.Second})
	if strings.Join(r.Legacy, ",") != "TLSv1.0,TLSv1.1" {
		t.Errorf("legacy %v (errors %v)", r.Legacy, r.Errors)
	}
	if len(r.Weak) != 1 || !strings.HasPrefix(r.Weak[0], "TLS_RSA_WITH_3DES_EDE_CBC_SHA") {
		t.Errorf("weak %v", r.Weak)
	}
}

func TestScanStartTLS(t *testing.T) {
	smtp := func(c net.Conn) bool {
		br := bufio.NewReader(c)
		c.Write([]byte("220 test ESMTP\r\n"))
		if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "EHLO") {
			return false
		}
		c.Write([]byte("250-test\r\n250-STARTTLS\r\n250 8BITMIME\r\n"))
		if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "STARTTLS") {
			return false
		}
		c.Write([]byte("220 go ahead\r\n"))
		return true
	}
	dial := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t, false)}, MinVersion: tls.VersionTLS11}, smtp)
	r := Scan(context.Background(), Config{Dial: dial, StartTLS: "smtp", Timeout: 2 * time.Second})
	if strings.Join(r.Legacy, ",") != "TLSv1.1" || len(r.Errors) != 0 {
		t.Errorf("%+v", r)
	}
	refuse := func(c net.Conn) bool {
		c.Write([]byte("220 test\r\n"))
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("500 no\r\n"))
		return false
	}
	dial = serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t, false)}}, refuse)
	r = Scan(context.Background(), Config{Dial: dial, StartTLS: "ftp", Timeout: time.Second})
	if len(r.Legacy) != 0 || len(r.Errors) != 4 || !strings.Contains(r.Errors[0], "refused") {
		t.Errorf("refused: %+v", r)
	}
}

func TestParseServerHello(t *testing.T) {
	for _, b := range [][]byte{nil, {0x16, 3, 1}, {0x15, 3, 1, 0, 2, 2, 40}, {0x16, 3, 3, 0, 4, 2, 0, 0, 0}, []byte(strings.Repeat("\x16\x03\x03\xff\xff\x02", 3))} {
		if _, _, ok := ParseServerHello(b); ok {
			t.Errorf("%x parsed", b)
		}
	}
}

// TestLab scans the lab's TLS services (PORTRAIT_INTEGRATION=1): Debian 12's
// OpenSSL refuses TLS 1.0/1.1 and weak suites at its default security
// level, but Postfix (its own defaults: TLS 1.0 up, anonymous DH for
// opportunistic TLS) and Exim (GnuTLS) still accept them.
func TestLab(t *testing.T) {
	if os.Getenv("PORTRAIT_INTEGRATION") != "1" {
		t.Skip("PORTRAIT_INTEGRATION not set")
	}
	// The expectations are the shared lab's configuration (ports only it
	// has tell it apart from testenv's servers in CI).
	for _, p := range []string{"50022", "25672", "2181"} {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+p, time.Second)
		if err != nil {
			t.Skip("the shared lab is not running")
		}
		c.Close()
	}
	for _, tc := range []struct {
		port         int
		st           StartTLS
		legacy, weak bool
	}{{443, "", false, false}, {993, "", false, false}, {995, "", false, false}, {25, "smtp", true, true}, {2525, "smtp", true, false},
		{143, "imap", false, false}, {110, "pop3", false, false}, {15432, "postgresql", false, false}} {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tc.port))
		dial := func(ctx context.Context) (net.Conn, error) { var d net.Dialer; return d.DialContext(ctx, "tcp", addr) }
		r := Scan(context.Background(), Config{Dial: dial, StartTLS: tc.st, Timeout: 3 * time.Second})
		t.Logf("%d: %+v", tc.port, r)
		if len(r.Errors) != 0 {
			t.Errorf("%d: errors %v", tc.port, r.Errors)
		}
		if (len(r.Legacy) != 0) != tc.legacy || (len(r.Weak) != 0) != tc.weak {
			t.Errorf("%d: %+v", tc.port, r)
		}
	}
}

func FuzzParseServerHello(f *testing.F) {
	f.Add([]byte{0x16, 3, 3, 0, 42, 2, 0, 0, 38, 3, 3})
	f.Fuzz(func(t *testing.T, b []byte) { ParseServerHello(b) })
}
