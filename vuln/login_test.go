package vuln

import (
	"bytes"
	"context"
	"crypto/md5" // #nosec G501 -- PostgreSQL's md5 exchange
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/protocol/prototest"
	"github.com/portrait-scanner/portrait/scan"
)

// loginFindings runs the intrusive checks of a service served by handler.
func loginFindings(t *testing.T, service string, handler func(net.Conn)) string {
	t.Helper()
	addr := prototest.Serve(t, handler)
	host, portS, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portS)
	st := New(Config{Intrusive: true, ProbeTimeout: time.Second})
	s := &fingerprint.Service{Host: host, Port: port, Transport: "tcp", Service: service}
	return ids(st.logins(context.Background(), &hostCtx{h: scan.HostRecord{Host: host}, now: time.Now()}, s))
}

func amqpFrame(class, method uint16, args []byte) []byte {
	p := binary.BigEndian.AppendUint16(nil, class)
	p = binary.BigEndian.AppendUint16(p, method)
	p = append(p, args...)
	f := binary.BigEndian.AppendUint32([]byte{1, 0, 0}, uint32(len(p)))
	return append(append(f, p...), 0xce)
}

// amqpBroker answers the header with Connection.Start, then the Start-Ok
// with Tune when the PLAIN response is want, else with Close (403).
func amqpBroker(want string) func(net.Conn) {
	return func(c net.Conn) {
		hdr := make([]byte, 8)
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		c.Write(amqpFrame(10, 10, []byte{0, 9, 0, 0, 0, 0, 0, 0, 0, 5, 'P', 'L', 'A', 'I', 'N', 0, 0, 0, 5, 'e', 'n', '_', 'U', 'S'}))
		class, method, err := amqpMethod(c)
		if err != nil || class != 10 || method != 11 {
			return
		}
		if want == "\x00guest\x00guest" {
			c.Write(amqpFrame(10, 30, []byte{0, 0, 0, 2, 0, 0, 0, 60}))
			return
		}
		c.Write(amqpFrame(10, 50, []byte{1, 147, 0, 0, 0, 0}))
	}
}

func mysqlServer(okFor string, switchFirst bool) func(net.Conn) {
	return func(c net.Conn) {
		greet := []byte{10}
		greet = append(greet, "10.11.19-MariaDB\x00"...)
		greet = binary.LittleEndian.AppendUint32(greet, 7)
		greet = append(greet, "abcdefgh\x00"...)
		greet = binary.LittleEndian.AppendUint16(greet, 0xf7fe)
		greet = append(greet, 33, 2, 0)
		greet = binary.LittleEndian.AppendUint16(greet, 0x81bf)
		greet = append(greet, 21)
		greet = append(greet, make([]byte, 10)...)
		greet = append(greet, "ijklmnopqrst\x00mysql_native_password\x00"...)
		mysqlWrite(c, 0, greet)
		_, resp, err := mysqlPacket(c)
		if err != nil {
			return
		}
		user := string(resp[4+32 : 4+32+bytes.IndexByte(resp[4+32:], 0)])
		seq := byte(2)
		if switchFirst {
			mysqlWrite(c, seq, append([]byte{0xfe}, "caching_sha2_password\x00salt\x00"...))
			if _, _, err := mysqlPacket(c); err != nil {
				return
			}
			seq += 2
		}
		if user == okFor {
			mysqlWrite(c, seq, []byte{0, 0, 0, 2, 0, 0, 0})
			return
		}
		mysqlWrite(c, seq, append([]byte{0xff, 0x15, 0x04}, "#28000Access denied"...))
	}
}

// pgServer asks for auth code (0 trust, 3 cleartext, 5 md5, 10 SASL) and
// accepts the password "postgres".
func pgServer(code uint32) func(net.Conn) {
	return func(c net.Conn) {
		var n [4]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		io.ReadFull(c, make([]byte, binary.BigEndian.Uint32(n[:])-4))
		auth := func(body []byte) {
			c.Write(append(binary.BigEndian.AppendUint32([]byte{'R'}, uint32(4+len(body))), body...))
		}
		salt := []byte{1, 2, 3, 4}
		switch code {
		case 0:
			auth([]byte{0, 0, 0, 0})
			return
		case 5:
			auth(append([]byte{0, 0, 0, 5}, salt...))
		case 10:
			auth([]byte("\x00\x00\x00\x0aSCRAM-SHA-256\x00\x00"))
			return
		default:
			auth(binary.BigEndian.AppendUint32(nil, code))
		}
		typ, body, err := pgMessage(c)
		if err != nil || typ != 'p' {
			return
		}
		got := string(bytes.TrimRight(body, "\x00"))
		want := "postgres"
		if code == 5 {
			inner := md5.Sum([]byte("postgrespostgres"))
			outer := md5.Sum(append([]byte(hex.EncodeToString(inner[:])), salt...))
			want = "md5" + hex.EncodeToString(outer[:])
		}
		if got == want {
			auth([]byte{0, 0, 0, 0})
			return
		}
		c.Write([]byte("E\x00\x00\x00\x0cSFATAL\x00\x00"))
	}
}

