package mqtt

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// broker answers CONNECTs by kind; an empty or missing answer means "hang
// up". After an accepted 3.1.1 CONNECT it answers a SUBSCRIBE with sub.
type broker struct {
	v311, v5, auth, rm0, sub []byte
}

func readPacket(c net.Conn) ([]byte, error) {
	var hdr [1]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, err
	}
	n, mult := 0, 1
	for i := 0; i < 4; i++ {
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return nil, err
		}
		n += int(b[0]&0x7f) * mult
		mult *= 128
		if b[0]&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	_, err := io.ReadFull(c, body)
	return append([]byte{hdr[0]}, body...), err
}

func (b broker) serve(c net.Conn) {
	p, err := readPacket(c)
	if err != nil || p[0] != 0x10 {
		return
	}
	level := p[7] // after 0x10, 1-byte length, "\x00\x04MQTT"
	var answer []byte
	switch {
	case level == 4:
		answer = b.v311
	case bytes.Contains(p, []byte("portrait-unknown")):
		answer = b.auth
	case bytes.Contains(p, []byte{propReceiveMaximum, 0, 0}):
		answer = b.rm0
	default:
		answer = b.v5
	}
	if len(answer) == 0 {
		return
	}
	if _, err := c.Write(answer); err != nil {
		return
	}
	for {
		p, err := readPacket(c)
		if err != nil || p[0] == 0xe0 {
			return
		}
		if p[0] == 0x82 && b.sub != nil {
			_, _ = c.Write(b.sub)
		}
	}
}

func publish(topic, payload string) []byte {
	body := appendString(nil, topic)
	body = append(body, payload...)
	return append(appendVarint([]byte{0x31}, len(body)), body...)
}

func TestRun(t *testing.T) {
	lab := broker{
		v311: prototest.Testdata(t, "lab-1883", "mqtt-connect-3.1.1.bin"),
		v5:   prototest.Testdata(t, "lab-1883", "mqtt-connect-5.0.bin"),
		auth: prototest.Testdata(t, "lab-1883", "mqtt-connect-5.0-authmethod.bin"),
		rm0:  prototest.Testdata(t, "lab-1883", "mqtt-connect-5.0-rm0.bin"),
	}
	// Synthetic: an anonymous broker publishing its version as retained
	// $SYS message, with 5.0 CONNACK properties.
	open := broker{
		v311: []byte{0x20, 2, 0, 0},
		v5:   []byte{0x20, 8, 0, 0, 5, 0x22, 0, 10, 0x25, 1},
		auth: []byte{0x20, 3, 0, 0x8c, 0},
		sub:  append([]byte{0x90, 4, 0, 1, 0, 0}, publish("$SYS/broker/version", "mosquitto version 2.0.18")...),
	}
	tests := []struct {
		name    string
		handler func(net.Conn)
		wantErr error
		fields  map[string]string
		absent  []string
	}{
		{
			name:    "lab mosquitto 2.0.11, anonymous refused",
			handler: lab.serve,
			fields: map[string]string{
				"mqtt.connack.code": "5", "mqtt.connack.session_present": "false", "mqtt.auth_required": "true",
				"mqtt.v5.reason_code": "0x87", "mqtt.v5.authmethod": "8c[]", "mqtt.v5.protocol_error": "close",
				"mqtt.behavior": "v311=05;v5=87[];auth=8c[];rm0=close",
			},
			absent: []string{"mqtt.sys.version", "mqtt.v5.properties"},
		},
		{
			name:    "anonymous broker with $SYS version",
			handler: open.serve,
			fields: map[string]string{
				"mqtt.connack.code": "0", "mqtt.sys.version": "mosquitto version 2.0.18",
				"mqtt.v5.reason_code": "0x00", "mqtt.v5.properties": "topic_alias_maximum=10,retain_available=1",
				"mqtt.behavior": "v311=00;v5=00[topic_alias_maximum=10,retain_available=1];auth=8c[];rm0=close",
			},
			absent: []string{"mqtt.auth_required"},
		},
		{
			name:    "http",
			handler: prototest.Replay(nil, []byte("HTTP/1.1 400 Bad Request\r\n\r\n")),
			wantErr: protocol.ErrNotThisProtocol,
		},
		{
			name:    "bad connack",
			handler: prototest.Replay(nil, []byte{0x20, 2, 0, 9}),
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
			if res.Service != "mqtt" {
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

func TestConnectEncoding(t *testing.T) {
	got := Connect(4, "portrait-x", nil)
	want := []byte("\x10\x16\x00\x04MQTT\x04\x02\x00\x1e\x00\x0aportrait-x")
	if !bytes.Equal(got, want) {
		t.Errorf("Connect(4) = %q, want %q", got, want)
	}
	got = Connect(5, "p", property(propReceiveMaximum, []byte{0, 0}))
	want = []byte("\x10\x11\x00\x04MQTT\x05\x02\x00\x1e\x03\x21\x00\x00\x00\x01p")
	if !bytes.Equal(got, want) {
		t.Errorf("Connect(5) = %q, want %q", got, want)
	}
}

func TestVarintBounds(t *testing.T) {
	if _, _, ok := readVarint([]byte{0xff, 0xff, 0xff, 0xff, 0x7f}); ok {
		t.Error("5-byte varint accepted")
	}
	if _, err := ParseConnack([]byte{0x20, 0xff, 0xff, 0xff, 0x7f}, true); err == nil {
		t.Error("huge CONNACK accepted")
	}
}

func FuzzParseConnack(f *testing.F) {
	f.Add(prototest.Testdata(f, "lab-1883", "mqtt-connect-3.1.1.bin"))
	f.Add(prototest.Testdata(f, "lab-1883", "mqtt-connect-5.0.bin"))
	f.Add([]byte{0x20, 8, 0, 0, 5, 0x22, 0, 10, 0x25, 1})
	f.Add([]byte{0x20, 12, 0, 0x87, 9, 0x1f, 0, 6, 'n', 'o', ' ', 'w', 'a', 'y'})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v5 := range []bool{false, true} {
			if ack, err := ParseConnack(b, v5); err == nil {
				_ = PropertyString(ack.Properties)
			}
		}
		_, _ = versionPublish(b)
		if len(b) > 0 {
			_ = packetDone(b)
		}
	})
}
