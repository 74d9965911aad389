package vuln

import (
	"context"
	"crypto/md5" // #nosec G501 -- PostgreSQL's md5 password exchange is defined with MD5
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/protocol/mysql"
	"github.com/portrait-scanner/portrait/protocol/postgresql"
)

// The intrusive checks (Config.Intrusive, --intrusive): each one logs in,
// or tries to, with credentials a vendor ships or documents as the default.
// A success is a session on the target, visible in its logs, which is why
// they never run unless asked for. Each ends its session at once and
// changes nothing.
var (
	chkAMQPGuest = def("amqp-default-credentials", "AMQP broker accepts the default guest/guest login", "high", KindMisconfig, "CWE-1392",
		"Delete the guest user or change its password (rabbitmqctl delete_user guest), and keep loopback_users = guest.")
	chkMySQLRoot = def("mysql-root-no-password", "MySQL/MariaDB accepts root without a password", "critical", KindMisconfig, "CWE-521",
		"Give root a password or limit it to unix_socket authentication (ALTER USER root@'%' IDENTIFIED VIA unix_socket), and drop remote root accounts.")
	chkPGNoPassword = def("postgresql-no-password", "PostgreSQL lets the postgres superuser in without a password", "critical", KindMisconfig, "CWE-306",
		"Replace trust with scram-sha-256 for host connections in pg_hba.conf.")
	chkPGDefault = def("postgresql-default-password", "PostgreSQL accepts postgres/postgres", "critical", KindMisconfig, "CWE-1392",
		"Set a strong password for the postgres role, or allow it only over the local socket (peer).")
)

// maxLoginFrame bounds any frame or packet read by a login check.
const maxLoginFrame = 128 << 10

// logins runs the intrusive checks that apply to one service.
func (st *Stage) logins(ctx context.Context, hc *hostCtx, s *fingerprint.Service) []*Finding {
	if s.Transport != "" && s.Transport != "tcp" || s.TLS {
		return nil
	}
	host := s.Host
	if host == "" {
		host = hc.h.Host
	}
	addr := net.JoinHostPort(host, strconv.Itoa(s.Port))
	var try func(net.Conn) (*Check, string, error)
	switch s.Service {
	case "amqp":
		try = amqpGuest
	case "mysql":
		try = mysqlRootNoPassword
	case "postgresql":
		try = postgresDefault
	default:
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 3*st.cfg.ProbeTimeout)
	defer cancel()
	c, err := st.cfg.Dial(cctx, "tcp", addr)
	if err != nil {
		return nil
	}
	defer c.Close()
	deadline, _ := cctx.Deadline()
	_ = c.SetDeadline(deadline)
	chk, detail, err := try(c)
	if err != nil {
		st.cfg.Log.Debug("login check", "port", s.Port, "service", s.Service, "err", err)
	}
	if chk == nil {
		return nil
	}
	f := newCheckFinding(s, *chk, detail, nil)
	f.Source = "login"
	f.Tags = addTag(f.Tags, "intrusive")
	return []*Finding{f}
}

// amqpGuest opens an AMQP 0-9-1 connection as guest/guest (SASL PLAIN):
// a Connection.Tune answer means the broker took the login.
func amqpGuest(c net.Conn) (*Check, string, error) {
	if _, err := c.Write([]byte("AMQP\x00\x00\x09\x01")); err != nil {
		return nil, "", err
	}
	if _, _, err := amqpMethod(c); err != nil { // Connection.Start
		return nil, "", err
	}
	var p []byte
	p = binary.BigEndian.AppendUint16(p, 10) // connection
	p = binary.BigEndian.AppendUint16(p, 11) // start-ok
	p = binary.BigEndian.AppendUint32(p, 0)  // client properties: empty table
	p = append(p, 5)
	p = append(p, "PLAIN"...)
	resp := "\x00guest\x00guest"
	p = binary.BigEndian.AppendUint32(p, uint32(len(resp)))
	p = append(p, resp...)
	p = append(p, 5)
	p = append(p, "en_US"...)
	frame := []byte{1, 0, 0}
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(p)))
	frame = append(append(frame, p...), 0xce)
	if _, err := c.Write(frame); err != nil {
		return nil, "", err
	}
	class, method, err := amqpMethod(c)
	if err != nil {
		return nil, "", err
	}
	if class == 10 && method == 30 { // Connection.Tune: logged in
		return &chkAMQPGuest, "The broker answered a PLAIN login as guest/guest with Connection.Tune (logged in; the session was closed at once).", nil
	}
	return nil, "", nil
}

// amqpMethod reads one frame and returns its method's class and id.
func amqpMethod(r io.Reader) (class, method uint16, err error) {
	var h [7]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, err
	}
	size := binary.BigEndian.Uint32(h[3:])
	if h[0] != 1 || size < 4 || size > maxLoginFrame {
		return 0, 0, fmt.Errorf("amqp: frame type %d size %d", h[0], size)
	}
	body := make([]byte, size+1)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, 0, err
	}
	return binary.BigEndian.Uint16(body), binary.BigEndian.Uint16(body[2:]), nil
}

