package rdp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/ldap/ber"
)

// perLength encodes an ASN.1 PER length as GCC uses it.
func perLength(n int) []byte {
	if n < 0x80 {
		return []byte{byte(n)}
	}
	return []byte{0x80 | byte(n>>8), byte(n)}
}

func domainParameters(v ...int64) []byte {
	var b []byte
	for _, x := range v {
		b = append(b, ber.EncodeInt(ber.TagInteger, x)...)
	}
	return ber.TLV(ber.TagSequence, b)
}

// clientData builds the client core, security and network data blocks
// ([MS-RDPBCGR] §2.2.1.3) of a plain 1024x768 client that supports every
// standard encryption method and asks for no static channel.
func clientData(selected uint32) []byte {
	core := binary.LittleEndian.AppendUint32(nil, 0x00080004) // RDP 5.0+ client
	core = binary.LittleEndian.AppendUint16(core, 1024)
	core = binary.LittleEndian.AppendUint16(core, 768)
	core = binary.LittleEndian.AppendUint16(core, 0xCA01) // RNS_UD_COLOR_8BPP
	core = binary.LittleEndian.AppendUint16(core, 0xAA03) // RNS_UD_SAS_DEL
	core = binary.LittleEndian.AppendUint32(core, 0x409)  // keyboard layout en-US
	core = binary.LittleEndian.AppendUint32(core, 2600)   // client build
	name := make([]byte, 32)
	for i, u := range utf16.Encode([]rune("PORTRAIT")) {
		binary.LittleEndian.PutUint16(name[2*i:], u)
	}
	core = append(core, name...)
	core = binary.LittleEndian.AppendUint32(core, 4)  // IBM enhanced keyboard
	core = binary.LittleEndian.AppendUint32(core, 0)  // subtype
	core = binary.LittleEndian.AppendUint32(core, 12) // function keys
	core = append(core, make([]byte, 64)...)          // imeFileName
	core = binary.LittleEndian.AppendUint16(core, 0xCA01)
	core = binary.LittleEndian.AppendUint16(core, 1) // clientProductId
	core = binary.LittleEndian.AppendUint32(core, 0) // serialNumber
	core = binary.LittleEndian.AppendUint16(core, 24)
	core = binary.LittleEndian.AppendUint16(core, 0x0007) // 24/16/15 bpp
	core = binary.LittleEndian.AppendUint16(core, 0x0001) // RNS_UD_CS_SUPPORT_ERRINFO_PDU
	core = append(core, make([]byte, 64)...)              // clientDigProductId
	core = append(core, 0, 0)                             // connectionType, pad
	core = binary.LittleEndian.AppendUint32(core, selected)

	var b []byte
	b = binary.LittleEndian.AppendUint16(b, 0xC001)
	b = binary.LittleEndian.AppendUint16(b, uint16(4+len(core)))
	b = append(b, core...)
	b = binary.LittleEndian.AppendUint16(b, 0xC002)
	b = binary.LittleEndian.AppendUint16(b, 12)
	b = binary.LittleEndian.AppendUint32(b, 0x1B) // 40, 128, 56 bit and FIPS
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint16(b, 0xC003)
	b = binary.LittleEndian.AppendUint16(b, 8)
	b = binary.LittleEndian.AppendUint32(b, 0) // no channels
	return b
}

// MCSConnectInitial encodes the MCS Connect Initial PDU carrying a GCC
// Conference Create Request, inside X.224 Data and TPKT. selected must echo
// the protocol the server chose.
func MCSConnectInitial(selected uint32) []byte {
	blocks := clientData(selected)
	// ConnectGCCPDU: conferenceCreateRequest, conference name "1", "Duca" key.
	connectPDU := append([]byte{0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xC0, 0x00, 'D', 'u', 'c', 'a'}, perLength(len(blocks))...)
	connectPDU = append(connectPDU, blocks...)
	// ConnectData: T.124 object identifier key, then the PDU.
	userData := append([]byte{0x00, 0x05, 0x00, 0x14, 0x7C, 0x00, 0x01}, perLength(len(connectPDU))...)
	userData = append(userData, connectPDU...)
	body := bytes.Join([][]byte{
		ber.EncodeString(ber.TagOctetString, "\x01"), // callingDomainSelector
		ber.EncodeString(ber.TagOctetString, "\x01"), // calledDomainSelector
		{ber.TagBoolean, 1, 0xFF},                    // upwardFlag
		domainParameters(34, 2, 0, 1, 0, 1, 65535, 2),
		domainParameters(1, 1, 1, 1, 0, 1, 1056, 2),
		domainParameters(65535, 64535, 65535, 1, 0, 1, 65535, 2),
		ber.TLV(ber.TagOctetString, userData),
	}, nil)
	// Connect-Initial is [APPLICATION 101], a high tag number: 7F 65.
	mcs := append([]byte{0x7F, 0x65}, ber.AppendLength(nil, len(body))...)
	mcs = append(mcs, body...)
	return tpkt(append([]byte{0x02, 0xF0, 0x80}, mcs...))
}

