// Package rdp identifies Remote Desktop Protocol servers. It sends an X.224
// Connection Request carrying an RDP Negotiation Request and parses the
// Connection Confirm ([MS-RDPBCGR] §2.2.1.1-2). When the server selects TLS
// it may continue through Env.StartTLS (certificate fields), and when it
// selects CredSSP it sends an NTLMSSP NEGOTIATE inside a TSRequest, whose
// CHALLENGE names the Windows host and its OS build. On a second connection
// it asks for Standard RDP Security and, if granted, sends an MCS Connect
// Initial: the GCC Conference Create Response (server core, security and
// network data, the proprietary server certificate) differs between
// implementations, which tells xrdp from Windows when no version is shown.
//
// Fields (all strings):
//
//	rdp.x224                    hex of the Connection Confirm to the negotiation request
//	rdp.src_ref                 X.224 source reference of the confirm, hex ("1234")
//	rdp.neg                     "response", "failure" or "none" (no negotiation structure)
//	rdp.selected_protocol       "rdp", "tls", "hybrid", "rdstls", "hybrid_ex" or the number
//	rdp.flags                   negotiation response/failure flags byte, hex ("0x01")
//	rdp.failure                 failure code name ("HYBRID_REQUIRED_BY_SERVER") or number
//	rdp.neg_all_reply           reply on a third connection to a request offering every
//	                            protocol (TLS|HYBRID|RDSTLS|HYBRID_EX): "response:tls",
//	                            "failure:<name>", "x224-data:<hex of the payload>",
//	                            "none" (confirm without negotiation) or "closed"
//	rdp.rdp_security            outcome of the Standard RDP Security request on the
//	                            second connection: "granted", a failure name, or "none"
//	rdp.core_version            server core data version ("0x00080004")
//	rdp.requested_protocols_echo server core clientRequestedProtocols, hex
//	rdp.early_capability_flags  server core earlyCapabilityFlags, hex
//	rdp.gcc_blocks              server data block types in order ("0c01,0c03,0c02")
//	rdp.encryption_method       server security data encryptionMethod, hex
//	rdp.encryption_level        server security data encryptionLevel (decimal)
//	rdp.server_cert             "proprietary" or "x509"
//	rdp.server_key_bits         RSA modulus size of a proprietary certificate ("2048")
//	rdp.mcs_channel_id          MCS I/O channel id ("1003")
//	rdp.credssp_version         TSRequest version the server answered with
//	rdp.ntlm.*                  NTLMSSP CHALLENGE fields (see protocol/smb/ntlmssp):
//	                            target_name, netbios_domain, netbios_computer, dns_domain,
//	                            dns_computer, dns_tree, os_version, ntlm_revision, timestamp, flags
//	tls.*                       fields of the TLS handshake when Env.StartTLS ran
package rdp

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/ldap/ber"
	"github.com/portrait-scanner/portrait/protocol/smb/ntlmssp"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Security protocols of the negotiation ([MS-RDPBCGR] §2.2.1.1.1).
const (
	ProtoRDP      = 0x0
	ProtoTLS      = 0x1
	ProtoHybrid   = 0x2
	ProtoRDSTLS   = 0x4
	ProtoHybridEx = 0x8
)

// requested is what the first Connection Request offers: what mstsc asks
// for (TLS, CredSSP, CredSSP with Early User Authorization).
const requested = ProtoTLS | ProtoHybrid | ProtoHybridEx

// requestedAll adds RDSTLS, for the third connection: xrdp answers this
// combination (RDSTLS together with HYBRID_EX) with an MCS Disconnect
// Provider Ultimatum instead of a Connection Confirm.
const requestedAll = ProtoTLS | ProtoHybrid | ProtoRDSTLS | ProtoHybridEx

// maxPDU caps a TPKT: the largest answer read here is the MCS Connect
// Response, about 1 KiB with a proprietary certificate, a few KiB with X.509.
const maxPDU = 16 << 10

