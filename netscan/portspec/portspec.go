// Package portspec parses port specifications ("22,80,443", "1-1024", "-",
// "U:53,T:80") and holds portrait's own frequency-ordered port lists
// (top-tcp.txt, top-udp.txt, embedded) that back --top-ports and the scan
// profiles. Order matters everywhere: the scanner probes ports in the order
// given, so the commonly open ports are found (and fingerprinted) first.
package portspec

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// MaxPort is the highest TCP/UDP port.
const MaxPort = 65535

//go:embed top-tcp.txt
var topTCPText string

//go:embed top-udp.txt
var topUDPText string

var (
	topTCP = sync.OnceValue(func() []int { return mustList(topTCPText, "top-tcp.txt") })
	topUDP = sync.OnceValue(func() []int { return mustList(topUDPText, "top-udp.txt") })
)

// List is a parsed port spec. Ports without a protocol prefix apply to both
// protocols (as in nmap); the scanner uses the list for the protocol it runs.
type List struct {
	TCP []int
	UDP []int
}

// Error is a malformed port spec; Token is the offending entry as written.
type Error struct {
	Token string
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("invalid port spec %q: %v", e.Token, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// bitset marks ports already taken, for order-keeping deduplication without
// a map.
type bitset [MaxPort/64 + 1]uint64

func (b *bitset) testAndSet(p int) bool {
	w, m := p/64, uint64(1)<<(p%64)
	seen := b[w]&m != 0
	b[w] |= m
	return seen
}

// Parse parses a comma-separated port spec. Entries are single ports ("80"),
// inclusive ranges ("1-1024"), open ranges ("-1024" = 1-1024, "60000-" =
// 60000-65535) or "-" for every port; "-p-" is accepted as "-". A "T:" or "U:"
// prefix (case-insensitive) switches the protocol for that entry and the ones
// after it ("U:53,111,T:80" = UDP 53 and 111, TCP 80). Port 0 and ports above
// 65535 are errors. Duplicates are dropped; first-seen order is kept.
func Parse(spec string) (List, error) {
	s := strings.TrimSpace(spec)
	if s == "-p-" {
		s = "-"
	}
	if s == "" {
		return List{}, &Error{Token: spec, Err: errors.New("empty")}
	}
	var l List
	var seenT, seenU bitset
	tcp, udp := true, true // unprefixed entries go to both
	for _, raw := range strings.Split(s, ",") {
		tok := strings.TrimSpace(raw)
		if len(tok) >= 2 && tok[1] == ':' {
			switch tok[0] {
			case 'T', 't':
				tcp, udp = true, false
			case 'U', 'u':
				tcp, udp = false, true
			default:
				return List{}, &Error{Token: tok, Err: fmt.Errorf("unknown protocol prefix %q (want T: or U:)", tok[:2])}
			}
			tok = strings.TrimSpace(tok[2:])
		}
		lo, hi, err := parseEntry(tok)
		if err != nil {
			return List{}, &Error{Token: strings.TrimSpace(raw), Err: err}
		}
		for p := lo; p <= hi; p++ {
			if tcp && !seenT.testAndSet(p) {
				l.TCP = append(l.TCP, p)
			}
			if udp && !seenU.testAndSet(p) {
				l.UDP = append(l.UDP, p)
			}
		}
	}
	return l, nil
}

// ParseTCP parses a spec for a TCP scan: it returns the TCP ports (prefixed
// "T:" or unprefixed) and refuses a spec that selects no TCP port.
func ParseTCP(spec string) ([]int, error) {
	l, err := Parse(spec)
	if err != nil {
		return nil, err
	}
	if len(l.TCP) == 0 {
		return nil, &Error{Token: spec, Err: errors.New("no TCP ports selected")}
	}
	return l.TCP, nil
}

func parseEntry(tok string) (lo, hi int, err error) {
	if tok == "" {
		return 0, 0, errors.New("empty entry")
	}
	if tok == "-" {
		return 1, MaxPort, nil
	}
	a, b, isRange := strings.Cut(tok, "-")
	if !isRange {
		p, err := parsePort(tok)
		return p, p, err
	}
	lo, hi = 1, MaxPort
	if a != "" {
		if lo, err = parsePort(a); err != nil {
			return 0, 0, err
		}
	}
	if b != "" {
		if hi, err = parsePort(b); err != nil {
			return 0, 0, err
		}
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range end %d is below its start %d", hi, lo)
	}
	return lo, hi, nil
}

func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 {
		if len(s) > 5 && isDigits(s) {
			return 0, fmt.Errorf("port %s out of range 1-%d", s, MaxPort)
		}
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	if !isDigits(s) {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	p, _ := strconv.Atoi(s)
	if p < 1 || p > MaxPort {
		return 0, fmt.Errorf("port %d out of range 1-%d", p, MaxPort)
	}
	return p, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// All returns every port, 1 to 65535, in numeric order.
func All() []int {
	out := make([]int, MaxPort)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// Top returns the n most commonly open TCP ports, most common first. Past the
// end of the embedded list the remaining ports follow in numeric order, so
// Top(65535) is every port with the likely ones first. n <= 0 yields nil.
func Top(n int) []int { return top(topTCP(), n) }

// TopUDP is Top for UDP.
func TopUDP(n int) []int { return top(topUDP(), n) }

// TopLen is the length of the ranked TCP list (before the numeric fill).
func TopLen() int { return len(topTCP()) }

func top(list []int, n int) []int {
	if n <= 0 {
		return nil
	}
	n = min(n, MaxPort)
	out := make([]int, 0, n)
	if n <= len(list) {
		return append(out, list[:n]...)
	}
	out = append(out, list...)
	var seen bitset
	for _, p := range list {
		seen.testAndSet(p)
	}
	for p := 1; len(out) < n && p <= MaxPort; p++ {
		if !seen.testAndSet(p) {
			out = append(out, p)
		}
	}
	return out
}

// Profiles maps each scan profile to its number of top TCP ports.
var Profiles = map[string]int{
	"quick":    100,
	"standard": 1000,
	"deep":     MaxPort,
}

// Profile returns the TCP ports of a named profile: quick (top 100), standard
// (top 1000) or deep (all 65535, common ones first).
func Profile(name string) ([]int, error) {
	n, ok := Profiles[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return nil, fmt.Errorf("unknown scan profile %q (want quick, standard or deep)", name)
	}
	return Top(n), nil
}

// parseList reads a ranked list: one port per line, an optional name after
// it, '#' comments.
func parseList(text string) ([]int, error) {
	var out []int
	var seen bitset
	sc := bufio.NewScanner(strings.NewReader(text))
	line := 0
	for sc.Scan() {
		line++
		f := sc.Text()
		if i := strings.IndexByte(f, '#'); i >= 0 {
			f = f[:i]
		}
		fields := strings.Fields(f)
		if len(fields) == 0 {
			continue
		}
		p, err := parsePort(fields[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if seen.testAndSet(p) {
			return nil, fmt.Errorf("line %d: port %d listed twice", line, p)
		}
		out = append(out, p)
	}
	return out, sc.Err()
}

func mustList(text, name string) []int {
	l, err := parseList(text)
	if err != nil {
		panic("portspec: embedded " + name + ": " + err.Error())
	}
	return l
}
