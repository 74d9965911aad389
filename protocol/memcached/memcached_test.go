package memcached

import (
	"errors"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		answers [][]byte
		wantErr error
		fields  map[string]string
		absent  []string
	}{
		{
			name:    "lab memcached 1.6.18",
			answers: [][]byte{prototest.Testdata(t, "lab-11211", "memcached-version.bin"), prototest.Testdata(t, "lab-11211", "memcached-stats.bin")},
			fields: map[string]string{
				"memcached.version": "1.6.18", "memcached.stats.version": "1.6.18",
				"memcached.stats.libevent": "2.1.12-stable", "memcached.stats.pointer_size": "64",
				"memcached.threads": "4",
			},
			absent: []string{"memcached.pid", "memcached.stats.pid"},
		},
		{
			// Synthetic: Dragonfly's memcache listener answers a fixed version line.
			name:    "dragonfly",
			answers: [][]byte{[]byte("VERSION 1.6.0 DF\r\n"), []byte("STAT pid 1\r\nSTAT version 1.6.0 DF\r\nEND\r\n")},
			fields:  map[string]string{"memcached.version": "1.6.0 DF"},
		},
		{
			// Synthetic: memcached -Y (ascii auth) before authentication.
			name:    "ascii auth",
			answers: [][]byte{[]byte("CLIENT_ERROR unauthenticated\r\n")},
			fields:  map[string]string{"memcached.auth_required": "true"},
		},
		{
			name:    "redis",
			answers: [][]byte{[]byte("-ERR unknown command 'version'\r\n")},
			wantErr: protocol.ErrNotThisProtocol,
		},
		{
			name:    "http",
			answers: [][]byte{[]byte("HTTP/1.1 400 Bad Request\r\n\r\n")},
			wantErr: protocol.ErrNotThisProtocol,
		},
		{
			name:    "generic ERROR",
			answers: [][]byte{[]byte("ERROR\r\n")},
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
			if res.Service != "memcached" {
				t.Errorf("service = %q", res.Service)
			}
			prototest.CheckFields(t, res, tc.fields)
			for _, k := range tc.absent {
				if _, ok := res.Fields[k]; ok {
					t.Errorf("%s recorded", k)
				}
			}
			if strings.Contains(res.Fields["memcached.stats.names"], "pid,") && res.Fields["memcached.stats.pid"] != "" {
				t.Errorf("pid value leaked")
			}
		})
	}
}

func FuzzParseStats(f *testing.F) {
	f.Add(prototest.Testdata(f, "lab-11211", "memcached-stats.bin"))
	f.Add([]byte("STAT a b\r\nSTAT \r\nEND\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, names := ParseStats(b)
		if len(st) != len(names) {
			t.Fatalf("%d values, %d names", len(st), len(names))
		}
		if s := capNames(names); len(s) > namesCap {
			t.Fatalf("names not capped: %d", len(s))
		}
		_ = statsDone(b)
		if len(b) > 0 {
			_ = lineOrForeign(b)
		}
	})
}
