// Package mongodb fingerprints servers of the MongoDB wire protocol
// (MongoDB, Percona Server for MongoDB, FerretDB, Amazon DocumentDB...). It
// asks, in order:
//
//  1. isMaster on admin.$cmd with OP_QUERY, the legacy handshake every
//     server version accepts (OP_MSG only exists from 3.6, and 5.1+ servers
//     still accept OP_QUERY for the handshake commands): role and wire
//     versions;
//  2. buildInfo, which needs no authentication: version and git commit
//     (with OP_MSG when the server's maxWireVersion is 6 or more);
//  3. listDatabases with nameOnly, which does: its answer says whether
//     the server demands authentication (error 13, Unauthorized). Database
//     names are not recorded.
//
// Fields (all strings):
//
//	mongodb.ismaster           "true"/"false" (isMaster or isWritablePrimary)
//	mongodb.msg                isMaster "msg" ("isdbgrid" on mongos)
//	mongodb.max_wire_version   maxWireVersion (decimal)
//	mongodb.min_wire_version   minWireVersion (decimal)
//	mongodb.hello.keys         the isMaster reply's keys in order, comma separated
//	mongodb.version            buildInfo version ("7.0.12")
//	mongodb.git_version        buildInfo gitVersion
//	mongodb.buildinfo.<key>    other top-level string values of buildInfo, key lower-cased (at most 16)
//	mongodb.auth_required      "true" when listDatabases failed with code 13, "false" when it succeeded
//	mongodb.error.code         code of the first command error
//	mongodb.error.message      errmsg of the first command error
package mongodb

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// maxMessage bounds a reply we accept (handshake replies are < 2 KiB;
// MongoDB's own limit is 48 MB, far more than we need).
const maxMessage = 64 << 10

// Opcodes of the wire protocol.
const (
	opReply = 1
	opQuery = 2004
	opMsg   = 2013
)

type module struct{}

// New returns the MongoDB protocol module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{Name: "mongodb", Service: "mongodb", Ports: []int{27017, 27018, 27019}, Priority: 50}
}

// Claim is false: MongoDB servers never speak first.
func (module) Claim([]byte) bool { return false }

// opQueryCommand builds an OP_QUERY running cmd on admin.$cmd.
func opQueryCommand(requestID int32, cmd []elem) []byte {
	body := binary.LittleEndian.AppendUint32(nil, 0) // flags
	body = append(body, "admin.$cmd\x00"...)
	body = binary.LittleEndian.AppendUint32(body, 0)          // numberToSkip
	body = binary.LittleEndian.AppendUint32(body, 0xffffffff) // numberToReturn -1
	body = append(body, encodeDoc(cmd)...)
	return header(requestID, opQuery, body)
}

// opMsgCommand builds an OP_MSG with one body section.
func opMsgCommand(requestID int32, cmd []elem) []byte {
	body := binary.LittleEndian.AppendUint32(nil, 0) // flagBits
	body = append(body, 0)                           // section kind 0
	body = append(body, encodeDoc(append(cmd, elem{"$db", "admin"}))...)
	return header(requestID, opMsg, body)
}

func header(requestID int32, op int32, body []byte) []byte {
	out := binary.LittleEndian.AppendUint32(nil, uint32(16+len(body)))
	out = binary.LittleEndian.AppendUint32(out, uint32(requestID))
	out = binary.LittleEndian.AppendUint32(out, 0)
	out = binary.LittleEndian.AppendUint32(out, uint32(op))
	return append(out, body...)
}

func (module) Run(ctx context.Context, conn net.Conn, _ []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	hello, err := command(ctx, conn, env, res, "mongodb", 1, false, []elem{{"isMaster", int32(1)}})
	if err != nil {
		return res, err
	}
	res.Service, res.Confidence = "mongodb", 95
	if ok, _ := hello.Number("ok"); ok != 1 {
		recordError(res, hello)
	}
	if v, ok := hello.Get("isWritablePrimary"); ok {
		res.Set("mongodb.ismaster", fmt.Sprint(v))
	} else if v, ok := hello.Get("ismaster"); ok {
		res.Set("mongodb.ismaster", fmt.Sprint(v))
	}
	res.Set("mongodb.msg", capString(hello.String("msg"), 64))
	maxWire, hasMax := hello.Number("maxWireVersion")
	if hasMax {
		res.Set("mongodb.max_wire_version", strconv.Itoa(int(maxWire)))
	}
	if v, ok := hello.Number("minWireVersion"); ok {
		res.Set("mongodb.min_wire_version", strconv.Itoa(int(v)))
	}
	res.Set("mongodb.hello.keys", joinKeys(hello.Keys))
	useMsg := hasMax && maxWire >= 6

	bi, err := command(ctx, conn, env, res, "mongodb-buildinfo", 2, useMsg, []elem{{"buildInfo", int32(1)}})
	if err == nil {
		if ok, _ := bi.Number("ok"); ok == 1 {
			res.Set("mongodb.version", capString(bi.String("version"), 64))
			res.Set("mongodb.git_version", capString(bi.String("gitVersion"), 64))
			extra := 0
			for i, k := range bi.Keys {
				s, isStr := bi.Values[i].(string)
				if !isStr || k == "version" || k == "gitVersion" || extra >= 16 || !keyName(k) {
					continue
				}
				res.Set("mongodb.buildinfo."+strings.ToLower(k), capString(s, 128))
				extra++
			}
			res.Confidence = 98
		} else {
			recordError(res, bi)
		}
	}

	ld, err := command(ctx, conn, env, res, "mongodb-listdatabases", 3, useMsg,
		[]elem{{"listDatabases", int32(1)}, {"nameOnly", true}})
	if err == nil {
		if ok, _ := ld.Number("ok"); ok == 1 {
			res.Set("mongodb.auth_required", "false")
		} else {
			if code, _ := ld.Number("code"); code == 13 {
				res.Set("mongodb.auth_required", "true")
			}
			recordError(res, ld)
		}
	}
	return res, nil
}

