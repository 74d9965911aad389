// Package target is stage 1 of the scan pipeline: it turns the user's target
// specs into a lazy stream of addresses.
//
// Accepted specs: IPv4 and IPv6 addresses, CIDR networks of both families,
// inclusive ranges (10.0.0.1-10.0.0.50, the IPv4 short form 10.0.0.1-50, and
// full-form IPv6 ranges 2001:db8::1-2001:db8::ff), and host names, which are
// resolved to every A and AAAA record. Specs come from the command line or
// from files (-iL: several specs per line separated by white space or commas,
// '#' comments, blank lines). Exclusions take the same forms.
//
// Every spec is parsed before anything is resolved or scanned, so a typo is
// reported (naming the exact token) before a single packet leaves. The parsed
// specs are merged into one sorted, non-overlapping interval list, which drops
// duplicates and overlaps without ever holding the individual addresses: a
// /8 is one interval. Iteration walks the intervals in address order (all IPv4
// first, then IPv6) with O(1) memory.
//
// A guard refuses any single network or range larger than a prefix limit
// (default /16 for IPv4, /112 for IPv6) so that a slip such as 10.0.0.0/8
// instead of /24 does not start a scan of sixteen million hosts.
package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"math/big"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Defaults for the size guard: the largest networks accepted unless raised.
const (
	DefaultMaxPrefixV4 = 16
	DefaultMaxPrefixV6 = 112
	// AnyNetwork as a limit disables the guard for that family.
	AnyNetwork = -1
)

// maxReportedErrors caps how many malformed tokens one error lists.
const maxReportedErrors = 20

// Target is one address to scan. Name is the host name the user gave when the
// address came from resolving one (used for TLS SNI and HTTP Host headers),
// else "". When several names resolve to the same address the first given wins.
type Target struct {
	Addr netip.Addr
	Name string
}

// Resolver looks up host names; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config says where the targets come from and how they are checked.
type Config struct {
	Specs        []string // command-line specs; each string may hold several (white space/comma separated)
	Files        []string // -iL files; "-" reads Stdin
	Exclude      []string // --exclude specs, same syntax as Specs
	ExcludeFiles []string // --exclude-file files

	// MaxPrefixV4 and MaxPrefixV6 are the shortest prefix length (largest
	// network) one spec may cover: 0 selects the default, AnyNetwork turns the
	// guard off. A range counts as a network of equal size.
	MaxPrefixV4 int
	MaxPrefixV6 int

	Resolver           Resolver // nil: net.DefaultResolver
	ResolveConcurrency int      // parallel lookups; 0: 16
	// OnResolveError is told about every host name that could not be resolved
	// (or resolved to nothing). Such failures are not fatal: the other targets
	// are still scanned. Calls are made from Load's goroutine, in spec order.
	OnResolveError func(name string, err error)
	Stdin          io.Reader // for "-" in Files; nil: os.Stdin
}

// ParseLimit parses a guard limit given as "8" or "/8". "0" (everything is
// allowed) yields AnyNetwork.
func ParseLimit(s string) (int, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "/")
	n, err := strconv.Atoi(t)
	if err != nil || !isDigits(t) || n > 128 {
		return 0, fmt.Errorf("invalid network size limit %q: want a prefix length such as 8 or /8", s)
	}
	if n == 0 {
		return AnyNetwork, nil
	}
	return n, nil
}

// TooLargeError is a spec bigger than the guard allows.
type TooLargeError struct {
	Token  string
	Where  string
	Size   *big.Int // addresses covered by the spec
	Limit  int      // the prefix length in force
	Family int      // 4 or 6
}

func (e *TooLargeError) Error() string {
	w := ""
	if e.Where != "" {
		w = e.Where + ": "
	}
	return fmt.Sprintf("%starget %q covers %s addresses, more than the IPv%d limit of /%d; raise the limit to scan it",
		w, e.Token, e.Size, e.Family, e.Limit)
}

// Set is the deduplicated target list. It is immutable once loaded; any
// number of iterators may walk it concurrently.
type Set struct {
	ivs   []interval
	names map[netip.Addr]string
	count *big.Int
}