type module struct{}

// New returns the RDP module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{Name: "rdp", Service: "ms-wbt-server", Ports: []int{3389}, Priority: 50}
}

// Claim is false: RDP servers never speak first.
func (module) Claim([]byte) bool { return false }

// ConnectionRequest encodes a TPKT + X.224 Connection Request, with an RDP
// Negotiation Request for protocols when neg is true.
func ConnectionRequest(protocols uint32, neg bool) []byte {
	var body []byte
	if neg {
		body = []byte{1, 0, 8, 0}
		body = binary.LittleEndian.AppendUint32(body, protocols)
	}
	x224 := append([]byte{byte(6 + len(body)), 0xE0, 0, 0, 0, 0, 0}, body...)
	return tpkt(x224)
}

func tpkt(payload []byte) []byte {
	b := []byte{3, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(4+len(payload)))
	return append(b, payload...)
}

// Confirm is a parsed X.224 Connection Confirm.
type Confirm struct {
	SrcRef   uint16
	Neg      string // "response", "failure" or "none"
	Flags    byte
	Selected uint32 // when Neg == "response"
	Failure  uint32 // when Neg == "failure"
}

// ErrNotRDP is returned when a reply is not an X.224 Connection Confirm.
var ErrNotRDP = errors.New("rdp: not an X.224 connection confirm")

// ParseConfirm decodes a Connection Confirm TPKT.
func ParseConfirm(b []byte) (*Confirm, error) {
	if len(b) < 11 || b[0] != 3 || b[1] != 0 {
		return nil, ErrNotRDP
	}
	l := int(binary.BigEndian.Uint16(b[2:]))
	li := int(b[4])
	if l < 11 || l > len(b) || b[5]&0xF0 != 0xD0 || li < 6 || 5+li > l {
		return nil, ErrNotRDP
	}
	c := &Confirm{SrcRef: binary.BigEndian.Uint16(b[8:]), Neg: "none"}
	if li >= 14 && l >= 19 {
		n := b[11:19]
		switch n[0] {
		case 2:
			c.Neg, c.Flags, c.Selected = "response", n[1], binary.LittleEndian.Uint32(n[4:])
		case 3:
			c.Neg, c.Flags, c.Failure = "failure", n[1], binary.LittleEndian.Uint32(n[4:])
		}
	}
	return c, nil
}

// ProtocolName names a selected security protocol.
func ProtocolName(p uint32) string {
	switch p {
	case ProtoRDP:
		return "rdp"
	case ProtoTLS:
		return "tls"
	case ProtoHybrid:
		return "hybrid"
	case ProtoRDSTLS:
		return "rdstls"
	case ProtoHybridEx:
		return "hybrid_ex"
	}
	return strconv.FormatUint(uint64(p), 10)
}

// FailureName names a negotiation failure code.
func FailureName(code uint32) string {
	names := map[uint32]string{
		1: "SSL_REQUIRED_BY_SERVER", 2: "SSL_NOT_ALLOWED_BY_SERVER", 3: "SSL_CERT_NOT_ON_SERVER",
		4: "INCONSISTENT_FLAGS", 5: "HYBRID_REQUIRED_BY_SERVER", 6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
	}
	if n, ok := names[code]; ok {
		return n
	}
	return strconv.FormatUint(uint64(code), 10)
}

// tpktDone reports a complete TPKT, or true at once when the first byte
// shows the answer is not a TPKT (no point waiting).
func tpktDone(b []byte) bool {
	if len(b) >= 1 && b[0] != 3 {
		return true
	}
	if len(b) < 4 {
		return false
	}
	return len(b) >= int(binary.BigEndian.Uint16(b[2:]))
}

func readPDU(ctx context.Context, conn net.Conn, env protocol.Env) ([]byte, error) {
	max := maxPDU
	if env.MaxRead > 0 && env.MaxRead < max {
		max = env.MaxRead
	}
	return wire.ReadUntil(ctx, conn, env.Timeout, max, tpktDone)
}

