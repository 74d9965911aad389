// Package postgresql fingerprints servers that speak the PostgreSQL
// frontend/backend protocol (PostgreSQL, pgbouncer, CockroachDB,
// YugabyteDB, openGauss...). Three short exchanges, each bounded:
//
//  1. SSLRequest: the one-byte answer ('S' or 'N') confirms the protocol
//     cheaply and says whether TLS is offered. After 'S' the module upgrades
//     with Env.StartTLS when it can (the certificate is evidence too).
//  2. StartupMessage 3.0 for user and database "portrait": the server answers
//     with an authentication request (the method: SCRAM, md5, trust...), or
//     an ErrorResponse. If it lets us in (trust), its ParameterStatus
//     messages name the server version, and we leave with Terminate.
//  3. On a fresh connection, a StartupMessage for protocol 4.0, which no
//     server speaks: the error it draws is raised before authentication and
//     carries the source file, line and routine of the server's code (F, L,
//     R), which are specific to a release series, and the range of protocol
//     versions the server supports.
//
// Fields (all strings):
//
//	postgresql.ssl                "S" (TLS offered) or "N"
//	postgresql.auth               authentication asked for: ok, kerberos5, password, md5, scm, gss, sspi, sasl
//	postgresql.auth_code          its AuthenticationRequest code, decimal ("10")
//	postgresql.sasl_mechanisms    SASL mechanisms offered, comma separated ("SCRAM-SHA-256")
//	postgresql.error.severity     ErrorResponse V (or S) field ("FATAL")
//	postgresql.error.code         SQLSTATE ("28000")
//	postgresql.error.message      M field
//	postgresql.error.file         F field ("auth.c")
//	postgresql.error.line         L field ("543")
//	postgresql.error.routine      R field ("ClientAuthentication")
//	postgresql.server_version     ParameterStatus server_version (only when we were let in)
//	postgresql.parameters         all ParameterStatus pairs, "name=value" joined by "; "
//	postgresql.probe.error.*      the same six error fields for the protocol 4.0 startup
//	postgresql.probe.location     "file:line:routine" of that error, for rules
//	postgresql.protocol           protocol range the server reported ("3.0-3.0"), or "3.0" when
//	                              it answered a 3.0 startup and reported no range
//
// TLS fields from Env.StartTLS (tls.*) are merged when the server offered TLS.
package postgresql

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Bounds on what a server may send us.
const (
	maxMessage  = 16 << 10 // one backend message
	maxResponse = 32 << 10 // all messages of one answer
	maxParams   = 64       // ParameterStatus pairs kept
)

// Protocol codes in StartupMessage-shaped packets.
const (
	sslRequestCode = 80877103
	protocol30     = 3 << 16
	protocol40     = 4 << 16
)

type module struct{}

// New returns the PostgreSQL protocol module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{Name: "postgresql", Service: "postgresql", Ports: []int{5432, 5433, 6432, 26257}, Priority: 50}
}

// Claim is false: PostgreSQL servers never speak first.
func (module) Claim([]byte) bool { return false }

// SSLRequest returns the 8-byte SSLRequest packet.
func SSLRequest() []byte {
	b := binary.BigEndian.AppendUint32(nil, 8)
	return binary.BigEndian.AppendUint32(b, sslRequestCode)
}

// Startup returns a StartupMessage for the given protocol version and
// parameters (name, value pairs).
func Startup(version uint32, params ...string) []byte {
	body := binary.BigEndian.AppendUint32(nil, version)
	for _, p := range params {
		body = append(body, p...)
		body = append(body, 0)
	}
	body = append(body, 0)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)
}

var terminate = []byte{'X', 0, 0, 0, 4}

