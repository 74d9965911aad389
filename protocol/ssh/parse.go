package ssh

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Limits taken from RFC 4253 and widened for lenient servers. They bound the
// parser before anything is allocated.
const (
	// maxIdentLine bounds the identification line (RFC 4253 §4.2 says 255
	// bytes with CRLF; some servers exceed it with long comments).
	maxIdentLine = 1024
	// maxPreLines bounds the text lines a server may send before its
	// identification (RFC 4253 §4.2 allows them).
	maxPreLines = 32
	// maxPreBytes bounds those lines in bytes.
	maxPreBytes = 8 << 10
	// maxPacket bounds a binary packet's length field (RFC 4253 §6.1: every
	// implementation must handle 35000 bytes; KEXINIT is far smaller).
	maxPacket = 35000
	// maxNameList bounds one name-list inside KEXINIT.
	maxNameList = 8 << 10
)

// Message numbers (RFC 4253 §12) met before the server's KEXINIT.
const (
	msgDisconnect = 1
	msgIgnore     = 2
	msgDebug      = 4
	msgKexInit    = 20
)

// ErrNotSSH reports that the bytes cannot be an SSH server's opening.
var ErrNotSSH = errors.New("not an SSH identification")

// Ident is the server's identification string, split (RFC 4253 §4.2:
// "SSH-protoversion-softwareversion SP comments").
type Ident struct {
	Line     string   // the identification line without CR LF
	Proto    string   // "2.0", "1.99", "1.5"
	Software string   // "OpenSSH_9.2p1"
	Comment  string   // "Debian-2+deb12u10"
	Pre      []string // text lines sent before the identification
}

// identState is the outcome of scanning the start of the server's stream.
type identState int

const (
	identNeedMore identState = iota // no identification yet, keep reading
	identFound                      // identification complete
	identInvalid                    // the stream is not an SSH server's
)

// ScanIdent looks for the identification line at the start of b. It returns
// the identification, the bytes after its line end (possibly the start of the
// first binary packet), and a state telling the caller whether to read more.
func ScanIdent(b []byte) (Ident, []byte, identState) {
	var id Ident
	rest := b
	for {
		nl := bytes.IndexByte(rest, '\n')
		if bytes.HasPrefix(rest, []byte("SSH-")) {
			if nl < 0 {
				if len(rest) > maxIdentLine {
					return id, nil, identInvalid
				}
				return id, nil, identNeedMore
			}
			if nl > maxIdentLine {
				return id, nil, identInvalid
			}
			line := strings.TrimRight(string(rest[:nl]), "\r")
			id.Line = line
			id.Proto, id.Software, id.Comment = splitIdent(line)
			return id, rest[nl+1:], identFound
		}
		if nl < 0 {
			// A partial line: it may still become a pre-line or, while
			// shorter than "SSH-", the identification itself.
			if !preLineOK(rest) || (len(id.Pre) == 0 && otherGreeting(rest)) || len(b) > maxPreBytes+maxIdentLine {
				return id, nil, identInvalid
			}
			return id, nil, identNeedMore
		}
		line := rest[:nl+1]
		if !preLineOK(line) || len(id.Pre) >= maxPreLines || len(b)-len(rest) > maxPreBytes {
			return id, nil, identInvalid
		}
		if len(id.Pre) == 0 && otherGreeting(line) {
			return id, nil, identInvalid
		}
		id.Pre = append(id.Pre, strings.TrimRight(string(line), "\r\n"))
		rest = rest[nl+1:]
	}
}

// splitIdent splits "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10" into its parts.
func splitIdent(line string) (proto, software, comment string) {
	s := strings.TrimPrefix(line, "SSH-")
	proto, s, _ = strings.Cut(s, "-")
	software, comment, _ = strings.Cut(s, " ")
	return proto, software, strings.TrimSpace(comment)
}

// preLineOK reports whether a line before the identification is plausible
// text: printable ASCII or UTF-8, tabs and line ends; no NUL or control bytes.
func preLineOK(line []byte) bool {
	for _, c := range line {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
		if c == 0x7f {
			return false
		}
	}
	return true
}

