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
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDPSocket is a pair of ordinary UDP sockets (IPv4 and IPv6, one port)
// for UDP scanning. It needs no privileges: replies arrive as datagrams,
// and ICMP errors about our probes (port unreachable, host unreachable,
// administratively prohibited) arrive on the socket's error queue
// (IP_RECVERR), each naming the probe's destination. Binding a real
// socket also keeps the kernel from answering the replies with ICMP port
// unreachable of its own.
type UDPSocket struct {
	Port   uint16
	fd4    int
	fd6    int // -1 without IPv6
	s4, s6 *Sender

	mu     sync.Mutex // held by Read; Close takes it
	closed atomic.Bool
	buf    []byte
	oob    []byte
}

// UDPMessage is a datagram received or an error reported.
type UDPMessage struct {
	From netip.AddrPort // the datagram's source (data)
	Data []byte         // payload (reused after the callback returns)

	IsError  bool
	To       netip.AddrPort // the destination of the probe the error is about
	Offender netip.Addr     // who sent the ICMP error
	ICMPv6   bool
	Type     uint8
	Code     uint8
}

// OpenUDP opens the sockets on a free port (the same on both families).
// rcvbuf sizes the receive buffers (errors count against them too).
func OpenUDP(rcvbuf int) (*UDPSocket, error) {
	if rcvbuf <= 0 {
		rcvbuf = 8 << 20
	}
	var lastErr error
	for try := 0; try < 8; try++ {
		u, err := openUDP(rcvbuf)
		if err == nil {
			return u, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func openUDP(rcvbuf int) (*UDPSocket, error) {
	setup := func(fd int, level, opt int) error {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		return unix.SetsockoptInt(fd, level, opt, 1)
	}
	fd4, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	if err := setup(fd4, unix.IPPROTO_IP, unix.IP_RECVERR); err != nil {
		unix.Close(fd4)
		return nil, fmt.Errorf("udp socket: IP_RECVERR: %w", err)
	}
	if err := unix.Bind(fd4, &unix.SockaddrInet4{}); err != nil {
		unix.Close(fd4)
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	sa, err := unix.Getsockname(fd4)
	if err != nil {
		unix.Close(fd4)
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	u := &UDPSocket{Port: uint16(port), fd4: fd4, fd6: -1, buf: make([]byte, 65536), oob: make([]byte, 512)}
	u.s4 = &Sender{fd: fd4}
	u.s4.initBufs()
	fd6, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err == nil {
		_ = unix.SetsockoptInt(fd6, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		if err := setup(fd6, unix.IPPROTO_IPV6, unix.IPV6_RECVERR); err != nil {
			unix.Close(fd6)
		} else if err := unix.Bind(fd6, &unix.SockaddrInet6{Port: port}); err != nil {
			unix.Close(fd6)
			if errors.Is(err, unix.EADDRINUSE) {
				unix.Close(fd4)
				return nil, err // try another port
			}
		} else {
			u.fd6 = fd6
			u.s6 = &Sender{fd: fd6, six: true}
			u.s6.initBufs()
		}
	}
	return u, nil
}

// Sender returns the batch sender for dst's family (nil for IPv6 when
// the host has no IPv6).
func (u *UDPSocket) Sender(dst netip.Addr) *Sender {
	if dst.Is4() {
		return u.s4
	}
	return u.s6
}

// Read waits up to 50ms for datagrams or errors and hands each to fn. It
// returns the number handled; os.ErrClosed after Close.
func (u *UDPSocket) Read(fn func(m *UDPMessage)) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed.Load() {
		return 0, os.ErrClosed
	}
	fds := []unix.PollFd{{Fd: int32(u.fd4), Events: unix.POLLIN}}
	if u.fd6 >= 0 {
		fds = append(fds, unix.PollFd{Fd: int32(u.fd6), Events: unix.POLLIN})
	}
	if _, err := unix.Poll(fds, 50); err != nil && !errors.Is(err, unix.EINTR) {
		return 0, fmt.Errorf("poll: %w", err)
	}
	n := 0
	for _, p := range fds {
		if p.Revents&unix.POLLERR != 0 {
			n += u.drainErrors(int(p.Fd), fn)
		}
		if p.Revents&unix.POLLIN != 0 {
			n += u.drainData(int(p.Fd), fn)
		}
	}
	return n, nil
}

func (u *UDPSocket) drainData(fd int, fn func(*UDPMessage)) int {
	n := 0
	for n < 4096 {
		r, from, err := unix.Recvfrom(fd, u.buf, unix.MSG_DONTWAIT)
		if err != nil {
			return n
		}
		m := UDPMessage{Data: u.buf[:r]}
		switch sa := from.(type) {
		case *unix.SockaddrInet4:
			m.From = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
		case *unix.SockaddrInet6:
			m.From = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
		default:
			continue
		}
		fn(&m)
		n++
	}
	return n
}

func (u *UDPSocket) drainErrors(fd int, fn func(*UDPMessage)) int {
	n := 0
	for n < 4096 {
		r, oobn, _, from, err := unix.Recvmsg(fd, u.buf[:512], u.oob, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if err != nil {
			return n
		}
		_ = r
		m := UDPMessage{IsError: true}
		switch sa := from.(type) {
		case *unix.SockaddrInet4:
			m.To = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
		case *unix.SockaddrInet6:
			m.To = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
		}
		if !parseRecvErr(u.oob[:oobn], &m) || !m.To.IsValid() {
			continue
		}
		fn(&m)
		n++
	}
	return n
}

// parseRecvErr reads the sock_extended_err of an IP_RECVERR control
// message and the offender address that follows it.
func parseRecvErr(oob []byte, m *UDPMessage) bool {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return false
	}
	for _, c := range msgs {
		v4 := c.Header.Level == unix.IPPROTO_IP && c.Header.Type == unix.IP_RECVERR
		v6 := c.Header.Level == unix.IPPROTO_IPV6 && c.Header.Type == unix.IPV6_RECVERR
		if !v4 && !v6 {
			continue
		}
		const eeLen = int(unsafe.Sizeof(unix.SockExtendedErr{}))
		if len(c.Data) < eeLen {
			return false
		}
		origin := c.Data[4]
		if origin != unix.SO_EE_ORIGIN_ICMP && origin != unix.SO_EE_ORIGIN_ICMP6 {
			return false
		}
		m.ICMPv6 = origin == unix.SO_EE_ORIGIN_ICMP6
		m.Type, m.Code = c.Data[5], c.Data[6]
		off := c.Data[eeLen:]
		if len(off) >= 8 && binary.LittleEndian.Uint16(off) == unix.AF_INET {
			m.Offender = netip.AddrFrom4([4]byte(off[4:8]))
		} else if len(off) >= 24 && binary.LittleEndian.Uint16(off) == unix.AF_INET6 {
			m.Offender = netip.AddrFrom16([16]byte(off[8:24]))
		}
		return true
	}
	return false
}

// Close closes the sockets; a Read in progress ends first.
func (u *UDPSocket) Close() error {
	if u.closed.Swap(true) {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	unix.Close(u.fd4)
	if u.fd6 >= 0 {
		unix.Close(u.fd6)
	}
	return nil
}
