package xmpp

import (
	"testing"

	"github.com/portrait-scanner/portrait/protocol/prototest"
)

const prosodyNote = "real: prosody 0.12.3-1+deb12u1 (Debian 12) started briefly on 127.0.0.1 (c2s 15222, s2s 15269), VirtualHost localhost, self-signed certificate; "

// TestRecordLocal records a throw-away Prosody (config in testdata/README.md).
func TestRecordLocal(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "local-prosody-0.12.3-c2s", Port: 15222, Note: prosodyNote + "stream to localhost", Hostname: "localhost"})
}

func TestRecordLocalUnknownHost(t *testing.T) {
	prototest.Record(t, New(), prototest.Recording{Name: "local-prosody-0.12.3-host-unknown", Port: 15222, Note: prosodyNote + "stream to a domain it does not serve", Hostname: "example.com"})
}

func TestRecordLocalS2S(t *testing.T) {
	prototest.Record(t, Module{s2s: true}, prototest.Recording{Name: "local-prosody-0.12.3-s2s", Port: 15269, Note: prosodyNote + "server-to-server stream to localhost", Hostname: "localhost"})
}