// command sends one command and returns the reply document. The first
// reply that is not MongoDB wire protocol yields ErrNotThisProtocol.
func command(ctx context.Context, conn net.Conn, env protocol.Env, res *protocol.Result, probe string, id int32, useMsg bool, cmd []elem) (Doc, error) {
	req := opQueryCommand(id, cmd)
	if useMsg {
		req = opMsgCommand(id, cmd)
	}
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return Doc{}, fmt.Errorf("mongodb: send %s: %w", probe, err)
	}
	resp, err := wire.ReadUntil(ctx, conn, env.Timeout, maxMessage, messageDone)
	res.Record(probe, req, resp)
	if len(resp) == 0 {
		if err == nil {
			err = errors.New("closed without reply")
		}
		return Doc{}, fmt.Errorf("mongodb: read %s: %w", probe, err)
	}
	doc, err := ParseReply(resp, id)
	if err != nil {
		return Doc{}, fmt.Errorf("mongodb: %w: %w", protocol.ErrNotThisProtocol, err)
	}
	return doc, nil
}

// messageDone: a whole message, or a header no MongoDB server would send.
func messageDone(b []byte) bool {
	if len(b) < 16 {
		return len(b) >= 4 && !plausibleLength(b)
	}
	if !plausibleLength(b) {
		return true
	}
	op := binary.LittleEndian.Uint32(b[12:])
	if op != opReply && op != opMsg {
		return true
	}
	return len(b) >= int(binary.LittleEndian.Uint32(b))
}

func plausibleLength(b []byte) bool {
	n := binary.LittleEndian.Uint32(b)
	return n >= 16+5 && n <= maxMessage
}

// ParseReply parses an OP_REPLY or OP_MSG answering request id and returns
// its (first) document.
func ParseReply(b []byte, id int32) (Doc, error) {
	if len(b) < 16 {
		return Doc{}, errShort
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < 21 || n > maxMessage || n > len(b) {
		return Doc{}, fmt.Errorf("message length %d of %d", n, len(b))
	}
	if rt := int32(binary.LittleEndian.Uint32(b[8:])); rt != id {
		return Doc{}, fmt.Errorf("responseTo %d, want %d", rt, id)
	}
	body := b[16:n]
	switch op := binary.LittleEndian.Uint32(b[12:]); op {
	case opReply:
		// responseFlags(4) cursorID(8) startingFrom(4) numberReturned(4)
		if len(body) < 20 {
			return Doc{}, errShort
		}
		if binary.LittleEndian.Uint32(body[16:]) < 1 {
			return Doc{}, errors.New("OP_REPLY without documents")
		}
		doc, _, err := DecodeDoc(body[20:])
		return doc, err
	case opMsg:
		if len(body) < 5 {
			return Doc{}, errShort
		}
		flags := binary.LittleEndian.Uint32(body)
		p := body[4:]
		if flags&1 != 0 && len(p) >= 4 { // checksum present
			p = p[:len(p)-4]
		}
		for len(p) > 0 {
			kind := p[0]
			p = p[1:]
			switch kind {
			case 0:
				doc, _, err := DecodeDoc(p)
				return doc, err
			case 1: // document sequence: size, identifier, documents
				if len(p) < 4 {
					return Doc{}, errShort
				}
				size := int(int32(binary.LittleEndian.Uint32(p)))
				if size < 4 || size > len(p) {
					return Doc{}, errShort
				}
				p = p[size:]
			default:
				return Doc{}, fmt.Errorf("OP_MSG section kind %d", kind)
			}
		}
		return Doc{}, errors.New("OP_MSG without body section")
	default:
		return Doc{}, fmt.Errorf("opcode %d", op)
	}
}

func recordError(res *protocol.Result, d Doc) {
	if res.Fields["mongodb.error.code"] != "" || res.Fields["mongodb.error.message"] != "" {
		return
	}
	if code, ok := d.Number("code"); ok {
		res.Set("mongodb.error.code", strconv.Itoa(int(code)))
	}
	res.Set("mongodb.error.message", capString(d.String("errmsg"), 256))
}

func joinKeys(keys []string) string {
	var b strings.Builder
	for _, k := range keys {
		if !keyName(k) {
			continue
		}
		if b.Len()+len(k)+1 > 1024 {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
	}
	return b.String()
}

func keyName(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func capString(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
