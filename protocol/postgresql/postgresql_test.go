package postgresql

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// pgServer answers each startup-shaped packet by its protocol code: the
// SSLRequest answer may be followed by a startup on the same connection.
func pgServer(answers map[uint32][]byte) func(net.Conn) {
	return func(c net.Conn) {
		for {
			var hdr [8]byte
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(hdr[:4])
			if n > 8 {
				if _, err := io.CopyN(io.Discard, c, int64(n-8)); err != nil {
					return
				}
			}
			code := binary.BigEndian.Uint32(hdr[4:])
			a, ok := answers[code]
			if !ok {
				return
			}
			if _, err := c.Write(a); err != nil {
				return
			}
		}
	}
}

// msg builds one backend message.
func msg(t byte, body []byte) []byte {
	out := []byte{t}
	out = binary.BigEndian.AppendUint32(out, uint32(len(body)+4))
	return append(out, body...)
}

func errResp(fields ...string) []byte {
	var body []byte
	for i := 0; i+1 < len(fields); i += 2 {
		body = append(body, fields[i][0])
		body = append(body, fields[i+1]...)
		body = append(body, 0)
	}
	return msg('E', append(body, 0))
}

func param(name, value string) []byte {
	return msg('S', []byte(name+"\x00"+value+"\x00"))
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestRun(t *testing.T) {
	lab := map[uint32][]byte{
		sslRequestCode: prototest.Testdata(t, "lab-15432", "pg-sslrequest.bin"),
		protocol30:     prototest.Testdata(t, "lab-15432", "pg-startup.bin"),
		protocol40:     prototest.Testdata(t, "lab-15432", "pg-startup-v4.bin"),
	}
	// Synthetic: a trusting server (pg_hba "trust") lets us in and reports
	// its parameters; then ReadyForQuery.
	trust := map[uint32][]byte{
		sslRequestCode: []byte("N"),
		protocol30: cat(msg('R', []byte{0, 0, 0, 0}),
			param("application_name", "portrait"),
			param("server_encoding", "UTF8"),
			param("server_version", "16.2 (Ubuntu 16.2-1.pgdg22.04+1)"),
			msg('K', make([]byte, 8)),
			msg('Z', []byte("I"))),
		protocol40: errResp("S", "FATAL", "V", "FATAL", "C", "0A000", "M", "unsupported frontend protocol 4.0: server supports 3.0 to 3.0", "F", "postmaster.c", "L", "2188", "R", "ProcessStartupPacket"),
	}
	// Synthetic: pgbouncer does not know the database and sends no F/L/R.
	bouncer := map[uint32][]byte{
		sslRequestCode: []byte("N"),
		protocol30:     errResp("S", "FATAL", "C", "08P01", "M", "No such database: portrait"),
	}
	// Synthetic: a pre-9.x server answering the 4.0 probe in protocol 2 style.
	old := map[uint32][]byte{
		sslRequestCode: []byte("N"),
		protocol30:     msg('R', []byte{0, 0, 0, 5, 1, 2, 3, 4}),
		protocol40:     []byte("EFATAL:  unsupported frontend protocol 4.0: server supports 1.0 to 3.0\n\x00"),
	}
	tests := []struct {
		name    string
		answers map[uint32][]byte
		raw     []byte
		wantErr error
		fields  map[string]string
		absent  []string
	}{
		{
			name:    "lab PostgreSQL 15.18",
			answers: lab,
			fields: map[string]string{
				"postgresql.ssl": "S", "postgresql.auth": "sasl", "postgresql.auth_code": "10",
				"postgresql.sasl_mechanisms":     "SCRAM-SHA-256",
				"postgresql.probe.error.code":    "0A000",
				"postgresql.probe.error.file":    "postmaster.c",
				"postgresql.probe.error.line":    "2222",
				"postgresql.probe.error.routine": "ProcessStartupPacket",
				"postgresql.probe.location":      "postmaster.c:2222:ProcessStartupPacket",
				"postgresql.protocol":            "3.0-3.0",
			},
		},
		{
			name:    "trust",
			answers: trust,
			fields: map[string]string{
				"postgresql.ssl": "N", "postgresql.auth": "ok",
				"postgresql.server_version": "16.2 (Ubuntu 16.2-1.pgdg22.04+1)",
				"postgresql.parameters":     "application_name=portrait; server_encoding=UTF8; server_version=16.2 (Ubuntu 16.2-1.pgdg22.04+1)",
			},
		},
		{
			name:    "pgbouncer",
			answers: bouncer,
			fields: map[string]string{
				"postgresql.error.code": "08P01", "postgresql.error.message": "No such database: portrait",
				"postgresql.error.severity": "FATAL",
			},
			absent: []string{"postgresql.error.file", "postgresql.probe.location"},
		},
		{
			name:    "protocol 2 error",
			answers: old,
			fields: map[string]string{
				"postgresql.auth": "md5", "postgresql.probe.error.severity": "FATAL",
				"postgresql.probe.error.message": "unsupported frontend protocol 4.0: server supports 1.0 to 3.0",
				"postgresql.protocol":            "1.0-3.0",
			},
		},
		{
			name:    "http server",
			raw:     []byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"),
			wantErr: protocol.ErrNotThisProtocol,
		},
		{
			name:    "redis",
			raw:     []byte("-ERR unknown command\r\n"),
			wantErr: protocol.ErrNotThisProtocol,
		},
		{
			// lab2's ngIRCd refusing the connection: "E" then text, like a
			// protocol-2 error but without severity or NUL.
			name:    "irc ERROR line",
			raw:     prototest.Testdata(t, "lab2-ngircd", "pg-sslrequest.bin"),
			wantErr: protocol.ErrNotThisProtocol,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := pgServer(tc.answers)
			if tc.raw != nil {
				h = prototest.Replay(nil, tc.raw)
			}
			addr := prototest.Serve(t, h)
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
			if res.Service != "postgresql" || res.Confidence < 90 {
				t.Errorf("service = %q conf %d", res.Service, res.Confidence)
			}
			prototest.CheckFields(t, res, tc.fields)
			for _, k := range tc.absent {
				if v, ok := res.Fields[k]; ok {
					t.Errorf("%s = %q, want absent", k, v)
				}
			}
		})
	}
}

