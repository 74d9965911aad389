// Package smb identifies SMB servers on direct TCP (445, service
// "microsoft-ds") and through the NetBIOS session service (139, service
// "netbios-ssn"). It sends an SMB2 NEGOTIATE offering dialects 2.0.2 to
// 3.1.1, then a SESSION_SETUP carrying an NTLMSSP NEGOTIATE (in SPNEGO),
// whose CHALLENGE names the host and domain and, on Windows, the OS build.
// On a second connection it offers only the SMB1 dialect "NT LM 0.12": a
// server with SMB1 enabled answers and then, to an anonymous Session Setup
// AndX, tells its native OS and LAN manager (Samba: "Samba 4.x.y").
//
// Fields (all strings):
//
//	smb.nbss                  NetBIOS session request outcome: "positive" or "negative:0x82"
//	smb.status                NT status of the NEGOTIATE answer when not success, hex
//	smb.dialect               chosen dialect ("3.1.1", "2.1")
//	smb.signing               "required", "enabled" or "disabled"
//	smb.security_mode         raw SecurityMode, hex
//	smb.capabilities          capability names ("dfs,leasing,large_mtu,...")
//	smb.capabilities_raw      capabilities, hex
//	smb.max_sizes             MaxTransactSize,MaxReadSize,MaxWriteSize in decimal
//	smb.system_time           server time, RFC 3339
//	smb.boot_time             server start time, RFC 3339 (absent when the server sends 0)
//	smb.server_guid           server GUID, hex (an identity, not a product sign)
//	smb.server_guid_text      the GUID as text when it is printable ASCII padded with
//	                          zero bytes (Samba derives it from its NetBIOS name), else absent
//	smb.negotiate_contexts    3.1.1 negotiate context types in order ("1,2,8")
//	smb.cipher                cipher chosen in the encryption context ("AES-128-GCM")
//	smb.signing_algorithm     algorithm chosen in the signing context ("AES-GMAC")
//	smb.spnego_mechs          mechanism OIDs the NEGOTIATE security blob offers
//	smb.spnego_hint           negHints hintName ("not_defined_in_RFC4178@please_ignore")
//	smb.session_status        NT status of the SESSION_SETUP answer, hex ("0xc0000016")
//	smb.ntlm.*                NTLMSSP CHALLENGE fields (protocol/smb/ntlmssp): target_name,
//	                          netbios_domain, netbios_computer, dns_domain, dns_computer,
//	                          dns_tree, os_version ("10.0.17763"), ntlm_revision, timestamp, flags
//	smb.smb1                  "true" when the SMB1 negotiate succeeded, else "false"
//	smb.smb1_reply            why SMB1 failed: "closed", "status:0x...", "no-dialect", "smb2"
//	smb.smb1_domain           domain name from the SMB1 negotiate (no extended security)
//	smb.smb1_server           server name from the SMB1 negotiate
//	smb.smb1_capabilities     SMB1 capabilities, hex
//	smb.native_os             NativeOS of the anonymous SMB1 session setup
//	smb.native_lanman         NativeLanMan of the anonymous SMB1 session setup
//	smb.primary_domain        PrimaryDomain of the anonymous SMB1 session setup
package smb

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/smb/ntlmssp"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

type module struct{}

// New returns the SMB module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{Name: "smb", Service: "microsoft-ds", Ports: []int{445, 139}, Priority: 60}
}

// Claim is false: SMB servers never speak first.
func (module) Claim([]byte) bool { return false }

func readFrame(ctx context.Context, conn net.Conn, env protocol.Env) ([]byte, error) {
	max := maxFrame + 4
	if env.MaxRead > 0 && env.MaxRead < max {
		max = env.MaxRead
	}
	return wire.ReadUntil(ctx, conn, env.Timeout, max, frameDone)
}

