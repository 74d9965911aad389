package acceptance

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/vuln"
)

// The hardened copy: the lab's protocols served with safe settings by
// loopback servers written here. Every finding on them is a false positive.

// pki is a throwaway CA and a leaf for hardened.test (and 127.0.0.1).
type pki struct {
	leaf tls.Certificate
	weak bool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Hardened Test CA", Organization: []string{"portrait tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(5 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "hardened.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		DNSNames: []string{"hardened.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &pki{leaf: tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}}
}

// newWeakPKI is the opposite: a self-signed RSA certificate for another
// name, expired a month ago.
func newWeakPKI(t *testing.T) *pki {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "weak.test"}, Issuer: pkix.Name{CommonName: "weak.test"},
		NotBefore: time.Now().Add(-400 * 24 * time.Hour), NotAfter: time.Now().Add(-30 * 24 * time.Hour), DNSNames: []string{"weak.test"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &pki{leaf: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, weak: true}
}

// tlsConfig is a modern server configuration: TLS 1.2 and 1.3 only, Go's
// default (AEAD and CBC-SHA) suites, no RC4/3DES/NULL/export/anonymous.
// The weak copy's configuration accepts TLS 1.0 and 3DES.
func (p *pki) tlsConfig() *tls.Config {
	if p.weak {
		return &tls.Config{Certificates: []tls.Certificate{p.leaf}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}}
	}
	return &tls.Config{Certificates: []tls.Certificate{p.leaf}, MinVersion: tls.VersionTLS12}
}

// listen starts a loopback server calling handle for each connection.
func listen(t *testing.T, handle func(net.Conn)) int {
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
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(15 * time.Second))
				handle(c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// lineServer runs a line protocol: greeting, then answer(line) until it
// returns done; upgrade is called for the STARTTLS-like command.
type lineConn struct {
	c  net.Conn
	br *bufio.Reader
}

func (l *lineConn) send(s string) { l.c.Write([]byte(s)) }

func (l *lineConn) read() (string, bool) {
	s, err := l.br.ReadString('\n')
	if err != nil && s == "" {
		return "", false
	}
	return strings.TrimRight(s, "\r\n"), true
}

func (l *lineConn) startTLS(cfg *tls.Config) bool {
	tc := tls.Server(l.c, cfg)
	if err := tc.Handshake(); err != nil {
		return false
	}
	l.c, l.br = tc, bufio.NewReader(tc)
	return true
}

func hardenedFTP(p *pki) func(net.Conn) {
	return func(c net.Conn) {
		l := &lineConn{c: c, br: bufio.NewReader(c)}
		l.send("220 (vsFTPd 3.0.5)\r\n")
		user := ""
		for {
			line, ok := l.read()
			if !ok {
				return
			}
			cmd := strings.ToUpper(strings.Fields(line + " x")[0])
			switch cmd {
			case "SYST":
				l.send("215 UNIX Type: L8\r\n")
			case "FEAT":
				if p.weak {
					l.send("211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n")
				} else {
					l.send("211-Features:\r\n AUTH TLS\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n PBSZ\r\n PROT\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n")
				}
			case "USER":
				user = strings.ToLower(strings.TrimSpace(line[4:]))
				l.send("331 Please specify the password.\r\n")
			case "PASS":
				if p.weak && (user == "anonymous" || user == "ftp") {
					l.send("230 Login successful.\r\n")
				} else {
					l.send("530 Login incorrect.\r\n")
				}
			case "AUTH":
				if p.weak {
					l.send("530 Please login with USER and PASS.\r\n")
					continue
				}
				l.send("234 Proceed with negotiation.\r\n")
				if !l.startTLS(p.tlsConfig()) {
					return
				}
			case "PBSZ", "PROT":
				l.send("200 OK.\r\n")
			case "QUIT":
				l.send("221 Goodbye.\r\n")
				return
			default:
				l.send("530 Please login with USER and PASS.\r\n")
			}
		}
	}
}

func hardenedSMTP(p *pki) func(net.Conn) {
	return func(c net.Conn) {
		l := &lineConn{c: c, br: bufio.NewReader(c)}
		l.send("220 mail.hardened.test ESMTP Postfix\r\n")
		tlsOn := false
		for {
			line, ok := l.read()
			if !ok {
				return
			}
			switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
			case "EHLO":
				switch {
				case p.weak:
					l.send("250-mail.hardened.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n")
				case tlsOn:
					l.send("250-mail.hardened.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n")
				default:
					l.send("250-mail.hardened.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n")
				}
			case "HELO":
				l.send("250 mail.hardened.test\r\n")
			case "STARTTLS":
				l.send("220 2.0.0 Ready to start TLS\r\n")
				if !l.startTLS(p.tlsConfig()) {
					return
				}
				tlsOn = true
			case "VRFY":
				l.send("502 5.5.1 VRFY command is disabled\r\n")
			case "NOOP", "RSET":
				l.send("250 2.0.0 Ok\r\n")
			case "QUIT":
				l.send("221 2.0.0 Bye\r\n")
				return
			default:
				l.send("502 5.5.2 Error: command not recognized\r\n")
			}
		}
	}
}

