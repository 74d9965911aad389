//go:build linux

package rawsock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// PingSocket sends ICMP echo requests without privileges, over Linux's
// datagram ICMP sockets (allowed to the groups in
// net.ipv4.ping_group_range). The kernel sets the echo identifier and
// delivers only the replies to it.
type PingSocket struct {
	fd4, fd6 int
	mu       sync.Mutex
	closed   atomic.Bool
	buf      []byte
}

// OpenPing opens the IPv4 (and, when possible, IPv6) ping sockets.
func OpenPing() (*PingSocket, error) {
	fd4, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_ICMP)
	if err != nil {
		return nil, fmt.Errorf("ping socket: %w", err)
	}
	p := &PingSocket{fd4: fd4, fd6: -1, buf: make([]byte, 1500)}
	if fd6, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_ICMPV6); err == nil {
		p.fd6 = fd6
	}
	for _, fd := range []int{p.fd4, p.fd6} {
		if fd >= 0 {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		}
	}
	return p, nil
}

// Send sends one echo request to dst with sequence number seq.
func (p *PingSocket) Send(dst netip.Addr, seq uint16) error {
	msg := []byte{ICMPEchoRequest, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(msg[6:], seq)
	msg = append(msg, "portrait-discovery"...)
	if dst.Is4() {
		return unix.Sendto(p.fd4, msg, 0, &unix.SockaddrInet4{Addr: dst.As4()})
	}
	if p.fd6 < 0 {
		return errors.New("ping socket: no IPv6")
	}
	msg[0] = ICMPv6EchoRequest
	return unix.Sendto(p.fd6, msg, 0, &unix.SockaddrInet6{Addr: dst.As16()})
}

// Read waits up to 50ms and hands each echo reply's source and sequence
// number to fn. It returns os.ErrClosed after Close.
func (p *PingSocket) Read(fn func(from netip.Addr, seq uint16)) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return 0, os.ErrClosed
	}
	fds := []unix.PollFd{{Fd: int32(p.fd4), Events: unix.POLLIN}}
	if p.fd6 >= 0 {
		fds = append(fds, unix.PollFd{Fd: int32(p.fd6), Events: unix.POLLIN})
	}
	if _, err := unix.Poll(fds, 50); err != nil && !errors.Is(err, unix.EINTR) {
		return 0, err
	}
	n := 0
	for _, f := range fds {
		if f.Revents&unix.POLLIN == 0 {
			continue
		}
		for n < 4096 {
			r, from, err := unix.Recvfrom(int(f.Fd), p.buf, unix.MSG_DONTWAIT)
			if err != nil {
				break
			}
			if r < 8 || (p.buf[0] != ICMPEchoReply && p.buf[0] != ICMPv6EchoReply) {
				continue
			}
			seq := binary.BigEndian.Uint16(p.buf[6:])
			switch sa := from.(type) {
			case *unix.SockaddrInet4:
				fn(netip.AddrFrom4(sa.Addr), seq)
			case *unix.SockaddrInet6:
				fn(netip.AddrFrom16(sa.Addr), seq)
			}
			n++
		}
	}
	return n, nil
}

// Close closes the sockets.
func (p *PingSocket) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	unix.Close(p.fd4)
	if p.fd6 >= 0 {
		unix.Close(p.fd6)
	}
	return nil
}