// sessionRequest runs the NBSS session request; ok reports a positive answer.
func sessionRequest(ctx context.Context, conn net.Conn, env protocol.Env, res *protocol.Result) (ok bool, err error) {
	req := SessionRequest()
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return false, err
	}
	resp, rerr := readFrame(ctx, conn, env)
	if res != nil {
		res.Record("nbss-session-request", req, resp)
	}
	if len(resp) == 0 {
		if rerr == nil {
			rerr = fmt.Errorf("smb: no answer to the session request")
		}
		return false, rerr
	}
	switch resp[0] {
	case nbssPositive:
		if res != nil {
			res.Set("smb.nbss", "positive")
		}
		return true, nil
	case nbssNegative:
		if res != nil {
			code := ""
			if len(resp) >= 5 {
				code = fmt.Sprintf(":0x%02x", resp[4])
			}
			res.Set("smb.nbss", "negative"+code)
		}
		return false, nil
	case nbssRetarget:
		if res != nil {
			res.Set("smb.nbss", "retarget")
		}
		return false, nil
	}
	return false, fmt.Errorf("smb: answer %#x to the session request: %w", resp[0], protocol.ErrNotThisProtocol)
}

func (module) Run(ctx context.Context, conn net.Conn, _ []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	netbios := env.Port == 139
	service := "microsoft-ds"
	if netbios {
		service = "netbios-ssn"
		ok, err := sessionRequest(ctx, conn, env, res)
		if err != nil {
			return res, err
		}
		res.Service, res.Confidence = service, 85
		if !ok {
			return res, nil
		}
	}

	req := frame(NegotiateRequest())
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return nil, fmt.Errorf("smb: write: %w", err)
	}
	resp, rerr := readFrame(ctx, conn, env)
	res.Record("smb2-negotiate", req, resp)
	payload, ferr := unframe(resp)
	switch {
	case ferr == nil && bytes.HasPrefix(payload, smb2Magic):
		n, err := ParseNegotiate(payload)
		if err != nil {
			return res, fmt.Errorf("%w: %v", protocol.ErrNotThisProtocol, err)
		}
		res.Service, res.Confidence = service, 95
		negotiateFields(res, n)
		if n.Status == 0 {
			sessionSetup(ctx, conn, env, res)
		}
	case ferr == nil && bytes.HasPrefix(payload, smb1Magic):
		// An SMB1-only server answering in SMB1.
		res.Service, res.Confidence = service, 90
	case len(resp) == 0 && !netbios:
		// Silence or hang-up: an SMB1-only server may drop SMB2; the SMB1
		// probe below decides.
		if rerr != nil && wire.IsTimeout(rerr) {
			return nil, fmt.Errorf("smb: no answer: %w", rerr)
		}
	case len(resp) == 0:
	default:
		return res, fmt.Errorf("smb: answer is not SMB: %w", protocol.ErrNotThisProtocol)
	}

	if smb1(ctx, env, res, netbios) && res.Service == "" {
		res.Service, res.Confidence = service, 90
	}
	if res.Service == "" {
		return res, fmt.Errorf("smb: no SMB answer: %w", protocol.ErrNotThisProtocol)
	}
	return res, nil
}

func negotiateFields(res *protocol.Result, n *Negotiate) {
	if n.Status != 0 {
		res.Set("smb.status", fmt.Sprintf("0x%08x", n.Status))
		return
	}
	res.Set("smb.dialect", DialectName(n.Dialect))
	switch {
	case n.SecurityMode&2 != 0:
		res.Set("smb.signing", "required")
	case n.SecurityMode&1 != 0:
		res.Set("smb.signing", "enabled")
	default:
		res.Set("smb.signing", "disabled")
	}
	res.Set("smb.security_mode", fmt.Sprintf("0x%04x", n.SecurityMode))
	res.Set("smb.capabilities", CapabilityNames(n.Capabilities))
	res.Set("smb.capabilities_raw", fmt.Sprintf("0x%08x", n.Capabilities))
	res.Set("smb.max_sizes", fmt.Sprintf("%d,%d,%d", n.MaxTransact, n.MaxRead, n.MaxWrite))
	if !n.SystemTime.IsZero() {
		res.Set("smb.system_time", n.SystemTime.Format(time.RFC3339))
	}
	if !n.BootTime.IsZero() {
		res.Set("smb.boot_time", n.BootTime.Format(time.RFC3339))
	}
	res.Set("smb.server_guid", hex.EncodeToString(n.ServerGUID[:]))
	res.Set("smb.server_guid_text", guidText(n.ServerGUID))
	var ctxs []string
	for _, t := range n.ContextTypes {
		ctxs = append(ctxs, strconv.Itoa(int(t)))
	}
	res.Set("smb.negotiate_contexts", strings.Join(ctxs, ","))
	if n.Cipher != 0 {
		res.Set("smb.cipher", CipherName(n.Cipher))
	}
	if n.SigningAlgo >= 0 {
		res.Set("smb.signing_algorithm", SigningName(n.SigningAlgo))
	}
	if len(n.SecurityBlob) > 0 {
		if sp, err := ParseSPNEGOInit(n.SecurityBlob); err == nil {
			res.Set("smb.spnego_mechs", strings.Join(sp.Mechs, ","))
			res.Set("smb.spnego_hint", sp.Hint)
		}
	}
}