func hardenedIMAP(p *pki) func(net.Conn) {
	return func(c net.Conn) {
		l := &lineConn{c: c, br: bufio.NewReader(c)}
		caps := "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED"
		if p.weak {
			caps = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN"
		}
		l.send("* OK [CAPABILITY " + caps + "] Dovecot ready.\r\n")
		for {
			line, ok := l.read()
			if !ok {
				return
			}
			f := strings.Fields(line)
			if len(f) < 2 {
				l.send("* BAD Error in IMAP command received by server.\r\n")
				continue
			}
			tag, cmd := f[0], strings.ToUpper(f[1])
			switch cmd {
			case "CAPABILITY":
				l.send("* CAPABILITY " + caps + "\r\n" + tag + " OK Pre-login capabilities listed.\r\n")
			case "ID":
				l.send("* ID (\"name\" \"Dovecot\")\r\n" + tag + " OK ID completed.\r\n")
			case "NOOP":
				l.send(tag + " OK NOOP completed.\r\n")
			case "STARTTLS":
				l.send(tag + " OK Begin TLS negotiation now.\r\n")
				if !l.startTLS(p.tlsConfig()) {
					return
				}
				caps = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN"
			case "LOGOUT":
				l.send("* BYE Logging out\r\n" + tag + " OK Logout completed.\r\n")
				return
			default:
				l.send(tag + " BAD Error in IMAP command received by server.\r\n")
			}
		}
	}
}

func hardenedPOP3(p *pki) func(net.Conn) {
	return func(c net.Conn) {
		l := &lineConn{c: c, br: bufio.NewReader(c)}
		l.send("+OK Dovecot ready.\r\n")
		for {
			line, ok := l.read()
			if !ok {
				return
			}
			switch strings.ToUpper(strings.Fields(line + " x")[0]) {
			case "CAPA":
				if p.weak {
					l.send("+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n")
				} else {
					l.send("+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nSASL\r\n.\r\n")
				}
			case "STLS":
				l.send("+OK Begin TLS negotiation now.\r\n")
				if !l.startTLS(p.tlsConfig()) {
					return
				}
			case "QUIT":
				l.send("+OK Logging out.\r\n")
				return
			default:
				l.send("-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n")
			}
		}
	}
}

// secureHeaders are the headers a hardened web server sends.
func secureHeaders(w http.ResponseWriter, tlsOn bool) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	if tlsOn {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}

