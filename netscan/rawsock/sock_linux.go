//go:build linux

package rawsock

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ErrNotPermitted is wrapped by every error caused by missing privileges
// (CAP_NET_RAW).
var ErrNotPermitted = errors.New("raw sockets need root or CAP_NET_RAW")

func wrapPerm(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%s: %w", what, ErrNotPermitted)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Check reports whether raw IP and packet sockets can be opened: nil, or
// an error wrapping ErrNotPermitted that says what is missing.
func Check() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return wrapPerm("raw IP socket", err)
	}
	unix.Close(fd)
	fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return wrapPerm("packet socket", err)
	}
	// Releasing a packet socket waits for an RCU grace period (10-20 ms):
	// let it pass while the scan starts.
	go unix.Close(fd)
	return nil
}

// Kind selects what a Sender sends.
type Kind int

// Sender kinds.
const (
	// IPv4 sends whole IPv4 packets (header included) on an IPPROTO_RAW
	// socket; the kernel routes them and resolves the next hop.
	IPv4 Kind = iota
	// TCP6 sends TCP segments over IPv6; the kernel adds the IPv6 header.
	TCP6
	// ICMP4 sends ICMP messages over IPv4; the kernel adds the header.
	ICMP4
	// ICMP6 sends ICMPv6 messages; the kernel adds the header and computes
	// the checksum.
	ICMP6
)

// MaxBatch is the most packets one Flush hands to the kernel at once.
const MaxBatch = 128

// Sender batches packets for a raw socket. It is not safe for concurrent
// use: a scanner has one sending goroutine.
type Sender struct {
	fd    int
	six   bool
	n     int
	bufs  [MaxBatch][]byte
	iovs  [MaxBatch]unix.Iovec
	msgs  [MaxBatch]unix.Mmsghdr
	sa4   [MaxBatch]unix.RawSockaddrInet4
	sa6   [MaxBatch]unix.RawSockaddrInet6
	link  *unix.RawSockaddrLinklayer // NewLinkSender: whole frames out of one interface
	dsts  [MaxBatch]netip.AddrPort
	tags  [MaxBatch]uint32
	Sent  uint64 // packets the kernel accepted
	Fails uint64 // packets refused (no route, filtered locally...)
}

// NewSender opens a raw socket of the given kind. src, when valid, binds
// it (IPv6 kinds: the source address the kernel puts in the header).
func NewSender(kind Kind, src netip.Addr) (*Sender, error) {
	var fd int
	var err error
	switch kind {
	case IPv4:
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	case ICMP4:
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	case TCP6:
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_TCP)
	case ICMP6:
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6)
	default:
		return nil, fmt.Errorf("rawsock: unknown sender kind %d", kind)
	}
	if err != nil {
		return nil, wrapPerm("raw socket", err)
	}
	s := &Sender{fd: fd, six: kind == TCP6 || kind == ICMP6}
	// A larger send buffer lets a burst queue instead of failing with ENOBUFS.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20)
	if kind == ICMP4 || kind == ICMP6 {
		// Raw ICMP sockets also receive every ICMP packet; we read answers
		// elsewhere, so keep this socket's queue tiny.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1)
		if kind == ICMP6 {
			// Receive nothing at all: ICMP6_FILTER blocking every type.
			var f [8]uint32
			for i := range f {
				f[i] = 0xffffffff
			}
			_ = setsockoptBytes(fd, unix.IPPROTO_ICMPV6, unix.ICMPV6_FILTER, unsafe.Pointer(&f), 32)
		}
	}
	if kind == TCP6 {
		// Nothing to read on this socket either.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1)
	}
	if src.IsValid() && s.six {
		sa := &unix.SockaddrInet6{Addr: src.As16()}
		if err := unix.Bind(fd, sa); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("raw socket: bind %s: %w", src, err)
		}
	}
	s.initBufs()
	return s, nil
}

func (s *Sender) initBufs() {
	for i := range s.bufs {
		s.bufs[i] = make([]byte, 0, 256)
	}
}

// Close releases the socket.
func (s *Sender) Close() error { return unix.Close(s.fd) }

// Buffer returns the next free packet buffer (length 0, capacity at least
// 256); fill it and pass it to Add. Flush first when Full.
func (s *Sender) Buffer() []byte { return s.bufs[s.n][:0] }

// Full reports whether the batch is full.
func (s *Sender) Full() bool { return s.n == MaxBatch }

