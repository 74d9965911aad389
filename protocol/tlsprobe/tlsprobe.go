// Package tlsprobe performs the client side of a TLS handshake for the
// scanner and turns what the server showed into evidence fields. It is used
// on TLS ports (443, 993...) before the inner protocol module runs, and after
// a STARTTLS exchange (protocol.Env.StartTLS).
//
// The server's raw first flight is recorded while crypto/tls reads it, so the
// ServerHello can be parsed independently (ParseServerHello) for JA3S and for
// the extension order, which crypto/tls does not expose.
//
// Fields (all strings):
//
//	tls.version            negotiated version: "TLSv1.3", "TLSv1.2", ...
//	tls.cipher             IANA cipher suite name ("TLS_AES_128_GCM_SHA256")
//	tls.alpn               ALPN protocol selected by the server ("h2"), if any
//	tls.cert.subject       leaf certificate subject, RFC 2253 style ("CN=x,O=y")
//	tls.cert.issuer        leaf certificate issuer, same style
//	tls.cert.cn            subject common name
//	tls.cert.san           subject alternative names, DNS names then IPs, comma separated
//	tls.cert.not_before    validity start, RFC 3339 (UTC)
//	tls.cert.not_after     validity end, RFC 3339 (UTC)
//	tls.cert.validity_days whole days between not_before and not_after (3650 for
//	                       Debian's make-ssl-cert snakeoil and many `openssl req -days 3650`)
//	tls.cert.self_signed   "true" when issuer == subject and the signature verifies with the cert's own key
//	tls.cert.key           public key kind and size: "RSA-2048", "ECDSA-P256", "Ed25519"
//	tls.cert.sig_alg       signature algorithm ("SHA256-RSA")
//	tls.cert.serial        serial number, lower-case hex
//	tls.cert.sha256        SHA-256 of the DER leaf certificate, lower-case hex
//	tls.cert.chain         number of certificates the server sent
//	tls.ja3s               MD5 (hex) of the JA3S string
//	tls.ja3s_string        the JA3S string itself: "legacy_version,cipher,ext-ext-..."
//	tls.alert              description code (decimal) of a fatal alert that ended the handshake
package tlsprobe

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// recordCap bounds how many bytes of the server's handshake are kept for the
// ServerHello parser; the ServerHello is always first, so 16 KiB is ample.
const recordCap = 16 << 10

// recorder copies the first bytes read from the connection so the raw
// ServerHello can be parsed after crypto/tls has consumed it.
type recorder struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
	on  bool
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if n > 0 {
		r.mu.Lock()
		if r.on {
			if room := recordCap - len(r.buf); room > 0 {
				if n < room {
					room = n
				}
				r.buf = append(r.buf, p[:room]...)
			}
		}
		r.mu.Unlock()
	}
	return n, err
}

func (r *recorder) stop() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	return r.buf
}

// cipherSuites is every suite Go implements, including the legacy ones a
// default client no longer offers: a scanner must reach old servers too.
var cipherSuites = func() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		ids = append(ids, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		ids = append(ids, s.ID)
	}
	return ids
}()

// DefaultALPN is offered by Handshake: it makes servers reveal h2 support.
var DefaultALPN = []string{"h2", "http/1.1"}

// Config returns the client configuration used for probing.
func Config(serverName string) *tls.Config { return ConfigALPN(serverName, DefaultALPN) }

// ConfigALPN is Config offering the given ALPN protocols (none when empty).
// Connections that carry a plaintext protocol afterwards (HTTP/1.1, IMAP,
// or STARTTLS upgrades) must not offer h2, and some servers (Exim) reject
// any ALPN protocol they do not know.
func ConfigALPN(serverName string, alpn []string) *tls.Config {
	cfg := &tls.Config{
		InsecureSkipVerify: true, // we identify servers, we do not trust them
		MinVersion:         tls.VersionTLS10,
		MaxVersion:         tls.VersionTLS13,
		NextProtos:         alpn,
		CipherSuites:       cipherSuites,
	}
	if serverName != "" && net.ParseIP(strings.Trim(serverName, "[]")) == nil {
		cfg.ServerName = serverName
	}
	return cfg
}

// Handshake runs a client handshake on conn within timeout and returns the
// TLS connection and the evidence fields. On failure the fields gathered so
// far (ServerHello, alert) are still returned alongside the error, and the
// returned *tls.Conn is nil.
func Handshake(ctx context.Context, conn net.Conn, serverName string, timeout time.Duration) (*tls.Conn, map[string]string, error) {
	return HandshakeALPN(ctx, conn, serverName, timeout, DefaultALPN)
}