func hardenedWeb(t *testing.T, p *pki, server string, tlsOn bool) int {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !p.weak {
			secureHeaders(w, tlsOn)
		}
		w.Header().Set("Server", server)
		if p.weak && r.URL.Path == "/server-status" {
			w.Header().Set("Content-Type", "text/html; charset=ISO-8859-1")
			io.WriteString(w, "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html><head>\n<title>Apache Status</title>\n</head><body>\n<h1>Apache Server Status for 127.0.0.1 (via 127.0.0.1)</h1>\n</body></html>\n")
			return
		}
		if r.URL.Path == "/server-status" || r.URL.Path == "/server-info" {
			w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>\n")
			return
		}
		if r.URL.Path != "/" {
			w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>Hardened</title></head><body><p>hardened copy</p></body></html>\n")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsOn {
		ln = tls.NewListener(ln, p.tlsConfig())
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func hardenedSSH(t *testing.T, weak bool) int {
	t.Helper()
	var signer ssh.Signer
	var err error
	cfg := &ssh.ServerConfig{ServerVersion: "SSH-2.0-OpenSSH_9.9",
		PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) { return nil, fmt.Errorf("no") }}
	if weak {
		// An old server: OpenSSH 7.4's name, SHA-1 key exchange, CBC,
		// SHA-1 MACs and ssh-rsa signatures.
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		signer, err = ssh.NewSignerFromKey(key)
		cfg.ServerVersion = "SSH-2.0-OpenSSH_7.4"
		cfg.KeyExchanges = []string{"curve25519-sha256@libssh.org", "diffie-hellman-group14-sha1"}
		cfg.Ciphers = []string{"aes128-ctr", "aes128-cbc"}
		cfg.MACs = []string{"hmac-sha2-256", "hmac-sha1", "hmac-sha1-96"}
	} else {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		signer, err = ssh.NewSignerFromKey(priv)
		cfg.KeyExchanges = []string{"curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "diffie-hellman-group16-sha512"}
		cfg.Ciphers = []string{"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr"}
		cfg.MACs = []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256"}
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg.AddHostKey(signer)
	return listen(t, func(c net.Conn) {
		conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
		if err != nil {
			return
		}
		go ssh.DiscardRequests(reqs)
		for ch := range chans {
			ch.Reject(ssh.Prohibited, "no")
		}
		conn.Close()
	})
}

// answerEach writes reply(chunk) for every chunk the client sends.
func answerEach(reply func(string) string) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				c.Write([]byte(reply(string(buf[:n]))))
			}
			if err != nil {
				return
			}
		}
	}
}

func hardenedRedis(weak bool) func(net.Conn) {
	info := "# Server\r\nredis_version:7.2.4\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\nos:Linux 6.1.0 x86_64\r\narch_bits:64\r\n"
	return answerEach(func(req string) string {
		if !weak {
			return "-NOAUTH Authentication required.\r\n"
		}
		if strings.Contains(strings.ToUpper(req), "PING") {
			return "+PONG\r\n"
		}
		return "$" + strconv.Itoa(len(info)) + "\r\n" + info + "\r\n"
	})
}

func hardenedMemcached(weak bool) func(net.Conn) {
	return answerEach(func(req string) string {
		switch {
		case !weak:
			return "CLIENT_ERROR unauthenticated\r\n"
		case strings.HasPrefix(req, "version"):
			return "VERSION 1.6.21\r\n"
		case strings.HasPrefix(req, "stats"):
			return "STAT pid 1\r\nSTAT uptime 10\r\nSTAT version 1.6.21\r\nSTAT libevent 2.1.12-stable\r\nSTAT pointer_size 64\r\nSTAT threads 4\r\nEND\r\n"
		}
		return "ERROR\r\n"
	})
}

func hardenedNATS(weak bool) func(net.Conn) {
	auth := `"auth_required":true,`
	if weak {
		auth = ""
	}
	return func(c net.Conn) {
		c.Write([]byte(`INFO {"server_id":"NHARDENEDTESTSERVER","server_name":"hardened","version":"2.10.24","proto":1,"go":"go1.23.4","host":"127.0.0.1","port":4222,"headers":true,` + auth + `"tls_required":false,"max_payload":1048576}` + "\r\n"))
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(line, "CONNECT") && !weak:
				c.Write([]byte("-ERR 'Authorization Violation'\r\n"))
				return
			case strings.HasPrefix(line, "PING"):
				c.Write([]byte("PONG\r\n"))
			}
		}
	}
}

func hardenedZooKeeper(weak bool) func(net.Conn) {
	return func(c net.Conn) {
		b := make([]byte, 4)
		if _, err := io.ReadFull(c, b); err != nil {
			return
		}
		cmd := string(b)
		if strings.Trim(cmd, "abcdefghijklmnopqrstuvwxyz") != "" {
			return
		}
		switch {
		case !weak:
			c.Write([]byte(cmd + " is not executed because it is not in the whitelist.\n"))
		case cmd == "srvr" || cmd == "stat":
			c.Write([]byte("Zookeeper version: 3.9.2-e454e8c7283100c7caec6dcae2bc82aaecb63023, built on 2024-02-12 20:59 UTC\nLatency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\nConnections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n"))
		case cmd == "ruok":
			c.Write([]byte("imok"))
		}
	}
}

