// Package tlsscan asks a TLS server which legacy protocol versions and
// weak cipher suites it still accepts. Go's crypto/tls cannot offer SSLv3,
// export or NULL suites, so each question is a hand-built ClientHello that
// offers only what is being asked about; the answer is read from the
// ServerHello (or the alert) and the connection is dropped before any key
// exchange: nothing is negotiated, no data is sent.
//
// Plain ports that upgrade with STARTTLS (SMTP, IMAP, POP3, FTP,
// PostgreSQL) get their protocol's upgrade exchange first.
package tlsscan

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Protocol versions on the wire.
const (
	SSL30 uint16 = 0x0300
	TLS10 uint16 = 0x0301
	TLS11 uint16 = 0x0302
	TLS12 uint16 = 0x0303
)

// VersionName names a protocol version.
func VersionName(v uint16) string {
	switch v {
	case SSL30:
		return "SSLv3"
	case TLS10:
		return "TLSv1.0"
	case TLS11:
		return "TLSv1.1"
	case TLS12:
		return "TLSv1.2"
	case 0x0304:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// legacySuites are offered when asking whether SSLv3/TLS 1.0/1.1 is
// accepted: the suites those versions commonly run, so that a server that
// accepts the version finds one it likes.
var legacySuites = []uint16{
	0xc014, 0xc013, 0xc00a, 0xc009, // ECDHE-RSA/ECDSA AES-CBC-SHA
	0x0039, 0x0033, // DHE-RSA AES-CBC-SHA
	0x0035, 0x002f, // RSA AES-CBC-SHA
	0x000a, 0x0005, 0x0004, // 3DES, RC4
}

// WeakSuites names the suites considered weak: RC4, DES, 3DES (Sweet32),
// NULL encryption, export grade, anonymous key exchange.
var WeakSuites = map[uint16]string{
	0x0001: "TLS_RSA_WITH_NULL_MD5", 0x0002: "TLS_RSA_WITH_NULL_SHA", 0x003b: "TLS_RSA_WITH_NULL_SHA256",
	0xc006: "TLS_ECDHE_ECDSA_WITH_NULL_SHA", 0xc010: "TLS_ECDHE_RSA_WITH_NULL_SHA",
	0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5", 0x0006: "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", 0x0008: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
	0x0014: "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", 0x0011: "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA",
	0x0004: "TLS_RSA_WITH_RC4_128_MD5", 0x0005: "TLS_RSA_WITH_RC4_128_SHA", 0xc011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA", 0xc007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
	0x0009: "TLS_RSA_WITH_DES_CBC_SHA", 0x0015: "TLS_DHE_RSA_WITH_DES_CBC_SHA",
	0x000a: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", 0xc012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	0xc008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
	0x0018: "TLS_DH_anon_WITH_RC4_128_MD5", 0x001b: "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", 0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA",
	0x003a: "TLS_DH_anon_WITH_AES_256_CBC_SHA", 0xc018: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", 0xc019: "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
}

// weakOrder is the order weak suites are offered in (map order is random).
var weakOrder = []uint16{0x0001, 0x0002, 0x003b, 0xc006, 0xc010, 0x0003, 0x0006, 0x0008, 0x0014, 0x0011, 0x0004, 0x0005, 0xc011,
	0xc007, 0x0009, 0x0015, 0x000a, 0x0016, 0xc012, 0xc008, 0x0018, 0x001b, 0x0034, 0x003a, 0xc018, 0xc019}

// StartTLS names an upgrade exchange: "", "smtp", "imap", "pop3", "ftp",
// "postgresql".
type StartTLS string

// Config says how to reach the server.
type Config struct {
	// Dial opens a fresh TCP connection to the server.
	Dial     func(ctx context.Context) (net.Conn, error)
	StartTLS StartTLS
	// ServerName is sent as SNI when it is a name (not an address).
	ServerName string
	Timeout    time.Duration // per read (default 3s)
}

// Result is what the server accepted.
type Result struct {
	// Legacy lists the legacy versions accepted ("SSLv3", "TLSv1.0", "TLSv1.1").
	Legacy []string
	// Weak lists the weak suites accepted (one answer: the server's pick
	// among all weak suites offered, per accepted version).
	Weak []string
	// Errors lists the questions that could not be answered (connection
	// refused, STARTTLS refused...), so that silence is not read as "no".
	Errors []string
}

// Scan asks its questions, one connection each.
func Scan(ctx context.Context, cfg Config) Result {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	var res Result
	for _, v := range []uint16{SSL30, TLS10, TLS11} {
		got, _, err := ask(ctx, cfg, v, legacySuites)
		if err != nil {
			res.Errors = append(res.Errors, VersionName(v)+": "+err.Error())
			continue
		}
		if got != 0 && got <= TLS11 && !contains(res.Legacy, VersionName(got)) {
			res.Legacy = append(res.Legacy, VersionName(got))
		}
	}
	got, suite, err := ask(ctx, cfg, TLS12, weakOrder)
	if err != nil {
		res.Errors = append(res.Errors, "weak suites: "+err.Error())
	} else if got != 0 {
		if name, ok := WeakSuites[suite]; ok {
			res.Weak = append(res.Weak, name+" ("+VersionName(got)+")")
		}
	}
	return res
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// errNoAnswer is returned when the server neither answered nor refused.
var errNoAnswer = errors.New("no answer")

// ask offers version v with suites and returns the version and suite the
// server chose (0 when it refused with an alert or closed).
func ask(ctx context.Context, cfg Config, v uint16, suites []uint16) (uint16, uint16, error) {
	dctx, cancel := context.WithTimeout(ctx, 2*cfg.Timeout)
	conn, err := cfg.Dial(dctx)
	cancel()
	if err != nil {
		return 0, 0, fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	if err := upgrade(ctx, conn, cfg.StartTLS, cfg.Timeout); err != nil {
		return 0, 0, err
	}
	hello := ClientHello(v, suites, cfg.ServerName)
	if err := wire.Write(ctx, conn, cfg.Timeout, hello); err != nil {
		return 0, 0, fmt.Errorf("write: %w", err)
	}
	// The ServerHello comes first; 5 bytes of record header, then at most
	// one record of 16 KiB + 2 KiB.
	buf, err := wire.ReadUntil(ctx, conn, cfg.Timeout, 5+18432, func(b []byte) bool {
		if len(b) < 5 {
			return false
		}
		if b[0] == 0x15 { // alert: 2 bytes of body
			return len(b) >= 7
		}
		n := int(binary.BigEndian.Uint16(b[3:5]))
		return len(b) >= 5+n || len(b) >= 5+4+38
	})
	if len(buf) == 0 {
		if err != nil && !wire.IsTimeout(err) {
			return 0, 0, nil // closed at once: a refusal
		}
		return 0, 0, errNoAnswer
	}
	ver, suite, ok := ParseServerHello(buf)
	if !ok {
		return 0, 0, nil
	}
	return ver, suite, nil
}

// ClientHello builds a ClientHello record offering version v (SSLv3 gets
// no extensions, as SSLv3 servers may choke on them).
func ClientHello(v uint16, suites []uint16, serverName string) []byte {
	var body bytes.Buffer
	binary.Write(&body, binary.BigEndian, v)
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	body.Write(random)
	body.WriteByte(0) // session id
	binary.Write(&body, binary.BigEndian, uint16(2*len(suites)+2))
	for _, s := range suites {
		binary.Write(&body, binary.BigEndian, s)
	}
	binary.Write(&body, binary.BigEndian, uint16(0x00ff)) // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
	body.Write([]byte{1, 0})                              // compression: null
	if v >= TLS10 {
		var ext bytes.Buffer
		if serverName != "" && net.ParseIP(serverName) == nil && len(serverName) < 256 {
			name := []byte(serverName)
			writeExt(&ext, 0x0000, func(b *bytes.Buffer) {
				binary.Write(b, binary.BigEndian, uint16(len(name)+3))
				b.WriteByte(0)
				binary.Write(b, binary.BigEndian, uint16(len(name)))
				b.Write(name)
			})
		}
		writeExt(&ext, 0x000a, func(b *bytes.Buffer) { // supported groups: x25519, P-256, P-384
			b.Write([]byte{0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18})
		})
		writeExt(&ext, 0x000b, func(b *bytes.Buffer) { b.Write([]byte{1, 0}) }) // ec point formats: uncompressed
		if v >= TLS12 {
			writeExt(&ext, 0x000d, func(b *bytes.Buffer) { // signature algorithms
				algs := []uint16{0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501, 0x0201, 0x0203}
				binary.Write(b, binary.BigEndian, uint16(2*len(algs)))
				for _, a := range algs {
					binary.Write(b, binary.BigEndian, a)
				}
			})
		}
		binary.Write(&body, binary.BigEndian, uint16(ext.Len()))
		body.Write(ext.Bytes())
	}
	var hs bytes.Buffer
	hs.WriteByte(1) // client_hello
	n := body.Len()
	hs.Write([]byte{byte(n >> 16), byte(n >> 8), byte(n)})
	hs.Write(body.Bytes())
	recVer := TLS10
	if v == SSL30 {
		recVer = SSL30
	}
	var rec bytes.Buffer
	rec.WriteByte(0x16)
	binary.Write(&rec, binary.BigEndian, recVer)
	binary.Write(&rec, binary.BigEndian, uint16(hs.Len()))
	rec.Write(hs.Bytes())
	return rec.Bytes()
}

func writeExt(b *bytes.Buffer, typ uint16, body func(*bytes.Buffer)) {
	var x bytes.Buffer
	body(&x)
	binary.Write(b, binary.BigEndian, typ)
	binary.Write(b, binary.BigEndian, uint16(x.Len()))
	b.Write(x.Bytes())
}

// ParseServerHello reads the version and cipher suite of a ServerHello at
// the start of b. ok is false for alerts, other records and truncation.
func ParseServerHello(b []byte) (version, suite uint16, ok bool) {
	if len(b) < 5 || b[0] != 0x16 {
		return 0, 0, false
	}
	n := int(binary.BigEndian.Uint16(b[3:5]))
	rec := b[5:]
	if n < len(rec) {
		rec = rec[:n]
	}
	// handshake header: type(1) length(3)
	if len(rec) < 4 || rec[0] != 2 {
		return 0, 0, false
	}
	body := rec[4:]
	if len(body) < 2+32+1 {
		return 0, 0, false
	}
	version = binary.BigEndian.Uint16(body[0:2])
	sidLen := int(body[34])
	if sidLen > 32 || len(body) < 35+sidLen+2 {
		return 0, 0, false
	}
	suite = binary.BigEndian.Uint16(body[35+sidLen : 37+sidLen])
	if version < SSL30 || version > TLS12 {
		return 0, 0, false
	}
	return version, suite, true
}

// upgrade runs the plaintext exchange that precedes TLS on STARTTLS ports.
func upgrade(ctx context.Context, conn net.Conn, kind StartTLS, timeout time.Duration) error {
	const max = 16 << 10
	expect := func(okPrefix string, lastLine func(string) bool) error {
		b, err := wire.ReadUntil(ctx, conn, timeout, max, func(b []byte) bool {
			lines := strings.Split(strings.TrimRight(string(b), "\r\n"), "\n")
			return bytes.HasSuffix(b, []byte("\n")) && lastLine(strings.TrimRight(lines[len(lines)-1], "\r"))
		})
		s := string(b)
		if err != nil && s == "" {
			return fmt.Errorf("starttls: %w", err)
		}
		lines := strings.Split(strings.TrimRight(s, "\r\n"), "\n")
		if !strings.HasPrefix(strings.TrimRight(lines[len(lines)-1], "\r"), okPrefix) {
			return fmt.Errorf("starttls refused: %q", clip(s))
		}
		return nil
	}
	// The last line of a multi-line reply has a space after the code.
	final := func(l string) bool { return len(l) >= 4 && l[3] == ' ' }
	send := func(s string) error { return wire.Write(ctx, conn, timeout, []byte(s)) }
	switch kind {
	case "":
		return nil
	case "smtp":
		if err := expect("220", final); err != nil {
			return err
		}
		if err := send("EHLO portrait.invalid\r\n"); err != nil {
			return err
		}
		if err := expect("250", final); err != nil {
			return err
		}
		if err := send("STARTTLS\r\n"); err != nil {
			return err
		}
		return expect("220", final)
	case "ftp":
		if err := expect("220", final); err != nil {
			return err
		}
		if err := send("AUTH TLS\r\n"); err != nil {
			return err
		}
		return expect("234", final)
	case "imap":
		if err := expect("* OK", func(string) bool { return true }); err != nil {
			return err
		}
		if err := send("a1 STARTTLS\r\n"); err != nil {
			return err
		}
		return expect("a1 OK", func(l string) bool { return strings.HasPrefix(l, "a1 ") })
	case "pop3":
		if err := expect("+OK", func(string) bool { return true }); err != nil {
			return err
		}
		if err := send("STLS\r\n"); err != nil {
			return err
		}
		return expect("+OK", func(string) bool { return true })
	case "postgresql":
		if err := send(string([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f})); err != nil {
			return err
		}
		b, err := wire.ReadFull(ctx, conn, timeout, 1)
		if err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
		if b[0] != 'S' {
			return errors.New("starttls refused: server does not offer SSL")
		}
		return nil
	}
	return fmt.Errorf("starttls: unknown kind %q", kind)
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80]
	}
	return s
}
