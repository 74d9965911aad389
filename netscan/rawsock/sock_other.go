//go:build !linux

package rawsock

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"golang.org/x/net/bpf"
)

// ErrNotPermitted is wrapped by every error caused by missing privileges
// (or, here, by a platform without the Linux sockets this package uses).
var ErrNotPermitted = errors.New("raw sockets need root or CAP_NET_RAW")

var errPlatform = fmt.Errorf("raw scanning is implemented on Linux only (this is %s): %w", runtime.GOOS, ErrNotPermitted)

// Check reports that raw sockets are not available on this platform.
func Check() error { return errPlatform }

// Kind selects what a Sender sends.
type Kind int

// Sender kinds.
const (
	IPv4 Kind = iota
	TCP6
	ICMP4
	ICMP6
)

// MaxBatch is the most packets one Flush hands to the kernel at once.
const MaxBatch = 128

// Sender is unavailable on this platform.
type Sender struct{}

// NewSender fails on this platform.
func NewSender(Kind, netip.Addr) (*Sender, error) { return nil, errPlatform }

func (s *Sender) Close() error                                    { return nil }
func (s *Sender) Buffer() []byte                                  { return nil }
func (s *Sender) Full() bool                                      { return false }
func (s *Sender) Len() int                                        { return 0 }
func (s *Sender) Add(netip.AddrPort, []byte, uint32)              {}
func (s *Sender) Flush(func(netip.AddrPort, uint32, error)) error { return errPlatform }

// ListenConfig configures a Listener.
type ListenConfig struct {
	Ifindex   int
	Filter    []bpf.RawInstruction
	Snaplen   int
	RcvBuf    int
	Batch     int
	Ethernet  bool
	EtherType uint16
	NoRing    bool
	Rate      float64
}

// LinkRoute is a frame route; there is none on this platform.
type LinkRoute struct{ Ifindex int }

// Header finds no frame header on this platform.
func (r *LinkRoute) Header(netip.Addr) (*[14]byte, bool) { return nil, false }

// LinkRouteTo finds no frame route on this platform.
func LinkRouteTo(netip.Addr) (*LinkRoute, bool) { return nil, false }

// NewLinkSender fails on this platform.
func NewLinkSender(int) (*Sender, error) { return nil, errPlatform }

// Listener is unavailable on this platform.
type Listener struct{}

// Raw is an Ethernet packet socket.
type Raw = Listener

// Listen fails on this platform.
func Listen(ListenConfig) (*Listener, error) { return nil, errPlatform }

// OpenEthernet fails on this platform.
func OpenEthernet(int, uint16, []bpf.RawInstruction) (*Raw, error) { return nil, errPlatform }

func (l *Listener) Read(func([]byte)) (int, error)              { return 0, errPlatform }
func (l *Listener) Drops() uint32                               { return 0 }
func (l *Listener) ReadTS(func([]byte, time.Time)) (int, error) { return 0, errPlatform }
func (l *Listener) Close() error                                { return nil }
func (l *Listener) Send([]byte, []byte) error                   { return errPlatform }

// Reservation holds a local TCP port.
type Reservation struct{ Port uint16 }

// ReserveTCPPort fails on this platform.
func ReserveTCPPort() (*Reservation, error) { return nil, errPlatform }

func (r *Reservation) Close() error { return nil }

// UDPSocket is unavailable on this platform.
type UDPSocket struct{ Port uint16 }

// UDPMessage is a datagram received or an error reported.
type UDPMessage struct {
	From     netip.AddrPort
	Data     []byte
	IsError  bool
	To       netip.AddrPort
	Offender netip.Addr
	ICMPv6   bool
	Type     uint8
	Code     uint8
}

// OpenUDP fails on this platform.
func OpenUDP(int) (*UDPSocket, error) { return nil, errPlatform }

func (u *UDPSocket) Sender(netip.Addr) *Sender           { return nil }
func (u *UDPSocket) Read(func(*UDPMessage)) (int, error) { return 0, errPlatform }
func (u *UDPSocket) Close() error                        { return nil }

// PingSocket is unavailable on this platform.
type PingSocket struct{}

// OpenPing fails on this platform.
func OpenPing() (*PingSocket, error) { return nil, errPlatform }

func (p *PingSocket) Send(netip.Addr, uint16) error              { return errPlatform }
func (p *PingSocket) Read(func(netip.Addr, uint16)) (int, error) { return 0, errPlatform }
func (p *PingSocket) Close() error                               { return nil }

// BoostReader does nothing on this platform.
func BoostReader() {}