// ServerData is what the GCC Conference Create Response discloses.
type ServerData struct {
	Blocks         []uint16
	HasCore        bool
	CoreVersion    uint32
	RequestedEcho  int64 // -1 when absent
	EarlyCaps      int64 // -1 when absent
	HasSecurity    bool
	EncMethod      uint32
	EncLevel       uint32
	CertType       string
	KeyBits        int
	HasNet         bool
	MCSChannelID   int
	StaticChannels int
}

// ErrNoServerData is returned when no GCC server data is found.
var ErrNoServerData = errors.New("rdp: no GCC server data")

// ParseMCSConnectResponse finds the server data blocks in an MCS Connect
// Response and decodes the ones the module reports.
func ParseMCSConnectResponse(b []byte) (*ServerData, error) {
	i := bytes.Index(b, []byte("McDn"))
	if i < 0 || i+5 > len(b) {
		return nil, ErrNoServerData
	}
	p := b[i+4:]
	l := int(p[0])
	if l&0x80 != 0 {
		if len(p) < 2 {
			return nil, ErrNoServerData
		}
		l = (l&0x3F)<<8 | int(p[1])
		p = p[2:]
	} else {
		p = p[1:]
	}
	if l < len(p) {
		p = p[:l]
	}
	sd := &ServerData{RequestedEcho: -1, EarlyCaps: -1}
	for n := 0; len(p) >= 4 && n < 16; n++ {
		typ := binary.LittleEndian.Uint16(p)
		bl := int(binary.LittleEndian.Uint16(p[2:]))
		if bl < 4 || bl > len(p) {
			break
		}
		blk := p[:bl]
		sd.Blocks = append(sd.Blocks, typ)
		switch typ {
		case 0x0C01:
			if bl >= 8 {
				sd.HasCore = true
				sd.CoreVersion = binary.LittleEndian.Uint32(blk[4:])
			}
			if bl >= 12 {
				sd.RequestedEcho = int64(binary.LittleEndian.Uint32(blk[8:]))
			}
			if bl >= 16 {
				sd.EarlyCaps = int64(binary.LittleEndian.Uint32(blk[12:]))
			}
		case 0x0C02:
			if bl >= 12 {
				sd.HasSecurity = true
				sd.EncMethod = binary.LittleEndian.Uint32(blk[4:])
				sd.EncLevel = binary.LittleEndian.Uint32(blk[8:])
			}
			if bl >= 20 {
				rl := int(binary.LittleEndian.Uint32(blk[12:]))
				cl := int(binary.LittleEndian.Uint32(blk[16:]))
				if rl >= 0 && cl >= 0 && rl <= bl && cl <= bl && 20+rl+cl <= bl {
					sd.parseCert(blk[20+rl : 20+rl+cl])
				}
			}
		case 0x0C03:
			if bl >= 8 {
				sd.HasNet = true
				sd.MCSChannelID = int(binary.LittleEndian.Uint16(blk[4:]))
				sd.StaticChannels = int(binary.LittleEndian.Uint16(blk[6:]))
			}
		}
		p = p[bl:]
	}
	if len(sd.Blocks) == 0 {
		return nil, ErrNoServerData
	}
	return sd, nil
}

func (sd *ServerData) parseCert(c []byte) {
	if len(c) < 4 {
		return
	}
	switch binary.LittleEndian.Uint32(c) & 0x7FFFFFFF {
	case 1:
		sd.CertType = "proprietary"
		// dwSigAlgId, dwKeyAlgId, wPublicKeyBlobType, wPublicKeyBlobLen, then
		// RSA_PUBLIC_KEY: "RSA1", keylen, bitlen...
		if len(c) >= 28 && string(c[16:20]) == "RSA1" {
			sd.KeyBits = int(binary.LittleEndian.Uint32(c[24:]))
		}
	case 2:
		sd.CertType = "x509"
	default:
		sd.CertType = fmt.Sprintf("%d", binary.LittleEndian.Uint32(c))
	}
}

// Fields sets the evidence fields of the server data.
func (sd *ServerData) Fields(res *protocol.Result) {
	var blocks []string
	for _, t := range sd.Blocks {
		blocks = append(blocks, fmt.Sprintf("%04x", t))
	}
	res.Set("rdp.gcc_blocks", strings.Join(blocks, ","))
	if sd.HasCore {
		res.Set("rdp.core_version", fmt.Sprintf("0x%08x", sd.CoreVersion))
	}
	if sd.RequestedEcho >= 0 {
		res.Set("rdp.requested_protocols_echo", fmt.Sprintf("0x%08x", sd.RequestedEcho))
	}
	if sd.EarlyCaps >= 0 {
		res.Set("rdp.early_capability_flags", fmt.Sprintf("0x%08x", sd.EarlyCaps))
	}
	if sd.HasSecurity {
		res.Set("rdp.encryption_method", fmt.Sprintf("0x%08x", sd.EncMethod))
		res.Set("rdp.encryption_level", strconv.FormatUint(uint64(sd.EncLevel), 10))
	}
	res.Set("rdp.server_cert", sd.CertType)
	if sd.KeyBits > 0 {
		res.Set("rdp.server_key_bits", strconv.Itoa(sd.KeyBits))
	}
	if sd.HasNet {
		res.Set("rdp.mcs_channel_id", strconv.Itoa(sd.MCSChannelID))
	}
}
