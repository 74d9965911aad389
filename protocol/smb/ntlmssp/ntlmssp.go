// Package ntlmssp builds the NTLMSSP NEGOTIATE message and parses the
// server's CHALLENGE ([MS-NLMP] §2.2.1), the exchange that makes SMB, RDP
// (CredSSP), HTTP and other Windows-family servers disclose their NetBIOS
// and DNS names and, on Windows, the OS build, before any credential is
// sent. It also wraps the NEGOTIATE in SPNEGO for SMB.
package ntlmssp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/ldap/ber"
)

// Signature starts every NTLMSSP message.
var Signature = []byte("NTLMSSP\x00")

// Negotiate flags used in the NEGOTIATE message.
const (
	FlagUnicode          = 0x00000001
	FlagOEM              = 0x00000002
	FlagRequestTarget    = 0x00000004
	FlagSign             = 0x00000010
	FlagNTLM             = 0x00000200
	FlagAlwaysSign       = 0x00008000
	FlagExtendedSecurity = 0x00080000
	FlagTargetInfo       = 0x00800000
	FlagVersion          = 0x02000000
	Flag128              = 0x20000000
	FlagKeyExchange      = 0x40000000
	Flag56               = 0x80000000
)

// NegotiateFlags is what a modern client asks for.
const NegotiateFlags = FlagUnicode | FlagOEM | FlagRequestTarget | FlagSign | FlagNTLM |
	FlagAlwaysSign | FlagExtendedSecurity | FlagTargetInfo | FlagVersion | Flag128 | FlagKeyExchange | Flag56

// Negotiate returns a NEGOTIATE message with no domain or workstation and
// an all-zero version (nothing about the scanner is disclosed).
func Negotiate() []byte {
	b := make([]byte, 0, 40)
	b = append(b, Signature...)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, NegotiateFlags)
	b = append(b, make([]byte, 16)...) // DomainNameFields, WorkstationFields
	b = append(b, make([]byte, 8)...)  // Version
	return b
}

// OIDs for SPNEGO.
const (
	OIDSPNEGO = "1.3.6.1.5.5.2"
	OIDNTLM   = "1.3.6.1.4.1.311.2.2.10"
)

// SPNEGONegotiate wraps an NTLMSSP token in a GSS-API InitialContextToken
// carrying a NegTokenInit that offers NTLMSSP only (RFC 4178).
func SPNEGONegotiate(token []byte) []byte {
	mechTypes := ber.TLV(ber.ClassContext|ber.Constructed|0, ber.TLV(ber.TagSequence, ber.EncodeOID(OIDNTLM)))
	mechToken := ber.TLV(ber.ClassContext|ber.Constructed|2, ber.TLV(ber.TagOctetString, token))
	negTokenInit := ber.TLV(ber.ClassContext|ber.Constructed|0, ber.TLV(ber.TagSequence, mechTypes, mechToken))
	return ber.TLV(ber.ClassApplication|ber.Constructed|0, ber.EncodeOID(OIDSPNEGO), negTokenInit)
}

// Challenge is what a CHALLENGE message reveals.
type Challenge struct {
	Flags        uint32
	TargetName   string
	NbComputer   string
	NbDomain     string
	DNSComputer  string
	DNSDomain    string
	DNSTree      string
	Timestamp    time.Time // MsvAvTimestamp, zero when absent
	HasVersion   bool
	Major, Minor int
	Build        int
	Revision     int
}

