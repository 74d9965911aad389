package redis

import (
	"errors"
	"testing"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func bulk(s string) []byte {
	return []byte("$" + itoa(len(s)) + "\r\n" + s + "\r\n")
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestRun(t *testing.T) {
	// Synthetic answers (see testdata/README.md) follow the formats the
	// servers' sources print; the lab ones are recorded.
	valkey := bulk("# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\nos:Linux 6.1.0 x86_64\r\narch_bits:64\r\n")
	dragonfly := bulk("# Server\r\nredis_version:7.4.0\r\ndragonfly_version:df-v1.40.1\r\nredis_mode:standalone\r\narch_bits:64\r\n")
	tests := []struct {
		name    string
		answers [][]byte
		wantErr error
		service string
		fields  map[string]string
	}{
		{
			name:    "lab redis 7.0.15 on 6379",
			answers: [][]byte{prototest.Testdata(t, "lab-6379", "redis-server.bin")},
			service: "redis",
			fields: map[string]string{
				"redis.version": "7.0.15", "redis.mode": "standalone", "redis.arch": "64",
				"redis.os": "Linux 6.18.44-fc-v595 x86_64", "redis.git_sha1": "00000000",
				"redis.executable": "/usr/bin/redis-server",
			},
		},
		{
			name:    "lab redis 7.0.15 on 16379",
			answers: [][]byte{prototest.Testdata(t, "lab-16379", "redis-server.bin")},
			service: "redis",
			fields:  map[string]string{"redis.version": "7.0.15"},
		},
		{
			name:    "valkey",
			answers: [][]byte{valkey},
			service: "redis",
			fields:  map[string]string{"redis.version": "7.2.4", "redis.server_name": "valkey", "redis.valkey_version": "8.0.1"},
		},
		{
			name:    "dragonfly",
			answers: [][]byte{dragonfly},
			service: "redis",
			fields:  map[string]string{"redis.dragonfly_version": "df-v1.40.1"},
		},
		{
			name:    "requirepass",
			answers: [][]byte{[]byte("-NOAUTH Authentication required.\r\n")},
			service: "redis",
			fields:  map[string]string{"redis.auth_required": "true", "redis.error": "NOAUTH Authentication required."},
		},
		{
			name:    "protected mode",
			answers: [][]byte{[]byte("-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user.\r\n")},
			service: "redis",
			fields:  map[string]string{"redis.protected_mode": "true"},
		},
		{
			name:    "INFO renamed, PING answers",
			answers: [][]byte{[]byte("-ERR unknown command 'INFO', with args beginning with: 'server' \r\n"), []byte("+PONG\r\n")},
			service: "redis",
			fields:  map[string]string{"redis.ping": "PONG"},
		},
		{
			name:    "http server",
			answers: [][]byte{[]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")},
			wantErr: protocol.ErrNotThisProtocol,
		},
		{
			name:    "memcached",
			answers: [][]byte{[]byte("ERROR\r\n")},
			wantErr: protocol.ErrNotThisProtocol,
		},
		{
			name:    "generic error line, PING not understood",
			answers: [][]byte{[]byte("-ERR what\r\n"), []byte("-ERR what\r\n")},
			wantErr: protocol.ErrNotThisProtocol,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := prototest.Serve(t, prototest.Replay(nil, tc.answers...))
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
			if res.Service != tc.service {
				t.Errorf("service = %q, want %q", res.Service, tc.service)
			}
			prototest.CheckFields(t, res, tc.fields)
			if _, ok := res.Fields["redis.info"]; ok && len(res.Fields["redis.info"]) > infoCap {
				t.Errorf("redis.info not capped")
			}
		})
	}
}

func TestParseReplyBounds(t *testing.T) {
	for _, in := range []string{"$999999999999\r\n", "$-5\r\n", "$abc\r\n", "", "-\x00\x01\r\n"} {
		if r, ok := ParseReply([]byte(in)); ok && r.Kind != '$' {
			t.Errorf("ParseReply(%q) accepted as %q", in, r.Kind)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	f.Add(prototest.Testdata(f, "lab-6379", "redis-server.bin"))
	f.Add([]byte("-NOAUTH Authentication required.\r\n"))
	f.Add([]byte("$5\r\nab"))
	f.Add([]byte("+PONG\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := ParseReply(b)
		if ok && r.Kind == '$' {
			_ = ParseInfo(r.Text)
		}
		_ = replyComplete(append([]byte{'$'}, b...))
		if len(b) > 0 {
			_ = replyComplete(b)
		}
	})
}