// HandshakeALPN is Handshake offering the given ALPN protocols.
func HandshakeALPN(ctx context.Context, conn net.Conn, serverName string, timeout time.Duration, alpn []string) (*tls.Conn, map[string]string, error) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rec := &recorder{Conn: conn, on: true}
	tc := tls.Client(rec, ConfigALPN(serverName, alpn))
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	err := tc.HandshakeContext(ctx)
	_ = conn.SetDeadline(time.Time{})
	raw := rec.stop()

	fields := map[string]string{}
	if sh, perr := ParseServerHello(raw); sh != nil {
		if perr == nil {
			fields["tls.ja3s"] = sh.JA3S()
			fields["tls.ja3s_string"] = sh.JA3SString()
			if err != nil {
				// Handshake failed after hello: still say what was offered.
				fields["tls.version"] = VersionName(sh.NegotiatedVersion())
				fields["tls.cipher"] = tls.CipherSuiteName(sh.CipherSuite)
			}
		}
		if sh.Alert >= 0 {
			fields["tls.alert"] = strconv.Itoa(sh.Alert)
		}
	}
	if err != nil {
		return nil, fields, fmt.Errorf("tls handshake: %w", err)
	}
	for k, v := range StateFields(tc.ConnectionState()) {
		fields[k] = v
	}
	return tc, fields, nil
}

// StartTLSFunc adapts Handshake to protocol.Env.StartTLS. It offers no
// ALPN: the upgraded connection goes on speaking the plaintext protocol.
func StartTLSFunc(serverName string, timeout time.Duration) func(ctx context.Context, conn net.Conn) (*tls.Conn, map[string]string, error) {
	return func(ctx context.Context, conn net.Conn) (*tls.Conn, map[string]string, error) {
		return HandshakeALPN(ctx, conn, serverName, timeout, nil)
	}
}

// StateFields turns a completed handshake's state into fields (without the
// JA3S, which needs the raw bytes).
func StateFields(st tls.ConnectionState) map[string]string {
	f := map[string]string{
		"tls.version": VersionName(st.Version),
		"tls.cipher":  tls.CipherSuiteName(st.CipherSuite),
	}
	if st.NegotiatedProtocol != "" {
		f["tls.alpn"] = st.NegotiatedProtocol
	}
	if len(st.PeerCertificates) > 0 {
		for k, v := range CertFields(st.PeerCertificates[0]) {
			f[k] = v
		}
		f["tls.cert.chain"] = strconv.Itoa(len(st.PeerCertificates))
	}
	return f
}

// CertFields describes a certificate as tls.cert.* fields.
func CertFields(c *x509.Certificate) map[string]string {
	f := map[string]string{
		"tls.cert.subject":     c.Subject.String(),
		"tls.cert.issuer":      c.Issuer.String(),
		"tls.cert.not_before":  c.NotBefore.UTC().Format(time.RFC3339),
		"tls.cert.not_after":   c.NotAfter.UTC().Format(time.RFC3339),
		"tls.cert.self_signed": strconv.FormatBool(selfSigned(c)),
		"tls.cert.key":         keyKind(c),
		"tls.cert.sig_alg":     c.SignatureAlgorithm.String(),
	}
	if d := c.NotAfter.Sub(c.NotBefore); d > 0 {
		f["tls.cert.validity_days"] = strconv.Itoa(int(d.Hours() / 24))
	}
	if c.Subject.CommonName != "" {
		f["tls.cert.cn"] = c.Subject.CommonName
	}
	if c.SerialNumber != nil {
		f["tls.cert.serial"] = c.SerialNumber.Text(16)
	}
	var san []string
	san = append(san, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		san = append(san, ip.String())
	}
	san = append(san, c.EmailAddresses...)
	if len(san) > 0 {
		f["tls.cert.san"] = strings.Join(san, ",")
	}
	sum := sha256.Sum256(c.Raw)
	f["tls.cert.sha256"] = hex.EncodeToString(sum[:])
	for k, v := range f {
		if v == "" {
			delete(f, k)
		}
	}
	return f
}

// selfSigned checks the signature with the certificate's own key. It uses
// CheckSignature rather than CheckSignatureFrom because default certificates
// (ssl-cert-snakeoil) are often not marked as CA.
func selfSigned(c *x509.Certificate) bool {
	if string(c.RawIssuer) != string(c.RawSubject) {
		return false
	}
	return c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

func keyKind(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "RSA-" + strconv.Itoa(k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA-" + strings.ReplaceAll(k.Curve.Params().Name, "-", "")
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return c.PublicKeyAlgorithm.String()
}