// OSVersion renders the version structure as "10.0.17763" ("" when absent).
func (c *Challenge) OSVersion() string {
	if !c.HasVersion {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", c.Major, c.Minor, c.Build)
}

// ErrNoChallenge is returned when no CHALLENGE message is found.
var ErrNoChallenge = errors.New("ntlmssp: no CHALLENGE message")

// Find locates an NTLMSSP CHALLENGE inside a larger buffer (an SMB2
// security blob, a SPNEGO token, a CredSSP TSRequest) and parses it.
func Find(b []byte) (*Challenge, error) {
	for off := 0; off < len(b); {
		i := bytes.Index(b[off:], Signature)
		if i < 0 {
			break
		}
		msg := b[off+i:]
		if len(msg) >= 12 && binary.LittleEndian.Uint32(msg[8:]) == 2 {
			return Parse(msg)
		}
		off += i + len(Signature)
	}
	return nil, ErrNoChallenge
}

// maxAVPairs bounds the target info walk.
const maxAVPairs = 64

// Parse decodes a CHALLENGE message starting at b[0]. Offsets inside the
// message are checked against len(b); nothing is allocated from a length
// field beyond the bytes actually present.
func Parse(b []byte) (*Challenge, error) {
	if len(b) < 32 || !bytes.Equal(b[:8], Signature) || binary.LittleEndian.Uint32(b[8:]) != 2 {
		return nil, ErrNoChallenge
	}
	c := &Challenge{Flags: binary.LittleEndian.Uint32(b[20:])}
	unicode := c.Flags&FlagUnicode != 0
	if name, ok := field(b, 12); ok {
		c.TargetName = decode(name, unicode)
	}
	if len(b) >= 48 {
		if info, ok := field(b, 40); ok {
			c.parseAV(info)
		}
	}
	// The version structure follows the fixed fields when negotiated; the
	// payload offsets must leave room for it.
	if c.Flags&FlagVersion != 0 && len(b) >= 56 && payloadStart(b) >= 56 {
		c.HasVersion = true
		c.Major, c.Minor = int(b[48]), int(b[49])
		c.Build = int(binary.LittleEndian.Uint16(b[50:]))
		c.Revision = int(b[55])
	}
	return c, nil
}

// field reads a (len u16, maxlen u16, offset u32) descriptor at off.
func field(b []byte, off int) ([]byte, bool) {
	if off+8 > len(b) {
		return nil, false
	}
	l := int(binary.LittleEndian.Uint16(b[off:]))
	o := int(binary.LittleEndian.Uint32(b[off+4:]))
	if l == 0 || o < 0 || o > len(b) || l > len(b)-o {
		return nil, false
	}
	return b[o : o+l], true
}

// payloadStart is the lowest payload offset in use (where fixed fields end).
func payloadStart(b []byte) int {
	start := len(b)
	for _, off := range []int{12, 40} {
		if off+8 <= len(b) && binary.LittleEndian.Uint16(b[off:]) > 0 {
			if o := int(binary.LittleEndian.Uint32(b[off+4:])); o < start {
				start = o
			}
		}
	}
	return start
}

func (c *Challenge) parseAV(info []byte) {
	for n := 0; len(info) >= 4 && n < maxAVPairs; n++ {
		id := binary.LittleEndian.Uint16(info)
		l := int(binary.LittleEndian.Uint16(info[2:]))
		if id == 0 || 4+l > len(info) {
			return
		}
		v := info[4 : 4+l]
		switch id {
		case 1:
			c.NbComputer = decode(v, true)
		case 2:
			c.NbDomain = decode(v, true)
		case 3:
			c.DNSComputer = decode(v, true)
		case 4:
			c.DNSDomain = decode(v, true)
		case 5:
			c.DNSTree = decode(v, true)
		case 7:
			if l == 8 {
				ft := binary.LittleEndian.Uint64(v)
				// FILETIME: 100 ns since 1601; ignore absurd values.
				const epochDiff = 116444736000000000
				if ft > epochDiff && ft < epochDiff+uint64(400*365*24*3600)*1e7 {
					c.Timestamp = time.Unix(0, int64(ft-epochDiff)*100).UTC()
				}
			}
		}
		info = info[4+l:]
	}
}

// maxName caps any decoded name.
const maxName = 256

func decode(b []byte, unicode bool) string {
	if !unicode {
		if len(b) > maxName {
			b = b[:maxName]
		}
		return string(b)
	}
	if len(b) > 2*maxName {
		b = b[:2*maxName]
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// Fields sets the evidence fields of a challenge under prefix ("smb.ntlm"):
// prefix.target_name, .netbios_domain, .netbios_computer, .dns_domain,
// .dns_computer, .dns_tree, .os_version ("10.0.17763"), .ntlm_revision,
// .timestamp (RFC 3339) and .flags (hex).
func (c *Challenge) Fields(prefix string, res *protocol.Result) {
	res.Set(prefix+".target_name", c.TargetName)
	res.Set(prefix+".netbios_domain", c.NbDomain)
	res.Set(prefix+".netbios_computer", c.NbComputer)
	res.Set(prefix+".dns_domain", c.DNSDomain)
	res.Set(prefix+".dns_computer", c.DNSComputer)
	res.Set(prefix+".dns_tree", c.DNSTree)
	res.Set(prefix+".os_version", c.OSVersion())
	if c.HasVersion {
		res.Set(prefix+".ntlm_revision", strconv.Itoa(c.Revision))
	}
	if !c.Timestamp.IsZero() {
		res.Set(prefix+".timestamp", c.Timestamp.Format(time.RFC3339))
	}
	res.Set(prefix+".flags", fmt.Sprintf("0x%08x", c.Flags))
}

// BuildChallenge encodes c as a CHALLENGE message (Unicode names, version
// structure when c.HasVersion). Scanners never send one: it exists for fake
// servers in tests.
func BuildChallenge(c *Challenge) []byte {
	enc := func(s string) []byte {
		var b []byte
		for _, u := range utf16.Encode([]rune(s)) {
			b = binary.LittleEndian.AppendUint16(b, u)
		}
		return b
	}
	var info []byte
	for _, av := range []struct {
		id  uint16
		val string
	}{{2, c.NbDomain}, {1, c.NbComputer}, {4, c.DNSDomain}, {3, c.DNSComputer}, {5, c.DNSTree}} {
		if av.val == "" {
			continue
		}
		v := enc(av.val)
		info = binary.LittleEndian.AppendUint16(info, av.id)
		info = binary.LittleEndian.AppendUint16(info, uint16(len(v)))
		info = append(info, v...)
	}
	if !c.Timestamp.IsZero() {
		ft := uint64(c.Timestamp.UnixNano()/100) + 116444736000000000
		info = binary.LittleEndian.AppendUint16(info, 7)
		info = binary.LittleEndian.AppendUint16(info, 8)
		info = binary.LittleEndian.AppendUint64(info, ft)
	}
	info = append(info, 0, 0, 0, 0) // MsvAvEOL
	target := enc(c.TargetName)
	flags := c.Flags | FlagUnicode | FlagTargetInfo
	if c.HasVersion {
		flags |= FlagVersion
	} else {
		flags &^= FlagVersion
	}
	const fixed = 56
	b := append([]byte{}, Signature...)
	b = binary.LittleEndian.AppendUint32(b, 2)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(target)))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(target)))
	b = binary.LittleEndian.AppendUint32(b, fixed)
	b = binary.LittleEndian.AppendUint32(b, flags)
	b = append(b, 1, 2, 3, 4, 5, 6, 7, 8) // server challenge
	b = append(b, make([]byte, 8)...)     // reserved
	b = binary.LittleEndian.AppendUint16(b, uint16(len(info)))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(info)))
	b = binary.LittleEndian.AppendUint32(b, uint32(fixed+len(target)))
	if c.HasVersion {
		b = append(b, byte(c.Major), byte(c.Minor))
		b = binary.LittleEndian.AppendUint16(b, uint16(c.Build))
		b = append(b, 0, 0, 0, byte(c.Revision))
	} else {
		b = append(b, make([]byte, 8)...)
	}
	b = append(b, target...)
	return append(b, info...)
}