// otherGreeting recognises the first line of other server-first protocols,
// so that a module run on a non-SSH port gives up at once.
func otherGreeting(line []byte) bool {
	for _, p := range []string{"+OK", "-ERR", "* OK", "* PREAUTH", "* BYE", "RFB ", "AMQP"} {
		if bytes.HasPrefix(line, []byte(p)) {
			return true
		}
	}
	// "220 ", "220-", "421 " ...: FTP, SMTP, NNTP greetings.
	return len(line) >= 4 && isDigit(line[0]) && isDigit(line[1]) && isDigit(line[2]) && (line[3] == ' ' || line[3] == '-')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Packet splits the first binary packet off b (RFC 4253 §6, before any
// encryption, so without MAC). need > 0 means more bytes are needed; err means
// b cannot start a packet.
func Packet(b []byte) (payload []byte, rest []byte, need int, err error) {
	if len(b) < 5 {
		return nil, nil, 5 - len(b), nil
	}
	n := binary.BigEndian.Uint32(b[:4])
	if n < 5 || n > maxPacket {
		return nil, nil, 0, fmt.Errorf("packet length %d out of range", n)
	}
	total := 4 + int(n)
	if len(b) < total {
		return nil, nil, total - len(b), nil
	}
	pad := int(b[4])
	if pad+1 > int(n) {
		return nil, nil, 0, fmt.Errorf("padding %d longer than packet %d", pad, n)
	}
	return b[5 : total-pad], b[total:], 0, nil
}

// KexInit is the server's SSH_MSG_KEXINIT (RFC 4253 §7.1).
type KexInit struct {
	Cookie       [16]byte
	Kex          []string
	HostKey      []string
	CiphersC2S   []string
	CiphersS2C   []string
	MACsC2S      []string
	MACsS2C      []string
	CompC2S      []string
	CompS2C      []string
	LangC2S      []string
	LangS2C      []string
	FirstFollows bool
}

// ParseKexInit decodes a KEXINIT payload (starting with message number 20).
func ParseKexInit(p []byte) (*KexInit, error) {
	if len(p) < 1 || p[0] != msgKexInit {
		return nil, errors.New("not a KEXINIT message")
	}
	p = p[1:]
	if len(p) < 16 {
		return nil, errors.New("KEXINIT truncated in cookie")
	}
	k := &KexInit{}
	copy(k.Cookie[:], p[:16])
	p = p[16:]
	lists := []*[]string{&k.Kex, &k.HostKey, &k.CiphersC2S, &k.CiphersS2C, &k.MACsC2S, &k.MACsS2C,
		&k.CompC2S, &k.CompS2C, &k.LangC2S, &k.LangS2C}
	for i, dst := range lists {
		if len(p) < 4 {
			return nil, fmt.Errorf("KEXINIT truncated at name-list %d", i+1)
		}
		n := binary.BigEndian.Uint32(p[:4])
		p = p[4:]
		if n > maxNameList || int(n) > len(p) {
			return nil, fmt.Errorf("KEXINIT name-list %d length %d out of range", i+1, n)
		}
		if n > 0 {
			*dst = strings.Split(string(p[:n]), ",")
		}
		p = p[n:]
	}
	// first_kex_packet_follows and the reserved uint32; tolerate their absence
	// (the name-lists are what matter) but read them when present.
	if len(p) >= 1 {
		k.FirstFollows = p[0] != 0
	}
	return k, nil
}

// HASSHServer returns the hasshServer string and its MD5 (hex): the key
// exchange, server-to-client cipher, MAC and compression lists joined by ";"
// (Salesforce's HASSH definition for servers).
func (k *KexInit) HASSHServer() (string, string) {
	s := strings.Join([]string{
		strings.Join(k.Kex, ","), strings.Join(k.CiphersS2C, ","),
		strings.Join(k.MACsS2C, ","), strings.Join(k.CompS2C, ","),
	}, ";")
	sum := md5.Sum([]byte(s))
	return s, hex.EncodeToString(sum[:])
}

// looksText reports whether b starts like a text line rather than a binary
// packet: servers answer a bad identification with "Protocol mismatch.".
func looksText(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, c := range b[:4] {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