// hardenedMQTT refuses every CONNECT that has no credentials (the weak
// copy accepts them).
func hardenedMQTT(weak bool) func(net.Conn) {
	return func(c net.Conn) {
		br := bufio.NewReader(c)
		first, err := br.ReadByte()
		if err != nil || first>>4 != 1 {
			return
		}
		n, mul := 0, 1
		for i := 0; i < 4; i++ {
			b, err := br.ReadByte()
			if err != nil {
				return
			}
			n += int(b&0x7f) * mul
			mul *= 128
			if b&0x80 == 0 {
				break
			}
		}
		if n > 4096 {
			return
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil || len(body) < 10 {
			return
		}
		nameLen := int(binary.BigEndian.Uint16(body[0:2]))
		if 2+nameLen >= len(body) {
			return
		}
		v5 := body[2+nameLen] == 5
		switch {
		case v5 && weak:
			c.Write([]byte{0x20, 0x03, 0x00, 0x00, 0x00})
		case v5:
			c.Write([]byte{0x20, 0x03, 0x00, 0x87, 0x00}) // Not authorized
		case weak:
			c.Write([]byte{0x20, 0x02, 0x00, 0x00})
		default:
			c.Write([]byte{0x20, 0x02, 0x00, 0x05}) // not authorized
		}
		if weak {
			io.Copy(io.Discard, br)
		}
	}
}

// hardenedProxy is a forward proxy that asks for credentials (the weak
// copy forwards for anyone and shows its cache manager).
func hardenedProxy(weak bool) func(net.Conn) {
	return func(c net.Conn) {
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		for {
			h, err := br.ReadString('\n')
			if err != nil || strings.TrimSpace(h) == "" {
				break
			}
		}
		f := strings.Fields(line)
		status, extra, body := "400 Bad Request", "X-Squid-Error: ERR_INVALID_URL 0\r\n", "<html><head><title>ERROR: The requested URL could not be retrieved</title></head><body>Invalid URL</body></html>\n"
		switch {
		case len(f) >= 2 && strings.HasPrefix(f[1], "http://") && weak:
			status, extra, body = "503 Service Unavailable", "X-Squid-Error: ERR_CONNECT_FAIL 111\r\n",
				"<html><head><title>ERROR: The requested URL could not be retrieved</title></head><body>Connection to 127.0.0.1 failed.</body></html>\n"
		case len(f) >= 2 && strings.HasPrefix(f[1], "http://"):
			status, extra, body = "407 Proxy Authentication Required", "Proxy-Authenticate: Basic realm=\"proxy\"\r\nX-Squid-Error: ERR_CACHE_ACCESS_DENIED 0\r\n",
				"<html><head><title>ERROR: Cache Access Denied</title></head><body>Cache Access Denied</body></html>\n"
		case len(f) >= 2 && strings.HasPrefix(f[1], "/squid-internal-mgr/") && weak:
			status, extra, body = "200 OK", "", "Squid Object Cache: Version 6.10\nService Name: squid\n"
		case len(f) >= 2 && strings.HasPrefix(f[1], "/squid-internal-mgr/"):
			status, extra, body = "403 Forbidden", "X-Squid-Error: ERR_ACCESS_DENIED 0\r\n", "<html><head><title>ERROR: Access Denied</title></head><body>Access Denied</body></html>\n"
		}
		fmt.Fprintf(c, "HTTP/1.1 %s\r\nServer: squid/6.10\r\nMime-Version: 1.0\r\nDate: %s\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: %d\r\n%sVia: 1.1 proxy.hardened.test (squid/6.10)\r\nConnection: close\r\n\r\n%s",
			status, time.Now().UTC().Format(http.TimeFormat), len(body), extra, body)
	}
}

// hardenedDNS answers over TCP without recursion (no RA flag) and
// refuses version queries; the weak copy says recursion is available.
func hardenedDNS(weak bool) func(net.Conn) {
	return func(c net.Conn) {
		for {
			var l [2]byte
			if _, err := io.ReadFull(c, l[:]); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint16(l[:]))
			msg := make([]byte, n)
			if _, err := io.ReadFull(c, msg); err != nil || n < 12 {
				return
			}
			resp := append([]byte{}, msg...)
			resp[2] = 0x84 | (msg[2] & 0x79) // QR, AA, opcode and RD copied
			resp[3] = 0x05                   // REFUSED, RA clear
			if weak {
				resp[3] = 0x85 // RA set
			}
			binary.BigEndian.PutUint16(resp[6:8], 0)
			binary.BigEndian.PutUint16(resp[8:10], 0)
			binary.BigEndian.PutUint16(resp[10:12], 0)
			out := make([]byte, 2+len(resp))
			binary.BigEndian.PutUint16(out, uint16(len(resp)))
			copy(out[2:], resp)
			c.Write(out)
		}
	}
}