// mysqlRootNoPassword logs in as root with an empty password
// (mysql_native_password, or whatever plugin the server switches to: an
// empty password is an empty answer in all of them).
func mysqlRootNoPassword(c net.Conn) (*Check, string, error) {
	seq, greet, err := mysqlPacket(c)
	if err != nil {
		return nil, "", err
	}
	hs, err := mysql.ParseHandshake(greet)
	if err != nil || hs.Protocol == 0xff {
		return nil, "", err
	}
	const caps = 1 | 1<<9 | 1<<15 | 1<<19 // long password, protocol 41, secure connection, plugin auth
	var p []byte
	p = binary.LittleEndian.AppendUint32(p, caps)
	p = binary.LittleEndian.AppendUint32(p, 1<<24)
	p = append(p, 33)
	p = append(p, make([]byte, 23)...)
	p = append(p, "root\x00"...)
	p = append(p, 0) // auth response: empty
	p = append(p, "mysql_native_password\x00"...)
	if err := mysqlWrite(c, seq+1, p); err != nil {
		return nil, "", err
	}
	for range 2 { // the answer, or an auth switch and then the answer
		s, reply, err := mysqlPacket(c)
		if err != nil {
			return nil, "", err
		}
		body := reply[4:]
		switch {
		case len(body) > 0 && body[0] == 0x00:
			_ = mysqlWrite(c, 0, []byte{0x01}) // COM_QUIT
			return &chkMySQLRoot, "The server accepted a login as root with an empty password (the session was closed at once).", nil
		case len(body) > 0 && body[0] == 0xfe:
			if err := mysqlWrite(c, s+1, nil); err != nil {
				return nil, "", err
			}
		default:
			return nil, "", nil
		}
	}
	return nil, "", nil
}

// mysqlPacket reads one packet (header included) and its sequence id.
func mysqlPacket(r io.Reader) (byte, []byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	if n > maxLoginFrame {
		return 0, nil, fmt.Errorf("mysql: packet of %d bytes", n)
	}
	b := make([]byte, 4+n)
	copy(b, h[:])
	if _, err := io.ReadFull(r, b[4:]); err != nil {
		return 0, nil, err
	}
	return h[3], b, nil
}

func mysqlWrite(w io.Writer, seq byte, payload []byte) error {
	b := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
	_, err := w.Write(append(b, payload...))
	return err
}

// postgresDefault starts a session as postgres on database postgres: in
// without a password (trust), or with the password "postgres" when the
// server asks for it in clear text or MD5. SCRAM is not attempted.
func postgresDefault(c net.Conn) (*Check, string, error) {
	const user, password = "postgres", "postgres"
	if _, err := c.Write(postgresql.Startup(3<<16, "user", user, "database", "postgres")); err != nil {
		return nil, "", err
	}
	sent := false
	for range 4 {
		typ, body, err := pgMessage(c)
		if err != nil {
			return nil, "", err
		}
		if typ != 'R' {
			return nil, "", nil // an error: refused
		}
		code, _, ok := postgresql.ParseAuth(body)
		if !ok {
			return nil, "", errors.New("postgresql: bad authentication request")
		}
		switch {
		case code == 0 && !sent:
			_, _ = c.Write([]byte{'X', 0, 0, 0, 4})
			return &chkPGNoPassword, "The server let the postgres role into database postgres without asking for a password (the session was closed at once).", nil
		case code == 0:
			_, _ = c.Write([]byte{'X', 0, 0, 0, 4})
			return &chkPGDefault, "The server accepted the password \"postgres\" for the postgres role (the session was closed at once).", nil
		case code == 3 && !sent:
			sent = true
			if err := pgPassword(c, password); err != nil {
				return nil, "", err
			}
		case code == 5 && !sent && len(body) >= 8:
			sent = true
			inner := md5.Sum([]byte(password + user)) // #nosec G401 -- the protocol's own scheme
			outer := md5.Sum(append([]byte(hex.EncodeToString(inner[:])), body[4:8]...))
			if err := pgPassword(c, "md5"+hex.EncodeToString(outer[:])); err != nil {
				return nil, "", err
			}
		default:
			return nil, "", nil // SCRAM, Kerberos... or a second request
		}
	}
	return nil, "", nil
}

func pgPassword(w io.Writer, p string) error {
	b := []byte{'p'}
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(p)+1))
	b = append(append(b, p...), 0)
	_, err := w.Write(b)
	return err
}

// pgMessage reads one backend message.
func pgMessage(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n < 4 || n > maxLoginFrame {
		return 0, nil, fmt.Errorf("postgresql: message of %d bytes", n)
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return h[0], body, nil
}
