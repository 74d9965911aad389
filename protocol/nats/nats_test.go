package nats

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		greeting []byte
		wantErr  error
		fields   map[string]string
		absent   []string
	}{
		{
			name:     "lab nats-server 2.9.10",
			greeting: prototest.Testdata(t, "lab-4222", "NULL.bin"),
			fields: map[string]string{
				"nats.version": "2.9.10", "nats.go": "go1.19.8", "nats.proto": "1",
				"nats.headers": "true", "nats.max_payload": "1048576",
				"nats.server_id": "NDG6S6THK6YTEYIPLL3NGNYOAAUOC7JCD3LFNNVBHZQTBFXQQO5IFHMP",
			},
			absent: []string{"nats.auth_required", "nats.jetstream"},
		},
		{
			// Synthetic, in nats-server's INFO layout with auth, TLS and JetStream on.
			name:     "auth tls jetstream",
			greeting: []byte(`INFO {"server_id":"NAAAA","server_name":"n1","version":"2.10.7","proto":1,"git_commit":"fa8464d","go":"go1.21.5","host":"0.0.0.0","port":4222,"headers":true,"auth_required":true,"tls_required":true,"max_payload":8388608,"jetstream":true,"client_id":9,"client_ip":"192.0.2.1","cluster":"c1"}` + "\r\n"),
			fields: map[string]string{
				"nats.version": "2.10.7", "nats.auth_required": "true", "nats.tls_required": "true",
				"nats.jetstream": "true", "nats.git_commit": "fa8464d", "nats.cluster": "c1",
				"nats.max_payload": "8388608",
			},
		},
		{
			name:     "broken json",
			greeting: []byte("INFO {\"version\":\r\n"),
			wantErr:  protocol.ErrNotThisProtocol,
		},
		{
			name:     "not nats",
			greeting: []byte("220 mail ESMTP\r\n"),
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
			if res.Service != "nats" {
				t.Errorf("service = %q", res.Service)
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

// TestSplitBanner: the greeting arrives in two pieces; Run reads the rest.
func TestSplitBanner(t *testing.T) {
	full := prototest.Testdata(t, "lab-4222", "NULL.bin")
	addr := prototest.Serve(t, func(c net.Conn) {
		_, _ = c.Write(full[:30])
		time.Sleep(200 * time.Millisecond)
		_, _ = c.Write(full[30:])
		_, _ = c.Read(make([]byte, 16))
	})
	res, err := prototest.Run(t, New(), addr)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Fields["nats.version"] != "2.9.10" {
		t.Errorf("fields = %q", res.Fields)
	}
}

func FuzzParseInfo(f *testing.F) {
	f.Add(prototest.Testdata(f, "lab-4222", "NULL.bin"))
	f.Add([]byte("INFO {}\r\n"))
	f.Add([]byte(`INFO {"a":[1,{"b":null}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = New().Claim(b)
		info, err := ParseInfo(b)
		if err == nil {
			for _, v := range info {
				if s := scalar(v); len(s) > 256 {
					t.Fatalf("scalar not capped")
				}
			}
		}
	})
}