func (module) Run(ctx context.Context, conn net.Conn, _ []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	req := SSLRequest()
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return nil, fmt.Errorf("postgresql: send SSLRequest: %w", err)
	}
	// One byte is the whole answer; a longer one is another protocol.
	resp, err := wire.ReadUntil(ctx, conn, env.Timeout, 256, func(b []byte) bool {
		return b[0] != 'E' || messagesDone(b, false)
	})
	res.Record("pg-sslrequest", req, resp)
	if len(resp) == 0 {
		if err == nil {
			err = errors.New("empty answer")
		}
		return res, fmt.Errorf("postgresql: read SSLRequest answer: %w", err)
	}
	switch {
	case len(resp) == 1 && (resp[0] == 'S' || resp[0] == 'N'):
		res.Set("postgresql.ssl", string(resp[:1]))
	case resp[0] == 'E':
		// Very old servers reject the SSLRequest code itself.
		msgs, _ := ParseMessages(resp)
		if !setError(res, "postgresql.error.", msgs) {
			return res, protocol.ErrNotThisProtocol
		}
		res.Service, res.Confidence = "postgresql", 80
		return res, nil
	default:
		return res, protocol.ErrNotThisProtocol
	}
	res.Service, res.Confidence = "postgresql", 70

	// The startup on the same connection (inside TLS when offered), or on a
	// fresh plaintext one when TLS could not be set up.
	startConn := conn
	if resp[0] == 'S' {
		startConn = nil
		if env.StartTLS != nil {
			if tc, fields, err := env.StartTLS(ctx, conn); err == nil {
				for k, v := range fields {
					res.Set(k, v)
				}
				startConn = tc
			}
		}
		if startConn == nil && env.Dial != nil {
			if c, err := env.Dial(ctx); err == nil {
				defer c.Close()
				startConn = c
			}
		}
	}
	if startConn != nil {
		startup(ctx, startConn, env, res)
	}
	if env.Dial != nil {
		versionProbe(ctx, env, res)
	}
	if res.Fields["postgresql.auth"] != "" || res.Fields["postgresql.error.code"] != "" ||
		res.Fields["postgresql.probe.error.code"] != "" {
		res.Confidence = 95
	}
	return res, nil
}

// startup sends the 3.0 StartupMessage and records the answer.
func startup(ctx context.Context, conn net.Conn, env protocol.Env, res *protocol.Result) {
	req := Startup(protocol30, "user", "portrait", "database", "portrait", "application_name", "portrait")
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return
	}
	resp, _ := wire.ReadUntil(ctx, conn, env.Timeout, maxResponse, func(b []byte) bool { return messagesDone(b, true) })
	res.Record("pg-startup", req, resp)
	msgs, _ := ParseMessages(resp)
	var params []string
	for _, m := range msgs {
		switch m.Type {
		case 'R':
			code, mechs, ok := ParseAuth(m.Body)
			if !ok {
				continue
			}
			res.Set("postgresql.auth_code", strconv.Itoa(int(code)))
			res.Set("postgresql.auth", AuthName(code))
			res.Set("postgresql.sasl_mechanisms", strings.Join(mechs, ","))
			if code == 0 {
				res.Set("postgresql.protocol", "3.0")
			}
		case 'S':
			name, value, ok := parseParam(m.Body)
			if !ok || len(params) >= maxParams {
				continue
			}
			params = append(params, name+"="+value)
			if name == "server_version" {
				res.Set("postgresql.server_version", value)
			}
		case 'v':
			if minor, ok := parseNegotiate(m.Body); ok {
				res.Set("postgresql.protocol", "3.0-3."+strconv.Itoa(int(minor)))
			}
		}
	}
	setError(res, "postgresql.error.", msgs)
	if len(params) > 0 {
		sort.Strings(params)
		res.Set("postgresql.parameters", strings.Join(params, "; "))
	}
	if res.Fields["postgresql.auth"] == "ok" {
		_ = wire.Write(ctx, conn, env.Timeout, terminate)
	}
}

// rangeRE reads "server supports 3.0 to 3.2" from the protocol error.
var rangeRE = regexp.MustCompile(`server supports (\d+\.\d+) to (\d+\.\d+)`)

