package udp

import "github.com/portrait-scanner/portrait/netscan/udp/udpproto"

func probeName(port int) string { return udpproto.ProbeName(port) }
