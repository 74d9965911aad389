package ntlmssp

import (
	"bytes"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/ldap/ber"
)

func sample() *Challenge {
	return &Challenge{
		TargetName: "CORP", NbDomain: "CORP", NbComputer: "DC01",
		DNSDomain: "corp.example.com", DNSComputer: "dc01.corp.example.com", DNSTree: "corp.example.com",
		Timestamp:  time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC),
		HasVersion: true, Major: 10, Minor: 0, Build: 17763, Revision: 15,
	}
}

func TestRoundTrip(t *testing.T) {
	want := sample()
	got, err := Find(append([]byte("junk before NTLMSSP\x00 type 1 mention "), BuildChallenge(want)...))
	if err != nil {
		t.Fatal(err)
	}
	if got.TargetName != want.TargetName || got.NbDomain != "CORP" || got.NbComputer != "DC01" ||
		got.DNSDomain != want.DNSDomain || got.DNSComputer != want.DNSComputer || got.DNSTree != want.DNSTree ||
		got.OSVersion() != "10.0.17763" || got.Revision != 15 || !got.Timestamp.Equal(want.Timestamp) {
		t.Errorf("got %+v", got)
	}
	res := &protocol.Result{}
	got.Fields("smb.ntlm", res)
	if res.Fields["smb.ntlm.os_version"] != "10.0.17763" || res.Fields["smb.ntlm.dns_computer"] != "dc01.corp.example.com" {
		t.Errorf("fields %v", res.Fields)
	}
}

func TestNoVersion(t *testing.T) {
	c := sample()
	c.HasVersion = false
	got, err := Parse(BuildChallenge(c))
	if err != nil || got.HasVersion || got.OSVersion() != "" {
		t.Errorf("got %+v %v", got, err)
	}
}

func TestHostile(t *testing.T) {
	good := BuildChallenge(sample())
	for name, b := range map[string][]byte{
		"empty":      nil,
		"signature":  Signature,
		"truncated":  good[:40],
		"bad offset": append(append([]byte{}, good[:16]...), append([]byte{0xff, 0xff, 0xff, 0x7f}, good[20:]...)...),
	} {
		c, err := Parse(b)
		if err == nil && c == nil {
			t.Errorf("%s: nil without error", name)
		}
	}
	// AV pair claiming more bytes than present stops the walk.
	bad := append([]byte{}, good...)
	bad[len(bad)-6] = 0xff
	if _, err := Parse(bad); err != nil {
		t.Errorf("bad av: %v", err)
	}
}

func TestSPNEGO(t *testing.T) {
	tok := SPNEGONegotiate(Negotiate())
	e, rest, err := ber.Parse(tok)
	if err != nil || len(rest) != 0 || e.Ident != 0x60 {
		t.Fatalf("%+v %v", e, err)
	}
	if !bytes.Contains(tok, ber.EncodeOID(OIDNTLM)) || !bytes.Contains(tok, Negotiate()) {
		t.Error("token lacks NTLM OID or message")
	}
}

func FuzzFind(f *testing.F) {
	f.Add(BuildChallenge(sample()))
	f.Add(Negotiate())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Find(b)
		if err == nil {
			res := &protocol.Result{}
			c.Fields("x", res)
			for _, v := range res.Fields {
				if len(v) > 4*maxName {
					t.Fatal("field over cap")
				}
			}
		}
	})
}
