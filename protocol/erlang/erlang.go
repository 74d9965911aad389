// Package erlang identifies the two faces of an Erlang/OTP node: the port
// mapper (epmd, port 4369), which lists the node names living on a host and
// the port of each, and the distribution listener of every node (RabbitMQ's
// 25672, CouchDB's, ejabberd's...), which answers a distribution handshake.
// Neither says an OTP version; the node names say which application runs
// (rabbit@host is RabbitMQ), and the rules turn that into products.
//
// epmd fields (all strings):
//
//	epmd.port          the port epmd reports for itself (decimal, normally 4369)
//	epmd.nodes         registered nodes as "name:port" joined by "," (capped at 64)
//	epmd.node.<name>   for the first nodes, the PORT_PLEASE2 answer:
//	                   "port=25672 type=normal proto=tcp versions=5-6"
//	                   (<name> lower-cased, characters other than [a-z0-9_-]
//	                   replaced by "_")
//
// erlang-dist fields (the brief's names, prefixed "erlang.dist."):
//
//	erlang.dist.status   the handshake status: "ok", "ok_simultaneous",
//	                     "nok", "not_allowed", "alive", "named:"...
//	erlang.dist.version  handshake generation: "6" (OTP 23+ 'N' messages) or
//	                     "5" (the older 'n' messages)
//	erlang.dist.node     the node's full name from its challenge ("rabbit@vm")
//	erlang.dist.flags    the node's capability flags from its challenge,
//	                     16 lower-case hex digits
package erlang

import (
	"context"
	"fmt"
	"net"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// readMsg reads one message framed by a 2-byte big-endian length, as both
// epmd requests and the distribution handshake use, rejecting lengths above
// max before allocating.
func readMsg(ctx context.Context, conn net.Conn, env protocol.Env, max int) (raw, body []byte, err error) {
	hdr, err := wire.ReadFull(ctx, conn, env.Timeout, 2)
	if err != nil {
		return hdr, nil, err
	}
	n := int(hdr[0])<<8 | int(hdr[1])
	if n == 0 || n > max {
		return hdr, nil, fmt.Errorf("message length %d: %w", n, protocol.ErrNotThisProtocol)
	}
	b, err := wire.ReadFull(ctx, conn, env.Timeout, n)
	raw = append(hdr, b...)
	if err != nil {
		return raw, nil, err
	}
	return raw, b, nil
}

func frame(body []byte) []byte {
	return append([]byte{byte(len(body) >> 8), byte(len(body))}, body...)
}
