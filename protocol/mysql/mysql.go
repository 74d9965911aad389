// Package mysql fingerprints MySQL-protocol servers (MySQL, MariaDB,
// Percona, TiDB, Vitess, Sphinx/Manticore...) from the initial handshake
// packet they send before the client speaks: protocol version 10 (or 9),
// the server version string, capability flags, character set, status and
// the default authentication plugin. A server that refuses the client
// (host not allowed, too many connections) sends an error packet instead;
// its code and message are recorded.
//
// Fields (all strings):
//
//	mysql.protocol        protocol version byte, decimal ("10")
//	mysql.version         server version string ("5.5.5-10.11.19-MariaDB-0+deb12u1")
//	mysql.capabilities    32-bit capability flags, 8 lower-case hex digits
//	mysql.ext_capabilities MariaDB extended capabilities (reserved bytes 6-9), 8 hex digits, when not zero
//	mysql.charset         default collation id, decimal ("45")
//	mysql.status          status flags, 4 hex digits
//	mysql.auth_plugin     default authentication plugin ("mysql_native_password")
//	mysql.error_code      error packet code, decimal ("1130")
//	mysql.error           error packet message
//
// The connection id and the scramble are deliberately not recorded: they
// change on every connection.
package mysql

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// maxPacket bounds the handshake packet we wait for; real ones are < 200 bytes.
const maxPacket = 4096

type module struct{}

// New returns the MySQL protocol module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{
		Name:        "mysql",
		Service:     "mysql",
		Ports:       []int{3306, 3307, 4000, 6033, 9306, 9004},
		ServerFirst: true,
		Priority:    60,
	}
}

// Claim recognises the first packet of a MySQL server: a 3-byte length,
// sequence 0, then protocol version 10 or 9 followed by a printable version
// string, or an error packet (0xff) with a plausible code.
func (module) Claim(b []byte) bool {
	if len(b) < 7 || b[3] != 0 {
		return false
	}
	n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
	if n < 3 || n > maxPacket {
		return false
	}
	p := b[4:]
	switch p[0] {
	case 10, 9:
		end := bytes.IndexByte(p[1:], 0)
		if end < 0 {
			// Truncated banner: the visible part must still look like a version.
			end = len(p) - 1
		}
		v := p[1 : 1+end]
		return len(v) > 0 && v[0] >= '0' && v[0] <= '9' && printable(v)
	case 0xff:
		code := binary.LittleEndian.Uint16(p[1:3])
		return code >= 1000 && code < 10000
	}
	return false
}

func (m module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	pkt := banner
	if len(pkt) == 0 {
		b, err := wire.ReadUntil(ctx, conn, env.Timeout, maxPacket+4, packetComplete)
		if len(b) == 0 {
			return nil, fmt.Errorf("mysql: read handshake: %w", err)
		}
		pkt = b
	} else if !packetComplete(pkt) {
		rest, _ := wire.ReadUntil(ctx, conn, env.Timeout, maxPacket+4-len(pkt), func(b []byte) bool {
			return packetComplete(append(append([]byte{}, pkt...), b...))
		})
		pkt = append(append([]byte{}, pkt...), rest...)
	}
	res.Record("NULL", nil, pkt)
	if !m.Claim(pkt) {
		return res, protocol.ErrNotThisProtocol
	}
	h, err := ParseHandshake(pkt)
	if err != nil {
		return res, fmt.Errorf("mysql: %w: %w", protocol.ErrNotThisProtocol, err)
	}
	if h.ErrorCode != 0 {
		res.Set("mysql.error_code", strconv.Itoa(int(h.ErrorCode)))
		res.Set("mysql.error", h.ErrorMessage)
		res.Service, res.Confidence = "mysql", 85
		return res, nil
	}
	res.Set("mysql.protocol", strconv.Itoa(int(h.Protocol)))
	res.Set("mysql.version", h.Version)
	if h.HasCapabilities {
		res.Set("mysql.capabilities", fmt.Sprintf("%08x", h.Capabilities))
	}
	if h.HasCharset {
		res.Set("mysql.charset", strconv.Itoa(int(h.Charset)))
		res.Set("mysql.status", fmt.Sprintf("%04x", h.Status))
	}
	if h.ExtCapabilities != 0 {
		res.Set("mysql.ext_capabilities", fmt.Sprintf("%08x", h.ExtCapabilities))
	}
	res.Set("mysql.auth_plugin", h.AuthPlugin)
	res.Service, res.Confidence = "mysql", 95
	if h.Protocol == 10 && h.HasCapabilities {
		res.Confidence = 98
	}
	return res, nil
}