// hardenedVNC offers only VNC authentication (the weak copy: None).
func hardenedVNC(weak bool) func(net.Conn) {
	return func(c net.Conn) {
		c.Write([]byte("RFB 003.008\n"))
		v := make([]byte, 12)
		if _, err := io.ReadFull(c, v); err != nil {
			return
		}
		if weak {
			c.Write([]byte{1, 1})
			b := make([]byte, 1)
			if _, err := io.ReadFull(c, b); err != nil {
				return
			}
			c.Write([]byte{0, 0, 0, 0}) // SecurityResult OK
			ci := make([]byte, 1)
			if _, err := io.ReadFull(c, ci); err != nil {
				return
			}
			name := "weak copy"
			init := []byte{4, 0, 3, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0}
			init = binary.BigEndian.AppendUint32(init, uint32(len(name)))
			c.Write(append(init, name...))
			return
		}
		c.Write([]byte{1, 2})
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != 2 {
			return
		}
		ch := make([]byte, 16)
		rand.Read(ch)
		c.Write(ch)
		resp := make([]byte, 16)
		if _, err := io.ReadFull(c, resp); err != nil {
			return
		}
		reason := "Authentication failed"
		out := []byte{0, 0, 0, 1, 0, 0, 0, byte(len(reason))}
		c.Write(append(out, reason...))
	}
}

// copySet starts one copy (hardened or weak) and returns port -> the
// service the engine must name.
func copySet(t *testing.T, p *pki) map[int]string {
	want := map[int]string{}
	add := func(port int, svc string) { want[port] = svc }
	nginx, apache := "nginx/1.27.4", "Apache/2.4.65 (Unix)"
	if p.weak {
		nginx, apache = "nginx/1.18.0", "Apache/2.4.49 (Unix)"
	}
	add(hardenedSSH(t, p.weak), "ssh")
	add(listen(t, hardenedFTP(p)), "ftp")
	add(listen(t, hardenedSMTP(p)), "smtp")
	add(listen(t, hardenedIMAP(p)), "imap")
	add(listen(t, hardenedPOP3(p)), "pop3")
	add(hardenedWeb(t, p, nginx, true), "http")
	add(hardenedWeb(t, p, apache, false), "http")
	add(listen(t, hardenedRedis(p.weak)), "redis")
	add(listen(t, hardenedMemcached(p.weak)), "memcached")
	add(listen(t, hardenedNATS(p.weak)), "nats")
	add(listen(t, hardenedZooKeeper(p.weak)), "zookeeper")
	add(listen(t, hardenedMQTT(p.weak)), "mqtt")
	add(listen(t, hardenedProxy(p.weak)), "http-proxy")
	add(listen(t, hardenedDNS(p.weak)), "domain")
	add(listen(t, hardenedVNC(p.weak)), "vnc")
	return want
}

// runCopy identifies and evaluates one copy.
func runCopy(t *testing.T, p *pki) (map[int]string, map[int]string, []*vuln.Finding, []*fingerprint.Service) {
	t.Helper()
	want := copySet(t, p)
	ports := make([]int, 0, len(want))
	for port := range want {
		ports = append(ports, port)
	}
	eng := newEngine(t)
	// The name the hardened certificate was issued for: the hostname
	// check runs (and fails on the weak copy's certificate).
	svcs := identify(t, eng, "hardened.test", ports)
	got := map[int]string{}
	for _, s := range svcs {
		got[s.Port] = strings.TrimPrefix(s.Service, "ssl/")
	}
	_, fs := evaluate(t, svcs)
	return want, got, fs, svcs
}

func identifiedAll(t *testing.T, want, got map[int]string) int {
	n := 0
	for port, svc := range want {
		if got[port] == svc || (svc == "http-proxy" && got[port] == "http") {
			n++
		} else {
			t.Logf("port %d: identified as %q, want %q (its checks are not exercised)", port, got[port], svc)
		}
	}
	return n
}

