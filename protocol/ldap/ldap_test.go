package ldap

import (
	"errors"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/ldap/ber"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestRecordLab(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "slapd-2.5.13", Port: 389, Note: "OpenLDAP slapd 2.5.13+dfsg-5 (Debian 12), anonymous root DSE search"})
}

func TestReplaySlapd(t *testing.T) {
	res, err := prototest.RunRecorded(t, New(), "slapd-2.5.13")
	if err != nil {
		t.Fatal(err)
	}
	if res.Service != "ldap" || res.Confidence < 90 {
		t.Errorf("service %q confidence %d", res.Service, res.Confidence)
	}
	want := map[string]string{
		"ldap.result_code":            "0",
		"ldap.structural_objectclass": "OpenLDAProotDSE",
		"ldap.objectclass":            "top,OpenLDAProotDSE",
		"ldap.naming_contexts":        "dc=lab,dc=local",
		"ldap.supported_versions":     "3",
		"ldap.config_context":         "cn=config",
		"ldap.subschema_subentry":     "cn=Subschema",
	}
	prototest.CheckFields(t, res, want)
	for k, sub := range map[string]string{
		"ldap.extensions":      "1.3.6.1.1.21.1",
		"ldap.controls":        "1.2.840.113556.1.4.319",
		"ldap.sasl_mechanisms": "SCRAM-SHA-256",
		"ldap.rootdse":         "objectClass: OpenLDAProotDSE\n",
	} {
		if !strings.Contains(res.Fields[k], sub) {
			t.Errorf("%s = %q, lacks %q", k, res.Fields[k], sub)
		}
	}
	if len(res.Exchanges) != 1 || res.Exchanges[0].Probe != "LDAPSearchReq" {
		t.Errorf("exchanges %+v", res.Exchanges)
	}
}

func TestNotLDAP(t *testing.T) {
	for name, answer := range map[string][]byte{
		"http":  []byte("HTTP/1.1 400 Bad Request\r\n\r\n"),
		"ssh":   []byte("SSH-2.0-OpenSSH_9.2p1\r\n"),
		"smb":   {0, 0, 0, 4, 0xff, 'S', 'M', 'B'},
		"bogus": {0x30, 0x03, 0x01, 0x01, 0xff}, // a SEQUENCE that is not an LDAPMessage
	} {
		t.Run(name, func(t *testing.T) {
			addr := prototest.Serve(t, prototest.Replay(nil, answer))
			_, err := prototest.Run(t, New(), addr)
			if !errors.Is(err, protocol.ErrNotThisProtocol) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// notice is an unsolicited Notice of Disconnection (msgid 0, ExtendedResponse)
// as servers send before dropping a client they refuse.
func notice() []byte {
	return ber.TLV(ber.TagSequence, ber.EncodeInt(ber.TagInteger, 0),
		ber.TLV(ber.ClassApplication|ber.Constructed|opExtendedResp,
			ber.EncodeInt(ber.TagEnumerated, 2),
			ber.EncodeString(ber.TagOctetString, ""),
			ber.EncodeString(ber.TagOctetString, "bad request"),
			ber.EncodeString(ber.ClassContext|10, "1.3.6.1.4.1.1466.20036")))
}

func TestParseResponse(t *testing.T) {
	tr := prototest.LoadTranscript(t, "slapd-2.5.13")
	full := tr.Answers()[0]
	cases := []struct {
		name    string
		in      []byte
		done    bool
		code    int
		entries int
		err     bool
	}{
		{"full", full, true, 0, 11, false},
		{"truncated", full[:len(full)-5], false, -1, 11, false},
		{"header only", full[:3], false, -1, 0, false},
		{"notice", notice(), true, 2, 0, false},
		{"garbage", []byte("garbage"), false, -1, 0, true},
		{"indefinite", []byte{0x30, 0x80, 0, 0}, false, -1, 0, true},
	}
	for _, c := range cases {
		r, err := ParseResponse(c.in)
		if (err != nil) != c.err {
			t.Errorf("%s: err %v", c.name, err)
			continue
		}
		if r.Done != c.done || r.ResultCode != c.code || len(r.Entry) != c.entries {
			t.Errorf("%s: done %v code %d entries %d", c.name, r.Done, r.ResultCode, len(r.Entry))
		}
	}
}

func TestRequestShape(t *testing.T) {
	req := BuildRootDSESearch(7)
	msg, rest, err := ber.Parse(req)
	if err != nil || len(rest) != 0 {
		t.Fatal(err)
	}
	parts, err := ber.Children(msg.Content, 3)
	if err != nil || len(parts) != 2 || parts[1].Ident != 0x63 {
		t.Fatalf("parts %+v %v", parts, err)
	}
	id, _ := ber.Int(parts[0].Content)
	if id != 7 {
		t.Errorf("id %d", id)
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, r := range prototest.LoadTranscript(f, "slapd-2.5.13").Answers() {
		f.Add(r)
	}
	f.Add(notice())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _ := ParseResponse(b)
		if r == nil {
			t.Fatal("nil response")
		}
		res := &protocol.Result{}
		r.Fields(res)
		if len(res.Fields["ldap.rootdse"]) > maxRootDSE {
			t.Fatal("rootdse over cap")
		}
	})
}