// Load parses every spec and file, resolves the host names and builds the
// set. Malformed specs, unreadable files and guard violations are returned as
// one error (listing up to 20 bad tokens) before any name is resolved.
func Load(ctx context.Context, cfg Config) (*Set, error) {
	lim4, lim6 := cfg.MaxPrefixV4, cfg.MaxPrefixV6
	if lim4 == 0 {
		lim4 = DefaultMaxPrefixV4
	}
	if lim6 == 0 {
		lim6 = DefaultMaxPrefixV6
	}
	var c collector
	inc := c.gather(cfg.Specs, cfg.Files, cfg.Stdin, lim4, lim6)
	exc := c.gather(cfg.Exclude, cfg.ExcludeFiles, cfg.Stdin, AnyNetwork, AnyNetwork)
	if err := c.err(); err != nil {
		return nil, err
	}

	res := cfg.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	workers := cfg.ResolveConcurrency
	if workers <= 0 {
		workers = 16
	}
	incAddrs := resolveAll(ctx, res, workers, inc.hosts)
	excAddrs := resolveAll(ctx, res, workers, exc.hosts)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	s := &Set{}
	for i, r := range incAddrs {
		if r.err != nil {
			if cfg.OnResolveError != nil {
				cfg.OnResolveError(inc.hosts[i], r.err)
			}
			continue
		}
		for _, a := range r.addrs {
			inc.ivs = append(inc.ivs, interval{a, a})
			if s.names == nil {
				s.names = make(map[netip.Addr]string)
			}
			if _, ok := s.names[a]; !ok {
				s.names[a] = inc.hosts[i]
			}
		}
	}
	for i, r := range excAddrs {
		if r.err != nil {
			if cfg.OnResolveError != nil {
				cfg.OnResolveError(exc.hosts[i], r.err)
			}
			continue
		}
		for _, a := range r.addrs {
			exc.ivs = append(exc.ivs, interval{a, a})
		}
	}
	s.ivs = subtract(normalize(inc.ivs), normalize(exc.ivs))
	s.count = new(big.Int)
	for _, iv := range s.ivs {
		s.count.Add(s.count, iv.bigSize())
	}
	for a := range s.names {
		if !s.Contains(a) {
			delete(s.names, a)
		}
	}
	return s, nil
}

// Parse is Load for command-line specs only, with default limits.
func Parse(ctx context.Context, specs ...string) (*Set, error) {
	return Load(ctx, Config{Specs: specs})
}

// parsed is the outcome of reading one side (include or exclude) of a Config.
type parsed struct {
	ivs   []interval
	hosts []string // distinct names, in first-seen order
}

// collector accumulates errors over both sides so the user sees them all.
type collector struct {
	errs  []error
	extra int
}

func (c *collector) add(err error) {
	if len(c.errs) < maxReportedErrors {
		c.errs = append(c.errs, err)
	} else {
		c.extra++
	}
}

func (c *collector) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	errs := c.errs
	if c.extra > 0 {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("and %d more invalid targets", c.extra))
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

func (c *collector) gather(specs, files []string, stdin io.Reader, lim4, lim6 int) parsed {
	var p parsed
	seen := map[string]bool{}
	add := func(tok, where string) {
		s, err := ParseSpec(tok)
		if err != nil {
			se := err.(*SpecError)
			se.Where = where
			c.add(se)
			return
		}
		if s.Kind == KindHost {
			k := strings.ToLower(s.Host)
			if !seen[k] {
				seen[k] = true
				p.hosts = append(p.hosts, s.Host)
			}
			return
		}
		iv := interval{s.First, s.Last}
		lim, bits := lim4, 32
		if !s.First.Is4() {
			lim, bits = lim6, 128
		}
		if lim != AnyNetwork && !iv.fitsBits(bits-lim) {
			c.add(&TooLargeError{Token: tok, Where: where, Size: iv.bigSize(), Limit: lim, Family: family(s.First)})
			return
		}
		p.ivs = append(p.ivs, iv)
	}
	for _, line := range specs {
		for _, tok := range SplitSpecs(line) {
			add(tok, "")
		}
	}
	for _, f := range files {
		err := readFile(f, stdin, func(tok string, line int) error {
			add(tok, fmt.Sprintf("%s:%d", f, line))
			return nil
		})
		if err != nil {
			c.add(err)
		}
	}
	return p
}

