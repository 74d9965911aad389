package zookeeper

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// zkServer answers each connection's first four bytes like ZooKeeper: a
// four-letter word gets its answer (absent: the server just closes), a
// binary ConnectRequest gets connect (nil: close).
func zkServer(words map[string][]byte, connect []byte) func(net.Conn) {
	return func(c net.Conn) {
		var head [4]byte
		if _, err := io.ReadFull(c, head[:]); err != nil {
			return
		}
		if head[0] == 0 {
			if connect != nil {
				_, _ = c.Write(connect)
				_, _ = c.Read(make([]byte, 256))
			}
			return
		}
		if a, ok := words[string(head[:])]; ok {
			_, _ = c.Write(a)
		}
	}
}

func TestRun(t *testing.T) {
	refused := func(w string) []byte { return []byte(w + " is not executed because it is not in the whitelist.\n") }
	tests := []struct {
		name    string
		handler func(net.Conn)
		port    int // Env.Port to claim (0: the listener's)
		wantErr error
		conf    int
		fields  map[string]string
	}{
		{
			name:    "lab zookeeper 3.8.0",
			handler: zkServer(map[string][]byte{"srvr": prototest.Testdata(t, "lab-2181", "zookeeper-srvr.bin")}, nil),
			conf:    98,
			fields: map[string]string{
				"zookeeper.version": "3.8.0", "zookeeper.mode": "standalone", "zookeeper.whitelisted": "true",
				"zookeeper.banner": "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC",
			},
		},
		{
			// srvr refusal synthetic (same wording as the lab's stat refusal), stat and ruok recorded.
			name: "four-letter words not whitelisted",
			handler: zkServer(map[string][]byte{
				"srvr": refused("srvr"),
				"stat": prototest.Testdata(t, "lab-2181", "zookeeper-stat.bin"),
				"ruok": prototest.Testdata(t, "lab-2181", "zookeeper-ruok.bin"),
			}, nil),
			conf:   90,
			fields: map[string]string{"zookeeper.whitelisted": "false"},
		},
		{
			name: "srvr refused, ruok allowed",
			handler: zkServer(map[string][]byte{
				"srvr": refused("srvr"), "stat": refused("stat"), "ruok": []byte("imok"),
			}, nil),
			conf:   95,
			fields: map[string]string{"zookeeper.whitelisted": "false", "zookeeper.ruok": "imok"},
		},
		{
			name:    "four-letter words ignored, binary connect",
			handler: zkServer(nil, prototest.Testdata(t, "lab-2181", "zookeeper-connect.bin")),
			port:    2181,
			conf:    90,
			fields:  map[string]string{"zookeeper.connect": "ok", "zookeeper.connect.timeout": "30000"},
		},
		{
			name:    "four-letter words ignored on a port of another protocol",
			handler: zkServer(nil, prototest.Testdata(t, "lab-2181", "zookeeper-connect.bin")),
			port:    631,
			wantErr: io.EOF,
		},
		{
			// Synthetic, in the format of ClickHouse Keeper's documentation.
			name: "clickhouse keeper",
			handler: zkServer(map[string][]byte{"srvr": []byte("ClickHouse Keeper version: v24.2.1.2248-testing-891689a41506d00aa169548f5b4a8774351242c4\n" +
				"Latency min/avg/max: 0/0/0\nReceived: 0\nSent: 0\nConnections: 0\nOutstanding: 0\nZxid: 0x5be\nMode: standalone\nNode count: 10\n")}, nil),
			conf:   98,
			fields: map[string]string{"zookeeper.version": "24.2.1.2248", "zookeeper.mode": "standalone"},
		},
		{
			name:    "http",
			handler: prototest.Replay(nil, []byte("HTTP/1.1 400 Bad Request\r\n\r\n")),
			wantErr: protocol.ErrNotThisProtocol,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := prototest.Serve(t, tc.handler)
			res, err := runAs(t, addr, tc.port)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Service != "zookeeper" || res.Confidence != tc.conf {
				t.Errorf("service = %q conf %d, want zookeeper %d", res.Service, res.Confidence, tc.conf)
			}
			prototest.CheckFields(t, res, tc.fields)
		})
	}
}

// runAs runs the module against addr the way prototest.Run does, but
// with Env.Port set to port when it is not 0.
func runAs(t *testing.T, addr string, port int) (*protocol.Result, error) {
	if port == 0 {
		return prototest.Run(t, New(), addr)
	}
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
	env := protocol.Env{Host: "127.0.0.1", Port: port, Timeout: 2 * time.Second, MaxRead: 64 << 10, Dial: dial}
	return New().Run(ctx, conn, nil, env)
}

func TestForeign(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"Zoo", false}, {"srvr is", false}, {"imok", false}, {"HTTP/1.1", true}, {"-ERR", true},
	} {
		if got := foreign([]byte(tc.in), "srvr"); got != tc.want {
			t.Errorf("foreign(%q) = %v", tc.in, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(prototest.Testdata(f, "lab-2181", "zookeeper-srvr.bin"))
	f.Add(prototest.Testdata(f, "lab-2181", "zookeeper-connect.bin"))
	f.Add([]byte("Zookeeper version: \n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := ParseStat(string(b))
		if len(s.Banner) > 256 || len(s.Build) > 256 || len(s.Mode) > 32 {
			t.Fatalf("fields not capped: %+v", s)
		}
		_, _ = ParseConnectResponse(b)
		_ = foreign(b, "srvr")
	})
}
