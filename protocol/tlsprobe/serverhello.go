package tlsprobe

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// Record content types and handshake message types used by the parser.
const (
	recChangeCipherSpec = 20
	recAlert            = 21
	recHandshake        = 22
	recApplicationData  = 23

	hsServerHello = 2

	extALPN              = 16
	extSupportedVersions = 43

	// maxRecord is the largest TLS record payload a peer may send
	// (2^14 plus the slack allowed for compressed/encrypted records).
	maxRecord = 16384 + 2048
	// maxHandshakeBuf caps the reassembly buffer: a ServerHello is a few
	// hundred bytes, certificate chains are skipped past, so 64 KiB is ample.
	maxHandshakeBuf = 64 << 10
)

// helloRetryRandom is the fixed Random value that marks a TLS 1.3
// HelloRetryRequest (RFC 8446 §4.1.3); it is not the real ServerHello.
var helloRetryRandom = [32]byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

// ServerHello is what the parser extracts from the server's first flight.
type ServerHello struct {
	// Version is the legacy_version field (0x0303 even for TLS 1.3); JA3S
	// uses it as is.
	Version uint16
	// SupportedVersion is the version chosen through the supported_versions
	// extension (TLS 1.3), 0 when absent.
	SupportedVersion uint16
	CipherSuite      uint16
	Compression      uint8
	SessionIDLen     int
	// Extensions are the extension types in the order the server sent them.
	Extensions []uint16
	// ALPN is the protocol the server selected, if any.
	ALPN string
	// HelloRetry is true when this message is a HelloRetryRequest.
	HelloRetry bool
	// Alert is the description code of a fatal alert seen before any
	// ServerHello (-1 when none).
	Alert int
}

// NegotiatedVersion is the protocol version actually in use.
func (h *ServerHello) NegotiatedVersion() uint16 {
	if h.SupportedVersion != 0 {
		return h.SupportedVersion
	}
	return h.Version
}

// JA3SString is "version,cipher,ext-ext-..." in decimal, as defined by
// Salesforce's JA3S (legacy version field, extensions in wire order).
func (h *ServerHello) JA3SString() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(h.Version)))
	b.WriteByte(',')
	b.WriteString(strconv.Itoa(int(h.CipherSuite)))
	b.WriteByte(',')
	for i, e := range h.Extensions {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(int(e)))
	}
	return b.String()
}

// JA3S is the MD5 (hex) of JA3SString.
func (h *ServerHello) JA3S() string {
	sum := md5.Sum([]byte(h.JA3SString()))
	return hex.EncodeToString(sum[:])
}

// Errors returned by ParseServerHello.
var (
	ErrNoServerHello = errors.New("tlsprobe: no ServerHello in stream")
	ErrNotTLS        = errors.New("tlsprobe: stream is not TLS records")
)

// ParseServerHello parses the raw bytes a server sent at the start of a TLS
// handshake (one or more records) and returns its ServerHello. It skips a
// TLS 1.3 HelloRetryRequest when the real ServerHello follows, and reports a
// fatal alert when the server refused before saying hello. It is a pure
// function and never allocates more than a bounded reassembly buffer.
func ParseServerHello(stream []byte) (*ServerHello, error) {
	var (
		hs    []byte // reassembled handshake-message bytes
		retry *ServerHello
		alert = -1
	)
	for len(stream) >= 5 {
		typ := stream[0]
		if stream[1] != 3 || typ < recChangeCipherSpec || typ > recApplicationData+1 {
			if retry != nil {
				return retry, nil
			}
			return nil, ErrNotTLS
		}
		n := int(stream[3])<<8 | int(stream[4])
		if n > maxRecord {
			return nil, ErrNotTLS
		}
		body := stream[5:]
		if len(body) > n {
			body = body[:n]
		}
		stream = stream[5+len(body):]
		switch typ {
		case recAlert:
			if len(body) >= 2 && alert < 0 {
				alert = int(body[1])
			}
			continue
		case recChangeCipherSpec:
			continue
		case recApplicationData, recApplicationData + 1:
			// Encrypted from here on: no more plaintext hellos.
			stream = nil
			continue
		}
		if len(hs)+len(body) > maxHandshakeBuf {
			break
		}
		hs = append(hs, body...)
		// Consume complete handshake messages.
		for len(hs) >= 4 {
			mlen := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
			if mlen > maxHandshakeBuf {
				return nil, ErrNotTLS
			}
			if len(hs) < 4+mlen {
				break // wait for the next record
			}
			mtype, msg := hs[0], hs[4:4+mlen]
			hs = hs[4+mlen:]
			if mtype != hsServerHello {
				continue
			}
			sh, err := parseHelloBody(msg)
			if err != nil {
				return nil, err
			}
			sh.Alert = alert
			if !sh.HelloRetry {
				return sh, nil
			}
			if retry == nil {
				retry = sh
			}
		}
	}
	if retry != nil {
		return retry, nil
	}
	if alert >= 0 {
		return &ServerHello{Alert: alert}, ErrNoServerHello
	}
	return nil, ErrNoServerHello
}

