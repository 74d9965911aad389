package rdp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
	"github.com/portrait-scanner/portrait/protocol/smb/ntlmssp"
)

func TestRecordLab(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "xrdp-0.9.21.1", Port: 3389, Note: "xrdp 0.9.21.1-1+deb12u3 (Debian 12), security_layer=negotiate crypt_level=high; no StartTLS during recording"})
}

// startTLS is a minimal Env.StartTLS for tests (no verification).
func startTLS(ctx context.Context, conn net.Conn) (*tls.Conn, map[string]string, error) {
	c := tls.Client(conn, &tls.Config{InsecureSkipVerify: true})
	if err := c.HandshakeContext(ctx); err != nil {
		return nil, nil, err
	}
	f := map[string]string{"tls.version": strconv.Itoa(int(c.ConnectionState().Version))}
	if certs := c.ConnectionState().PeerCertificates; len(certs) > 0 {
		f["tls.cert.cn"] = certs[0].Subject.CommonName
	}
	return c, f, nil
}

// TestLiveTLS runs against the lab's xrdp with TLS (not recordable: the
// handshake is never the same twice).
func TestLiveTLS(t *testing.T) {
	if os.Getenv("PORTRAIT_RECORD") != "1" {
		t.Skip("set PORTRAIT_RECORD=1 to talk to the lab")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", "127.0.0.1:3389")
	}
	conn, err := dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res, err := New().Run(ctx, conn, nil, protocol.Env{Host: "127.0.0.1", Port: 3389, Timeout: 3 * time.Second, MaxRead: 64 << 10, Dial: dial, StartTLS: startTLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fields: %v", res.Fields)
	if res.Fields["tls.version"] == "" || res.Fields["rdp.selected_protocol"] != "tls" {
		t.Errorf("no TLS fields: %v", res.Fields)
	}
}

func TestReplayXrdp(t *testing.T) {
	res, err := prototest.RunRecorded(t, New(), "xrdp-0.9.21.1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Service != "ms-wbt-server" || res.Confidence < 90 {
		t.Errorf("service %q conf %d", res.Service, res.Confidence)
	}
	want := map[string]string{
		"rdp.x224":              "030000130ed000001234000201080001000000",
		"rdp.src_ref":           "1234",
		"rdp.neg":               "response",
		"rdp.selected_protocol": "tls",
		"rdp.flags":             "0x01",
		"rdp.rdp_security":      "granted",
		"rdp.core_version":      "0x00080004",
		"rdp.gcc_blocks":        "0c01,0c03,0c02",
		"rdp.encryption_method": "0x00000002",
		"rdp.encryption_level":  "3",
		"rdp.server_cert":       "proprietary",
		"rdp.server_key_bits":   "2048",
		"rdp.mcs_channel_id":    "1003",
		"rdp.neg_all_reply":     "x224-data:2180",
	}
	prototest.CheckFields(t, res, want)
}

func TestParseConfirm(t *testing.T) {
	mustHex := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	cases := []struct {
		name, in string
		neg      string
		sel      uint32
		fail     uint32
		err      bool
	}{
		{"xrdp tls", "030000130ed000001234000201080001000000", "response", 1, 0, false},
		{"no neg", "0300000b06d00000123400", "none", 0, 0, false},
		{"failure", "030000130ed000001234000300080005000000", "failure", 0, 5, false},
		{"data tpdu", "0300000902f0802180", "", 0, 0, true},
		{"http", hex.EncodeToString([]byte("HTTP/1.1 400")), "", 0, 0, true},
		{"short", "0300", "", 0, 0, true},
		{"len lies", "0300ffff0ed000001234000201080001000000", "", 0, 0, true},
	}
	for _, c := range cases {
		cc, err := ParseConfirm(mustHex(c.in))
		if (err != nil) != c.err {
			t.Errorf("%s: err %v", c.name, err)
			continue
		}
		if err == nil && (cc.Neg != c.neg || cc.Selected != c.sel || cc.Failure != c.fail) {
			t.Errorf("%s: got %+v", c.name, cc)
		}
	}
}

func TestNotRDP(t *testing.T) {
	addr := prototest.Serve(t, prototest.Replay(nil, []byte("HTTP/1.1 400 Bad Request\r\n\r\n")))
	start := time.Now()
	_, err := prototest.Run(t, New(), addr)
	if !errors.Is(err, protocol.ErrNotThisProtocol) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("slow rejection: %v", time.Since(start))
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "WIN-TEST01"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestCredSSP plays a Windows-like server: it selects HYBRID_EX, completes
// TLS and answers the TSRequest with an NTLM CHALLENGE.
func TestCredSSP(t *testing.T) {
	cert := selfSigned(t)
	challenge := ntlmssp.BuildChallenge(&ntlmssp.Challenge{
		TargetName: "LAB", NbDomain: "LAB", NbComputer: "WIN-TEST01", DNSDomain: "lab.example",
		DNSComputer: "win-test01.lab.example", HasVersion: true, Major: 10, Minor: 0, Build: 20348, Revision: 15,
	})
	cc, _ := hex.DecodeString("030000130ed000001234000201080008000000")
	cc[12] = 0x1f
	addr := prototest.Serve(t, func(c net.Conn) {
		buf := make([]byte, 19)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if buf[15] != requested {
			// Second and third connections: refuse standard security.
			fail, _ := hex.DecodeString("030000130ed000001234000300080005000000")
			_, _ = c.Write(fail)
			return
		}
		_, _ = c.Write(cc)
		s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err := s.Handshake(); err != nil {
			return
		}
		req := make([]byte, 4096)
		if _, err := s.Read(req); err != nil {
			return
		}
		_, _ = s.Write(TSRequest(6, challenge))
		_, _ = io.Copy(io.Discard, s)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	conn, err := dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res, err := New().Run(ctx, conn, nil, protocol.Env{Host: "127.0.0.1", Timeout: 2 * time.Second, MaxRead: 64 << 10, Dial: dial, StartTLS: startTLS})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"rdp.selected_protocol":     "hybrid_ex",
		"rdp.flags":                 "0x1f",
		"tls.cert.cn":               "WIN-TEST01",
		"rdp.credssp_version":       "6",
		"rdp.ntlm.netbios_computer": "WIN-TEST01",
		"rdp.ntlm.dns_computer":     "win-test01.lab.example",
		"rdp.ntlm.os_version":       "10.0.20348",
		"rdp.rdp_security":          "HYBRID_REQUIRED_BY_SERVER",
		"rdp.neg_all_reply":         "failure:HYBRID_REQUIRED_BY_SERVER",
	}
	prototest.CheckFields(t, res, want)
}

func TestMCSRequestShape(t *testing.T) {
	b := MCSConnectInitial(ProtoRDP)
	if b[0] != 3 || int(b[2])<<8|int(b[3]) != len(b) || b[7] != 0x7F || b[8] != 0x65 {
		t.Errorf("bad framing % x", b[:12])
	}
}

func FuzzParse(f *testing.F) {
	for _, r := range prototest.LoadTranscript(f, "xrdp-0.9.21.1").Answers() {
		f.Add(r)
	}
	f.Add(TSRequest(6, ntlmssp.Negotiate()))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseConfirm(b)
		if sd, err := ParseMCSConnectResponse(b); err == nil {
			sd.Fields(&protocol.Result{})
		}
		TSRequestVersion(b)
		tpktDone(b)
	})
}