func readFile(name string, stdin io.Reader, fn func(string, int) error) error {
	var r io.Reader
	if name == "-" {
		r = stdin
		if r == nil {
			r = os.Stdin
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("target file: %w", err)
		}
		defer f.Close()
		r = f
	}
	if err := ReadSpecs(r, fn); err != nil {
		return fmt.Errorf("target file %s: %w", name, err)
	}
	return nil
}

type lookup struct {
	addrs []netip.Addr
	err   error
}

// ResolveError is a host name that yielded no address.
type ResolveError struct {
	Name string
	Err  error
}

func (e *ResolveError) Error() string { return fmt.Sprintf("resolve %q: %v", e.Name, e.Err) }
func (e *ResolveError) Unwrap() error { return e.Err }

// resolveAll looks up every name (A and AAAA) with bounded parallelism and
// returns the results in the names' order, addresses deduplicated, unmapped
// and without zones.
func resolveAll(ctx context.Context, r Resolver, workers int, names []string) []lookup {
	out := make([]lookup, len(names))
	if len(names) == 0 {
		return out
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for i, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			addrs, err := r.LookupNetIP(ctx, "ip", n)
			if err == nil && len(addrs) == 0 {
				err = errors.New("no addresses")
			}
			if err != nil {
				out[i].err = &ResolveError{Name: n, Err: err}
				return
			}
			seen := make(map[netip.Addr]bool, len(addrs))
			for _, a := range addrs {
				a = a.Unmap().WithZone("")
				if a.IsValid() && !seen[a] {
					seen[a] = true
					out[i].addrs = append(out[i].addrs, a)
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// Count is the number of addresses in the set, saturating at MaxUint64.
func (s *Set) Count() uint64 {
	if !s.count.IsUint64() {
		return math.MaxUint64
	}
	return s.count.Uint64()
}

// BigCount is the exact number of addresses in the set.
func (s *Set) BigCount() *big.Int { return new(big.Int).Set(s.count) }

// Empty reports whether the set has no address.
func (s *Set) Empty() bool { return len(s.ivs) == 0 }

// Contains reports whether a is in the set (binary search over intervals).
func (s *Set) Contains(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	lo, hi := 0, len(s.ivs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.ivs[m].hi.Less(a) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(s.ivs) && s.ivs[lo].lo.Compare(a) <= 0
}

// Name is the host name recorded for a, or "".
func (s *Set) Name(a netip.Addr) string { return s.names[a] }

// Iter returns a fresh iterator over the set.
func (s *Set) Iter() *Iterator { return &Iterator{set: s} }

// All yields every target in address order.
func (s *Set) All() iter.Seq[Target] {
	return func(yield func(Target) bool) {
		it := s.Iter()
		for {
			t, ok := it.Next()
			if !ok || !yield(t) {
				return
			}
		}
	}
}

// Iterator walks a Set without allocating: it holds only a position.
type Iterator struct {
	set  *Set
	idx  int
	cur  netip.Addr
	busy bool // cur is inside ivs[idx]
}

// Next returns the next target, or false when the set is exhausted.
func (it *Iterator) Next() (Target, bool) {
	ivs := it.set.ivs
	if it.idx >= len(ivs) {
		return Target{}, false
	}
	if !it.busy {
		it.cur, it.busy = ivs[it.idx].lo, true
	} else if it.cur == ivs[it.idx].hi {
		it.idx++
		if it.idx >= len(ivs) {
			return Target{}, false
		}
		it.cur = ivs[it.idx].lo
	} else {
		it.cur = it.cur.Next()
	}
	t := Target{Addr: it.cur}
	if len(it.set.names) > 0 {
		t.Name = it.set.names[it.cur]
	}
	return t, true
}
