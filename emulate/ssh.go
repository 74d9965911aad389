package emulate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// SSH. What fingerprinting sees of an SSH server is its identification
// line, its SSH_MSG_KEXINIT (algorithm lists in its order) and how it
// reacts to a client that is not SSH, speaks SSH-1 or sends a KEXINIT it
// cannot agree with. The emulator sends the recorded identification and
// KEXINIT (with a fresh random cookie), answers the bad identifications
// as recorded, and after the client's KEXINIT ends the exchange the way
// the original ended one it could not agree with; it never completes a
// key exchange.
//
// Classes: state "ident" (before the client's identification): EMPTY,
// BAD-IDENT (a text line that is not SSH-), BINARY, SSH1 (SSH-1.x),
// BAD-VERSION (SSH-3.0...). State "kex" (after it): KEXINIT nomatch or
// match, GARBAGE (not a binary packet).

const (
	msgKexInit = 20
	// maxPacket is RFC 4253's minimum maximum packet size, ample for a KEXINIT.
	maxPacket = 35000
)

// marshalKexInit builds a KEXINIT payload with a random cookie.
func (k *KexInit) marshal() []byte {
	var b bytes.Buffer
	b.WriteByte(msgKexInit)
	cookie := make([]byte, 16)
	_, _ = rand.Read(cookie)
	b.Write(cookie)
	for _, l := range [][]string{k.Kex, k.HostKey, k.CiphersC2S, k.CiphersS2C, k.MACsC2S, k.MACsS2C,
		k.CompressionC2S, k.CompressionS2C, k.LanguagesC2S, k.LanguagesS2C} {
		s := strings.Join(l, ",")
		_ = binary.Write(&b, binary.BigEndian, uint32(len(s)))
		b.WriteString(s)
	}
	if k.FirstKexFollows {
		b.WriteByte(1)
	} else {
		b.WriteByte(0)
	}
	_ = binary.Write(&b, binary.BigEndian, k.Reserved)
	return b.Bytes()
}

// parseKexInit reads a KEXINIT payload (message number first).
func parseKexInit(p []byte) (*KexInit, error) {
	if len(p) < 17 || p[0] != msgKexInit {
		return nil, errors.New("not a KEXINIT")
	}
	p = p[17:]
	var lists [10][]string
	for i := range lists {
		if len(p) < 4 {
			return nil, errors.New("truncated KEXINIT")
		}
		n := binary.BigEndian.Uint32(p)
		p = p[4:]
		if uint64(n) > uint64(len(p)) {
			return nil, errors.New("name-list longer than the packet")
		}
		if n > 0 {
			lists[i] = strings.Split(string(p[:n]), ",")
		}
		p = p[n:]
	}
	k := &KexInit{Kex: lists[0], HostKey: lists[1], CiphersC2S: lists[2], CiphersS2C: lists[3], MACsC2S: lists[4],
		MACsS2C: lists[5], CompressionC2S: lists[6], CompressionS2C: lists[7], LanguagesC2S: lists[8], LanguagesS2C: lists[9]}
	if len(p) >= 5 {
		k.FirstKexFollows = p[0] != 0
		k.Reserved = binary.BigEndian.Uint32(p[1:5])
	}
	return k, nil
}

// sshPacket frames a payload as an unencrypted binary packet (block size
// 8, random padding of at least 4 bytes).
func sshPacket(payload []byte) []byte {
	pad := 8 - (5+len(payload))%8
	if pad < 4 {
		pad += 8
	}
	out := make([]byte, 5+len(payload)+pad)
	binary.BigEndian.PutUint32(out, uint32(1+len(payload)+pad))
	out[4] = byte(pad)
	copy(out[5:], payload)
	_, _ = rand.Read(out[5+len(payload):])
	return out
}

// splitPacket returns the payload of the first packet in b, or need > 0
// bytes more, or an error when b cannot be a packet.
func splitPacket(b []byte) (payload, rest []byte, need int, err error) {
	if len(b) < 5 {
		return nil, b, 5 - len(b), nil
	}
	n := binary.BigEndian.Uint32(b)
	if n < 5 || n > maxPacket {
		return nil, b, 0, fmt.Errorf("packet length %d", n)
	}
	if uint32(len(b)-4) < n {
		return nil, b, int(n) - (len(b) - 4), nil
	}
	pad := int(b[4])
	if pad+1 > int(n) {
		return nil, b, 0, errors.New("padding longer than the packet")
	}
	return b[5 : 4+int(n)-pad], b[4+n:], 0, nil
}