// TestHardenedCopy runs the pipeline on the hardened servers: they must be
// identified as what they are, and yield no finding at all.
func TestHardenedCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	want, got, fs, svcs := runCopy(t, newPKI(t))
	identified := identifiedAll(t, want, got)
	s := Score{Name: "hardened", Findings: len(fs), Precision: 1, Recall: 1}
	for _, f := range fs {
		s.FalsePositives = append(s.FalsePositives, fmt.Sprintf("%d/%s %s (%s)", f.Port, got[f.Port], f.ID, f.Description))
	}
	if len(fs) > 0 {
		s.Precision = 0
	}
	report(t, s)
	t.Logf("hardened copy: %d/%d services identified as intended", identified, len(want))
	if identified < len(want)-2 {
		t.Errorf("only %d of %d hardened services identified: the test would prove little", identified, len(want))
	}
	for _, f := range fs {
		t.Errorf("false positive on the hardened copy: %d %s %s", f.Port, f.ID, f.Description)
	}
	// The hardened servers really show what the checks look for, so an
	// absent finding is not an evaluation that did not run.
	for _, sv := range svcs {
		if got[sv.Port] == "http" && sv.Evidence["http.status"] == "200" && sv.Evidence["http.header.x-content-type-options"] == "" {
			t.Errorf("port %d: headers not seen", sv.Port)
		}
		if strings.Contains(sv.Product, "OpenSSH") && !strings.Contains(sv.Evidence["ssh.kex.algorithms"], "kex-strict-s-v00@openssh.com") {
			t.Errorf("ssh: strict kex not offered: %q", sv.Evidence["ssh.kex.algorithms"])
		}
	}
}

// TestWeakCopy is the control: the same servers with the hardening
// removed. Every weakness put in must be found (recall), and nothing else
// (precision).
func TestWeakCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	want, got, fs, svcs := runCopy(t, newWeakPKI(t))
	identified := identifiedAll(t, want, got)
	t.Logf("weak copy: %d/%d services identified as intended", identified, len(want))
	tlsOn := map[int]bool{}
	for _, sv := range svcs {
		tlsOn[sv.Port] = sv.TLS
	}
	port := map[string]int{}
	for p, svc := range want {
		if svc == "http" && tlsOn[p] {
			svc = "https"
		}
		port[svc] = p
	}
	cert := []string{"tls-cert-self-signed", "tls-cert-expired", "tls-cert-hostname-mismatch", "tls-legacy-protocol", "tls-weak-cipher"}
	expect := map[string][]string{
		"ssh":        {"CVE-2018-15473", "CVE-2023-38408", "CVE-2023-51385", "ssh-weak-algorithms"},
		"ftp":        {"ftp-anonymous", "ftp-cleartext"},
		"smtp":       append([]string{"smtp-vrfy", "cleartext-auth-offered"}, cert...),
		"imap":       append([]string{"cleartext-auth-offered"}, cert...),
		"pop3":       append([]string{"cleartext-auth-offered"}, cert...),
		"https":      append([]string{"CVE-2021-23017", "eol:nginx:1.18", "http-security-headers"}, cert...),
		"http":       {"CVE-2021-41773", "CVE-2021-42013", "CVE-2023-25690", "http-security-headers", "http-server-status"},
		"redis":      {"redis-no-auth"},
		"memcached":  {"memcached-no-auth"},
		"nats":       {"nats-no-auth"},
		"zookeeper":  {"zookeeper-open-commands"},
		"mqtt":       {"mqtt-anonymous"},
		"http-proxy": {"http-open-proxy", "squid-cachemgr-exposed"},
		"domain":     {"dns-open-resolver"},
		"vnc":        {"vnc-no-auth"},
	}
	var tr truth
	for svc, ids := range expect {
		for _, id := range ids {
			tr.Findings = append(tr.Findings, truthEntry{Port: port[svc], ID: idList{id}, Why: "weak " + svc})
		}
	}
	s := score("weak-copy", tr, fs)
	report(t, s)
	if len(s.Missed) > 0 || len(s.FalsePositives) > 0 {
		t.Errorf("weak copy: missed %v, false positives %v", s.Missed, s.FalsePositives)
	}
	// Version matches on upstream builds are confirmed, client-side flaws
	// potential.
	for _, f := range fs {
		switch f.ID {
		case "CVE-2021-41773", "CVE-2021-42013", "CVE-2018-15473", "CVE-2021-23017":
			if f.Status != vuln.Confirmed {
				t.Errorf("%s: %s (%v)", f.ID, f.Status, f.StatusReasons)
			}
		case "CVE-2023-38408", "CVE-2023-51385":
			if f.Status != vuln.Potential {
				t.Errorf("%s: %s", f.ID, f.Status)
			}
		}
	}
}
