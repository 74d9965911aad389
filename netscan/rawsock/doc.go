// Package rawsock is the raw-packet plumbing shared by the SYN scanner,
// the UDP scanner and host discovery, in pure Go (no cgo, no libpcap):
//
//   - Sender: a raw IPv4 socket (IP_HDRINCL) or a raw IPv6 TCP/ICMPv6
//     socket, sending batches with one sendmmsg(2) call each.
//   - Listener: an AF_PACKET socket in cooked (SOCK_DGRAM) mode, so every
//     link type (Ethernet, loopback, tunnels) hands over packets that start
//     at the IP header, with a classic BPF filter attached in the kernel so
//     that only the replies a scan cares about are copied to user space,
//     and with our own outgoing packets ignored (PACKET_IGNORE_OUTGOING).
//   - ARP: requests and replies as Ethernet frames over AF_PACKET.
//   - Packets are built once as templates with gopacket layers and patched
//     per probe (destination, port, sequence number, checksums), because
//     serialising layers for every probe would cost more than sending it.
//     Replies are parsed by hand without allocating (Parse), since a sweep
//     reads up to a million of them a second.
//   - Cookies: a keyed SipHash-2-4 of a probe's addresses and ports. A
//     scanner puts it in the field the answer echoes (the TCP sequence
//     number, the ICMP echo identifier) and so validates answers without
//     keeping a table of probes in flight, as zmap and masscan do.
//
// Every function that needs privileges returns an error wrapping
// ErrNotPermitted when the process lacks CAP_NET_RAW, so callers can fall
// back to unprivileged methods with a one-line notice.
package rawsock
