package rawsock

import "net/netip"

// SenderSet opens the raw sockets of one protocol as sources appear: one
// IPv4 socket serves every source (the packet carries its own header),
// while IPv6 needs a socket per source address (the kernel writes the
// header and takes the source from the socket's binding). It is not safe
// for concurrent use.
type SenderSet struct {
	v4, v6 Kind
	s4     *Sender
	s6     map[netip.Addr]*Sender
}

// NewSenderSet returns an empty set: v4 and v6 are the kinds of socket
// opened for IPv4 and IPv6 sources (IPv4 and TCP6, or ICMP4 and ICMP6).
func NewSenderSet(v4, v6 Kind) *SenderSet {
	return &SenderSet{v4: v4, v6: v6, s6: map[netip.Addr]*Sender{}}
}

// For returns the sender for packets from src, opening it the first time.
func (ss *SenderSet) For(src netip.Addr) (*Sender, error) {
	if src.Is4() {
		if ss.s4 == nil {
			s, err := NewSender(ss.v4, netip.Addr{})
			if err != nil {
				return nil, err
			}
			ss.s4 = s
		}
		return ss.s4, nil
	}
	s := ss.s6[src]
	if s == nil {
		var err error
		if s, err = NewSender(ss.v6, src); err != nil {
			return nil, err
		}
		ss.s6[src] = s
	}
	return s, nil
}

// Close closes every socket the set opened.
func (ss *SenderSet) Close() {
	if ss.s4 != nil {
		ss.s4.Close()
	}
	for _, s := range ss.s6 {
		s.Close()
	}
}