// versionProbe asks for protocol 4.0 on a fresh connection.
func versionProbe(ctx context.Context, env protocol.Env, res *protocol.Result) {
	c, err := env.Dial(ctx)
	if err != nil {
		return
	}
	defer c.Close()
	req := Startup(protocol40, "user", "portrait", "database", "portrait")
	if err := wire.Write(ctx, c, env.Timeout, req); err != nil {
		return
	}
	resp, _ := wire.ReadUntil(ctx, c, env.Timeout, maxResponse, func(b []byte) bool { return messagesDone(b, true) })
	res.Record("pg-startup-v4", req, resp)
	msgs, _ := ParseMessages(resp)
	if !setError(res, "postgresql.probe.error.", msgs) {
		return
	}
	f := res.Fields
	if f["postgresql.probe.error.file"] != "" || f["postgresql.probe.error.line"] != "" {
		res.Set("postgresql.probe.location", f["postgresql.probe.error.file"]+":"+
			f["postgresql.probe.error.line"]+":"+f["postgresql.probe.error.routine"])
	}
	if m := rangeRE.FindStringSubmatch(f["postgresql.probe.error.message"]); m != nil {
		res.Set("postgresql.protocol", m[1]+"-"+m[2])
	}
}

// setError records the fields of the first ErrorResponse in msgs under
// prefix and reports whether there was one.
func setError(res *protocol.Result, prefix string, msgs []Message) bool {
	for _, m := range msgs {
		if m.Type != 'E' {
			continue
		}
		e := ParseError(m.Body)
		if m.V2 {
			e = parseV2Error(m.Body)
		}
		if len(e) == 0 {
			continue
		}
		sev := e['V']
		if sev == "" {
			sev = e['S']
		}
		res.Set(prefix+"severity", sev)
		res.Set(prefix+"code", e['C'])
		res.Set(prefix+"message", e['M'])
		res.Set(prefix+"file", e['F'])
		res.Set(prefix+"line", e['L'])
		res.Set(prefix+"routine", e['R'])
		return true
	}
	return false
}

// Message is one backend message. A protocol-2 error (a bare 'E' and a
// NUL-terminated text, as servers send to clients they cannot talk 3.0
// with) has Type 'E' and V2 set.
type Message struct {
	Type byte
	Body []byte
	V2   bool
}

var errTruncated = errors.New("truncated message")

// ParseMessages splits b into backend messages. It stops at the first
// malformed or truncated one and returns those before it with an error.
func ParseMessages(b []byte) ([]Message, error) {
	var out []Message
	for len(b) > 0 {
		t := b[0]
		if t < 'A' || t > 'z' {
			return out, fmt.Errorf("bad message type 0x%02x", t)
		}
		if len(b) < 5 {
			return out, errTruncated
		}
		n := binary.BigEndian.Uint32(b[1:5])
		if t == 'E' && (n < 4 || n > maxMessage) && printable(b[1:min(len(b), 8)]) {
			// Protocol 2 error: "E" + "SEVERITY:  text" + NUL. Both the
			// severity and the NUL are required: text protocols also start
			// lines with E (IRC's "ERROR :Closing link", SMTP-ish "ERR").
			text := b[1:]
			i := bytes.IndexByte(text, 0)
			if i < 0 && len(text) < maxV2Error {
				if !v2Prefix(text) {
					return out, errors.New("not a protocol-2 error")
				}
				return out, errTruncated
			}
			if i >= 0 {
				text = text[:i]
			}
			if !v2Prefix(text) {
				return out, errors.New("not a protocol-2 error")
			}
			if len(text) > 1024 {
				text = text[:1024]
			}
			return append(out, Message{Type: 'E', Body: text, V2: true}), nil
		}
		if n < 4 || n > maxMessage {
			return out, fmt.Errorf("message %q length %d", t, n)
		}
		if uint32(len(b)-1) < n {
			return out, errTruncated
		}
		out = append(out, Message{Type: t, Body: b[5 : 1+n]})
		b = b[1+n:]
	}
	return out, nil
}

// maxV2Error bounds the wait for a protocol-2 error's NUL terminator.
const maxV2Error = 4096

