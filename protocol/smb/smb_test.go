package smb

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestRecordLab445(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "samba-4.17.12-445", Port: 445, Note: "Samba smbd 4.17.12+dfsg-0+deb12u4 (Debian 12) on direct TCP 445"})
}

func TestRecordLab139(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "samba-4.17.12-139", Port: 139, Note: "Samba smbd 4.17.12+dfsg-0+deb12u4 (Debian 12) through the NetBIOS session service on 139"})
}

// runOnPort replays a transcript with Env.Port set as the engine would
// (prototest.Run takes the port of the loopback listener).
func runOnPort(t *testing.T, name string, port int) (*protocol.Result, error) {
	t.Helper()
	return prototest.RunTranscript(t, New(), prototest.LoadTranscript(t, name), prototest.Options{Port: port})
}

func TestReplaySamba(t *testing.T) {
	common := map[string]string{
		"smb.dialect": "3.1.1", "smb.signing": "enabled", "smb.negotiate_contexts": "1,2,8",
		"smb.cipher": "AES-128-GCM", "smb.signing_algorithm": "AES-GMAC",
		"smb.spnego_mechs": "1.3.6.1.4.1.311.2.2.10", "smb.spnego_hint": "not_defined_in_RFC4178@please_ignore",
		"smb.session_status": "0xc0000016", "smb.ntlm.netbios_computer": "LABSMB",
		"smb.ntlm.netbios_domain": "LABSMB", "smb.ntlm.dns_computer": "vm", "smb.ntlm.os_version": "6.1.0",
		"smb.server_guid_text": "labsmb", "smb.smb1": "false", "smb.smb1_reply": "no-dialect",
	}
	cases := []struct {
		name    string
		port    int
		service string
		extra   map[string]string
	}{
		{"samba-4.17.12-445", 445, "microsoft-ds", map[string]string{"smb.max_sizes": "8388608,8388608,8388608", "smb.capabilities": "dfs,leasing,large_mtu,multi_channel"}},
		{"samba-4.17.12-139", 139, "netbios-ssn", map[string]string{"smb.nbss": "positive", "smb.max_sizes": "65536,65536,65536"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := runOnPort(t, c.name, c.port)
			if err != nil {
				t.Fatal(err)
			}
			if res.Service != c.service || res.Confidence < 90 {
				t.Errorf("service %q conf %d", res.Service, res.Confidence)
			}
			for _, want := range []map[string]string{common, c.extra} {
				prototest.CheckFields(t, res, want)
			}
		})
	}
}

func TestNotSMB(t *testing.T) {
	for name, answer := range map[string]string{
		"http":             "HTTP/1.1 400 Bad Request\r\n\r\n",
		"ssh":              "SSH-2.0-OpenSSH_9.2p1\r\n",
		"nbss but not smb": "\x00\x00\x00\x04abcd",
	} {
		t.Run(name, func(t *testing.T) {
			addr := prototest.Serve(t, prototest.Replay(nil, []byte(answer)))
			start := time.Now()
			_, err := prototest.Run(t, New(), addr)
			if !errors.Is(err, protocol.ErrNotThisProtocol) {
				t.Fatalf("err = %v", err)
			}
			if time.Since(start) > time.Second {
				t.Errorf("slow: %v", time.Since(start))
			}
		})
	}
}

func TestNBSSNegative(t *testing.T) {
	addr := prototest.ServeTranscript(t, &prototest.Transcript{Conns: [][]prototest.Step{{{Sent: string(SessionRequest()), Got: "\x83\x00\x00\x01\x82"}}}}, prototest.Options{})
	dial := func(ctx context.Context) (net.Conn, error) { var d net.Dialer; return d.DialContext(ctx, "tcp", addr) }
	ctx := context.Background()
	conn, _ := dial(ctx)
	defer conn.Close()
	res, err := New().Run(ctx, conn, nil, protocol.Env{Port: 139, Timeout: 2 * time.Second, Dial: dial})
	if err != nil || res.Service != "netbios-ssn" || res.Fields["smb.nbss"] != "negative:0x82" {
		t.Fatalf("%v %+v", err, res)
	}
}

func utf16z(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return append(b, 0, 0)
}