func TestLogins(t *testing.T) {
	for _, c := range []struct {
		name, service string
		handler       func(net.Conn)
		want          string
	}{
		{"amqp guest accepted", "amqp", amqpBroker("\x00guest\x00guest"), "amqp-default-credentials"},
		{"amqp guest refused", "amqp", amqpBroker("other"), ""},
		{"mysql root without password", "mysql", mysqlServer("root", false), "mysql-root-no-password"},
		{"mysql root after an auth switch", "mysql", mysqlServer("root", true), "mysql-root-no-password"},
		{"mysql root refused", "mysql", mysqlServer("nobody", false), ""},
		{"postgres trust", "postgresql", pgServer(0), "postgresql-no-password"},
		{"postgres cleartext postgres", "postgresql", pgServer(3), "postgresql-default-password"},
		{"postgres md5 postgres", "postgresql", pgServer(5), "postgresql-default-password"},
		{"postgres scram: not tried", "postgresql", pgServer(10), ""},
		{"garbage", "mysql", func(c net.Conn) { c.Write(bytes.Repeat([]byte{0xff}, 64)) }, ""},
		{"silent", "amqp", func(c net.Conn) { time.Sleep(2 * time.Second) }, ""},
		{"another service", "redis", func(c net.Conn) { t.Error("redis has no login check") }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := loginFindings(t, c.service, c.handler); got != c.want {
				t.Errorf("findings %q, want %q", got, c.want)
			}
		})
	}
}

// The intrusive checks run only when asked for.
func TestLoginsOnlyWhenIntrusive(t *testing.T) {
	addr := prototest.Serve(t, pgServer(0))
	host, portS, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portS)
	s := &fingerprint.Service{Host: host, Port: port, Transport: "tcp", Service: "postgresql"}
	h := scan.HostRecord{Host: host, State: "up"}
	if got := ids(New(Config{Probes: true, NoCVE: true, NoEOL: true}).Evaluate(context.Background(), h, []*fingerprint.Service{s}, nil)); got != "" {
		t.Errorf("without Intrusive: %s", got)
	}
	if got := ids(New(Config{Intrusive: true, NoCVE: true, NoEOL: true}).Evaluate(context.Background(), h, []*fingerprint.Service{s}, nil)); got != "postgresql-no-password" {
		t.Errorf("with Intrusive: %q", got)
	}
}

// On real servers (PORTRAIT_INTEGRATION=1, testenv): Debian's MariaDB
// (root by unix_socket only) and PostgreSQL (scram for host connections)
// refuse every default login.
func TestLoginsRealServers(t *testing.T) {
	if os.Getenv("PORTRAIT_INTEGRATION") != "1" {
		t.Skip("set PORTRAIT_INTEGRATION=1 (testenv/up.sh servers on 127.0.0.1)")
	}
	b, err := os.ReadFile(filepath.Join("..", "testenv", "run", "servers.json"))
	if err != nil {
		t.Skipf("no testenv server list: %v", err)
	}
	var doc struct {
		Servers []struct {
			Name string `json:"name"`
			Port int    `json:"port"`
		} `json:"servers"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	service := map[string]string{"mariadb": "mysql", "postgresql": "postgresql"}
	st := New(Config{Intrusive: true, ProbeTimeout: 2 * time.Second})
	tried := 0
	for _, srv := range doc.Servers {
		svc, ok := service[srv.Name]
		if !ok || srv.Port <= 0 {
			continue
		}
		tried++
		s := &fingerprint.Service{Host: "127.0.0.1", Port: srv.Port, Transport: "tcp", Service: svc}
		if got := ids(st.logins(context.Background(), &hostCtx{h: scan.HostRecord{Host: "127.0.0.1"}, now: time.Now()}, s)); got != "" {
			t.Errorf("%s on %d: %s (a default login worked on a default Debian install?)", srv.Name, srv.Port, got)
		} else {
			t.Logf("%s on %d: every default login refused", srv.Name, srv.Port)
		}
	}
	if tried == 0 {
		t.Skip("neither MariaDB nor PostgreSQL in testenv's list")
	}
}

// FuzzLogins feeds arbitrary server bytes to each login dialogue: no panic,
// no hang, and no finding from bytes that are not a real login's answers
// (the finding needs a well-formed success message, which random input may
// contain; only the absence of panics and hangs is asserted).
func FuzzLogins(f *testing.F) {
	f.Add(amqpFrame(10, 10, nil), uint8(0))
	f.Add([]byte("\x05\x00\x00\x00\x0a5.5.5\x00"), uint8(1))
	f.Add([]byte("R\x00\x00\x00\x08\x00\x00\x00\x00"), uint8(2))
	f.Fuzz(func(t *testing.T, server []byte, which uint8) {
		tries := []func(net.Conn) (*Check, string, error){amqpGuest, mysqlRootNoPassword, postgresDefault}
		a, b := net.Pipe()
		defer a.Close()
		go func() {
			defer b.Close()
			go io.Copy(io.Discard, b)
			b.Write(server)
		}()
		_ = a.SetDeadline(time.Now().Add(time.Second))
		_, _, _ = tries[int(which)%len(tries)](a)
	})
}