func TestParseMessagesV2(t *testing.T) {
	tests := []struct {
		name string
		in   string
		v2   bool // one protocol-2 error parsed
		wait bool // truncated: read on
	}{
		{"fatal", "EFATAL:  unsupported frontend protocol 4.0\n\x00", true, false},
		{"old numbered severity", "EFATAL 1:  unsupported frontend protocol\n\x00", true, false},
		{"partial severity", "EFAT", false, true},
		{"no NUL yet", "EFATAL:  unsupported", false, true},
		{"irc error", "ERROR :Closing link: (x@127.0.0.1) [Registration timeout]\r\n", false, false},
		{"irc error with NUL", "ERROR :x\x00", false, false},
		{"text without severity", "Eh? what\x00", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msgs, err := ParseMessages([]byte(tc.in))
			got := len(msgs) == 1 && msgs[0].V2
			if got != tc.v2 {
				t.Errorf("v2 = %v (%v, %v), want %v", got, msgs, err, tc.v2)
			}
			if w := errors.Is(err, errTruncated); w != tc.wait {
				t.Errorf("truncated = %v (%v), want %v", w, err, tc.wait)
			}
		})
	}
}

func TestParseMessagesBounds(t *testing.T) {
	huge := []byte{'R', 0x7f, 0xff, 0xff, 0xff}
	if msgs, err := ParseMessages(huge); err == nil || len(msgs) != 0 {
		t.Errorf("huge length accepted: %v %v", msgs, err)
	}
	if _, err := ParseMessages([]byte{'R', 0, 0, 0, 12, 0}); !errors.Is(err, errTruncated) {
		t.Errorf("truncated: %v", err)
	}
}

func FuzzParseMessages(f *testing.F) {
	f.Add(prototest.Testdata(f, "lab-15432", "pg-startup.bin"))
	f.Add(prototest.Testdata(f, "lab2-ngircd", "pg-sslrequest.bin"))
	f.Add(prototest.Testdata(f, "lab-15432", "pg-startup-v4.bin"))
	f.Add([]byte("EFATAL:  unsupported frontend protocol 4.0: server supports 1.0 to 3.0\n\x00"))
	f.Add(cat(msg('R', []byte{0, 0, 0, 0}), param("server_version", "15.18"), msg('Z', []byte("I"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, _ := ParseMessages(b)
		for _, m := range msgs {
			if len(m.Body) > maxMessage {
				t.Fatalf("message body %d bytes", len(m.Body))
			}
			_ = ParseError(m.Body)
			_, _, _ = ParseAuth(m.Body)
			_, _, _ = parseParam(m.Body)
		}
		if len(b) > 0 {
			_ = messagesDone(b, true)
		}
	})
}
