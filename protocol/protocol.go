// Package protocol holds the contract between the fingerprint engine and the
// per-protocol modules beneath it (protocol/<name>). A module knows one wire
// protocol: it holds a dialogue with the server and turns the bytes into named
// evidence fields. It never decides product names or versions: that is the
// job of the rules (data), so that every product is identified through one
// matcher whatever protocol carried the evidence.
package protocol

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// ErrNotThisProtocol is returned by Module.Run when the server's answers show
// that it does not speak the module's protocol. It is not a failure: the engine
// simply tries other modules.
var ErrNotThisProtocol = errors.New("not this protocol")

// Info describes a module to the engine's probe planner.
type Info struct {
	// Name is the module's short name ("ssh", "http"); evidence fields it
	// produces are prefixed with it ("ssh.banner").
	Name string
	// Service is the nmap-style service name reported when the module
	// confirms its protocol ("ssh", "http", "microsoft-ds"...).
	Service string
	// Ports are the TCP ports where this protocol is expected: the port prior.
	Ports []int
	// TLSPorts are ports where the protocol normally runs inside TLS (993 for imap).
	TLSPorts []int
	// ServerFirst is true for protocols whose server speaks first (SSH, FTP,
	// SMTP...). Such modules are chosen by Claim on the passive banner.
	ServerFirst bool
	// Priority orders modules that are equally likely: higher runs earlier.
	Priority int
	// Transport is "tcp" (default when empty) or "udp".
	Transport string
}

// Module is one protocol's dialogue and parser.
type Module interface {
	Info() Info
	// Claim reports whether a passive banner (what the server sent before we
	// spoke, never empty) looks like this protocol. Cheap and pure.
	Claim(banner []byte) bool
	// Run holds the dialogue on conn. For server-first modules chosen by
	// Claim, banner holds what was already read from conn; otherwise conn is
	// fresh and banner is nil. Run returns ErrNotThisProtocol (possibly
	// wrapped) when the answers show another protocol. Run must honour ctx and
	// the deadlines of Env, and must bound every read (Env.MaxRead).
	Run(ctx context.Context, conn net.Conn, banner []byte, env Env) (*Result, error)
}

// Env is what a module may know about its target and limits.
type Env struct {
	Host     string        // address dialled (IP literal)
	Hostname string        // name the user gave, for Host headers and SNI ("" = none)
	Port     int           // port number
	TLS      bool          // conn is already inside TLS
	Timeout  time.Duration // budget for one read; modules set deadlines from it
	MaxRead  int           // upper bound on bytes read per response
	// Dial opens another connection to the same target (inside TLS when TLS is
	// set), for modules that need a second request (an HTTP redirect, a
	// favicon). May be nil.
	Dial func(ctx context.Context) (net.Conn, error)
	// StartTLS upgrades a plaintext connection after a STARTTLS exchange and
	// returns the TLS evidence fields. May be nil.
	StartTLS func(ctx context.Context, conn net.Conn) (*tls.Conn, map[string]string, error)
}

// Exchange is one request and the response it drew, kept raw for the SF
// fingerprint, the banner artifacts and the rules that match raw bytes.
type Exchange struct {
	Probe    string // probe name, nmap style ("NULL", "GetRequest", "ssh-kexinit")
	Request  []byte
	Response []byte
}

// Result is a module's finding on one port.
type Result struct {
	// Service is the nmap-style service name the dialogue confirmed; empty
	// means the module gathered evidence but could not confirm its protocol.
	Service string
	// Confidence (0-100) that the protocol is Service.
	Confidence int
	// Fields are named evidence values ("ssh.banner", "http.header.server").
	// Names are lower case, dot separated, prefixed with the module name.
	Fields map[string]string
	// Exchanges are the raw requests and responses, in order.
	Exchanges []Exchange
}

// Set records a field when value is not empty.
func (r *Result) Set(name, value string) {
	if value == "" {
		return
	}
	if r.Fields == nil {
		r.Fields = map[string]string{}
	}
	r.Fields[name] = value
}

// Record appends a raw exchange.
func (r *Result) Record(probe string, req, resp []byte) {
	r.Exchanges = append(r.Exchanges, Exchange{Probe: probe, Request: req, Response: resp})
}