// sshIdentClass classifies the client's identification line.
func sshIdentClass(line []byte) Parsed {
	f := map[string]string{"line": latin1(line)}
	s := string(line)
	switch {
	case strings.HasPrefix(s, "SSH-2.0-") || strings.HasPrefix(s, "SSH-1.99-"):
		return Parsed{Command: "SSH2", Fields: f}
	case strings.HasPrefix(s, "SSH-1."):
		return Parsed{Command: "SSH1", Fields: f}
	case strings.HasPrefix(s, "SSH-"):
		return Parsed{Command: "BAD-VERSION", Fields: f}
	case len(bytes.TrimSpace(line)) == 0:
		return Parsed{Command: "EMPTY", Fields: f}
	case !printable(line):
		return Parsed{Command: "BINARY", Fields: f}
	}
	return Parsed{Command: "BAD-IDENT", Fields: f}
}

// kexMatch reports whether two KEXINITs share a key exchange and a host
// key algorithm.
func kexMatch(a, b *KexInit) bool {
	common := func(x, y []string) bool {
		for _, u := range x {
			for _, v := range y {
				if u == v {
					return true
				}
			}
		}
		return false
	}
	return common(a.Kex, b.Kex) && common(a.HostKey, b.HostKey)
}

// clientKexInit is the recorder's KEXINIT, which no server agrees with.
func clientKexInit() []byte {
	k := &KexInit{Kex: []string{"portrait-none@portrait.invalid"}, HostKey: []string{"ssh-ed25519"},
		CiphersC2S: []string{"aes128-ctr"}, CiphersS2C: []string{"aes128-ctr"}, MACsC2S: []string{"hmac-sha2-256"},
		MACsS2C: []string{"hmac-sha2-256"}, CompressionC2S: []string{"none"}, CompressionS2C: []string{"none"}}
	return sshPacket(k.marshal())
}

const sshClientIdent = "SSH-2.0-portrait"

// recordSSH records the identification, the KEXINIT and the reactions.
func (r *recorder) recordSSH(ctx context.Context, p *Personality) error {
	nc, err := r.dial(ctx)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	c := &conn{c: nc}
	raw, _, _ := c.read(ctx, func(b []byte) bool { return bytes.Contains(b, []byte("SSH-")) && bytes.HasSuffix(b, []byte("\n")) }, r.o.Timeout, 2*r.o.Quiet)
	i := bytes.Index(raw, []byte("SSH-"))
	if i < 0 {
		c.close()
		return fmt.Errorf("record: %s sent no SSH identification", r.o.Target)
	}
	end := bytes.IndexByte(raw[i:], '\n')
	if end < 0 {
		c.close()
		return fmt.Errorf("record: unterminated SSH identification")
	}
	look := &SSHLook{Ident: strings.TrimRight(string(raw[i:i+end]), "\r")}
	if i > 0 {
		look.Prebanner = strings.Split(strings.TrimRight(string(raw[:i]), "\r\n"), "\n")
		for k := range look.Prebanner {
			look.Prebanner[k] = strings.TrimRight(look.Prebanner[k], "\r")
		}
	}
	rest := raw[i+end+1:]
	look.KexInitFirst = len(rest) > 0
	if err := c.write([]byte(sshClientIdent+"\r\n"), r.o.Timeout); err != nil {
		c.close()
		return err
	}
	pkt := append([]byte(nil), rest...)
	var payload []byte
	for {
		pl, _, need, perr := splitPacket(pkt)
		if perr != nil {
			c.close()
			return fmt.Errorf("record: server's first packet: %w", perr)
		}
		if need == 0 {
			payload = pl
			break
		}
		more, _, closed := c.read(ctx, func(b []byte) bool { return len(b) >= need }, r.o.Timeout, 0)
		if len(more) == 0 || (closed && len(more) < need) {
			c.close()
			return fmt.Errorf("record: no KEXINIT from the server")
		}
		pkt = append(pkt, more...)
	}
	c.close()
	k, err := parseKexInit(payload)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	look.KexInit = *k
	p.SSH = look
	p.EOL = "crlf"
	r.eol = "\r\n"

	// Reactions. Each on its own connection.
	type probe struct {
		state, cmd string
		send       []byte
	}
	probes := []probe{
		{"ident", "BAD-IDENT", []byte("GET / HTTP/1.0\r\n\r\n")},
		{"ident", "EMPTY", []byte("\r\n")},
		{"ident", "BINARY", []byte("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00\r\n")},
		{"ident", "SSH1", []byte("SSH-1.5-portrait\r\n")},
		{"ident", "BAD-VERSION", []byte("SSH-3.0-portrait\r\n")},
		{"kex", "KEXINIT", append([]byte(sshClientIdent+"\r\n"), clientKexInit()...)},
		{"kex", "GARBAGE", []byte(sshClientIdent + "\r\nportrait garbage, not a packet\r\n")},
	}
	for _, pr := range probes {
		nc, err := r.dial(ctx)
		if err != nil {
			return err
		}
		c := &conn{c: nc}
		_, _, _ = c.read(ctx, func(b []byte) bool { return bytes.HasSuffix(b, []byte("\n")) }, r.o.Timeout, r.o.Quiet)
		_ = c.write(pr.send, r.o.Timeout)
		got, first, closed := c.read(ctx, func([]byte) bool { return false }, r.o.Timeout, 0)
		c.close()
		if pr.state == "kex" {
			// Drop the server's own KEXINIT packet (sent in answer to our
			// identification) from what came back.
			if !look.KexInitFirst {
				if _, after, need, err := splitPacket(got); err == nil && need == 0 {
					got = after
				}
			}
		}
		e := Entry{State: pr.state, Command: pr.cmd, Sent: showLine(string(pr.send))}
		if pr.cmd == "KEXINIT" {
			e.Arg = "nomatch"
			e.Sent = sshClientIdent + `\r\n` + "<KEXINIT offering only portrait-none@portrait.invalid>"
		}
		e.Reply = *r.replyOf(r.templ(got, nil, false), got)
		e.Close = closed
		if first > 250*time.Millisecond && len(got) > 0 {
			e.Delay = Duration(roundDelay(first))
		}
		p.Replies = append(p.Replies, e)
	}
	return nil
}

