// Package vnc identifies VNC (RFB) servers. The server speaks first with its
// protocol version; the module answers with a version it accepts and reads
// the security types (or the failure reason). When security type None is
// offered it completes the handshake up to ServerInit (geometry, pixel
// format and desktop name, which names QEMU, libvncserver...), and when
// VeNCrypt is offered it reads the VeNCrypt subtypes without choosing one.
// On a second connection it claims protocol version 4.1: servers from the
// RealVNC 4 code base (TigerVNC) refuse with their own wording, others
// close or accept, which tells implementations apart when no version is
// shown.
//
// Fields (all strings):
//
//	vnc.protocol           server protocol version, "3.8" ("RFB 003.008")
//	vnc.server_version     the raw version line without "RFB " and newline ("003.008")
//	vnc.security_types     offered security types, decimal, comma separated ("1", "19,2")
//	vnc.failure            failure reason the server sent instead of security types
//	vnc.auth_result        SecurityResult after choosing None: "ok" or "failed"
//	vnc.geometry           framebuffer "WIDTHxHEIGHT" from ServerInit
//	vnc.pixel_format       ServerInit pixel format: "bpp=32 depth=24 be=0 true=1 max=255,255,255 shift=16,8,0"
//	vnc.desktop_name       desktop name from ServerInit
//	vnc.vencrypt_version   VeNCrypt version the server offered ("0.2")
//	vnc.vencrypt_subtypes  VeNCrypt subtypes, decimal, comma separated ("258,262,2")
//	vnc.rfb41_reply        how the server answered a client claiming RFB 004.001:
//	                       the failure reason text, "types:<list>" when it accepted,
//	                       or "closed" when it hung up without a word
package vnc

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Security types referred to by the dialogue.
const (
	secInvalid  = 0
	secNone     = 1
	secVeNCrypt = 19
)

// Limits on what is read from the server.
const (
	maxReason   = 1024 // failure reason text kept
	maxName     = 256  // desktop name kept
	maxSubtypes = 32
	probeWait   = 1500 * time.Millisecond
)

var versionRE = regexp.MustCompile(`^RFB (\d{3})\.(\d{3})\n`)

type module struct{}

// New returns the VNC module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{
		Name: "vnc", Service: "vnc", ServerFirst: true, Priority: 50,
		Ports: []int{5900, 5901, 5902, 5903, 5904, 5905, 5800},
	}
}

// Claim accepts the 12-byte RFB version greeting (or its first bytes).
func (module) Claim(banner []byte) bool {
	if len(banner) >= 12 {
		return versionRE.Match(banner)
	}
	return bytes.HasPrefix(banner, []byte("RFB ")) || bytes.HasPrefix([]byte("RFB "), banner)
}

// Version is a parsed RFB protocol version.
type Version struct{ Major, Minor int }

// ParseVersion parses "RFB 003.008\n".
func ParseVersion(b []byte) (Version, bool) {
	m := versionRE.FindSubmatch(b)
	if m == nil {
		return Version{}, false
	}
	maj, _ := strconv.Atoi(string(m[1]))
	min, _ := strconv.Atoi(string(m[2]))
	return Version{maj, min}, true
}

// String renders "3.8".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Reply chooses the version the client answers with: the server's own for
// the versions clients know (3.3, 3.7, 3.8 and Apple's 3.889), else the
// highest standard version not above the server's.
func (v Version) Reply() Version {
	switch {
	case v.Major > 3:
		return Version{3, 8}
	case v.Major < 3:
		return Version{3, 3}
	case v.Minor == 889 || v.Minor == 3 || v.Minor == 7 || v.Minor == 8:
		return v
	case v.Minor > 8:
		return Version{3, 8}
	case v.Minor > 7:
		return Version{3, 7}
	}
	return Version{3, 3}
}

// Line renders the version line sent on the wire.
func (v Version) Line() []byte { return []byte(fmt.Sprintf("RFB %03d.%03d\n", v.Major, v.Minor)) }

// SecurityReply is the server's answer after the version exchange.
type SecurityReply struct {
	Types   []int  // offered types (3.7+), or the single type decided by a 3.3 server
	Failure string // reason text when the server refused
}

