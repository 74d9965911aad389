package target

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		tok         string
		kind        Kind
		first, last string
		host        string
	}{
		{tok: "10.0.0.1", kind: KindAddr, first: "10.0.0.1", last: "10.0.0.1"},
		{tok: "::1", kind: KindAddr, first: "::1", last: "::1"},
		{tok: "::ffff:10.1.2.3", kind: KindAddr, first: "10.1.2.3", last: "10.1.2.3"},
		{tok: "10.0.0.0/24", kind: KindCIDR, first: "10.0.0.0", last: "10.0.0.255"},
		{tok: "10.0.0.77/30", kind: KindCIDR, first: "10.0.0.76", last: "10.0.0.79"},
		{tok: "10.0.0.7/32", kind: KindCIDR, first: "10.0.0.7", last: "10.0.0.7"},
		{tok: "0.0.0.0/0", kind: KindCIDR, first: "0.0.0.0", last: "255.255.255.255"},
		{tok: "2001:db8::/120", kind: KindCIDR, first: "2001:db8::", last: "2001:db8::ff"},
		{tok: "2001:db8::5/127", kind: KindCIDR, first: "2001:db8::4", last: "2001:db8::5"},
		{tok: "::ffff:10.0.0.0/120", kind: KindCIDR, first: "10.0.0.0", last: "10.0.0.255"},
		{tok: "10.0.0.1-10.0.0.50", kind: KindRange, first: "10.0.0.1", last: "10.0.0.50"},
		{tok: "10.0.0.250-10.0.1.5", kind: KindRange, first: "10.0.0.250", last: "10.0.1.5"},
		{tok: "10.0.0.1-50", kind: KindRange, first: "10.0.0.1", last: "10.0.0.50"},
		{tok: "10.0.0.9-9", kind: KindRange, first: "10.0.0.9", last: "10.0.0.9"},
		{tok: "2001:db8::1-2001:db8::ff", kind: KindRange, first: "2001:db8::1", last: "2001:db8::ff"},
		{tok: "localhost", kind: KindHost, host: "localhost"},
		{tok: "scanme.example.com.", kind: KindHost, host: "scanme.example.com"},
		{tok: "my-host_1.example", kind: KindHost, host: "my-host_1.example"},
		{tok: "a1-b2", kind: KindHost, host: "a1-b2"},
	}
	for _, tt := range tests {
		t.Run(tt.tok, func(t *testing.T) {
			s, err := ParseSpec(tt.tok)
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tt.tok, err)
			}
			if s.Kind != tt.kind || s.Raw != tt.tok {
				t.Fatalf("kind %v raw %q, want %v %q", s.Kind, s.Raw, tt.kind, tt.tok)
			}
			if tt.kind == KindHost {
				if s.Host != tt.host {
					t.Fatalf("host %q, want %q", s.Host, tt.host)
				}
				return
			}
			if s.First.String() != tt.first || s.Last.String() != tt.last {
				t.Fatalf("got %s-%s, want %s-%s", s.First, s.Last, tt.first, tt.last)
			}
		})
	}
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct{ tok, want string }{
		{"10.0.0.300", "value >255"},
		{"10.0.0", "bad IP address"},
		{"1.2.3.4.5", "bad IP address"},
		{"010.0.0.1", "leading zero"},
		{"10.0.0.0/33", "out of range"},
		{"10.0.0.0/", "bad prefix length"},
		{"10.0.0.0/-1", "bad prefix length"},
		{"10.0.0.0/08", "bad prefix length"},
		{"10.0.0.0/x", "bad prefix length"},
		{"::/129", "out of range"},
		{"10.0.0.300/24", "value >255"},
		{"example.com/24", "needs an IP address"},
		{"10.0.0.50-10.0.0.1", "before its start"},
		{"10.0.0.50-1", "before its start"},
		{"10.0.0.1-256", "not an octet"},
		{"10.0.0.1-007", "not an octet"},
		{"10.0.0.1-", "no end"},
		{"10.0.0.1-::5", "mixes IPv4 and IPv6"},
		{"10.0.0.1-10.0.0.x", "range end"},
		{"10.0.0-5.1", "range start"},
		{"::1-5", "IPv4 only"},
		{"2001:db8::1-ff", "range end"},
		{"fe80::1%eth0", "zoned"},
		{"gggg::1", "bad IP address"},
		{"-foo", "starts or ends"},
		{"foo..bar", "empty label"},
		{"foo bar", "not allowed"},
		{"host.123", "numeric label"},
		{"exa*mple.com", "not allowed"},
		{strings.Repeat("a", 64) + ".com", "longer than 63"},
		{strings.Repeat("a", 600), "longer than 512"},
		{"", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.tok, func(t *testing.T) {
			_, err := ParseSpec(tt.tok)
			if err == nil {
				t.Fatalf("ParseSpec(%q) succeeded", tt.tok)
			}
			var se *SpecError
			if !errors.As(err, &se) || se.Token != tt.tok {
				t.Fatalf("error %v is not a SpecError for the token", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, `invalid target "`+tt.tok+`": `) {
				t.Errorf("message %q does not name the token first", msg)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q lacks %q", msg, tt.want)
			}
		})
	}
}

