package target

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Kind says which form a target spec took.
type Kind uint8

// The forms a spec can take.
const (
	KindAddr  Kind = iota + 1 // a single address: 10.0.0.1, ::1
	KindCIDR                  // a network: 10.0.0.0/24, 2001:db8::/120
	KindRange                 // an inclusive range: 10.0.0.1-10.0.0.50, 10.0.0.1-50
	KindHost                  // a host name, resolved later
)

func (k Kind) String() string {
	switch k {
	case KindAddr:
		return "address"
	case KindCIDR:
		return "cidr"
	case KindRange:
		return "range"
	case KindHost:
		return "hostname"
	}
	return "unknown"
}

// Spec is one parsed target token. For KindAddr, KindCIDR and KindRange the
// addresses are First..Last inclusive (same family, IPv4-mapped IPv6 folded to
// IPv4, no zone); for KindHost only Host is set.
type Spec struct {
	Raw         string
	Kind        Kind
	First, Last netip.Addr
	Bits        int    // prefix length for KindCIDR
	Host        string // KindHost: the name as given, without a trailing dot
}

// SpecError is a malformed target token. Its message names the token exactly
// as the user wrote it so a typo in a thousand-line file can be found.
type SpecError struct {
	Token string
	Where string // "file:line" when the token came from a file, else ""
	Err   error
}

func (e *SpecError) Error() string {
	if e.Where != "" {
		return fmt.Sprintf("%s: invalid target %q: %v", e.Where, e.Token, e.Err)
	}
	return fmt.Sprintf("invalid target %q: %v", e.Token, e.Err)
}

func (e *SpecError) Unwrap() error { return e.Err }

// maxSpecLen bounds one token: nothing legitimate is longer than a full IPv6
// range or a 253-byte name, and the bound keeps hostile files cheap.
const maxSpecLen = 512

// ParseSpec parses one target token. It is pure (no DNS): host names are only
// checked for syntax. Zoned IPv6 addresses (fe80::1%eth0) are refused because
// the deduplicating interval sets cannot carry a zone.
func ParseSpec(tok string) (Spec, error) {
	s, err := parseSpec(tok)
	if err != nil {
		return Spec{}, &SpecError{Token: tok, Err: err}
	}
	s.Raw = tok
	return s, nil
}

func parseSpec(tok string) (Spec, error) {
	if tok == "" {
		return Spec{}, errors.New("empty")
	}
	if len(tok) > maxSpecLen {
		return Spec{}, fmt.Errorf("longer than %d bytes", maxSpecLen)
	}
	if strings.Contains(tok, "%") {
		return Spec{}, errors.New("zoned IPv6 addresses are not supported")
	}
	if i := strings.LastIndexByte(tok, '/'); i >= 0 {
		return parseCIDR(tok[:i], tok[i+1:])
	}
	if a, err := netip.ParseAddr(tok); err == nil {
		a = a.Unmap()
		return Spec{Kind: KindAddr, First: a, Last: a}, nil
	}
	if i := strings.IndexByte(tok, '-'); i >= 0 {
		left := tok[:i]
		if lo, err := netip.ParseAddr(left); err == nil {
			return parseRange(lo.Unmap(), tok[i+1:])
		}
		if looksLikeIP(left) {
			_, err := parseAddr(left)
			return Spec{}, fmt.Errorf("range start: %w", err)
		}
	}
	if looksLikeIP(tok) {
		_, err := parseAddr(tok)
		return Spec{}, err
	}
	if err := checkHostname(tok); err != nil {
		return Spec{}, err
	}
	return Spec{Kind: KindHost, Host: strings.TrimSuffix(tok, ".")}, nil
}

