package smb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/protocol/ldap/ber"
)

// SMB2 commands and status codes used here ([MS-SMB2] §2.2).
const (
	cmdNegotiate    = 0
	cmdSessionSetup = 1

	statusMoreProcessing = 0xC0000016
)

var smb2Magic = []byte{0xFE, 'S', 'M', 'B'}

// dialects offered, oldest first.
var dialects = []uint16{0x0202, 0x0210, 0x0300, 0x0302, 0x0311}

// clientGUID is fixed: it only lets the server tell connections apart.
var clientGUID = []byte("portrait-scanner")

func smb2Header(cmd uint16, msgID uint64) []byte {
	h := make([]byte, 64)
	copy(h, smb2Magic)
	binary.LittleEndian.PutUint16(h[4:], 64) // StructureSize
	binary.LittleEndian.PutUint16(h[12:], cmd)
	binary.LittleEndian.PutUint16(h[14:], 31) // CreditRequest
	binary.LittleEndian.PutUint64(h[24:], msgID)
	binary.LittleEndian.PutUint32(h[32:], 0xFEFF) // ProcessId (reserved)
	return h
}

func pad8(b []byte) []byte {
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func negContext(typ uint16, data []byte) []byte {
	c := binary.LittleEndian.AppendUint16(nil, typ)
	c = binary.LittleEndian.AppendUint16(c, uint16(len(data)))
	c = append(c, 0, 0, 0, 0)
	return append(c, data...)
}

// NegotiateRequest builds the SMB2 NEGOTIATE with every dialect from 2.0.2
// to 3.1.1 and the 3.1.1 negotiate contexts (preauth integrity, encryption,
// signing) a current client sends.
func NegotiateRequest() []byte {
	b := smb2Header(cmdNegotiate, 0)
	body := binary.LittleEndian.AppendUint16(nil, 36)
	body = binary.LittleEndian.AppendUint16(body, uint16(len(dialects)))
	body = binary.LittleEndian.AppendUint16(body, 1) // signing enabled
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint32(body, 0x7F) // capabilities
	body = append(body, clientGUID...)
	ctxOffField := len(body)
	body = append(body, 0, 0, 0, 0) // NegotiateContextOffset, set below
	body = binary.LittleEndian.AppendUint16(body, 3)
	body = binary.LittleEndian.AppendUint16(body, 0)
	for _, d := range dialects {
		body = binary.LittleEndian.AppendUint16(body, d)
	}
	msg := pad8(append(b, body...))
	binary.LittleEndian.PutUint32(msg[64+ctxOffField:], uint32(len(msg)))

	preauth := []byte{1, 0, 32, 0, 1, 0} // one hash (SHA-512), 32-byte salt
	preauth = append(preauth, []byte("portrait-scanner-salt-0123456789")...)
	enc := []byte{4, 0, 2, 0, 1, 0, 4, 0, 3, 0} // AES-128-GCM, AES-128-CCM, AES-256-GCM, AES-256-CCM
	sign := []byte{3, 0, 2, 0, 1, 0, 0, 0}      // AES-GMAC, AES-CMAC, HMAC-SHA256
	msg = append(msg, negContext(1, preauth)...)
	msg = pad8(msg)
	msg = append(msg, negContext(2, enc)...)
	msg = pad8(msg)
	msg = append(msg, negContext(8, sign)...)
	return msg
}

// SessionSetupRequest builds an SMB2 SESSION_SETUP carrying token.
func SessionSetupRequest(token []byte) []byte {
	b := smb2Header(cmdSessionSetup, 1)
	body := binary.LittleEndian.AppendUint16(nil, 25)
	body = append(body, 0, 1)                            // Flags, SecurityMode: signing enabled
	body = binary.LittleEndian.AppendUint32(body, 1)     // Capabilities: DFS
	body = binary.LittleEndian.AppendUint32(body, 0)     // Channel
	body = binary.LittleEndian.AppendUint16(body, 64+24) // SecurityBufferOffset
	body = binary.LittleEndian.AppendUint16(body, uint16(len(token)))
	body = binary.LittleEndian.AppendUint64(body, 0) // PreviousSessionId
	return append(append(b, body...), token...)
}

// Header is the part of an SMB2 header the module reads.
type Header struct {
	Status  uint32
	Command uint16
}

var errNotSMB2 = errors.New("smb: not an SMB2 message")

func parseHeader(msg []byte) (Header, error) {
	if len(msg) < 64 || !bytes.Equal(msg[:4], smb2Magic) {
		return Header{}, errNotSMB2
	}
	return Header{Status: binary.LittleEndian.Uint32(msg[8:]), Command: binary.LittleEndian.Uint16(msg[12:])}, nil
}

// Negotiate is what the NEGOTIATE response reveals.
type Negotiate struct {
	Status       uint32
	SecurityMode uint16
	Dialect      uint16
	ServerGUID   [16]byte
	Capabilities uint32
	MaxTransact  uint32
	MaxRead      uint32
	MaxWrite     uint32
	SystemTime   time.Time
	BootTime     time.Time
	SecurityBlob []byte
	ContextTypes []uint16
	Cipher       uint16 // first cipher of the encryption context, 0 if none
	SigningAlgo  int    // -1 if no signing context
	Compression  []uint16
}

// ParseNegotiate decodes an SMB2 NEGOTIATE response (without framing).
func ParseNegotiate(msg []byte) (*Negotiate, error) {
	h, err := parseHeader(msg)
	if err != nil {
		return nil, err
	}
	if h.Command != cmdNegotiate {
		return nil, fmt.Errorf("smb: command %d in negotiate answer", h.Command)
	}
	n := &Negotiate{Status: h.Status, SigningAlgo: -1}
	if h.Status != 0 {
		return n, nil
	}
	b := msg[64:]
	if len(b) < 64 || binary.LittleEndian.Uint16(b) != 65 {
		return n, fmt.Errorf("smb: short negotiate response")
	}
	n.SecurityMode = binary.LittleEndian.Uint16(b[2:])
	n.Dialect = binary.LittleEndian.Uint16(b[4:])
	ctxCount := int(binary.LittleEndian.Uint16(b[6:]))
	copy(n.ServerGUID[:], b[8:24])
	n.Capabilities = binary.LittleEndian.Uint32(b[24:])
	n.MaxTransact = binary.LittleEndian.Uint32(b[28:])
	n.MaxRead = binary.LittleEndian.Uint32(b[32:])
	n.MaxWrite = binary.LittleEndian.Uint32(b[36:])
	n.SystemTime = filetime(binary.LittleEndian.Uint64(b[40:]))
	n.BootTime = filetime(binary.LittleEndian.Uint64(b[48:]))
	off := int(binary.LittleEndian.Uint16(b[56:]))
	l := int(binary.LittleEndian.Uint16(b[58:]))
	if off >= 64 && off+l <= len(msg) {
		n.SecurityBlob = msg[off : off+l]
	}
	if n.Dialect == 0x0311 && ctxCount > 0 {
		n.parseContexts(msg, int(binary.LittleEndian.Uint32(b[60:])), ctxCount)
	}
	return n, nil
}

func (n *Negotiate) parseContexts(msg []byte, off, count int) {
	for i := 0; i < count && i < 16; i++ {
		if off < 64 || off+8 > len(msg) {
			return
		}
		typ := binary.LittleEndian.Uint16(msg[off:])
		l := int(binary.LittleEndian.Uint16(msg[off+2:]))
		if off+8+l > len(msg) {
			return
		}
		data := msg[off+8 : off+8+l]
		n.ContextTypes = append(n.ContextTypes, typ)
		switch typ {
		case 2:
			if len(data) >= 4 && binary.LittleEndian.Uint16(data) > 0 {
				n.Cipher = binary.LittleEndian.Uint16(data[2:])
			}
		case 3:
			if len(data) >= 8 {
				cnt := int(binary.LittleEndian.Uint16(data))
				for j := 0; j < cnt && j < 8 && 8+2*j+2 <= len(data); j++ {
					n.Compression = append(n.Compression, binary.LittleEndian.Uint16(data[8+2*j:]))
				}
			}
		case 8:
			if len(data) >= 4 && binary.LittleEndian.Uint16(data) > 0 {
				n.SigningAlgo = int(binary.LittleEndian.Uint16(data[2:]))
			}
		}
		off = (off + 8 + l + 7) &^ 7
	}
}

// filetime converts a FILETIME; zero or implausible values give a zero time.
func filetime(ft uint64) time.Time {
	const epochDiff = 116444736000000000
	if ft <= epochDiff || ft > epochDiff+uint64(400*365*24*3600)*1e7 {
		return time.Time{}
	}
	return time.Unix(0, int64(ft-epochDiff)*100).UTC()
}

// DialectName renders a dialect revision ("3.1.1", "2.0.2", "2.???").
func DialectName(d uint16) string {
	switch d {
	case 0x0202:
		return "2.0.2"
	case 0x0210:
		return "2.1"
	case 0x0300:
		return "3.0"
	case 0x0302:
		return "3.0.2"
	case 0x0311:
		return "3.1.1"
	case 0x02FF:
		return "2.???"
	}
	return fmt.Sprintf("0x%04x", d)
}

// CapabilityNames renders SMB2 capability bits.
func CapabilityNames(c uint32) string {
	names := []string{"dfs", "leasing", "large_mtu", "multi_channel", "persistent_handles", "directory_leasing", "encryption", "notifications"}
	var out []string
	for i, n := range names {
		if c&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// CipherName names an SMB 3.1.1 cipher id.
func CipherName(c uint16) string {
	switch c {
	case 1:
		return "AES-128-CCM"
	case 2:
		return "AES-128-GCM"
	case 3:
		return "AES-256-CCM"
	case 4:
		return "AES-256-GCM"
	}
	return fmt.Sprintf("%d", c)
}

// SigningName names an SMB 3.1.1 signing algorithm id.
func SigningName(a int) string {
	switch a {
	case 0:
		return "HMAC-SHA256"
	case 1:
		return "AES-CMAC"
	case 2:
		return "AES-GMAC"
	}
	return fmt.Sprintf("%d", a)
}

// SPNEGOInit is what the NEGOTIATE security blob (a NegTokenInit2) shows.
type SPNEGOInit struct {
	Mechs []string
	Hint  string
}

// ParseSPNEGOInit walks a GSS-API InitialContextToken holding a
// NegTokenInit: mechTypes [0] and negHints [3] ({hintName [0]}).
func ParseSPNEGOInit(b []byte) (*SPNEGOInit, error) {
	app, _, err := ber.Parse(b)
	if err != nil || app.Ident != 0x60 {
		return nil, fmt.Errorf("smb: not a GSS-API token: %v", err)
	}
	parts, _ := ber.Children(app.Content, 4)
	out := &SPNEGOInit{}
	for _, p := range parts {
		if p.Class != ber.ClassContext || p.Tag != 0 {
			continue
		}
		seq, _, err := ber.Parse(p.Content)
		if err != nil || seq.Ident != ber.TagSequence {
			continue
		}
		fields, _ := ber.Children(seq.Content, 8)
		for _, f := range fields {
			inner, _, err := ber.Parse(f.Content)
			if err != nil {
				continue
			}
			switch f.Tag {
			case 0:
				oids, _ := ber.Children(inner.Content, 16)
				for _, o := range oids {
					if s, err := ber.OID(o.Content); err == nil && o.Ident == ber.TagOID {
						out.Mechs = append(out.Mechs, s)
					}
				}
			case 3:
				hints, _ := ber.Children(inner.Content, 4)
				for _, h := range hints {
					if h.Tag == 0 {
						if s, _, err := ber.Parse(h.Content); err == nil && len(s.Content) <= 256 {
							out.Hint = string(s.Content)
						}
					}
				}
			}
		}
	}
	return out, nil
}
