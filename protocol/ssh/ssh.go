// Package ssh identifies SSH servers from their identification string and
// their SSH_MSG_KEXINIT: the algorithm lists and their order tell
// implementations apart even when the software name is hidden or forged.
//
// Dialogue: read the identification (and any text lines before it, which RFC
// 4253 allows), send our own identification, read the server's KEXINIT, hang
// up. No key exchange is performed.
//
// Fields (all strings; lists keep the server's order, comma separated):
//
//	ssh.banner                 identification line without CR LF ("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10")
//	ssh.proto                  protocol version ("2.0", "1.99", "1.5")
//	ssh.software               software version ("OpenSSH_9.2p1")
//	ssh.comment                comment after the software version ("Debian-2+deb12u10")
//	ssh.prebanner              text lines sent before the identification, joined by "\n"
//	ssh.kex.algorithms         key exchange algorithms
//	ssh.kex.first_follows      "true" when the server guesses and sends its first KEX packet
//	ssh.hostkey.algorithms     server host key algorithms
//	ssh.hostkey.type           first host key algorithm offered
//	ssh.ciphers                ciphers client to server
//	ssh.ciphers.s2c            ciphers server to client, only when they differ
//	ssh.macs                   MACs client to server
//	ssh.macs.s2c               MACs server to client, only when they differ
//	ssh.compression            compression client to server
//	ssh.compression.s2c        compression server to client, only when it differs
//	ssh.languages              languages (client to server), when any
//	ssh.hassh_server           HASSH server fingerprint: MD5 (hex) of ssh.hassh_server.string
//	ssh.hassh_server.string    "kex;ciphers s2c;macs s2c;compression s2c"
//	ssh.reply                  text the server sent instead of a KEXINIT ("Protocol mismatch.")
//	ssh.disconnect             reason text of an SSH_MSG_DISCONNECT sent instead of a KEXINIT
package ssh

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// clientIdent is what we announce. A plain 2.0 identification without a
// well-known software name, so servers answer with their default KEXINIT.
const clientIdent = "SSH-2.0-portrait\r\n"

type module struct{}

// New returns the SSH module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{
		Name:        "ssh",
		Service:     "ssh",
		Ports:       []int{22, 2222, 22222, 50022, 830},
		ServerFirst: true,
		Priority:    90,
	}
}

// Claim accepts a banner whose first line is an SSH identification, or text
// lines followed by one.
func (module) Claim(banner []byte) bool {
	_, _, st := ScanIdent(banner)
	if st == identFound {
		return true
	}
	return st == identNeedMore && len(banner) >= 4 && strings.HasPrefix(string(banner), "SSH-")
}

func (module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	max := env.MaxRead
	if max <= 0 {
		max = wire.DefaultMax
	}
	// 1. The identification, completing what the engine already read.
	buf := append([]byte(nil), banner...)
	var id Ident
	var rest []byte
	for {
		var st identState
		id, rest, st = ScanIdent(buf)
		if st == identFound {
			break
		}
		if st == identInvalid {
			return nil, fmt.Errorf("ssh: %w", protocol.ErrNotThisProtocol)
		}
		more, err := readMore(ctx, conn, env, len(buf), max, func(b []byte) bool {
			_, _, s := ScanIdent(append(buf[:len(buf):len(buf)], b...))
			return s != identNeedMore
		})
		buf = append(buf, more...)
		if err != nil && len(more) == 0 {
			return nil, fmt.Errorf("ssh: no identification: %w: %w", protocol.ErrNotThisProtocol, err)
		}
	}
	res := &protocol.Result{Service: "ssh", Confidence: 85}
	res.Record("NULL", nil, buf[:len(buf)-len(rest)])
	setIdent(res, id)

	// An SSH-1-only server cannot send a KEXINIT; the identification is all.
	if !strings.HasPrefix(id.Proto, "2.") && id.Proto != "1.99" {
		return res, nil
	}
	// 2. Our identification, then the server's KEXINIT (some servers send it
	// without waiting: it may already be in rest).
	if err := wire.Write(ctx, conn, env.Timeout, []byte(clientIdent)); err != nil {
		return res, nil
	}
	pkt := append([]byte(nil), rest...)
	for skipped := 0; skipped < 4; skipped++ {
		payload, after, err := nextPacket(ctx, conn, env, &pkt, max)
		if err != nil {
			if looksText(pkt) {
				line, _, _ := strings.Cut(string(pkt), "\n")
				res.Set("ssh.reply", strings.TrimSpace(line))
			}
			res.Record("ssh-kexinit", []byte(clientIdent), pkt)
			return res, nil
		}
		switch payload[0] {
		case msgIgnore, msgDebug:
			pkt = after
			continue
		case msgDisconnect:
			res.Set("ssh.disconnect", disconnectReason(payload))
			res.Record("ssh-kexinit", []byte(clientIdent), pkt[:len(pkt)-len(after)])
			return res, nil
		}
		res.Record("ssh-kexinit", []byte(clientIdent), pkt[:len(pkt)-len(after)])
		k, err := ParseKexInit(payload)
		if err != nil {
			return res, nil
		}
		setKex(res, k)
		res.Confidence = 95
		return res, nil
	}
	return res, nil
}