// parseHelloBody decodes the body of a ServerHello handshake message.
func parseHelloBody(m []byte) (*ServerHello, error) {
	bad := errors.New("tlsprobe: malformed ServerHello")
	if len(m) < 2+32+1 {
		return nil, bad
	}
	sh := &ServerHello{Version: uint16(m[0])<<8 | uint16(m[1]), Alert: -1}
	var random [32]byte
	copy(random[:], m[2:34])
	sh.HelloRetry = random == helloRetryRandom
	m = m[34:]
	sidLen := int(m[0])
	if sidLen > 32 || len(m) < 1+sidLen+3 {
		return nil, bad
	}
	sh.SessionIDLen = sidLen
	m = m[1+sidLen:]
	sh.CipherSuite = uint16(m[0])<<8 | uint16(m[1])
	sh.Compression = m[2]
	m = m[3:]
	if len(m) < 2 {
		return sh, nil // SSL 3.0 / TLS without extensions
	}
	extLen := int(m[0])<<8 | int(m[1])
	m = m[2:]
	if extLen < len(m) {
		m = m[:extLen]
	}
	for len(m) >= 4 {
		et := uint16(m[0])<<8 | uint16(m[1])
		el := int(m[2])<<8 | int(m[3])
		m = m[4:]
		if el > len(m) {
			return nil, bad
		}
		data := m[:el]
		m = m[el:]
		if len(sh.Extensions) < 64 {
			sh.Extensions = append(sh.Extensions, et)
		}
		switch et {
		case extSupportedVersions:
			if len(data) == 2 {
				sh.SupportedVersion = uint16(data[0])<<8 | uint16(data[1])
			}
		case extALPN:
			// list length (2) + one protocol: len (1) + name.
			if len(data) >= 3 {
				pl := int(data[2])
				if 3+pl <= len(data) {
					sh.ALPN = string(data[3 : 3+pl])
				}
			}
		}
	}
	return sh, nil
}

// Looks reports whether b starts like a TLS record: what a TLS server answers
// to a plaintext request (usually an alert, 15 03 0x 00 02) or a ServerHello.
func Looks(b []byte) bool {
	if len(b) < 3 {
		return false
	}
	if b[0] < recChangeCipherSpec || b[0] > recApplicationData || b[1] != 3 || b[2] > 4 {
		return false
	}
	if len(b) >= 5 {
		n := int(b[3])<<8 | int(b[4])
		if n == 0 || n > maxRecord {
			return false
		}
		if b[0] == recAlert && n != 2 {
			return false
		}
	}
	return true
}

// VersionName names a protocol version the way the fields report it.
func VersionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSLv3"
	case 0x0301:
		return "TLSv1.0"
	case 0x0302:
		return "TLSv1.1"
	case 0x0303:
		return "TLSv1.2"
	case 0x0304:
		return "TLSv1.3"
	case 0x0002:
		return "SSLv2"
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}
