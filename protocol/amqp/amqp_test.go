package amqp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/prototest"
)

// artemis is a synthetic AMQP 1.0 broker built from the OASIS AMQP 1.0
// encoding: it refuses 0-9-1 with its SASL header, offers ANONYMOUS and
// PLAIN, accepts ANONYMOUS and opens with product properties.
func artemis(c net.Conn) {
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return
	}
	switch string(hdr[:]) {
	case string(header091):
		_, _ = c.Write(header10SA)
		return
	case string(header10SA):
	default:
		return
	}
	mechs := []byte{0xe0, 0, 2, 0xa3, 9}
	mechs = append(mechs, "ANONYMOUS"...)
	mechs = append(mechs, 5)
	mechs = append(mechs, "PLAIN"...)
	mechs[1] = byte(len(mechs) - 2)
	_, _ = c.Write(append(append([]byte{}, header10SA...), frame10(1, performative(descSASLMechanisms, mechs))...))
	buf := make([]byte, 4096)
	if _, err := c.Read(buf); err != nil { // sasl-init
		return
	}
	_, _ = c.Write(frame10(1, performative(descSASLOutcome, []byte{0x50, 0})))
	if _, err := c.Read(buf); err != nil { // header + open
		return
	}
	props := append(sym8("product"), str8("apache-activemq-artemis")...)
	props = append(props, sym8("version")...)
	props = append(props, str8("2.31.2")...)
	props = append([]byte{0xc1, byte(len(props) + 1), 4}, props...)
	null := []byte{0x40}
	open := performative(descOpen, str8("broker-1"), null, []byte{0x70, 0, 0, 0x80, 0}, []byte{0x60, 0xff, 0xff},
		null, null, null, null, null, props)
	_, _ = c.Write(append(append([]byte{}, header10...), frame10(0, open)...))
	_, _ = c.Read(buf)
}

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		handler func(net.Conn)
		wantErr error
		conf    int
		fields  map[string]string
	}{
		{
			name:    "lab RabbitMQ 3.10.8",
			handler: prototest.Replay(nil, prototest.Testdata(t, "lab-5672", "amqp-0-9-1.bin")),
			conf:    98,
			fields: map[string]string{
				"amqp.protocol": "0-9-1", "amqp.product": "RabbitMQ", "amqp.version": "3.10.8", "amqp.server": "RabbitMQ/3.10.8",
				"amqp.platform": "Erlang/OTP 25.2.3", "amqp.cluster_name": "rabbit@vm",
				"amqp.mechanisms": "AMQPLAIN PLAIN", "amqp.locales": "en_US",
				"amqp.capabilities": "authentication_failure_close,basic.nack,connection.blocked,consumer_cancel_notify,consumer_priorities,direct_reply_to,exchange_exchange_bindings,per_consumer_qos,publisher_confirms",
			},
		},
		{
			name:    "synthetic AMQP 1.0 broker",
			handler: artemis,
			conf:    97,
			fields: map[string]string{
				"amqp.protocol": "1.0-sasl", "amqp.mechanisms": "ANONYMOUS,PLAIN", "amqp.sasl_outcome": "0",
				"amqp.container_id": "broker-1", "amqp.product": "apache-activemq-artemis", "amqp.version": "2.31.2", "amqp.server": "apache-activemq-artemis/2.31.2",
			},
		},
		{
			name:    "synthetic AMQP 0-10 broker",
			handler: prototest.Replay(nil, []byte("AMQP\x01\x01\x00\x0a")),
			conf:    90,
			fields:  map[string]string{"amqp.protocol": "0-10"},
		},
		{
			name:    "echo service",
			handler: prototest.Replay(nil, header091),
			wantErr: protocol.ErrNotThisProtocol,
		},
		{
			name:    "http",
			handler: prototest.Replay(nil, []byte("HTTP/1.1 400 Bad Request\r\n\r\n")),
			wantErr: protocol.ErrNotThisProtocol,
		},
		{
			name:    "bad frame",
			handler: prototest.Replay(nil, []byte{1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 11, 0xce}),
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
			if res.Service != "amqp" || res.Confidence != tc.conf {
				t.Errorf("service = %q conf %d, want amqp %d", res.Service, res.Confidence, tc.conf)
			}
			prototest.CheckFields(t, res, tc.fields)
		})
	}
}

func TestHeaderVersion(t *testing.T) {
	for in, want := range map[string]string{
		"AMQP\x00\x00\x09\x01": "0-9-1", "AMQP\x00\x01\x00\x00": "1.0", "AMQP\x03\x01\x00\x00": "1.0-sasl",
		"AMQP\x02\x01\x00\x00": "1.0-tls", "AMQP\x01\x01\x00\x0a": "0-10", "AMQP\x01\x01\x08\x00": "0-8",
		"HTTP/1.1": "",
	} {
		if got := HeaderVersion([]byte(in)); got != want {
			t.Errorf("HeaderVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHostileLengths(t *testing.T) {
	// A table claiming 2 GiB, and deeply nested tables: errors, no panic.
	huge := []byte{1, 0, 0, 0, 0, 0, 10, 0, 10, 0, 10, 0, 9, 0x7f, 0xff, 0xff, 0xff, 0xce}
	if _, err := ParseStart(huge); err == nil {
		t.Error("huge table accepted")
	}
	var nested []byte
	for i := 0; i < 20; i++ {
		inner := append([]byte{1, 'a', 'F'}, nested...)
		nested = append([]byte{byte(len(inner) >> 24), byte(len(inner) >> 16), byte(len(inner) >> 8), byte(len(inner))}, inner...)
	}
	r := &reader{b: nested}
	if _, err := r.table(0); err == nil {
		t.Error("deep nesting accepted")
	}
	if _, err := ParseFrames10(bytes.Repeat([]byte{0xff}, 64)); err == nil {
		t.Error("garbage 1.0 frame accepted")
	}
}

func FuzzParseStart(f *testing.F) {
	f.Add(prototest.Testdata(f, "lab-5672", "amqp-0-9-1.bin"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStart(b)
		if err == nil {
			res := &protocol.Result{}
			setProperties(res, s.Properties)
		}
		if len(b) > 0 {
			_ = answerDone(b)
		}
	})
}

func FuzzParseFrames10(f *testing.F) {
	f.Add(frame10(1, performative(descSASLMechanisms, sym8("PLAIN"))))
	f.Add(frame10(0, performative(descOpen, str8("x"), []byte{0x40}, []byte{0xc1, 3, 2, 0x40, 0x40})))
	f.Add(frame10(1, performative(descSASLOutcome, []byte{0x50, 0})))
	f.Add([]byte{0, 0, 0, 12, 2, 0, 0, 0, 0xf0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		frames, _ := ParseFrames10(b)
		_ = saslMechanisms(frames)
		_, _ = saslOutcome(frames)
		_ = headerAndFrame(b)
	})
}
