package xmpp

import "testing"

const prosodyNote = "real: prosody 0.12.3-1+deb12u1 (Debian 12) started briefly on 127.0.0.1 (c2s 15222, s2s 15269), VirtualHost localhost, self-signed certificate; "

// TestRecordLocal records a throw-away Prosody (config in testdata/README.md).
func TestRecordLocal(t *testing.T) {
	record(t, New(), "local-prosody-0.12.3-c2s", 15222, prosodyNote+"stream to localhost", "localhost")
}

func TestRecordLocalUnknownHost(t *testing.T) {
	record(t, New(), "local-prosody-0.12.3-host-unknown", 15222, prosodyNote+"stream to a domain it does not serve", "example.com")
}

func TestRecordLocalS2S(t *testing.T) {
	record(t, Module{s2s: true}, "local-prosody-0.12.3-s2s", 15269, prosodyNote+"server-to-server stream to localhost", "localhost")
}