// serveSSH runs an SSH session: identification, KEXINIT, then the
// recorded ending.
func (ss *session) serveSSH() {
	s := ss.s
	look := s.P.SSH
	var pre strings.Builder
	for _, l := range look.Prebanner {
		pre.WriteString(Expand(l, ss.vars(nil)) + "\r\n")
	}
	ident := pre.String() + look.Ident + "\r\n"
	kex := sshPacket(look.KexInit.marshal())
	out := []byte(ident)
	if look.KexInitFirst {
		out = append(out, kex...)
	}
	if ss.write(out) != nil {
		return
	}
	ev := Event{Session: ss.id, Event: "greeting"}
	ev.setSent(out)
	s.Log.Log(ev)
	ss.state = "ident"
	line, overlong, err := ss.readLine(255)
	if err != nil {
		return
	}
	p := sshIdentClass(line)
	if overlong {
		p = Parsed{Command: "BAD-IDENT", Fields: map[string]string{}}
	}
	if p.Command != "SSH2" {
		ss.answer(p, line)
		ss.reason = "server"
		return
	}
	ev = Event{Session: ss.id, Event: "command", State: "ident", Class: "SSH2"}
	ev.setRecv(line)
	if !look.KexInitFirst {
		if ss.write(kex) != nil {
			return
		}
		ev.setSent(kex)
	}
	s.Log.Log(ev)
	// The client's first packet.
	ss.state = "kex"
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		payload, _, need, perr := splitPacket(buf)
		if perr != nil {
			ss.answer(Parsed{Command: "GARBAGE"}, buf)
			ss.reason = "server"
			return
		}
		if need == 0 {
			cls := Parsed{Command: "GARBAGE"}
			if k, err := parseKexInit(payload); err == nil {
				cls = Parsed{Command: "KEXINIT", Arg: "nomatch"}
				if kexMatch(k, &look.KexInit) {
					cls.Arg = "match"
				}
			}
			ss.answer(cls, payload)
			ss.reason = "server"
			return
		}
		n, err := ss.br.Read(chunk[:min(need, len(chunk))])
		buf = append(buf, chunk[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) && len(buf) > 0 {
				ss.answer(Parsed{Command: "GARBAGE"}, buf)
			}
			return
		}
	}
}

// answer looks up a class in the SSH or HTTP state and sends the reply;
// the session ends afterwards.
func (ss *session) answer(p Parsed, recv []byte) {
	e, match := ss.lookup(p)
	if e == nil && p.Command == "KEXINIT" {
		// A KEXINIT we could agree with: end it as one we could not.
		e, match = ss.lookup(Parsed{Command: "KEXINIT", Arg: "nomatch"})
	}
	ev := Event{Session: ss.id, Event: "command", State: ss.state, Class: strings.TrimSpace(p.Command + " " + p.Arg), Match: match}
	ev.setRecv(recv)
	if e != nil {
		ss.sleep(time.Duration(e.Delay))
		out := ss.render(&e.Reply, ss.vars(p.Fields))
		if len(out) > 0 {
			_ = ss.write(out)
		}
		ev.setSent(out)
	}
	ss.s.Log.Log(ev)
}