// Len is the number of packets queued.
func (s *Sender) Len() int { return s.n }

// Add queues pkt for dst (the port is 0 on raw sockets). pkt should be the
// slice Buffer returned (it is copied otherwise). tag comes back with a
// send error (a port, an index).
func (s *Sender) Add(dst netip.AddrPort, pkt []byte, tag uint32) {
	i := s.n
	if len(pkt) > 0 && cap(s.bufs[i]) > 0 && &pkt[:1][0] == &s.bufs[i][:1][0] {
		s.bufs[i] = pkt
	} else {
		s.bufs[i] = append(s.bufs[i][:0], pkt...)
	}
	s.dsts[i] = dst
	s.tags[i] = tag
	s.n++
}

// Flush sends the queued packets with sendmmsg. A packet the kernel refuses
// (no route, a local firewall, a full queue after retrying) is passed to
// onErr and skipped; the rest still go out. The returned error is only for
// a broken socket.
func (s *Sender) Flush(onErr func(dst netip.AddrPort, tag uint32, err error)) error {
	n := s.n
	for i := 0; i < n; i++ {
		b := s.bufs[i]
		s.iovs[i].Base = nil
		if len(b) > 0 {
			s.iovs[i].Base = &b[0] // an empty datagram is a valid UDP probe
		}
		s.iovs[i].SetLen(len(b))
		h := &s.msgs[i].Hdr
		*h = unix.Msghdr{}
		h.Iov = &s.iovs[i]
		h.SetIovlen(1)
		if s.link != nil {
			h.Name = (*byte)(unsafe.Pointer(s.link))
			h.Namelen = unix.SizeofSockaddrLinklayer
		} else if s.six {
			s.sa6[i] = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: htons(s.dsts[i].Port()), Addr: s.dsts[i].Addr().As16()}
			h.Name = (*byte)(unsafe.Pointer(&s.sa6[i]))
			h.Namelen = unix.SizeofSockaddrInet6
		} else {
			s.sa4[i] = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: htons(s.dsts[i].Port()), Addr: s.dsts[i].Addr().As4()}
			h.Name = (*byte)(unsafe.Pointer(&s.sa4[i]))
			h.Namelen = unix.SizeofSockaddrInet4
		}
	}
	i := 0
	backoff := 0
	for i < n {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msgs[i])), uintptr(n-i), 0, 0, 0)
		if e == 0 {
			i += int(r)
			s.Sent += uint64(r)
			backoff = 0
			continue
		}
		switch e {
		case unix.EINTR:
			continue
		case unix.ENOBUFS, unix.EAGAIN, unix.ENOMEM:
			// The device queue is full: wait for it to drain.
			if backoff < 20 {
				backoff++
				time.Sleep(time.Duration(backoff) * 50 * time.Microsecond)
				continue
			}
		case unix.EBADF, unix.ENOTSOCK, unix.EFAULT, unix.EINVAL:
			s.n = 0
			return fmt.Errorf("sendmmsg: %w", e)
		}
		// sendmmsg reports the error of the first message it could not
		// send: skip that one.
		s.Fails++
		if onErr != nil {
			onErr(s.dsts[i], s.tags[i], e)
		}
		i++
		backoff = 0
	}
	s.n = 0
	return nil
}

