package smb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"
	"unicode/utf16"
)

var smb1Magic = []byte{0xFF, 'S', 'M', 'B'}

const (
	smb1Negotiate    = 0x72
	smb1SessionSetup = 0x73

	smb1Flags2 = 0xC001 // Unicode, NT status codes, long names; no extended security

	capExtendedSecurity = 0x80000000
)

func smb1Header(cmd byte, uid, mid uint16) []byte {
	h := make([]byte, 32)
	copy(h, smb1Magic)
	h[4] = cmd
	h[9] = 0x18 // case-insensitive, canonicalised paths
	binary.LittleEndian.PutUint16(h[10:], smb1Flags2)
	binary.LittleEndian.PutUint16(h[24:], 0xFFFF) // TID
	binary.LittleEndian.PutUint16(h[26:], 0xFEFF) // PID
	binary.LittleEndian.PutUint16(h[28:], uid)
	binary.LittleEndian.PutUint16(h[30:], mid)
	return h
}

// SMB1NegotiateRequest offers only "NT LM 0.12", without SMB2 dialects, so
// that a server with SMB1 disabled shows it (error or hang-up) instead of
// upgrading to SMB2.
func SMB1NegotiateRequest() []byte {
	dialect := []byte("\x02NT LM 0.12\x00")
	b := append(smb1Header(smb1Negotiate, 0, 1), 0) // WordCount 0
	b = binary.LittleEndian.AppendUint16(b, uint16(len(dialect)))
	return append(b, dialect...)
}

// SMB1Negotiate is what an NT LM 0.12 negotiate response reveals.
type SMB1Negotiate struct {
	Status       uint32
	DialectIndex int
	SecurityMode byte
	MaxMpx       uint16
	SessionKey   uint32
	Capabilities uint32
	SystemTime   time.Time
	Domain       string
	Server       string
}

var errNotSMB1 = errors.New("smb: not an SMB1 message")

// ParseSMB1Negotiate decodes an SMB1 negotiate response (without framing).
func ParseSMB1Negotiate(msg []byte) (*SMB1Negotiate, error) {
	if len(msg) < 35 || !bytes.Equal(msg[:4], smb1Magic) || msg[4] != smb1Negotiate {
		return nil, errNotSMB1
	}
	n := &SMB1Negotiate{Status: binary.LittleEndian.Uint32(msg[5:]), DialectIndex: -1}
	wc := int(msg[32])
	if wc >= 1 {
		n.DialectIndex = int(binary.LittleEndian.Uint16(msg[33:]))
	}
	if wc != 17 || len(msg) < 69 {
		return n, nil
	}
	n.SecurityMode = msg[35]
	n.MaxMpx = binary.LittleEndian.Uint16(msg[36:])
	n.SessionKey = binary.LittleEndian.Uint32(msg[48:])
	n.Capabilities = binary.LittleEndian.Uint32(msg[52:])
	n.SystemTime = filetime(binary.LittleEndian.Uint64(msg[56:]))
	chl := int(msg[66])
	bc := int(binary.LittleEndian.Uint16(msg[67:]))
	data := msg[69:]
	if bc < len(data) {
		data = data[:bc]
	}
	if n.Capabilities&capExtendedSecurity != 0 || chl > len(data) {
		return n, nil
	}
	unicode := binary.LittleEndian.Uint16(msg[10:])&0x8000 != 0
	rest := data[chl:]
	n.Domain, rest = cstring(rest, unicode)
	n.Server, _ = cstring(rest, unicode)
	return n, nil
}

// SMB1SessionSetupRequest is an anonymous (null session) Session Setup
// AndX in the NT LM 0.12 form without extended security.
func SMB1SessionSetupRequest(sessionKey uint32, maxMpx uint16) []byte {
	if maxMpx == 0 {
		maxMpx = 1
	}
	b := append(smb1Header(smb1SessionSetup, 0, 2), 13)
	b = append(b, 0xFF, 0, 0, 0) // no AndX command
	b = binary.LittleEndian.AppendUint16(b, 4356)
	b = binary.LittleEndian.AppendUint16(b, maxMpx)
	b = binary.LittleEndian.AppendUint16(b, 0) // VcNumber
	b = binary.LittleEndian.AppendUint32(b, sessionKey)
	b = binary.LittleEndian.AppendUint16(b, 0)    // OEM password length
	b = binary.LittleEndian.AppendUint16(b, 0)    // Unicode password length
	b = binary.LittleEndian.AppendUint32(b, 0)    // reserved
	b = binary.LittleEndian.AppendUint32(b, 0x54) // Unicode, NT SMBs, NT status
	// Bytes: pad to an even offset, then empty account, domain, native OS
	// and native LAN manager (nothing about the scanner is disclosed).
	data := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

// SMB1Session is what the Session Setup AndX response shows.
type SMB1Session struct {
	Status        uint32
	NativeOS      string
	NativeLanMan  string
	PrimaryDomain string
}

// ParseSMB1SessionSetup decodes a Session Setup AndX response.
func ParseSMB1SessionSetup(msg []byte) (*SMB1Session, error) {
	if len(msg) < 35 || !bytes.Equal(msg[:4], smb1Magic) || msg[4] != smb1SessionSetup {
		return nil, errNotSMB1
	}
	s := &SMB1Session{Status: binary.LittleEndian.Uint32(msg[5:])}
	wc := int(msg[32])
	off := 33 + 2*wc
	if wc != 3 || off+2 > len(msg) {
		return s, nil
	}
	bc := int(binary.LittleEndian.Uint16(msg[off:]))
	off += 2
	end := min(len(msg), off+bc)
	unicode := binary.LittleEndian.Uint16(msg[10:])&0x8000 != 0
	if unicode && off%2 == 1 {
		off++ // strings are aligned on an even offset from the header
	}
	if off > end {
		return s, nil
	}
	rest := msg[off:end]
	s.NativeOS, rest = cstring(rest, unicode)
	s.NativeLanMan, rest = cstring(rest, unicode)
	s.PrimaryDomain, _ = cstring(rest, unicode)
	return s, nil
}

// cstring reads a NUL-terminated string (UTF-16LE when unicode), capped at
// 256 characters, and returns the bytes after it.
func cstring(b []byte, unicode bool) (string, []byte) {
	const max = 256
	if !unicode {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			i = len(b)
		}
		s := b[:i]
		if len(s) > max {
			s = s[:max]
		}
		if i < len(b) {
			return string(s), b[i+1:]
		}
		return string(s), nil
	}
	var u []uint16
	i := 0
	for ; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			i += 2
			break
		}
		if len(u) < max {
			u = append(u, c)
		}
	}
	if i > len(b) {
		i = len(b)
	}
	return string(utf16.Decode(u)), b[i:]
}