// ParseSecurity decodes the security handshake of protocol version v.
// complete is false when b is too short to hold the whole answer.
func ParseSecurity(v Version, b []byte) (r SecurityReply, complete bool, err error) {
	old := v.Major == 3 && v.Minor < 7
	if old {
		// RFB 3.3: the server decides, as a U32 (0 = failure + reason).
		if len(b) < 4 {
			return r, false, nil
		}
		t := binary.BigEndian.Uint32(b)
		if t != secInvalid {
			if t > 0xFFFF {
				return r, true, fmt.Errorf("vnc: implausible security type %d", t)
			}
			r.Types = []int{int(t)}
			return r, true, nil
		}
		return parseReason(b[4:])
	}
	if len(b) < 1 {
		return r, false, nil
	}
	n := int(b[0])
	if n == 0 {
		return parseReason(b[1:])
	}
	if len(b) < 1+n {
		return r, false, nil
	}
	for _, t := range b[1 : 1+n] {
		r.Types = append(r.Types, int(t))
	}
	return r, true, nil
}

// parseReason reads a U32 length and that many bytes of text (capped).
func parseReason(b []byte) (SecurityReply, bool, error) {
	var r SecurityReply
	if len(b) < 4 {
		return r, false, nil
	}
	l := binary.BigEndian.Uint32(b)
	if l > 1<<16 {
		return r, true, fmt.Errorf("vnc: failure reason of %d bytes", l)
	}
	text := b[4:]
	if int(l) > len(text) {
		if len(text) >= maxReason {
			r.Failure = string(text[:maxReason])
			return r, true, nil
		}
		return r, false, nil
	}
	text = text[:l]
	if len(text) > maxReason {
		text = text[:maxReason]
	}
	r.Failure = string(text)
	return r, true, nil
}

// ServerInit is the framebuffer description sent after ClientInit.
type ServerInit struct {
	Width, Height                   int
	BPP, Depth                      int
	BigEndian, TrueColour           bool
	RedMax, GreenMax, BlueMax       int
	RedShift, GreenShift, BlueShift int
	Name                            string
}

// ParseServerInit decodes a ServerInit message; complete is false while b is
// too short.
func ParseServerInit(b []byte) (si ServerInit, complete bool, err error) {
	if len(b) < 24 {
		return si, false, nil
	}
	si.Width = int(binary.BigEndian.Uint16(b[0:]))
	si.Height = int(binary.BigEndian.Uint16(b[2:]))
	pf := b[4:20]
	si.BPP, si.Depth = int(pf[0]), int(pf[1])
	si.BigEndian, si.TrueColour = pf[2] != 0, pf[3] != 0
	si.RedMax = int(binary.BigEndian.Uint16(pf[4:]))
	si.GreenMax = int(binary.BigEndian.Uint16(pf[6:]))
	si.BlueMax = int(binary.BigEndian.Uint16(pf[8:]))
	si.RedShift, si.GreenShift, si.BlueShift = int(pf[10]), int(pf[11]), int(pf[12])
	l := binary.BigEndian.Uint32(b[20:])
	if l > 1<<16 {
		return si, true, fmt.Errorf("vnc: desktop name of %d bytes", l)
	}
	name := b[24:]
	if int(l) > len(name) {
		if len(name) >= maxName {
			si.Name = string(name[:maxName])
			return si, true, nil
		}
		return si, false, nil
	}
	name = name[:l]
	if len(name) > maxName {
		name = name[:maxName]
	}
	si.Name = string(name)
	return si, true, nil
}