func setsockoptBytes(fd, level, opt int, p unsafe.Pointer, n uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(p), n, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Listener reads packets from an AF_PACKET socket in cooked mode: each
// packet starts at its IP header whatever the link type. Only packets the
// BPF filter accepts are queued; packets this host sends are ignored.
type Listener struct {
	mu      sync.Mutex // held by Read for one wait; Close takes it
	fd      int
	wake    int // eventfd Close signals, so that a waiting Read returns at once (-1: none)
	closed  atomic.Bool
	msgs    []unix.Mmsghdr
	iovs    []unix.Iovec
	bufs    [][]byte
	snaplen int
	idle    int // consecutive empty polls
	ifindex int
	proto   uint16
	ring    *ring
}

// The reader's nap between polls, and how many empty polls in a row make
// it block instead.
const (
	nap      = 200 * time.Microsecond
	idleNaps = 50
)

// ListenConfig configures a Listener.
type ListenConfig struct {
	// Ifindex restricts the socket to one interface (0: all interfaces).
	Ifindex int
	// Filter is the classic BPF program (see Filter). Required: an
	// unfiltered packet socket would copy every packet of the host.
	Filter []bpf.RawInstruction
	// Snaplen caps the bytes kept of each packet (default 512).
	Snaplen int
	// RcvBuf is the socket receive buffer (default 32 MiB; needs root above
	// net.core.rmem_max).
	RcvBuf int
	// Batch is how many packets one read may return (default 64).
	Batch int
	// Ethernet opens the socket in SOCK_RAW mode for one EtherType:
	// packets (and the filter's offsets) start at the Ethernet header.
	Ethernet  bool
	EtherType uint16
	// NoRing reads with recvmmsg instead of the TPACKET_V3 ring (the
	// ring is used for cooked listeners when the kernel allows it).
	NoRing bool
	// Rate is the packets per second expected at most (the scan's send
	// rate): it sizes the receive ring. 0: unknown, the largest ring.
	Rate float64
}

// Listen opens a packet socket. The filter is attached before the socket
// is bound, so no unfiltered packet is ever queued.
func Listen(cfg ListenConfig) (*Listener, error) {
	if len(cfg.Filter) == 0 {
		return nil, errors.New("rawsock: Listen needs a filter")
	}
	if cfg.Snaplen <= 0 {
		cfg.Snaplen = 512
	}
	if cfg.RcvBuf <= 0 {
		cfg.RcvBuf = 32 << 20
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	typ, proto := unix.SOCK_DGRAM, uint16(unix.ETH_P_ALL)
	if cfg.Ethernet {
		typ, proto = unix.SOCK_RAW, cfg.EtherType
	}
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, wrapPerm("packet socket", err)
	}
	fail := func(what string, err error) (*Listener, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("packet socket: %s: %w", what, err)
	}
	prog := unix.SockFprog{Len: uint16(len(cfg.Filter)), Filter: (*unix.SockFilter)(unsafe.Pointer(&cfg.Filter[0]))}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		return fail("attach filter", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("ignore outgoing (needs Linux 4.20)", err)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.RcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.RcvBuf)
	}
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail("receive timeout", err)
	}
	var rg *ring
	if !cfg.Ethernet && !cfg.NoRing {
		rg, _ = setupRing(fd, cfg.Rate) // without a ring, recvmmsg does the job
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: cfg.Ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		if rg != nil {
			rg.close()
		}
		return fail("bind", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		wake = -1 // reads then end within their 50ms wait
	}
	l := &Listener{fd: fd, wake: wake, snaplen: cfg.Snaplen, ifindex: cfg.Ifindex, proto: proto, ring: rg}
	l.msgs = make([]unix.Mmsghdr, cfg.Batch)
	l.iovs = make([]unix.Iovec, cfg.Batch)
	l.bufs = make([][]byte, cfg.Batch)
	for i := range l.bufs {
		l.bufs[i] = make([]byte, cfg.Snaplen)
		l.iovs[i].Base = &l.bufs[i][0]
		l.iovs[i].SetLen(cfg.Snaplen)
		l.msgs[i].Hdr.Iov = &l.iovs[i]
		l.msgs[i].Hdr.SetIovlen(1)
	}
	return l, nil
}

// Read waits up to about 50ms for packets and calls fn for each (the slice
// is reused after fn returns). It returns the number of packets read; 0
// with a nil error means the wait timed out. After Close it returns
// os.ErrClosed.
func (l *Listener) Read(fn func(pkt []byte)) (int, error) {
	return l.ReadTS(func(b []byte, _ time.Time) { fn(b) })
}

