package ssh

import (
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestRecordLab(t *testing.T) {
	prototest.SkipUnlessRecord(t)
	prototest.Record(t, New(), prototest.Recording{Name: "openssh_22.json", Port: 22, Note: "lab 127.0.0.1:22 OpenSSH 9.2p1 (Debian 12)", Text: true, Timeout: 5 * time.Second})
	prototest.Record(t, New(), prototest.Recording{Name: "openssh_50022.json", Port: 50022, Note: "lab 127.0.0.1:50022 OpenSSH 9.2p1 (Debian 12)", Text: true, Timeout: 5 * time.Second})
}

func TestLabTranscripts(t *testing.T) {
	for _, file := range []string{"openssh_22.json", "openssh_50022.json"} {
		t.Run(file, func(t *testing.T) {
			res, err := prototest.RunTranscript(t, New(), prototest.LoadTranscript(t, file), prototest.Options{Exact: true, Claim: true})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"ssh.banner":   "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10",
				"ssh.proto":    "2.0",
				"ssh.software": "OpenSSH_9.2p1",
				"ssh.comment":  "Debian-2+deb12u10",
			}
			prototest.CheckFields(t, res, want)
			if res.Service != "ssh" || res.Confidence != 95 {
				t.Errorf("service %q confidence %d", res.Service, res.Confidence)
			}
			for _, k := range []string{"ssh.kex.algorithms", "ssh.hostkey.algorithms", "ssh.hostkey.type", "ssh.ciphers",
				"ssh.macs", "ssh.compression", "ssh.hassh_server", "ssh.hassh_server.string"} {
				if res.Fields[k] == "" {
					t.Errorf("%s missing", k)
				}
			}
			if !strings.Contains(res.Fields["ssh.kex.algorithms"], "curve25519-sha256") {
				t.Errorf("kex = %q", res.Fields["ssh.kex.algorithms"])
			}
			if len(res.Fields["ssh.hassh_server"]) != 32 {
				t.Errorf("hassh = %q", res.Fields["ssh.hassh_server"])
			}
			if len(res.Exchanges) != 2 || res.Exchanges[0].Probe != "NULL" || res.Exchanges[1].Probe != "ssh-kexinit" {
				t.Errorf("exchanges %+v", res.Exchanges)
			}
		})
	}
}

// kexinitPacket builds a server KEXINIT binary packet with the given lists.
func kexinitPacket(lists [10]string) []byte {
	p := []byte{msgKexInit}
	p = append(p, make([]byte, 16)...)
	for _, l := range lists {
		p = binary.BigEndian.AppendUint32(p, uint32(len(l)))
		p = append(p, l...)
	}
	p = append(p, 0, 0, 0, 0, 0)
	pad := 8 - (len(p)+5)%8
	if pad < 4 {
		pad += 8
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(len(p)+pad+1))
	out = append(out, byte(pad))
	out = append(out, p...)
	return append(out, make([]byte, pad)...)
}

var dropbearLists = [10]string{
	"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp521,kexguess2@matt.ucc.asn.au",
	"ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-256",
	"chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr", "chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr",
	"hmac-sha1,hmac-sha2-256", "hmac-sha1,hmac-sha2-256",
	"zlib@openssh.com,none", "zlib@openssh.com,none", "", "",
}

