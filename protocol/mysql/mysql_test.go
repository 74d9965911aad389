package mysql

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// packet prefixes payload with the 3-byte length and sequence 0.
func packet(payload []byte) []byte {
	h := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), 0}
	return append(h, payload...)
}

// handshakeV10 builds a synthetic Handshake V10 as documented in the MySQL
// client/server protocol reference (connection phase).
func handshakeV10(version string, caps uint32, charset byte, plugin string) []byte {
	p := []byte{10}
	p = append(p, version...)
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint32(p, 42) // connection id
	p = append(p, "abcdefgh"...)                // auth-plugin-data part 1
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint16(p, uint16(caps))
	p = append(p, charset)
	p = binary.LittleEndian.AppendUint16(p, 2)
	p = binary.LittleEndian.AppendUint16(p, uint16(caps>>16))
	p = append(p, 21)
	p = append(p, make([]byte, 10)...)
	p = append(p, "ijklmnopqrst\x00"...)
	p = append(p, plugin...)
	p = append(p, 0)
	return packet(p)
}

func errPacket(code uint16, msg string) []byte {
	p := []byte{0xff}
	p = binary.LittleEndian.AppendUint16(p, code)
	p = append(p, msg...)
	return packet(p)
}

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		greeting []byte
		wantErr  error
		fields   map[string]string
	}{
		{
			name:     "lab MariaDB 10.11.19",
			greeting: prototest.Testdata(t, "lab-3306", "NULL.bin"),
			fields: map[string]string{
				"mysql.protocol": "10", "mysql.version": "5.5.5-10.11.19-MariaDB-0+deb12u1",
				"mysql.capabilities": "81fff7fe", "mysql.charset": "45", "mysql.status": "0002",
				"mysql.auth_plugin": "mysql_native_password", "mysql.ext_capabilities": "0000001d",
			},
		},
		{
			name:     "synthetic MySQL 8.0",
			greeting: handshakeV10("8.0.36", 0xdfffffff, 255, "caching_sha2_password"),
			fields: map[string]string{
				"mysql.version": "8.0.36", "mysql.auth_plugin": "caching_sha2_password",
				"mysql.capabilities": "dfffffff", "mysql.charset": "255",
			},
		},
		{
			name:     "synthetic host not allowed",
			greeting: errPacket(1130, "Host '192.0.2.7' is not allowed to connect to this MySQL server"),
			fields: map[string]string{
				"mysql.error_code": "1130",
				"mysql.error":      "Host '192.0.2.7' is not allowed to connect to this MySQL server",
			},
		},
		{
			name:     "synthetic protocol 9",
			greeting: packet([]byte("\x093.23.58\x00\x01\x00\x00\x00abcdefgh\x00")),
			fields:   map[string]string{"mysql.protocol": "9", "mysql.version": "3.23.58"},
		},
		{
			name:     "ssh banner",
			greeting: []byte("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"),
			wantErr:  protocol.ErrNotThisProtocol,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := prototest.Serve(t, prototest.Replay(tc.greeting))
			res, err := prototest.Run(t, New(), addr)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Service != "mysql" {
				t.Errorf("service = %q", res.Service)
			}
			prototest.CheckFields(t, res, tc.fields)
		})
	}
}

func TestClaim(t *testing.T) {
	m := New()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"220 ProFTPD Server ready.\r\n", false},
		{"HTTP/1.0 200 OK\r\n", false},
		{"\x00\x00\x00\x00\x0a5.7\x00", false},
		{"\x4a\x00\x00\x00\x0a8.0.36\x00", true},
	} {
		if got := m.Claim([]byte(tc.in)); got != tc.want {
			t.Errorf("Claim(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if !m.Claim(prototest.Testdata(t, "lab-3306", "NULL.bin")) {
		t.Error("lab banner not claimed")
	}
}

// TestTruncatedBanner: the engine may hand over only the first bytes of the
// packet; Run reads the rest.
func TestTruncatedBanner(t *testing.T) {
	full := prototest.Testdata(t, "lab-3306", "NULL.bin")
	addr := prototest.Serve(t, func(c net.Conn) {
		_, _ = c.Write(full[:20])
		time.Sleep(200 * time.Millisecond)
		_, _ = c.Write(full[20:])
		_, _ = c.Read(make([]byte, 16))
	})
	res, err := prototest.Run(t, New(), addr)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Fields["mysql.auth_plugin"] != "mysql_native_password" {
		t.Errorf("fields = %q", res.Fields)
	}
	h, err := ParseHandshake(full[:40])
	if err != nil {
		t.Fatalf("ParseHandshake truncated: %v", err)
	}
	if h.Version != "5.5.5-10.11.19-MariaDB-0+deb12u1" || h.HasCharset {
		t.Errorf("truncated parse = %+v", h)
	}
}

func FuzzParseHandshake(f *testing.F) {
	f.Add(prototest.Testdata(f, "lab-3306", "NULL.bin"))
	f.Add(handshakeV10("8.0.36", 0xdfffffff, 255, "caching_sha2_password"))
	f.Add(errPacket(1130, "Host 'x' is not allowed to connect to this MariaDB server"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = New().Claim(b)
		h, err := ParseHandshake(b)
		if err == nil && len(h.Version) > 256 {
			t.Fatal("version not capped")
		}
		_ = packetComplete(b)
	})
}