func TestSplitSpecs(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"# only a comment", nil},
		{"10.0.0.1", []string{"10.0.0.1"}},
		{"10.0.0.1, 10.0.0.2\t10.0.0.3,,10.0.0.4 # trailing", []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}},
		{"host-a,host-b\r", []string{"host-a", "host-b"}},
	}
	for _, tt := range tests {
		if got := SplitSpecs(tt.line); !slices.Equal(got, tt.want) {
			t.Errorf("SplitSpecs(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"8", 8, true}, {"/8", 8, true}, {" /24 ", 24, true}, {"0", AnyNetwork, true}, {"/0", AnyNetwork, true},
		{"112", 112, true}, {"129", 0, false}, {"-1", 0, false}, {"//8", 0, false}, {"x", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseLimit(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseLimit(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// collect drains a set into strings.
func collect(s *Set) []string {
	var out []string
	for tg := range s.All() {
		if tg.Name != "" {
			out = append(out, tg.Addr.String()+"="+tg.Name)
		} else {
			out = append(out, tg.Addr.String())
		}
	}
	return out
}

// fakeResolver answers from a table; other names fail.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	v, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, s := range v {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func TestLoad(t *testing.T) {
	res := fakeResolver{
		"web":   {"10.0.0.2", "2001:db8::1"},
		"dup":   {"10.0.0.2", "10.0.0.9", "::ffff:10.0.0.9"},
		"other": {"10.9.9.9"},
		"gone":  {"10.0.0.3"},
	}
	tests := []struct {
		name  string
		cfg   Config
		want  []string
		count uint64
	}{
		{
			name: "duplicates and overlaps",
			cfg:  Config{Specs: []string{"10.0.0.1", "10.0.0.1", "10.0.0.0/30", "10.0.0.2-4", "10.0.0.3"}},
			want: []string{"10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}, count: 5,
		},
		{
			name: "adjacent ranges merge and families sort",
			cfg:  Config{Specs: []string{"::2-::3, 10.0.0.5-6", "::1 10.0.0.4"}},
			want: []string{"10.0.0.4", "10.0.0.5", "10.0.0.6", "::1", "::2", "::3"}, count: 6,
		},
		{
			name: "host names keep their name; first name wins",
			cfg:  Config{Specs: []string{"10.0.0.2", "web", "dup", "WEB"}, Resolver: res},
			want: []string{"10.0.0.2=web", "10.0.0.9=dup", "2001:db8::1=web"}, count: 3,
		},
		{
			name: "exclusions of every kind",
			cfg: Config{
				Specs:    []string{"10.0.0.0/28", "other", "web"},
				Exclude:  []string{"10.0.0.1-10.0.0.12", "10.0.0.14/31", "gone", "other", "2001:db8::/64"},
				Resolver: res,
			},
			want: []string{"10.0.0.0", "10.0.0.13"}, count: 2,
		},
		{
			name: "exclusion splits the middle and the edges",
			cfg:  Config{Specs: []string{"10.0.0.0-10", "10.0.1.0-3"}, Exclude: []string{"10.0.0.0", "10.0.0.5-6", "10.0.0.10-10.0.1.1"}},
			want: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.7", "10.0.0.8", "10.0.0.9", "10.0.1.2", "10.0.1.3"}, count: 9,
		},
		{
			name: "top of the address space",
			cfg:  Config{Specs: []string{"255.255.255.254/31", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"}},
			want: []string{"255.255.255.254", "255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, count: 4,
		},
		{
			name: "everything excluded",
			cfg:  Config{Specs: []string{"10.0.0.0/24"}, Exclude: []string{"10.0.0.0/16"}},
			want: nil, count: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load(context.Background(), tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := collect(s); !slices.Equal(got, tt.want) {
				t.Errorf("targets %q, want %q", got, tt.want)
			}
			if s.Count() != tt.count {
				t.Errorf("Count %d, want %d", s.Count(), tt.count)
			}
		})
	}
}

func TestLoadResolveErrors(t *testing.T) {
	var failed []string
	s, err := Load(context.Background(), Config{
		Specs:          []string{"web", "nowhere", "10.1.1.1"},
		Exclude:        []string{"alsonowhere"},
		Resolver:       fakeResolver{"web": {"10.0.0.2"}},
		OnResolveError: func(name string, err error) { failed = append(failed, name+": "+err.Error()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(s); !slices.Equal(got, []string{"10.0.0.2=web", "10.1.1.1"}) {
		t.Errorf("targets %q", got)
	}
	want := []string{`nowhere: resolve "nowhere": no such host`, `alsonowhere: resolve "alsonowhere": no such host`}
	if !slices.Equal(failed, want) {
		t.Errorf("resolve errors %q, want %q", failed, want)
	}
}

func TestLoadLocalhost(t *testing.T) {
	s, err := Load(context.Background(), Config{Specs: []string{"localhost", "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for tg := range s.All() {
		if tg.Addr == netip.MustParseAddr("127.0.0.1") {
			found = true
			if tg.Name != "localhost" {
				t.Errorf("127.0.0.1 has name %q, want localhost", tg.Name)
			}
		}
		if !tg.Addr.IsLoopback() {
			t.Errorf("localhost resolved to %s", tg.Addr)
		}
	}
	if !found {
		t.Error("localhost did not yield 127.0.0.1")
	}
}

func TestGuard(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		wantOK bool
	}{
		{"v4 /16 allowed by default", Config{Specs: []string{"10.0.0.0/16"}}, true},
		{"v4 /15 refused by default", Config{Specs: []string{"10.0.0.0/15"}}, false},
		{"v4 range of 65536 allowed", Config{Specs: []string{"10.0.0.0-10.0.255.255"}}, true},
		{"v4 range of 65537 refused", Config{Specs: []string{"10.0.0.0-10.1.0.0"}}, false},
		{"v4 /8 allowed when raised", Config{Specs: []string{"10.0.0.0/8"}, MaxPrefixV4: 8}, true},
		{"v4 /0 allowed when off", Config{Specs: []string{"0.0.0.0/0"}, MaxPrefixV4: AnyNetwork}, true},
		{"v6 /112 allowed by default", Config{Specs: []string{"2001:db8::/112"}}, true},
		{"v6 /64 refused by default", Config{Specs: []string{"2001:db8::/64"}}, false},
		{"v6 /64 allowed when raised", Config{Specs: []string{"2001:db8::/64"}, MaxPrefixV6: 64}, true},
		{"v6 ::/0 allowed when off", Config{Specs: []string{"::/0"}, MaxPrefixV6: AnyNetwork}, true},
		{"v4 limit does not apply to v6", Config{Specs: []string{"2001:db8::/112"}, MaxPrefixV4: 32}, true},
		{"limit past the family size", Config{Specs: []string{"10.0.0.0/31"}, MaxPrefixV4: 40}, false},
		{"exclusions are not guarded", Config{Specs: []string{"10.0.0.1"}, Exclude: []string{"0.0.0.0/0"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(context.Background(), tt.cfg)
			if (err == nil) != tt.wantOK {
				t.Fatalf("err = %v, want ok=%v", err, tt.wantOK)
			}
			if err != nil {
				var tl *TooLargeError
				if !errors.As(err, &tl) || !strings.Contains(err.Error(), tt.cfg.Specs[0]) {
					t.Errorf("error %v is not a TooLargeError naming the spec", err)
				}
			}
		})
	}
}

func TestBigCount(t *testing.T) {
	s, err := Load(context.Background(), Config{Specs: []string{"::/0", "10.0.0.0/8"}, MaxPrefixV6: AnyNetwork, MaxPrefixV4: AnyNetwork})
	if err != nil {
		t.Fatal(err)
	}
	want := "340282366920938463463374607431784988672" // 2^128 + 2^24
	if got := s.BigCount().String(); got != want {
		t.Errorf("BigCount %s, want %s", got, want)
	}
	if s.Count() != ^uint64(0) {
		t.Errorf("Count %d does not saturate", s.Count())
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "targets.txt")
	os.WriteFile(good, []byte("# lab\n10.0.0.1\n\n  10.0.0.2, 10.0.0.3 10.0.0.1 # dup\n10.0.0.8/30\n"), 0o600)
	ex := filepath.Join(dir, "exclude.txt")
	os.WriteFile(ex, []byte("10.0.0.9\n#10.0.0.10\n"), 0o600)
	s, err := Load(context.Background(), Config{Files: []string{good}, ExcludeFiles: []string{ex}, Specs: []string{"10.0.0.4"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.8", "10.0.0.10", "10.0.0.11"}
	if got := collect(s); !slices.Equal(got, want) {
		t.Errorf("targets %q, want %q", got, want)
	}

	s, err = Load(context.Background(), Config{Files: []string{"-"}, Stdin: strings.NewReader("10.0.0.7\n")})
	if err != nil || !slices.Equal(collect(s), []string{"10.0.0.7"}) {
		t.Errorf("stdin: %v %v", err, collect(s))
	}

	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("10.0.0.1\n\n10.0.0.300 10.0.0.2\n"), 0o600)
	_, err = Load(context.Background(), Config{Files: []string{bad}})
	if err == nil || !strings.Contains(err.Error(), `bad.txt:3: invalid target "10.0.0.300"`) {
		t.Errorf("bad file error = %v", err)
	}
	_, err = Load(context.Background(), Config{Files: []string{filepath.Join(dir, "missing")}})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file error = %v", err)
	}
}

func TestLoadReportsAllBadTokensBeforeResolving(t *testing.T) {
	resolved := false
	r := resolverFunc(func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		resolved = true
		return nil, errors.New("unexpected")
	})
	_, err := Load(context.Background(), Config{Specs: []string{"good.example", "10.0.0.300", "10.0.0.1", "10.0.0.0/33"}, Resolver: r})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`invalid target "10.0.0.300"`, `invalid target "10.0.0.0/33"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if resolved {
		t.Error("names were resolved although the specs were bad")
	}

	var many []string
	for range 30 {
		many = append(many, "300.1.1.1")
	}
	_, err = Load(context.Background(), Config{Specs: many})
	if err == nil || !strings.Contains(err.Error(), "and 10 more invalid targets") {
		t.Errorf("error list not capped: %v", err)
	}
}

type resolverFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

func (f resolverFunc) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return f(ctx, network, host)
}

func TestContains(t *testing.T) {
	s, err := Parse(context.Background(), "10.0.0.0/24", "10.0.2.5", "::1")
	if err != nil {
		t.Fatal(err)
	}
	for a, want := range map[string]bool{
		"10.0.0.0": true, "10.0.0.255": true, "10.0.1.0": false, "10.0.2.5": true, "10.0.2.6": false,
		"9.255.255.255": false, "::1": true, "::2": false, "::ffff:10.0.0.9": true,
	} {
		if got := s.Contains(netip.MustParseAddr(a)); got != want {
			t.Errorf("Contains(%s) = %v", a, got)
		}
	}
}

// TestIterateSlash8ConstantMemory walks 16.7 million addresses and checks the
// bytes allocated stay tiny: the iterator must not allocate per address.
func TestIterateSlash8ConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("walks 2^24 addresses")
	}
	s, err := Load(context.Background(), Config{Specs: []string{"10.0.0.0/8"}, MaxPrefixV4: 8})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	it := s.Iter()
	var n uint64
	var last netip.Addr
	for {
		tg, ok := it.Next()
		if !ok {
			break
		}
		last = tg.Addr
		n++
	}
	runtime.ReadMemStats(&after)
	if n != 1<<24 || n != s.Count() {
		t.Fatalf("iterated %d addresses, Count %d", n, s.Count())
	}
	if last != netip.MustParseAddr("10.255.255.255") {
		t.Errorf("last address %s", last)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<10 {
		t.Errorf("iterating a /8 allocated %d bytes", alloc)
	} else {
		t.Logf("iterating a /8 allocated %d bytes", alloc)
	}
}

func BenchmarkIterate(b *testing.B) {
	s, _ := Parse(context.Background(), "10.0.0.0/16")
	b.ReportAllocs()
	it := s.Iter()
	for b.Loop() {
		if _, ok := it.Next(); !ok {
			it = s.Iter()
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"10.0.0.1", "::1", "10.0.0.0/24", "2001:db8::/120", "10.0.0.1-10.0.0.50", "10.0.0.1-50",
		"2001:db8::1-2001:db8::ff", "localhost", "scanme.example.com", "10.0.0.300", "fe80::1%eth0",
		"::ffff:1.2.3.4/100", "::/80", "a-b-c", "1-2", "/", "-", "255.255.255.255/0", "::/0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		s, err := ParseSpec(tok)
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) || se.Token != tok {
				t.Fatalf("error %v does not name the token", err)
			}
			return
		}
		if s.Raw != tok {
			t.Fatalf("Raw %q", s.Raw)
		}
		switch s.Kind {
		case KindHost:
			if s.Host == "" || s.First.IsValid() {
				t.Fatalf("bad host spec %+v", s)
			}
		case KindAddr, KindCIDR, KindRange:
			if !s.First.IsValid() || !s.Last.IsValid() || s.Last.Less(s.First) || s.First.Is4() != s.Last.Is4() {
				t.Fatalf("bad bounds %+v", s)
			}
			// A wide IPv6 network may contain the mapped block (::/80); a
			// single mapped address is always folded to IPv4.
			if s.First.Zone() != "" || s.Last.Zone() != "" || (s.Kind == KindAddr && s.First.Is4In6()) {
				t.Fatalf("zone or mapped address survived: %+v", s)
			}
			iv := interval{s.First, s.Last}
			if iv.bigSize().Sign() <= 0 {
				t.Fatalf("empty interval %+v", s)
			}
		default:
			t.Fatalf("unknown kind %v", s.Kind)
		}
	})
}

// TestIntervalsAgainstBitmap checks normalize and subtract against a brute
// force bitmap on random ranges inside 10.0.0.0/24.
func TestIntervalsAgainstBitmap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}) }
	randIvs := func(n int, set *[256]bool) []interval {
		var ivs []interval
		for range n {
			a, b := rng.IntN(256), rng.IntN(256)
			if a > b {
				a, b = b, a
			}
			for i := a; i <= b; i++ {
				set[i] = true
			}
			ivs = append(ivs, interval{addr(a), addr(b)})
		}
		return ivs
	}
	for round := range 2000 {
		var inc, exc [256]bool
		got := subtract(normalize(randIvs(rng.IntN(6), &inc)), normalize(randIvs(rng.IntN(6), &exc)))
		var have [256]bool
		for k, iv := range got {
			if iv.hi.Less(iv.lo) || (k > 0 && !got[k-1].hi.Less(iv.lo)) {
				t.Fatalf("round %d: bad interval list %v", round, got)
			}
			for a := iv.lo; ; a = a.Next() {
				have[a.As4()[3]] = true
				if a == iv.hi {
					break
				}
			}
		}
		for i := range 256 {
			if have[i] != (inc[i] && !exc[i]) {
				t.Fatalf("round %d: address %d: have %v, want %v", round, i, have[i], inc[i] && !exc[i])
			}
		}
	}
}