func sessionSetup(ctx context.Context, conn net.Conn, env protocol.Env, res *protocol.Result) {
	req := frame(SessionSetupRequest(ntlmssp.SPNEGONegotiate(ntlmssp.Negotiate())))
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return
	}
	resp, _ := readFrame(ctx, conn, env)
	res.Record("smb2-session-setup-ntlm", req, resp)
	payload, err := unframe(resp)
	if err != nil {
		return
	}
	h, err := parseHeader(payload)
	if err != nil || h.Command != cmdSessionSetup {
		return
	}
	res.Set("smb.session_status", fmt.Sprintf("0x%08x", h.Status))
	if ch, err := ntlmssp.Find(payload[64:]); err == nil {
		ch.Fields("smb.ntlm", res)
	}
}

// smb1 probes SMB1 on a fresh connection; it reports whether the server
// answered in SMB1 at all (even to refuse), which confirms SMB.
func smb1(ctx context.Context, env protocol.Env, res *protocol.Result, netbios bool) bool {
	if env.Dial == nil {
		return false
	}
	conn, err := env.Dial(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	if netbios {
		if ok, err := sessionRequest(ctx, conn, env, nil); err != nil || !ok {
			return false
		}
	}
	req := frame(SMB1NegotiateRequest())
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return false
	}
	resp, rerr := readFrame(ctx, conn, env)
	res.Record("SMBProgNeg", req, resp)
	payload, ferr := unframe(resp)
	if len(resp) == 0 || ferr != nil {
		res.Set("smb.smb1", "false")
		if rerr != nil && !wire.IsTimeout(rerr) || len(resp) == 0 {
			res.Set("smb.smb1_reply", "closed")
		}
		return false
	}
	if bytes.HasPrefix(payload, smb2Magic) {
		res.Set("smb.smb1", "false")
		res.Set("smb.smb1_reply", "smb2")
		return true
	}
	n, err := ParseSMB1Negotiate(payload)
	if err != nil {
		res.Set("smb.smb1", "false")
		return false
	}
	switch {
	case n.Status != 0:
		res.Set("smb.smb1", "false")
		res.Set("smb.smb1_reply", fmt.Sprintf("status:0x%08x", n.Status))
		return true
	case n.DialectIndex != 0:
		res.Set("smb.smb1", "false")
		res.Set("smb.smb1_reply", "no-dialect")
		return true
	}
	res.Set("smb.smb1", "true")
	res.Set("smb.smb1_domain", n.Domain)
	res.Set("smb.smb1_server", n.Server)
	res.Set("smb.smb1_capabilities", fmt.Sprintf("0x%08x", n.Capabilities))

	ss := frame(SMB1SessionSetupRequest(n.SessionKey, n.MaxMpx))
	if err := wire.Write(ctx, conn, env.Timeout, ss); err != nil {
		return true
	}
	resp, _ = readFrame(ctx, conn, env)
	res.Record("smb1-session-setup-anonymous", ss, resp)
	if payload, err := unframe(resp); err == nil {
		if s, err := ParseSMB1SessionSetup(payload); err == nil {
			res.Set("smb.native_os", s.NativeOS)
			res.Set("smb.native_lanman", s.NativeLanMan)
			res.Set("smb.primary_domain", s.PrimaryDomain)
		}
	}
	return true
}

// guidText returns the GUID as text when it is printable ASCII followed only
// by zero bytes: a structural trait (Samba builds it from its NetBIOS name),
// where a random GUID is never text.
func guidText(g [16]byte) string {
	i := 0
	for i < len(g) && g[i] > 0x20 && g[i] < 0x7F {
		i++
	}
	if i < 2 {
		return ""
	}
	for _, c := range g[i:] {
		if c != 0 {
			return ""
		}
	}
	return string(g[:i])
}