func (module) Run(ctx context.Context, conn net.Conn, _ []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	req := ConnectionRequest(requested, true)
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return nil, fmt.Errorf("rdp: write: %w", err)
	}
	resp, err := readPDU(ctx, conn, env)
	res.Record("TerminalServer", req, resp)
	if len(resp) == 0 {
		if err != nil {
			return nil, fmt.Errorf("rdp: read: %w", err)
		}
		return nil, fmt.Errorf("rdp: no answer: %w", protocol.ErrNotThisProtocol)
	}
	cc, perr := ParseConfirm(resp)
	if perr != nil {
		return res, fmt.Errorf("%w: %v", protocol.ErrNotThisProtocol, perr)
	}
	res.Service, res.Confidence = "ms-wbt-server", 90
	res.Set("rdp.x224", hex.EncodeToString(resp[:min(len(resp), 64)]))
	confirmFields(res, cc)
	if cc.Neg != "none" {
		res.Confidence = 95
	}

	if cc.Neg == "response" && cc.Selected != ProtoRDP && env.StartTLS != nil {
		tconn, tf, terr := env.StartTLS(ctx, conn)
		for k, v := range tf {
			res.Set(k, v)
		}
		if terr == nil && tconn != nil && (cc.Selected == ProtoHybrid || cc.Selected == ProtoHybridEx) {
			credSSP(ctx, tconn, env, res)
		}
	}
	standardSecurity(ctx, env, res)
	negAll(ctx, env, res)
	return res, nil
}

// confirmFields sets the negotiation fields of the first connection.
func confirmFields(res *protocol.Result, cc *Confirm) {
	res.Set("rdp.src_ref", fmt.Sprintf("%04x", cc.SrcRef))
	res.Set("rdp.neg", cc.Neg)
	switch cc.Neg {
	case "response":
		res.Set("rdp.selected_protocol", ProtocolName(cc.Selected))
		res.Set("rdp.flags", fmt.Sprintf("0x%02x", cc.Flags))
	case "failure":
		res.Set("rdp.failure", FailureName(cc.Failure))
		res.Set("rdp.flags", fmt.Sprintf("0x%02x", cc.Flags))
	}
}

// TSRequest encodes a CredSSP TSRequest ([MS-CSSP] §2.2.1) carrying one
// negoToken.
func TSRequest(version int, token []byte) []byte {
	nego := ber.TLV(ber.TagSequence, ber.TLV(ber.ClassContext|ber.Constructed|0, ber.TLV(ber.TagOctetString, token)))
	return ber.TLV(ber.TagSequence,
		ber.TLV(ber.ClassContext|ber.Constructed|0, ber.EncodeInt(ber.TagInteger, int64(version))),
		ber.TLV(ber.ClassContext|ber.Constructed|1, ber.TLV(ber.TagSequence, nego)))
}

// TSRequestVersion extracts the version of a TSRequest (-1 if absent).
func TSRequestVersion(b []byte) int {
	seq, _, err := ber.Parse(b)
	if err != nil || seq.Ident != ber.TagSequence {
		return -1
	}
	parts, _ := ber.Children(seq.Content, 8)
	for _, p := range parts {
		if p.Class == ber.ClassContext && p.Tag == 0 {
			if v, _, err := ber.Parse(p.Content); err == nil && v.Ident == ber.TagInteger {
				if n, err := ber.Int(v.Content); err == nil {
					return int(n)
				}
			}
		}
	}
	return -1
}