// nextPacket reads until *pkt holds a whole binary packet and returns its
// payload (never empty) and the bytes after it.
func nextPacket(ctx context.Context, conn net.Conn, env protocol.Env, pkt *[]byte, max int) ([]byte, []byte, error) {
	for {
		// Four printable bytes can never be a valid packet length (they
		// exceed maxPacket): the server answered with a text line.
		if looksText(*pkt) {
			if !strings.Contains(string(*pkt), "\n") {
				more, _ := readMore(ctx, conn, env, len(*pkt), min(max, len(*pkt)+maxIdentLine), func(b []byte) bool {
					return strings.Contains(string(b), "\n")
				})
				*pkt = append(*pkt, more...)
			}
			return nil, nil, fmt.Errorf("text instead of packet")
		}
		payload, after, need, err := Packet(*pkt)
		if err != nil {
			return nil, nil, err
		}
		if need == 0 {
			if len(payload) == 0 {
				return nil, nil, fmt.Errorf("empty packet")
			}
			return payload, after, nil
		}
		want := len(*pkt) + need
		if want > max {
			return nil, nil, fmt.Errorf("packet larger than read limit")
		}
		base := len(*pkt)
		more, err := readMore(ctx, conn, env, base, want, func(b []byte) bool { return base+len(b) >= want })
		*pkt = append(*pkt, more...)
		if err != nil && len(*pkt) < want {
			return nil, nil, fmt.Errorf("reading packet: %w", err)
		}
	}
}

// readMore reads at most max-have more bytes, until done.
func readMore(ctx context.Context, conn net.Conn, env protocol.Env, have, max int, done func([]byte) bool) ([]byte, error) {
	if have >= max {
		return nil, fmt.Errorf("read limit of %d bytes reached", max)
	}
	return wire.ReadUntil(ctx, conn, env.Timeout, max-have, done)
}

func setIdent(res *protocol.Result, id Ident) {
	res.Set("ssh.banner", id.Line)
	res.Set("ssh.proto", id.Proto)
	res.Set("ssh.software", id.Software)
	res.Set("ssh.comment", id.Comment)
	res.Set("ssh.prebanner", strings.Join(id.Pre, "\n"))
}

func setKex(res *protocol.Result, k *KexInit) {
	j := func(l []string) string { return strings.Join(l, ",") }
	res.Set("ssh.kex.algorithms", j(k.Kex))
	res.Set("ssh.hostkey.algorithms", j(k.HostKey))
	if len(k.HostKey) > 0 {
		res.Set("ssh.hostkey.type", k.HostKey[0])
	}
	res.Set("ssh.ciphers", j(k.CiphersC2S))
	res.Set("ssh.macs", j(k.MACsC2S))
	res.Set("ssh.compression", j(k.CompC2S))
	if j(k.CiphersS2C) != j(k.CiphersC2S) {
		res.Set("ssh.ciphers.s2c", j(k.CiphersS2C))
	}
	if j(k.MACsS2C) != j(k.MACsC2S) {
		res.Set("ssh.macs.s2c", j(k.MACsS2C))
	}
	if j(k.CompS2C) != j(k.CompC2S) {
		res.Set("ssh.compression.s2c", j(k.CompS2C))
	}
	res.Set("ssh.languages", j(k.LangC2S))
	if k.FirstFollows {
		res.Set("ssh.kex.first_follows", "true")
	}
	s, sum := k.HASSHServer()
	res.Set("ssh.hassh_server.string", s)
	res.Set("ssh.hassh_server", sum)
}

// disconnectReason extracts the description of SSH_MSG_DISCONNECT
// (uint32 reason code, string description, string language).
func disconnectReason(p []byte) string {
	if len(p) < 9 {
		return ""
	}
	n := binary.BigEndian.Uint32(p[5:9])
	if int64(n) > int64(len(p)-9) {
		n = uint32(len(p) - 9)
	}
	return strings.TrimSpace(string(p[9 : 9+n]))
}