// ReadTS is Read with each packet's arrival time (the kernel's, with the
// receive ring), for round-trip times that do not include our reading
// delay.
func (l *Listener) ReadTS(fn func(pkt []byte, at time.Time)) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ring != nil {
		if l.closed.Load() {
			return 0, os.ErrClosed
		}
		return l.ring.read(l.fd, l.wake, l.snaplen, fn)
	}
	for {
		if l.closed.Load() {
			return 0, os.ErrClosed
		}
		// Non-blocking first: while packets stream in, the reader polls
		// with short naps instead of being woken for every packet (a
		// wake-up costs more than the packet). Idle, it blocks.
		flags := uintptr(unix.MSG_DONTWAIT)
		if l.idle >= idleNaps {
			if l.wake >= 0 {
				// Idle: block in poll, which Close can interrupt.
				if err := waitReadable(l.fd, l.wake, 50); err != nil {
					return 0, err
				}
				if l.closed.Load() {
					return 0, os.ErrClosed
				}
			} else {
				flags = unix.MSG_WAITFORONE
			}
		}
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(l.fd), uintptr(unsafe.Pointer(&l.msgs[0])),
			uintptr(len(l.msgs)), flags, 0, 0)
		if e != 0 {
			switch e {
			case unix.EAGAIN, unix.EINTR:
				if flags == unix.MSG_DONTWAIT && l.idle < idleNaps {
					l.idle++
					l.mu.Unlock()
					time.Sleep(nap)
					l.mu.Lock()
					continue
				}
				return 0, nil
			}
			if l.closed.Load() {
				return 0, os.ErrClosed
			}
			return 0, fmt.Errorf("recvmmsg: %w", e)
		}
		n := int(r)
		now := time.Now()
		if n == len(l.msgs) {
			l.idle = 0
		} else if l.idle > 0 {
			l.idle--
		}
		for i := 0; i < n; i++ {
			ln := int(l.msgs[i].Len)
			if ln > l.snaplen {
				ln = l.snaplen
			}
			fn(l.bufs[i][:ln], now)
		}
		return n, nil
	}
}

// Drops is the number of packets the kernel dropped for lack of buffer
// space since the last call (PACKET_STATISTICS).
func (l *Listener) Drops() uint32 {
	st, err := unix.GetsockoptTpacketStats(l.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0
	}
	return st.Drops
}

// Close closes the socket. A Read in progress is woken and returns
// os.ErrClosed; Close waits for it.
func (l *Listener) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	if l.wake >= 0 {
		var one = [8]byte{1}
		_, _ = unix.Write(l.wake, one[:])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ring != nil {
		l.ring.close()
	}
	if l.wake >= 0 {
		_ = unix.Close(l.wake)
	}
	return unix.Close(l.fd)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Reservation holds a local TCP port so that no connection of this host
// uses it while a scan sends SYNs from it. The socket is bound, never
// listening: the kernel answers stray SYN-ACKs to it with a reset.
type Reservation struct {
	fds  []int
	Port uint16
}

// ReserveTCPPort binds a TCP socket on a free port on every address, IPv4
// and IPv6 when available.
func ReserveTCPPort() (*Reservation, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
		if err = unix.Bind(fd, &unix.SockaddrInet6{}); err == nil {
			if sa, err2 := unix.Getsockname(fd); err2 == nil {
				return &Reservation{fds: []int{fd}, Port: uint16(sa.(*unix.SockaddrInet6).Port)}, nil
			}
		}
		unix.Close(fd)
	}
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reserve port: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reserve port: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reserve port: %w", err)
	}
	return &Reservation{fds: []int{fd}, Port: uint16(sa.(*unix.SockaddrInet4).Port)}, nil
}

// Close releases the port.
func (r *Reservation) Close() error {
	for _, fd := range r.fds {
		unix.Close(fd)
	}
	r.fds = nil
	return nil
}

// Raw is an Ethernet packet socket on one interface (ARP).
type Raw = Listener

// OpenEthernet opens a SOCK_RAW packet socket on interface ifindex for one
// EtherType, with a filter whose offsets start at the Ethernet header.
func OpenEthernet(ifindex int, ethertype uint16, filter []bpf.RawInstruction) (*Raw, error) {
	return Listen(ListenConfig{Ifindex: ifindex, Filter: filter, Ethernet: true, EtherType: ethertype,
		Snaplen: 128, RcvBuf: 1 << 20, Batch: 16})
}

// Send transmits a whole Ethernet frame to dst (its destination MAC) on
// the socket's interface.
func (l *Listener) Send(frame []byte, dst []byte) error {
	sa := &unix.SockaddrLinklayer{Protocol: htons(l.proto), Ifindex: l.ifindex, Halen: uint8(len(dst))}
	copy(sa.Addr[:], dst)
	return unix.Sendto(l.fd, frame, 0, sa)
}

// BoostReader pins the calling goroutine to its thread and raises the
// thread's scheduling priority when allowed (root): a reader that loses
// the CPU to other work for a few milliseconds during a sweep of a
// million packets a second lets the kernel drop answers. Errors are
// ignored: without privileges the reader runs at normal priority.
func BoostReader() {
	runtime.LockOSThread()
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), -10)
}
