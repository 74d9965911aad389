package mongodb

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// The MongoDB server of these tests is synthetic (no MongoDB runs in the
// lab): its replies follow the wire protocol and command reply formats of
// the MongoDB documentation, with the fields a 7.0 server returns.

func replyDoc(op uint32, responseTo int32, doc []byte) []byte {
	var body []byte
	if op == opReply {
		body = binary.LittleEndian.AppendUint32(nil, 8) // responseFlags: AwaitCapable
		body = binary.LittleEndian.AppendUint64(body, 0)
		body = binary.LittleEndian.AppendUint32(body, 0)
		body = binary.LittleEndian.AppendUint32(body, 1)
	} else {
		body = binary.LittleEndian.AppendUint32(nil, 0)
		body = append(body, 0)
	}
	body = append(body, doc...)
	out := binary.LittleEndian.AppendUint32(nil, uint32(16+len(body)))
	out = binary.LittleEndian.AppendUint32(out, 99)
	out = binary.LittleEndian.AppendUint32(out, uint32(responseTo))
	out = binary.LittleEndian.AppendUint32(out, op)
	return append(out, body...)
}

var (
	helloDoc = encodeDoc([]elem{
		{"ismaster", true},
		{"topologyVersion", []elem{{"counter", int32(0)}}},
		{"maxBsonObjectSize", int32(16777216)},
		{"maxMessageSizeBytes", int32(48000000)},
		{"maxWriteBatchSize", int32(100000)},
		{"logicalSessionTimeoutMinutes", int32(30)},
		{"connectionId", int32(7)},
		{"minWireVersion", int32(0)},
		{"maxWireVersion", int32(21)},
		{"readOnly", false},
		{"ok", 1.0},
	})
	buildInfoDoc = encodeDoc([]elem{
		{"version", "7.0.12"},
		{"gitVersion", "b6c2c3e1b45b4e5ad1e86e6df4d8e7d2b8d7c9b3"},
		{"allocator", "tcmalloc"},
		{"javascriptEngine", "mozjs"},
		{"sysInfo", "deprecated"},
		{"openssl", []elem{{"running", "OpenSSL 3.0.2 15 Mar 2022"}}},
		{"bits", int32(64)},
		{"debug", false},
		{"ok", 1.0},
	})
	unauthorizedDoc = encodeDoc([]elem{
		{"ok", 0.0},
		{"errmsg", "command listDatabases requires authentication"},
		{"code", int32(13)},
		{"codeName", "Unauthorized"},
	})
)

// fakeMongo answers isMaster, buildInfo and listDatabases, each request
// with the opcode it came in.
func fakeMongo(c net.Conn) {
	for {
		var hdr [16]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		body := make([]byte, n-16)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		id := int32(binary.LittleEndian.Uint32(hdr[4:]))
		op := binary.LittleEndian.Uint32(hdr[12:])
		replyOp := uint32(opMsg)
		if op == opQuery {
			replyOp = opReply
		}
		var doc []byte
		switch id {
		case 1:
			doc = helloDoc
		case 2:
			doc = buildInfoDoc
		default:
			doc = unauthorizedDoc
		}
		if _, err := c.Write(replyDoc(replyOp, id, doc)); err != nil {
			return
		}
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		handler func(net.Conn)
		wantErr error
		fields  map[string]string
	}{
		{
			name:    "synthetic MongoDB 7.0",
			handler: fakeMongo,
			fields: map[string]string{
				"mongodb.ismaster": "true", "mongodb.max_wire_version": "21", "mongodb.min_wire_version": "0",
				"mongodb.version": "7.0.12", "mongodb.git_version": "b6c2c3e1b45b4e5ad1e86e6df4d8e7d2b8d7c9b3",
				"mongodb.buildinfo.allocator": "tcmalloc", "mongodb.buildinfo.javascriptengine": "mozjs",
				"mongodb.auth_required": "true", "mongodb.error.code": "13",
				"mongodb.error.message": "command listDatabases requires authentication",
			},
		},
		{
			name:    "http",
			handler: prototest.Replay(nil, []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")),
			wantErr: protocol.ErrNotThisProtocol,
		},
		{
			name:    "wrong responseTo",
			handler: prototest.Replay(nil, replyDoc(opReply, 42, helloDoc)),
			wantErr: protocol.ErrNotThisProtocol,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := prototest.Serve(t, tc.handler)
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
			if res.Service != "mongodb" || res.Confidence != 98 {
				t.Errorf("service = %q conf %d", res.Service, res.Confidence)
			}
			prototest.CheckFields(t, res, tc.fields)
			// buildInfo and listDatabases must have used OP_MSG (maxWireVersion 21).
			if op := binary.LittleEndian.Uint32(res.Exchanges[1].Request[12:]); op != opMsg {
				t.Errorf("buildInfo opcode %d", op)
			}
		})
	}
}

// TestWriteSynthetic writes the synthetic transcript to testdata (with
// PORTRAIT_RECORD=1), for reading and as fuzz seeds.
func TestWriteSynthetic(t *testing.T) {
	if os.Getenv("PORTRAIT_RECORD") == "" {
		t.Skip("set PORTRAIT_RECORD=1 to write testdata")
	}
	dir := filepath.Join("testdata", "synthetic-7.0")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"mongodb.bin":               replyDoc(opReply, 1, helloDoc),
		"mongodb-buildinfo.bin":     replyDoc(opMsg, 2, buildInfoDoc),
		"mongodb-listdatabases.bin": replyDoc(opMsg, 3, unauthorizedDoc),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBSONBounds(t *testing.T) {
	// Deep nesting, a huge length and an unterminated string.
	deep := encodeDoc([]elem{{"a", int32(1)}})
	for i := 0; i < 40; i++ {
		deep = append([]byte{0, 0, 0, 0, 0x03, 'x', 0}, append(deep, 0)...)
		binary.LittleEndian.PutUint32(deep, uint32(len(deep)))
	}
	if _, _, err := DecodeDoc(deep); err == nil {
		t.Error("deep nesting accepted")
	}
	if _, _, err := DecodeDoc([]byte{0xff, 0xff, 0xff, 0x7f, 0}); err == nil {
		t.Error("huge length accepted")
	}
	if _, _, err := DecodeDoc([]byte{12, 0, 0, 0, 0x02, 'a', 0, 0xff, 0xff, 0, 0, 0}); err == nil {
		t.Error("bad string accepted")
	}
}

func FuzzParseReply(f *testing.F) {
	f.Add(replyDoc(opReply, 1, helloDoc))
	f.Add(replyDoc(opMsg, 1, buildInfoDoc))
	f.Add(replyDoc(opMsg, 1, unauthorizedDoc))
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := ParseReply(b, 1)
		if err == nil {
			_ = joinKeys(doc.Keys)
			_, _ = doc.Number("ok")
		}
		_, _, _ = DecodeDoc(b)
		if len(b) > 0 {
			_ = messageDone(b)
		}
	})
}