func TestScripted(t *testing.T) {
	kex := kexinitPacket(dropbearLists)
	cases := []struct {
		name     string
		greeting string
		answer   string
		want     map[string]string
		conf     int
		notSSH   bool
	}{
		{
			name: "dropbear kexinit sent early", greeting: "SSH-2.0-dropbear_2022.83\r\n" + string(kex),
			want: map[string]string{"ssh.software": "dropbear_2022.83", "ssh.hostkey.type": "ssh-ed25519",
				"ssh.compression": "zlib@openssh.com,none", "ssh.comment": ""},
			conf: 95,
		},
		{
			name: "pre-banner lines", greeting: "Welcome to the box\r\nAuthorised use only\r\nSSH-1.99-Cisco-1.25\r\n",
			answer: string(kex),
			want:   map[string]string{"ssh.proto": "1.99", "ssh.software": "Cisco-1.25", "ssh.prebanner": "Welcome to the box\nAuthorised use only"},
			conf:   95,
		},
		{
			name: "protocol mismatch", greeting: "SSH-2.0-OpenSSH_7.4\r\n", answer: "Protocol mismatch.\n",
			want: map[string]string{"ssh.reply": "Protocol mismatch.", "ssh.software": "OpenSSH_7.4"},
			conf: 85,
		},
		{
			name: "ssh1 only", greeting: "SSH-1.5-1.2.27\n",
			want: map[string]string{"ssh.proto": "1.5", "ssh.software": "1.2.27"},
			conf: 85,
		},
		{
			name: "disconnect", greeting: "SSH-2.0-OpenSSH_8.0\r\n",
			answer: string(disconnectPacket("Too many connections")),
			want:   map[string]string{"ssh.disconnect": "Too many connections"},
			conf:   85,
		},
		{name: "ftp", greeting: "220 (vsFTPd 3.0.3)\r\n", notSSH: true},
		{name: "binary", greeting: "\x00\x00\x00\x10\x01\x02", notSSH: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var answers [][]byte
			if tc.answer != "" {
				answers = append(answers, []byte(tc.answer))
			}
			addr := prototest.Serve(t, prototest.Replay([]byte(tc.greeting), answers...))
			res, err := prototest.Run(t, New(), addr)
			if tc.notSSH {
				if !errors.Is(err, protocol.ErrNotThisProtocol) {
					t.Fatalf("err = %v, want ErrNotThisProtocol", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			prototest.CheckFields(t, res, tc.want)
			if res.Confidence != tc.conf {
				t.Errorf("confidence %d, want %d", res.Confidence, tc.conf)
			}
		})
	}
}

func disconnectPacket(reason string) []byte {
	p := []byte{msgDisconnect, 0, 0, 0, 2}
	p = binary.BigEndian.AppendUint32(p, uint32(len(reason)))
	p = append(p, reason...)
	p = append(p, 0, 0, 0, 0)
	out := binary.BigEndian.AppendUint32(nil, uint32(len(p)+4+1))
	out = append(out, 4)
	out = append(out, p...)
	return append(out, 0, 0, 0, 0)
}

func TestClaim(t *testing.T) {
	for _, tc := range []struct {
		banner string
		want   bool
	}{
		{"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n", true},
		{"SSH-2.0-OpenSSH_9.2p1", true},
		{"Hello\r\nSSH-2.0-x\r\n", true},
		{"SSH-2.0-OpenSSH_7.4\r\nProtocol mismatch.\n", true},
		{"220 ProFTPD\r\n", false},
		{"+OK ready\r\n", false},
		{"HTTP/1.1 400 Bad Request\r\n", false},
		{"\x00\x01", false},
	} {
		if got := New().Claim([]byte(tc.banner)); got != tc.want {
			t.Errorf("Claim(%q) = %v, want %v", tc.banner, got, tc.want)
		}
	}
}

// TestHostile feeds endless or oversized input; the module must stop at the
// limits and within the timeout.
func TestHostile(t *testing.T) {
	cases := map[string]func(net.Conn){
		"endless pre-banner": func(c net.Conn) {
			for i := 0; i < 100000; i++ {
				if _, err := c.Write([]byte("blah blah blah\r\n")); err != nil {
					return
				}
			}
		},
		"huge packet length": func(c net.Conn) {
			c.Write([]byte("SSH-2.0-x\r\n\x7f\xff\xff\xff\x04"))
			c.Read(make([]byte, 100))
			time.Sleep(3 * time.Second)
		},
		"endless ident": func(c net.Conn) {
			c.Write([]byte("SSH-2.0-"))
			for i := 0; i < 10000; i++ {
				if _, err := c.Write([]byte("xxxxxxxxxxxxxxxx")); err != nil {
					return
				}
			}
		},
		"truncated kexinit": func(c net.Conn) {
			c.Write([]byte("SSH-2.0-x\r\n"))
			c.Read(make([]byte, 100))
			c.Write([]byte{0, 0, 1, 0, 4, 20, 1, 2})
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			addr := prototest.Serve(t, h)
			start := time.Now()
			res, _ := prototest.Run(t, New(), addr)
			if d := time.Since(start); d > 6*time.Second {
				t.Errorf("took %v", d)
			}
			if res != nil && res.Fields["ssh.kex.algorithms"] != "" {
				t.Errorf("parsed a KEXINIT from garbage: %v", res.Fields)
			}
		})
	}
}

func TestParseKexInitBounds(t *testing.T) {
	p := []byte{msgKexInit}
	p = append(p, make([]byte, 16)...)
	p = append(p, 0xff, 0xff, 0xff, 0xff)
	if _, err := ParseKexInit(p); err == nil {
		t.Error("accepted a huge name-list length")
	}
	if _, err := ParseKexInit([]byte{msgKexInit, 1}); err == nil {
		t.Error("accepted a truncated cookie")
	}
	if _, _, _, err := Packet([]byte{0, 0, 0, 8, 9, 20, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Error("accepted padding longer than the packet")
	}
}

func TestHASSHServer(t *testing.T) {
	k := &KexInit{Kex: []string{"a", "b"}, CiphersS2C: []string{"c"}, MACsS2C: []string{"d"}, CompS2C: []string{"none"},
		CiphersC2S: []string{"x"}}
	s, sum := k.HASSHServer()
	if s != "a,b;c;d;none" {
		t.Errorf("string %q", s)
	}
	// md5("a,b;c;d;none")
	if sum != "27cf8f3fc7ebe14f501a91434b6d3d26" {
		t.Errorf("sum %q", sum)
	}
}