func parseCIDR(addr, bits string) (Spec, error) {
	a, err := parseAddr(addr)
	if err != nil {
		if !looksLikeIP(addr) && checkHostname(addr) == nil {
			return Spec{}, errors.New("a network prefix needs an IP address, not a host name")
		}
		return Spec{}, err
	}
	n, err := strconv.Atoi(bits)
	if err != nil || bits == "" || bits[0] == '+' || bits[0] == '-' || (len(bits) > 1 && bits[0] == '0') {
		return Spec{}, fmt.Errorf("bad prefix length %q", bits)
	}
	if a.Is4In6() && n >= 96 {
		a, n = a.Unmap(), n-96
	}
	if n < 0 || n > a.BitLen() {
		return Spec{}, fmt.Errorf("prefix length /%d out of range for IPv%d", n, family(a))
	}
	p := netip.PrefixFrom(a, n).Masked()
	return Spec{Kind: KindCIDR, First: p.Addr(), Last: lastAddr(p), Bits: n}, nil
}

func parseRange(lo netip.Addr, right string) (Spec, error) {
	if right == "" {
		return Spec{}, errors.New("range has no end")
	}
	var hi netip.Addr
	if isDigits(right) && len(right) <= 3 {
		if !lo.Is4() {
			return Spec{}, errors.New("the short range form (last octet only) is IPv4 only; give the full end address")
		}
		v, _ := strconv.Atoi(right)
		if v > 255 || (len(right) > 1 && right[0] == '0') {
			return Spec{}, fmt.Errorf("range end %q is not an octet (0-255)", right)
		}
		b := lo.As4()
		b[3] = byte(v)
		hi = netip.AddrFrom4(b)
	} else {
		a, err := parseAddr(right)
		if err != nil {
			return Spec{}, fmt.Errorf("range end: %w", err)
		}
		hi = a.Unmap()
	}
	if lo.Is4() != hi.Is4() {
		return Spec{}, errors.New("range mixes IPv4 and IPv6")
	}
	if hi.Less(lo) {
		return Spec{}, fmt.Errorf("range end %s is before its start %s", hi, lo)
	}
	return Spec{Kind: KindRange, First: lo, Last: hi}, nil
}

// parseAddr wraps netip.ParseAddr, keeping only the reason: the token is
// already named by SpecError.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "): "); i >= 0 {
			msg = msg[i+3:]
		}
		return netip.Addr{}, fmt.Errorf("bad IP address: %s", msg)
	}
	if a.Zone() != "" {
		return netip.Addr{}, errors.New("zoned IPv6 addresses are not supported")
	}
	return a, nil
}

// looksLikeIP reports whether s can only have been meant as an address: all
// digits and dots (a name's last label is never numeric), or any colon.
func looksLikeIP(s string) bool {
	if strings.Contains(s, ":") {
		return true
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkHostname applies RFC 1123 syntax (plus '_', which real zones use) so
// that a typo is reported at parse time instead of as a resolver failure.
func checkHostname(s string) error {
	name := strings.TrimSuffix(s, ".")
	if name == "" {
		return errors.New("not an address, network, range or host name")
	}
	if len(name) > 253 {
		return errors.New("host name longer than 253 bytes")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" {
			return errors.New("host name has an empty label")
		}
		if len(l) > 63 {
			return errors.New("host name label longer than 63 bytes")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("host name label %q starts or ends with '-'", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			ok := c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			if !ok {
				return fmt.Errorf("character %q is not allowed in a host name", c)
			}
		}
	}
	if isDigits(labels[len(labels)-1]) {
		return errors.New("not an IP address, and a host name cannot end in a numeric label")
	}
	return nil
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// lastAddr is the highest address of a masked prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if p.Bits() < 32 {
			v |= (uint32(1) << (32 - p.Bits())) - 1
		}
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	b := a.As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	return netip.AddrFrom16(b)
}

// SplitSpecs splits one line of user input into tokens: specs may be
// separated by white space or commas, and a '#' starts a comment.
func SplitSpecs(line string) []string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return strings.FieldsFunc(line, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\v' || r == '\f'
	})
}

// maxLine bounds one line of a target file.
const maxLine = 1 << 20

// ReadSpecs reads a target file (nmap -iL style): one or more specs per line,
// '#' comments and blank lines ignored. fn is called for every token with its
// 1-based line number; it may return an error to stop.
func ReadSpecs(r io.Reader, fn func(tok string, line int) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		for _, tok := range SplitSpecs(sc.Text()) {
			if err := fn(tok, n); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	return nil
}