// v2Prefix reports whether text can start a protocol-2 error: an upper-case
// severity ("FATAL", "ERROR", old servers' "FATAL 1") and a colon. A prefix
// still too short to tell is accepted.
func v2Prefix(text []byte) bool {
	i := 0
	for i < len(text) && text[i] >= 'A' && text[i] <= 'Z' {
		i++
	}
	if i == len(text) {
		return true // "FAT": wait for more
	}
	if i < 3 || i > 10 {
		return false
	}
	if text[i] == ':' {
		return true
	}
	if text[i] != ' ' { // "FATAL 1:" is the only other form
		return false
	}
	i++
	j := i
	for i < len(text) && text[i] >= '0' && text[i] <= '9' {
		i++
	}
	if i == len(text) {
		return true
	}
	return i > j && text[i] == ':'
}

// messagesDone reports whether b holds an answer we can stop reading at: an
// error, an authentication request other than "ok", ReadyForQuery, or
// bytes that are not backend messages at all. With afterStartup false only
// an error counts.
func messagesDone(b []byte, afterStartup bool) bool {
	msgs, err := ParseMessages(b)
	if err != nil && !errors.Is(err, errTruncated) {
		return true
	}
	for _, m := range msgs {
		switch m.Type {
		case 'E':
			return true
		case 'R':
			if afterStartup {
				if code, _, ok := ParseAuth(m.Body); !ok || code != 0 {
					return true
				}
			}
		case 'Z':
			return afterStartup
		}
	}
	return false
}

// ParseError returns the fields of an ErrorResponse (or NoticeResponse)
// body by their one-letter codes. A protocol-2 error text is returned as
// the message ('M'), with its "FATAL:  " prefix as severity.
func ParseError(body []byte) map[byte]string {
	out := map[byte]string{}
	if len(body) > 0 && (body[0] < 'A' || body[0] > 'Z' || !bytes.Contains(body, []byte{0})) {
		return out
	}
	for len(body) > 0 && body[0] != 0 {
		code := body[0]
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			break
		}
		v := body[1 : 1+end]
		if len(v) > 1024 {
			v = v[:1024]
		}
		if _, seen := out[code]; !seen {
			out[code] = string(v)
		}
		body = body[1+end+1:]
	}
	return out
}

// parseV2Error splits a protocol-2 error text ("FATAL:  message\n").
func parseV2Error(text []byte) map[byte]string {
	s := strings.TrimSpace(string(text))
	out := map[byte]string{}
	if sev, msg, ok := strings.Cut(s, ":  "); ok && sev == strings.ToUpper(sev) && len(sev) < 16 {
		out['S'], out['M'] = sev, msg
	} else if s != "" {
		out['M'] = s
	}
	return out
}

// ParseAuth reads an AuthenticationRequest body: the code and, for SASL
// (10), the mechanism names.
func ParseAuth(body []byte) (code uint32, mechs []string, ok bool) {
	if len(body) < 4 {
		return 0, nil, false
	}
	code = binary.BigEndian.Uint32(body)
	if code > 64 {
		return 0, nil, false
	}
	if code == 10 {
		rest := body[4:]
		for len(rest) > 0 && rest[0] != 0 && len(mechs) < 16 {
			i := bytes.IndexByte(rest, 0)
			if i < 0 {
				break
			}
			if name := rest[:i]; printable(name) && len(name) <= 64 {
				mechs = append(mechs, string(name))
			}
			rest = rest[i+1:]
		}
	}
	return code, mechs, true
}

// AuthName names an AuthenticationRequest code after pg_hba.conf's methods.
func AuthName(code uint32) string {
	switch code {
	case 0:
		return "ok"
	case 2:
		return "kerberos5"
	case 3:
		return "password"
	case 5:
		return "md5"
	case 6:
		return "scm"
	case 7:
		return "gss"
	case 9:
		return "sspi"
	case 10:
		return "sasl"
	}
	return "code-" + strconv.Itoa(int(code))
}

func parseParam(body []byte) (string, string, bool) {
	name, rest, ok := bytes.Cut(body, []byte{0})
	if !ok {
		return "", "", false
	}
	value, _, ok := bytes.Cut(rest, []byte{0})
	if !ok || !printable(name) || !printable(value) || len(name) > 64 || len(value) > 256 {
		return "", "", false
	}
	return string(name), string(value), true
}

func parseNegotiate(body []byte) (uint32, bool) {
	if len(body) < 8 {
		return 0, false
	}
	return binary.BigEndian.Uint32(body), true
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