// packetComplete reports whether b holds the whole first packet.
func packetComplete(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
	return n > maxPacket || len(b) >= 4+n
}

// Handshake is the parsed first packet of a MySQL server.
type Handshake struct {
	Protocol        byte
	Version         string
	Capabilities    uint32
	HasCapabilities bool
	Charset         byte
	Status          uint16
	HasCharset      bool
	ExtCapabilities uint32 // MariaDB: reserved bytes 6-9 when CLIENT_MYSQL (bit 0) is clear
	AuthPlugin      string
	ErrorCode       uint16
	ErrorMessage    string
}

// capability bits used while parsing
const (
	clientMySQL      = 1 << 0
	clientProtocol41 = 1 << 9
	clientSecureConn = 1 << 15
	clientPluginAuth = 1 << 19
)

// ParseHandshake parses the first packet (4-byte header included). A
// truncated packet yields what could be read and no error as long as the
// version string is complete.
func ParseHandshake(b []byte) (*Handshake, error) {
	if len(b) < 5 {
		return nil, fmt.Errorf("packet too short (%d bytes)", len(b))
	}
	n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
	p := b[4:]
	if n < len(p) {
		p = p[:n]
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("empty packet")
	}
	h := &Handshake{Protocol: p[0]}
	switch p[0] {
	case 0xff:
		if len(p) < 3 {
			return nil, fmt.Errorf("error packet too short")
		}
		h.ErrorCode = binary.LittleEndian.Uint16(p[1:3])
		msg := p[3:]
		if len(msg) >= 6 && msg[0] == '#' {
			msg = msg[6:] // SQLSTATE marker and state
		}
		if len(msg) > 512 {
			msg = msg[:512]
		}
		h.ErrorMessage = string(bytes.TrimRight(msg, "\x00"))
		return h, nil
	case 9, 10:
	default:
		return nil, fmt.Errorf("protocol version %d", p[0])
	}
	end := bytes.IndexByte(p[1:], 0)
	if end < 0 {
		return nil, fmt.Errorf("version string not terminated")
	}
	h.Version = string(p[1 : 1+end])
	if len(h.Version) > 256 {
		h.Version = h.Version[:256]
	}
	if h.Protocol == 9 {
		return h, nil
	}
	rest := p[1+end+1:]
	// connection id (4), auth-plugin-data part 1 (8), filler (1)
	if len(rest) < 13+2 {
		return h, nil
	}
	rest = rest[13:]
	h.Capabilities = uint32(binary.LittleEndian.Uint16(rest[0:2]))
	h.HasCapabilities = true
	rest = rest[2:]
	if len(rest) < 1+2+2+1+10 {
		return h, nil
	}
	h.Charset = rest[0]
	h.Status = binary.LittleEndian.Uint16(rest[1:3])
	h.HasCharset = true
	h.Capabilities |= uint32(binary.LittleEndian.Uint16(rest[3:5])) << 16
	authLen := int(rest[5])
	reserved := rest[6:16]
	if h.Capabilities&clientMySQL == 0 {
		h.ExtCapabilities = binary.LittleEndian.Uint32(reserved[6:10])
	}
	rest = rest[16:]
	if h.Capabilities&clientSecureConn != 0 {
		l := authLen - 8
		if l < 13 {
			l = 13
		}
		if len(rest) < l {
			return h, nil
		}
		rest = rest[l:]
	}
	if h.Capabilities&clientPluginAuth != 0 && len(rest) > 0 {
		name := rest
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) <= 64 && printable(name) {
			h.AuthPlugin = string(name)
		}
	}
	return h, nil
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}
