package smb

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// NetBIOS Session Service packet types (RFC 1002 §4.3).
const (
	nbssMessage  = 0x00
	nbssRequest  = 0x81
	nbssPositive = 0x82
	nbssNegative = 0x83
	nbssRetarget = 0x84
	nbssKeep     = 0x85
)

// maxFrame caps one SMB message: negotiate and session setup answers are a
// few hundred bytes; 64 KiB leaves room for any security blob.
const maxFrame = 64 << 10

// encodeName renders a NetBIOS name in the first-level encoding (RFC 1001
// §14.1): padded to 15 characters, suffix byte, each nibble + 'A'.
func encodeName(name string, suffix byte) []byte {
	raw := []byte(name)
	if len(raw) > 15 {
		raw = raw[:15]
	}
	raw = append(raw, bytes.Repeat([]byte{' '}, 15-len(raw))...)
	raw = append(raw, suffix)
	out := []byte{32}
	for _, c := range raw {
		out = append(out, 'A'+c>>4, 'A'+c&0x0F)
	}
	return append(out, 0)
}

// SessionRequest is the NBSS session request for called name *SMBSERVER
// (which Windows and Samba accept whatever their NetBIOS name).
func SessionRequest() []byte {
	body := append(encodeName("*SMBSERVER", 0x20), encodeName("PORTRAIT", 0x00)...)
	return append([]byte{nbssRequest, 0, byte(len(body) >> 8), byte(len(body))}, body...)
}

// frame wraps an SMB message in the 4-byte session message header used both
// by NBSS (139) and direct TCP (445).
func frame(msg []byte) []byte {
	h := make([]byte, 4, 4+len(msg))
	binary.BigEndian.PutUint32(h, uint32(len(msg))&0x00FFFFFF)
	return append(h, msg...)
}

// frameDone reports whether b holds one whole session packet (or cannot be
// one: a first byte that is no NBSS type ends the wait at once).
func frameDone(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	switch b[0] {
	case nbssMessage, nbssPositive, nbssNegative, nbssRetarget, nbssKeep:
	default:
		return true
	}
	if len(b) < 4 {
		return false
	}
	n := int(b[1]&1)<<16 | int(b[2])<<8 | int(b[3])
	return len(b) >= 4+n
}

var errFrame = errors.New("smb: not a session service packet")

// unframe returns the payload of a session message (type 0).
func unframe(b []byte) ([]byte, error) {
	if len(b) < 4 || b[0] != nbssMessage {
		return nil, errFrame
	}
	n := int(b[1]&1)<<16 | int(b[2])<<8 | int(b[3])
	if len(b) < 4+n {
		return nil, errFrame
	}
	return b[4 : 4+n], nil
}