// credSSP sends an NTLMSSP NEGOTIATE in a TSRequest and parses the
// server's CHALLENGE.
func credSSP(ctx context.Context, conn net.Conn, env protocol.Env, res *protocol.Result) {
	req := TSRequest(6, ntlmssp.Negotiate())
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return
	}
	resp, _ := wire.ReadUntil(ctx, conn, env.Timeout, maxPDU, func(b []byte) bool {
		hdr, l, err := ber.HeaderLen(b)
		if err != nil {
			return !errors.Is(err, ber.ErrTruncated)
		}
		return len(b) >= hdr+l
	})
	res.Record("rdp-credssp", req, resp)
	if v := TSRequestVersion(resp); v >= 0 {
		res.Set("rdp.credssp_version", strconv.Itoa(v))
	}
	if ch, err := ntlmssp.Find(resp); err == nil {
		ch.Fields("rdp.ntlm", res)
	}
}

// freshRequest sends req on a new connection and reads one PDU, recording
// the exchange as probe. conn is nil when the request could not be sent;
// otherwise the caller closes it.
func freshRequest(ctx context.Context, env protocol.Env, res *protocol.Result, probe string, req []byte) (net.Conn, []byte, error) {
	if env.Dial == nil {
		return nil, nil, nil
	}
	conn, err := env.Dial(ctx)
	if err != nil {
		return nil, nil, nil
	}
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		conn.Close()
		return nil, nil, nil
	}
	resp, err := readPDU(ctx, conn, env)
	res.Record(probe, req, resp)
	return conn, resp, err
}

// standardSecurity asks for Standard RDP Security on a fresh connection and,
// when granted, reads the MCS Connect Response.
func standardSecurity(ctx context.Context, env protocol.Env, res *protocol.Result) {
	conn, resp, _ := freshRequest(ctx, env, res, "rdp-standard-security", ConnectionRequest(ProtoRDP, true))
	if conn == nil {
		return
	}
	defer conn.Close()
	cc, err := ParseConfirm(resp)
	if err != nil {
		return
	}
	switch {
	case cc.Neg == "failure":
		res.Set("rdp.rdp_security", FailureName(cc.Failure))
		return
	case cc.Neg == "response" && cc.Selected != ProtoRDP:
		res.Set("rdp.rdp_security", "other:"+ProtocolName(cc.Selected))
		return
	case cc.Neg == "none":
		res.Set("rdp.rdp_security", "none")
	default:
		res.Set("rdp.rdp_security", "granted")
	}
	mcs := MCSConnectInitial(ProtoRDP)
	if err := wire.Write(ctx, conn, env.Timeout, mcs); err != nil {
		return
	}
	resp, _ = readPDU(ctx, conn, env)
	res.Record("rdp-mcs-connect-initial", mcs, resp)
	if sd, err := ParseMCSConnectResponse(resp); err == nil {
		sd.Fields(res)
	}
}

// negAll offers every security protocol on a fresh connection and records
// how the server reacts.
func negAll(ctx context.Context, env protocol.Env, res *protocol.Result) {
	conn, resp, rerr := freshRequest(ctx, env, res, "rdp-neg-all", ConnectionRequest(requestedAll, true))
	if conn == nil {
		return
	}
	defer conn.Close()
	if len(resp) == 0 {
		if rerr != nil && !wire.IsTimeout(rerr) {
			res.Set("rdp.neg_all_reply", "closed")
		}
		return
	}
	if cc, err := ParseConfirm(resp); err == nil {
		switch cc.Neg {
		case "response":
			res.Set("rdp.neg_all_reply", "response:"+ProtocolName(cc.Selected))
		case "failure":
			res.Set("rdp.neg_all_reply", "failure:"+FailureName(cc.Failure))
		default:
			res.Set("rdp.neg_all_reply", "none")
		}
		return
	}
	// An X.224 Data TPDU (02 F0 80) carrying an MCS PDU.
	if len(resp) >= 7 && resp[0] == 3 && resp[4] == 2 && resp[5] == 0xF0 {
		end := min(len(resp), int(binary.BigEndian.Uint16(resp[2:])), 7+32)
		if end > 7 {
			res.Set("rdp.neg_all_reply", "x224-data:"+hex.EncodeToString(resp[7:end]))
		}
	}
}