// PixelFormat renders the pixel format for the vnc.pixel_format field.
func (si ServerInit) PixelFormat() string {
	return fmt.Sprintf("bpp=%d depth=%d be=%d true=%d max=%d,%d,%d shift=%d,%d,%d",
		si.BPP, si.Depth, b2i(si.BigEndian), b2i(si.TrueColour),
		si.RedMax, si.GreenMax, si.BlueMax, si.RedShift, si.GreenShift, si.BlueShift)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func (module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	if len(banner) < 12 {
		more, err := wire.ReadUntil(ctx, conn, env.Timeout, 12-len(banner), func(b []byte) bool { return len(banner)+len(b) >= 12 })
		banner = append(banner[:len(banner):len(banner)], more...)
		if len(banner) < 12 && err != nil && len(banner) == 0 {
			return nil, fmt.Errorf("vnc: read version: %w", err)
		}
	}
	v, ok := ParseVersion(banner)
	if !ok {
		return nil, fmt.Errorf("vnc: banner %q: %w", wire.Clip(banner, 32), protocol.ErrNotThisProtocol)
	}
	res.Record("NULL", nil, banner)
	res.Set("vnc.protocol", v.String())
	res.Set("vnc.server_version", string(banner[4:11]))
	res.Service, res.Confidence = "vnc", 90

	reply := v.Reply()
	// A server refusing at once (TigerVNC's blacklist) sends its failure
	// right after the version, without waiting: it may already be in banner.
	sec, err := securityExchange(ctx, conn, env, reply, banner[12:], res, "vnc-version")
	if err != nil {
		return res, nil // the greeting alone confirmed VNC
	}
	res.Confidence = 95
	res.Set("vnc.security_types", joinInts(sec.Types))
	res.Set("vnc.failure", sec.Failure)

	has := func(t int) bool {
		for _, x := range sec.Types {
			if x == t {
				return true
			}
		}
		return false
	}
	modern := !(reply.Major == 3 && reply.Minor < 7)
	// TigerVNC blacklists an address after five handshakes that end before
	// authentication (even bare connects), and a successful one clears the
	// count. So the RFB 4.1 probe, itself such a handshake, runs before a
	// handshake that will succeed (security None), and is skipped when the
	// VeNCrypt subtypes already characterise the server.
	switch {
	case modern && has(secVeNCrypt):
		vencrypt(ctx, conn, env, res)
		if has(secNone) {
			rfb41(ctx, env, res)
			if c2 := redial(ctx, env, reply); c2 != nil {
				serverInit(ctx, c2, env, reply, res, true)
				c2.Close()
			}
		}
	case has(secNone):
		rfb41(ctx, env, res)
		serverInit(ctx, conn, env, reply, res, modern)
	case len(sec.Types) > 0:
		rfb41(ctx, env, res)
	}
	return res, nil
}

// securityExchange sends the client version and reads the security answer.
// pre holds bytes the server sent after its version line before we spoke.
func securityExchange(ctx context.Context, conn net.Conn, env protocol.Env, reply Version, pre []byte, res *protocol.Result, probe string) (SecurityReply, error) {
	req := reply.Line()
	var sec SecurityReply
	var perr error
	if len(pre) > 0 {
		// The server already answered, in the form of the version it
		// announced (TigerVNC's refusal announces 3.3 and sends a U32 0).
		var done bool
		if sec, done, perr = ParseSecurity(reply, pre); done {
			if res != nil {
				res.Record(probe, nil, pre)
			}
			return sec, perr
		}
	}
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return SecurityReply{}, err
	}
	resp, err := wire.ReadUntil(ctx, conn, env.Timeout, 4+maxReason+8, func(b []byte) bool {
		var done bool
		sec, done, perr = ParseSecurity(reply, append(pre[:len(pre):len(pre)], b...))
		return done
	})
	resp = append(pre[:len(pre):len(pre)], resp...)
	if res != nil {
		res.Record(probe, req, resp)
	}
	if perr != nil {
		return sec, perr
	}
	if len(sec.Types) == 0 && sec.Failure == "" {
		if err == nil {
			err = fmt.Errorf("vnc: short security answer")
		}
		return sec, err
	}
	return sec, nil
}

// redial opens a fresh connection and runs the version exchange on it.
func redial(ctx context.Context, env protocol.Env, reply Version) net.Conn {
	if env.Dial == nil {
		return nil
	}
	c, err := env.Dial(ctx)
	if err != nil {
		return nil
	}
	if _, err := wire.ReadFull(ctx, c, env.Timeout, 12); err != nil {
		c.Close()
		return nil
	}
	if _, err := securityExchange(ctx, c, env, reply, nil, nil, ""); err != nil {
		c.Close()
		return nil
	}
	return c
}

// serverInit chooses security None, sends a shared ClientInit and reads
// ServerInit.
func serverInit(ctx context.Context, conn net.Conn, env protocol.Env, reply Version, res *protocol.Result, modern bool) {
	if modern {
		if err := wire.Write(ctx, conn, env.Timeout, []byte{secNone}); err != nil {
			return
		}
	}
	// RFB 3.8 sends a SecurityResult for None; 3.3 and 3.7 do not.
	if reply.Major == 3 && reply.Minor >= 8 {
		r, err := wire.ReadFull(ctx, conn, env.Timeout, 4)
		res.Record("vnc-security-none", []byte{secNone}, r)
		if err != nil {
			return
		}
		if binary.BigEndian.Uint32(r) != 0 {
			res.Set("vnc.auth_result", "failed")
			return
		}
		res.Set("vnc.auth_result", "ok")
	}
	clientInit := []byte{1} // shared: never disconnect other viewers
	if err := wire.Write(ctx, conn, env.Timeout, clientInit); err != nil {
		return
	}
	var si ServerInit
	var ok bool
	resp, _ := wire.ReadUntil(ctx, conn, env.Timeout, 24+maxName, func(b []byte) bool {
		var err error
		si, ok, err = ParseServerInit(b)
		return ok || err != nil
	})
	res.Record("vnc-clientinit", clientInit, resp)
	if !ok {
		return
	}
	res.Set("vnc.geometry", fmt.Sprintf("%dx%d", si.Width, si.Height))
	res.Set("vnc.pixel_format", si.PixelFormat())
	res.Set("vnc.desktop_name", si.Name)
}