// TestSMB1SessionSetup parses the answer shape of a Samba server with SMB1
// enabled (strings as nmap's smb-os-discovery reports them).
func TestSMB1SessionSetup(t *testing.T) {
	msg := smb1Header(smb1SessionSetup, 100, 2)
	binary.LittleEndian.PutUint16(msg[10:], 0xC801)
	msg = append(msg, 3, 0xFF, 0, 0, 0, 0, 0)
	data := append([]byte{0}, utf16z("Windows 6.1")...)
	data = append(data, utf16z("Samba 4.9.5-Debian")...)
	data = append(data, utf16z("WORKGROUP")...)
	msg = binary.LittleEndian.AppendUint16(msg, uint16(len(data)))
	msg = append(msg, data...)
	s, err := ParseSMB1SessionSetup(msg)
	if err != nil || s.NativeOS != "Windows 6.1" || s.NativeLanMan != "Samba 4.9.5-Debian" || s.PrimaryDomain != "WORKGROUP" {
		t.Fatalf("%+v %v", s, err)
	}
}

func TestSMB1Negotiate(t *testing.T) {
	msg := smb1Header(smb1Negotiate, 0, 1)
	msg = append(msg, 17)
	words := make([]byte, 34)
	binary.LittleEndian.PutUint16(words[0:], 0) // dialect index
	words[2] = 3
	binary.LittleEndian.PutUint32(words[19:], 0x0000E3FD) // capabilities, no extended security
	words[33] = 8                                         // challenge length
	msg = append(msg, words...)
	data := append([]byte("12345678"), utf16z("WORKGROUP")...)
	data = append(data, utf16z("FILESRV")...)
	msg = binary.LittleEndian.AppendUint16(msg, uint16(len(data)))
	msg = append(msg, data...)
	n, err := ParseSMB1Negotiate(msg)
	if err != nil || n.DialectIndex != 0 || n.Domain != "WORKGROUP" || n.Server != "FILESRV" {
		t.Fatalf("%+v %v", n, err)
	}
}

func TestRequests(t *testing.T) {
	neg := NegotiateRequest()
	if len(neg) < 64+36 || string(neg[:4]) != "\xfeSMB" || binary.LittleEndian.Uint16(neg[66:]) != 5 {
		t.Fatalf("negotiate % x", neg[:8])
	}
	off := int(binary.LittleEndian.Uint32(neg[64+28:]))
	if off%8 != 0 || off >= len(neg) || binary.LittleEndian.Uint16(neg[off:]) != 1 {
		t.Errorf("context offset %d", off)
	}
	if !strings.Contains(string(SessionRequest()), "CKFDENECFDEFFCFGEFFCCACACACACACA") {
		t.Errorf("called name encoding %q", SessionRequest())
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"samba-4.17.12-445", "samba-4.17.12-139"} {
		for _, r := range prototest.LoadTranscript(f, name).Answers() {
			f.Add(r)
			if p, err := unframe(r); err == nil {
				f.Add(p)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		frameDone(b)
		_, _ = unframe(b)
		if n, err := ParseNegotiate(b); err == nil && n != nil {
			negotiateFields(&protocol.Result{}, n)
		}
		_, _ = ParseSPNEGOInit(b)
		_, _ = ParseSMB1Negotiate(b)
		_, _ = ParseSMB1SessionSetup(b)
	})
}

// TestRecordSMB1 records a Samba 4.17.12 smbd started by hand with
// "server min protocol = NT1" on a spare port (PORTRAIT_SMB1_PORT), to keep
// what the SMB1 path sees when SMB1 is enabled.
func TestRecordSMB1(t *testing.T) {
	port := os.Getenv("PORTRAIT_SMB1_PORT")
	if port == "" {
		t.Skip("set PORTRAIT_SMB1_PORT to record a Samba with SMB1 enabled")
	}
	p, _ := strconv.Atoi(port)
	prototest.Record(t, New(), prototest.Recording{Name: "samba-4.17.12-smb1", Port: p, Note: "Samba smbd 4.17.12+dfsg-0+deb12u4 (Debian 12) started locally with server min protocol = NT1, direct TCP"})
}

func TestReplaySMB1(t *testing.T) {
	res, err := runOnPort(t, "samba-4.17.12-smb1", 445)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"smb.smb1": "true", "smb.native_os": "Windows 6.1", "smb.native_lanman": "Samba 4.17.12-Debian",
		"smb.primary_domain": "LAB", "smb.smb1_domain": "LAB", "smb.smb1_server": "SMB1TEST",
		"smb.dialect": "3.1.1", "smb.ntlm.os_version": "6.1.0",
	}
	prototest.CheckFields(t, res, want)
}
