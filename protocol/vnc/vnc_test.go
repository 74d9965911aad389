package vnc

import (
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestRecordLab(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "tigervnc-1.12.0", Port: 5901, Note: "TigerVNC Xvnc 1.12.0+dfsg-8 (Debian 12), -SecurityTypes None -desktop lab"})
}

// TestRecordDefaultSecurity records a TigerVNC Xvnc started by hand with its
// default security types (PORTRAIT_VNC_DEFAULT_PORT names its port):
// Xvnc :57 -rfbport 5957 -interface 127.0.0.1 -nolisten tcp -geometry 800x600
func TestRecordDefaultSecurity(t *testing.T) {
	port := os.Getenv("PORTRAIT_VNC_DEFAULT_PORT")
	if port == "" {
		t.Skip("set PORTRAIT_VNC_DEFAULT_PORT to record a default-security Xvnc")
	}
	p, _ := strconv.Atoi(port)
	prototest.Record(t, New(), prototest.Recording{Name: "tigervnc-1.12.0-default-security", Port: p, Note: "TigerVNC Xvnc 1.12.0+dfsg-8 (Debian 12) with default SecurityTypes (VeNCrypt TLSVnc, VncAuth), started locally for the recording"})
}

func TestReplay(t *testing.T) {
	cases := []struct {
		name string
		want map[string]string
	}{
		{"tigervnc-1.12.0", map[string]string{
			"vnc.protocol": "3.8", "vnc.server_version": "003.008", "vnc.security_types": "1",
			"vnc.auth_result": "ok", "vnc.desktop_name": "lab", "vnc.geometry": "1024x768",
			"vnc.pixel_format": "bpp=32 depth=24 be=0 true=1 max=255,255,255 shift=16,8,0",
			"vnc.rfb41_reply":  "Client needs protocol version 4.1, server has 3.8",
		}},
		{"tigervnc-1.12.0-default-security", map[string]string{
			"vnc.protocol": "3.8", "vnc.security_types": "19,2", "vnc.vencrypt_version": "0.2",
			"vnc.vencrypt_subtypes": "258,2",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := prototest.RunRecorded(t, New(), c.name)
			if err != nil {
				t.Fatal(err)
			}
			if res.Service != "vnc" || res.Confidence < 90 {
				t.Errorf("service %q conf %d", res.Service, res.Confidence)
			}
			prototest.CheckFields(t, res, c.want)
		})
	}
}

func TestClaim(t *testing.T) {
	m := New()
	for b, want := range map[string]bool{
		"RFB 003.008\n": true, "RFB 003.889\n": true, "RFB ": true, "RF": true,
		"RFB 3.8\n\n\n\n\n": false, "SSH-2.0-x\r\n": false, "220 ftp\r\n": false,
	} {
		if got := m.Claim([]byte(b)); got != want {
			t.Errorf("Claim(%q) = %v", b, got)
		}
	}
}

func TestReply(t *testing.T) {
	for in, want := range map[Version]Version{
		{3, 3}: {3, 3}, {3, 7}: {3, 7}, {3, 8}: {3, 8}, {3, 889}: {3, 889},
		{3, 5}: {3, 3}, {3, 6}: {3, 3}, {3, 14}: {3, 8}, {4, 1}: {3, 8}, {5, 0}: {3, 8},
	} {
		if got := in.Reply(); got != want {
			t.Errorf("%v.Reply() = %v, want %v", in, got, want)
		}
	}
}

func TestParseSecurity(t *testing.T) {
	v33, v38 := Version{3, 3}, Version{3, 8}
	cases := []struct {
		name     string
		v        Version
		in       []byte
		types    string
		failure  string
		complete bool
		err      bool
	}{
		{"list", v38, []byte{2, 19, 2}, "19,2", "", true, false},
		{"short list", v38, []byte{2, 19}, "", "", false, false},
		{"3.8 failure", v38, append([]byte{0, 0, 0, 0, 3}, "bad"...), "", "bad", true, false},
		{"3.3 type", v33, []byte{0, 0, 0, 2}, "2", "", true, false},
		{"3.3 failure", v33, append([]byte{0, 0, 0, 0, 0, 0, 0, 2}, "no"...), "", "no", true, false},
		{"huge reason", v38, []byte{0, 0xff, 0xff, 0xff, 0xff}, "", "", true, true},
		{"huge type", v33, []byte{0xff, 0xff, 0xff, 0xff}, "", "", true, true},
	}
	for _, c := range cases {
		r, complete, err := ParseSecurity(c.v, c.in)
		if (err != nil) != c.err || complete != c.complete || joinInts(r.Types) != c.types || r.Failure != c.failure {
			t.Errorf("%s: got %+v complete=%v err=%v", c.name, r, complete, err)
		}
	}
	if r, ok := parseEitherSecurity(append([]byte{0, 0, 0, 0, 0, 0, 0, 3}, "abc"...)); !ok || r.Failure != "abc" {
		t.Errorf("either 3.3: %+v %v", r, ok)
	}
	if r, ok := parseEitherSecurity(append([]byte{0, 0, 0, 0, 3}, "abc"...)); !ok || r.Failure != "abc" {
		t.Errorf("either 3.8: %+v %v", r, ok)
	}
}

func TestNotVNC(t *testing.T) {
	addr := prototest.Serve(t, prototest.Replay([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")))
	_, err := prototest.Run(t, New(), addr)
	if !errors.Is(err, protocol.ErrNotThisProtocol) {
		t.Fatalf("err = %v", err)
	}
}

// TestHostileServerInit: a desktop name length of 4 GiB is refused without
// allocating, and an endless name is capped.
func TestHostileServerInit(t *testing.T) {
	hdr := make([]byte, 24)
	hdr[20], hdr[21], hdr[22], hdr[23] = 0xff, 0xff, 0xff, 0xff
	if _, _, err := ParseServerInit(hdr); err == nil {
		t.Error("huge name accepted")
	}
	hdr[20], hdr[21], hdr[22], hdr[23] = 0, 0, 0xff, 0xff
	long := append(hdr, make([]byte, 1000)...)
	si, ok, err := ParseServerInit(long)
	if err != nil || !ok || len(si.Name) != maxName {
		t.Errorf("long name: %d %v %v", len(si.Name), ok, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"tigervnc-1.12.0", "tigervnc-1.12.0-default-security"} {
		for _, r := range prototest.LoadTranscript(f, name).Answers() {
			f.Add(r)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseVersion(b)
		for _, v := range []Version{{3, 3}, {3, 7}, {3, 8}} {
			r, _, _ := ParseSecurity(v, b)
			if len(r.Failure) > maxReason || len(r.Types) > 255 {
				t.Fatal("over cap")
			}
		}
		parseEitherSecurity(b)
		si, _, _ := ParseServerInit(b)
		if len(si.Name) > maxName {
			t.Fatal("name over cap")
		}
	})
}

// TestBlacklisted: TigerVNC's refusal arrives with the greeting; the module
// must read it from the banner instead of waiting for an answer.
func TestBlacklisted(t *testing.T) {
	res, err := prototest.RunRecorded(t, New(), "tigervnc-1.12.0-blacklisted")
	if err != nil {
		t.Fatal(err)
	}
	if res.Fields["vnc.protocol"] != "3.3" || res.Fields["vnc.failure"] != "Too many security failures" || res.Confidence < 95 {
		t.Errorf("fields %v conf %d", res.Fields, res.Confidence)
	}
}
