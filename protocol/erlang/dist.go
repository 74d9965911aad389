package erlang

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Dist is the Erlang distribution module. It starts a handshake as a hidden
// node and stops after the peer's status and challenge: without the cookie
// it cannot go further, and it never needs to.
type Dist struct{}

// NewDist returns the erlang-dist module.
func NewDist() protocol.Module { return Dist{} }

// Info describes the erlang-dist module.
func (Dist) Info() protocol.Info {
	return protocol.Info{Name: "erlang-dist", Service: "erlang-dist", Ports: []int{25672}, Priority: 30}
}

// Claim is always false: the connecting node speaks first.
func (Dist) Claim([]byte) bool { return false }

// Distribution capability flags we announce (erts erl_dist_protocol docs):
// every flag OTP 25/26 make mandatory, and not DFLAG_PUBLISHED, so that we
// are a hidden node that the peer does not announce to its cluster.
const (
	flagExtendedReferences = 0x4
	flagDistMonitor        = 0x8
	flagFunTags            = 0x10
	flagNewFunTags         = 0x80
	flagExtendedPidsPorts  = 0x100
	flagExportPtrTag       = 0x200
	flagBitBinaries        = 0x400
	flagNewFloats          = 0x800
	flagUTF8Atoms          = 0x10000
	flagMapTag             = 0x20000
	flagBigCreation        = 0x40000
	flagHandshake23        = 0x1000000
	flagUnlinkID           = 0x2000000
	flagSpawn              = 1 << 32
	flagV4NC               = 1 << 34
	flagAlias              = 1 << 35

	ourFlags = flagExtendedReferences | flagDistMonitor | flagFunTags | flagNewFunTags |
		flagExtendedPidsPorts | flagExportPtrTag | flagBitBinaries | flagNewFloats |
		flagUTF8Atoms | flagMapTag | flagBigCreation | flagHandshake23 | flagUnlinkID |
		flagSpawn | flagV4NC | flagAlias
)

// ourName is the node name we introduce ourselves with.
const ourName = "portrait@localhost"

// maxHandshakeMsg bounds one handshake message: a status or a challenge with
// a node name (at most 255 + 1 + host bytes).
const maxHandshakeMsg = 1024

// sendNameN is the OTP 23+ send_name: 'N', 8-byte flags, 4-byte creation,
// 2-byte name length, name.
func sendNameN() []byte {
	b := []byte{'N'}
	b = binary.BigEndian.AppendUint64(b, ourFlags)
	b = binary.BigEndian.AppendUint32(b, 0x706f7274) // creation: any value
	b = binary.BigEndian.AppendUint16(b, uint16(len(ourName)))
	return frame(append(b, ourName...))
}

// sendNameOld is the pre-OTP 23 send_name: 'n', version 5, 4-byte flags,
// name.
func sendNameOld() []byte {
	b := []byte{'n', 0, 5}
	b = binary.BigEndian.AppendUint32(b, uint32(ourFlags&0xffffffff))
	return frame(append(b, ourName...))
}

// Challenge is the peer's send_challenge message.
type Challenge struct {
	Version int // 6 for 'N', 5 for 'n'
	Flags   uint64
	Node    string
}

// ParseStatus parses a recv_status body: 's' and the status text.
func ParseStatus(body []byte) (string, bool) {
	if len(body) < 2 || body[0] != 's' || len(body) > 300 {
		return "", false
	}
	st := string(body[1:])
	if !printable(st) {
		return "", false
	}
	return st, true
}

// ParseChallenge parses a send_challenge body in either form.
func ParseChallenge(body []byte) (Challenge, bool) {
	switch {
	case len(body) >= 19 && body[0] == 'N':
		// 'N', flags(8), challenge(4), creation(4), nlen(2), name
		n := int(binary.BigEndian.Uint16(body[17:]))
		if 19+n > len(body) {
			return Challenge{}, false
		}
		c := Challenge{Version: 6, Flags: binary.BigEndian.Uint64(body[1:]), Node: string(body[19 : 19+n])}
		return c, printable(c.Node)
	case len(body) >= 11 && body[0] == 'n':
		// 'n', version(2), flags(4), challenge(4), name
		c := Challenge{Version: int(binary.BigEndian.Uint16(body[1:])), Flags: uint64(binary.BigEndian.Uint32(body[3:])), Node: string(body[11:])}
		return c, printable(c.Node)
	}
	return Challenge{}, false
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Run tries the OTP 23+ handshake, and the older one on a second connection
// when the peer hung up without a word (OTP 22 and older do not know 'N').
func (Dist) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	if len(banner) > 0 {
		return nil, fmt.Errorf("erlang-dist: server spoke first: %w", protocol.ErrNotThisProtocol)
	}
	res := &protocol.Result{}
	err := handshake(ctx, conn, env, sendNameN(), res)
	if errors.Is(err, errSilentClose) && env.Dial != nil {
		c, derr := env.Dial(ctx)
		if derr == nil {
			defer c.Close()
			err = handshake(ctx, c, env, sendNameOld(), res)
		}
	}
	if err != nil {
		if errors.Is(err, errSilentClose) {
			err = fmt.Errorf("%w: %w", err, protocol.ErrNotThisProtocol)
		}
		return nil, fmt.Errorf("erlang-dist: %w", err)
	}
	res.Service, res.Confidence = "erlang-dist", 95
	return res, nil
}

var errSilentClose = errors.New("peer closed without answering")

func handshake(ctx context.Context, conn net.Conn, env protocol.Env, req []byte, res *protocol.Result) error {
	probe := "erlang-dist-name-v6"
	if req[2] == 'n' {
		probe = "erlang-dist-name-v5"
	}
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	raw, body, err := readMsg(ctx, conn, env, maxHandshakeMsg)
	if err != nil {
		res.Record(probe, req, raw)
		if len(raw) == 0 && !wire.IsTimeout(err) && ctx.Err() == nil {
			return errSilentClose // EOF or reset: the peer hung up on us
		}
		if len(raw) == 0 {
			return err
		}
		return fmt.Errorf("status: %w", errors.Join(err, protocol.ErrNotThisProtocol))
	}
	st, ok := ParseStatus(body)
	if !ok {
		res.Record(probe, req, raw)
		return fmt.Errorf("status %q: %w", wire.Clip(body, 32), protocol.ErrNotThisProtocol)
	}
	res.Set("erlang.dist.status", st)
	if req[2] == 'N' {
		res.Set("erlang.dist.version", "6")
	} else {
		res.Set("erlang.dist.version", "5")
	}
	if st != "ok" && st != "ok_simultaneous" && !strings.HasPrefix(st, "named:") {
		res.Record(probe, req, raw)
		return nil
	}
	craw, cbody, cerr := readMsg(ctx, conn, env, maxHandshakeMsg)
	res.Record(probe, req, append(raw, craw...))
	if cerr != nil {
		return nil // the status alone confirms the protocol
	}
	if c, ok := ParseChallenge(cbody); ok {
		res.Set("erlang.dist.version", strconv.Itoa(c.Version))
		res.Set("erlang.dist.node", c.Node)
		res.Set("erlang.dist.flags", fmt.Sprintf("%016x", c.Flags))
	}
	return nil
}