// vencrypt selects VeNCrypt, agrees on version 0.2 and reads the subtypes.
func vencrypt(ctx context.Context, conn net.Conn, env protocol.Env, res *protocol.Result) {
	if err := wire.Write(ctx, conn, env.Timeout, []byte{secVeNCrypt}); err != nil {
		return
	}
	ver, err := wire.ReadFull(ctx, conn, env.Timeout, 2)
	res.Record("vnc-vencrypt", []byte{secVeNCrypt}, ver)
	if err != nil {
		return
	}
	res.Set("vnc.vencrypt_version", fmt.Sprintf("%d.%d", ver[0], ver[1]))
	if ver[0] != 0 || ver[1] < 2 {
		return // only 0.2 carries the subtype list read below
	}
	req := []byte{0, 2}
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return
	}
	var subtypes []int
	resp, _ := wire.ReadUntil(ctx, conn, env.Timeout, 2+4*maxSubtypes+4*255, func(b []byte) bool {
		if len(b) < 1 || b[0] != 0 {
			return true // non-zero: the server refused our version
		}
		if len(b) < 2 {
			return false
		}
		n := int(b[1])
		return len(b) >= 2+4*n
	})
	res.Record("vnc-vencrypt-version", req, resp)
	if len(resp) < 2 || resp[0] != 0 {
		return
	}
	n := int(resp[1])
	for i := 0; i < n && i < maxSubtypes && 2+4*i+4 <= len(resp); i++ {
		subtypes = append(subtypes, int(binary.BigEndian.Uint32(resp[2+4*i:])))
	}
	res.Set("vnc.vencrypt_subtypes", joinInts(subtypes))
}

// rfb41 claims RFB 4.1 on a fresh connection and records the reaction.
func rfb41(ctx context.Context, env protocol.Env, res *protocol.Result) {
	if env.Dial == nil {
		return
	}
	c, err := env.Dial(ctx)
	if err != nil {
		return
	}
	defer c.Close()
	wait := probeWait
	if env.Timeout > 0 && env.Timeout < wait {
		wait = env.Timeout
	}
	if _, err := wire.ReadFull(ctx, c, wait, 12); err != nil {
		return
	}
	req := Version{4, 1}.Line()
	if err := wire.Write(ctx, c, wait, req); err != nil {
		return
	}
	var sec SecurityReply
	var done bool
	resp, err := wire.ReadUntil(ctx, c, wait, 8+maxReason, func(b []byte) bool {
		sec, done = parseEitherSecurity(b)
		return done
	})
	res.Record("vnc-rfb41", req, resp)
	switch {
	case done && sec.Failure != "":
		res.Set("vnc.rfb41_reply", sec.Failure)
	case done:
		res.Set("vnc.rfb41_reply", "types:"+joinInts(sec.Types))
	case err != nil && !wire.IsTimeout(err):
		res.Set("vnc.rfb41_reply", "closed")
	}
}

// parseEitherSecurity decodes a security answer whose form is unknown (the
// server chose between the 3.3 U32 and the 3.7+ list after an unusual client
// version). A 3.3 failure starts with five zero bytes (type 0 and the high
// byte of the reason length); a 3.7 failure is a zero count then the length.
func parseEitherSecurity(b []byte) (SecurityReply, bool) {
	if len(b) == 0 {
		return SecurityReply{}, false
	}
	if b[0] != 0 {
		r, done, err := ParseSecurity(Version{3, 8}, b)
		return r, done && err == nil
	}
	if len(b) < 5 {
		return SecurityReply{}, false
	}
	v := Version{3, 8}
	if bytes.Equal(b[:5], []byte{0, 0, 0, 0, 0}) {
		v = Version{3, 3}
	}
	r, done, err := ParseSecurity(v, b)
	return r, done && err == nil
}
