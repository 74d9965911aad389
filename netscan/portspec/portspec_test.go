package portspec

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		spec     string
		tcp, udp []int
	}{
		{"22,80,443", []int{22, 80, 443}, []int{22, 80, 443}},
		{" 443 , 22 ,80", []int{443, 22, 80}, []int{443, 22, 80}},
		{"1-5", []int{1, 2, 3, 4, 5}, []int{1, 2, 3, 4, 5}},
		{"80,79-81,80", []int{80, 79, 81}, []int{80, 79, 81}},
		{"65533-", []int{65533, 65534, 65535}, []int{65533, 65534, 65535}},
		{"-3", []int{1, 2, 3}, []int{1, 2, 3}},
		{"7-7", []int{7}, []int{7}},
		{"U:53,T:80", []int{80}, []int{53}},
		{"U:53,111,T:21-22,80", []int{21, 22, 80}, []int{53, 111}},
		{"t:22,u:22", []int{22}, []int{22}},
		{"22,U:53", []int{22}, []int{22, 53}},
		{"T: 25", []int{25}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			l, err := Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.TCP, tt.tcp) || !slices.Equal(l.UDP, tt.udp) {
				t.Errorf("Parse(%q) = T%v U%v, want T%v U%v", tt.spec, l.TCP, l.UDP, tt.tcp, tt.udp)
			}
		})
	}
}

func TestParseAll(t *testing.T) {
	for _, spec := range []string{"-", "-p-", "1-65535", " - ", "1-", "-65535"} {
		l, err := Parse(spec)
		if err != nil {
			t.Fatalf("%q: %v", spec, err)
		}
		if len(l.TCP) != MaxPort || l.TCP[0] != 1 || l.TCP[MaxPort-1] != MaxPort {
			t.Errorf("%q: %d ports", spec, len(l.TCP))
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ spec, token, want string }{
		{"0", "0", "out of range"},
		{"22,0", "0", "out of range"},
		{"65536", "65536", "out of range"},
		{"80,70000", "70000", "out of range"},
		{"1-65536", "1-65536", "out of range"},
		{"9999999999", "9999999999", "out of range"},
		{"0-10", "0-10", "out of range"},
		{"100-10", "100-10", "below its start"},
		{"http", "http", "not a port number"},
		{"22,,80", "", "empty entry"},
		{"22,", "", "empty entry"},
		{"", "", "empty"},
		{"1-2-3", "1-2-3", "not a port number"},
		{"+22", "+22", "not a port number"},
		{"S:80", "S:80", "unknown protocol prefix"},
		{"T:", "T:", "empty entry"},
		{"U:0", "U:0", "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := Parse(tt.spec)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error = %v, want *Error", tt.spec, err)
			}
			if pe.Token != tt.token || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v (token %q), want token %q and %q", tt.spec, err, pe.Token, tt.token, tt.want)
			}
			if !strings.HasPrefix(err.Error(), `invalid port spec "`+tt.token+`"`) {
				t.Errorf("message %q does not name the token", err)
			}
		})
	}
}

func TestParseTCP(t *testing.T) {
	if p, err := ParseTCP("U:53,T:80,443"); err != nil || !slices.Equal(p, []int{80, 443}) {
		t.Errorf("ParseTCP = %v, %v", p, err)
	}
	if _, err := ParseTCP("U:53"); err == nil {
		t.Error("ParseTCP(U:53) accepted a spec with no TCP port")
	}
}

func TestEmbeddedLists(t *testing.T) {
	tcp, err := parseList(topTCPText)
	if err != nil {
		t.Fatal(err)
	}
	if len(tcp) < 1000 {
		t.Errorf("top-tcp.txt has %d ports, want 1000+", len(tcp))
	}
	udp, err := parseList(topUDPText)
	if err != nil {
		t.Fatal(err)
	}
	if len(udp) < 100 {
		t.Errorf("top-udp.txt has %d ports, want ~100", len(udp))
	}
	// The ubiquitous services must lead the quick profile.
	quick := Top(100)
	for _, p := range []int{21, 22, 23, 25, 53, 80, 110, 143, 443, 445, 3306, 3389, 8080} {
		if !slices.Contains(quick, p) {
			t.Errorf("port %d missing from the top 100", p)
		}
	}
	if udp[0] != 53 {
		t.Errorf("top UDP port is %d", udp[0])
	}
}

func TestTopAndProfiles(t *testing.T) {
	if Top(0) != nil || Top(-1) != nil {
		t.Error("Top(<=0) not nil")
	}
	if got := Top(3); !slices.Equal(got, []int{80, 443, 22}) {
		t.Errorf("Top(3) = %v", got)
	}
	for name, n := range map[string]int{"quick": 100, "standard": 1000, "deep": MaxPort, " Deep ": MaxPort} {
		p, err := Profile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != n {
			t.Errorf("profile %s has %d ports, want %d", name, len(p), n)
		}
		sorted := slices.Clone(p)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != n || sorted[0] < 1 || sorted[len(sorted)-1] > MaxPort {
			t.Errorf("profile %s has duplicates or bad ports", name)
		}
	}
	deep, _ := Profile("deep")
	if !slices.Equal(deep[:TopLen()], Top(TopLen())) {
		t.Error("deep profile does not start with the ranked list")
	}
	if _, err := Profile("ludicrous"); err == nil {
		t.Error("unknown profile accepted")
	}
	if got := len(Top(1 << 20)); got != MaxPort {
		t.Errorf("Top(huge) = %d ports", got)
	}
	if got := len(TopUDP(10)); got != 10 {
		t.Errorf("TopUDP(10) = %d ports", got)
	}
}

func TestParseListErrors(t *testing.T) {
	for _, text := range []string{"80\n80\n", "0\n", "x\n", "70000 big\n"} {
		if _, err := parseList(text); err == nil {
			t.Errorf("parseList(%q) accepted", text)
		}
	}
	l, err := parseList("# c\n\n 22 ssh # secure\n80\n")
	if err != nil || !slices.Equal(l, []int{22, 80}) {
		t.Errorf("parseList = %v, %v", l, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"22,80,443", "1-1024", "-", "-p-", "U:53,T:80", "0", "65536", "1-", "-5", "a,b", "T:,U:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		l, err := Parse(spec)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not *Error", err)
			}
			return
		}
		for _, ports := range [][]int{l.TCP, l.UDP} {
			seen := map[int]bool{}
			for _, p := range ports {
				if p < 1 || p > MaxPort || seen[p] {
					t.Fatalf("bad or duplicate port %d from %q", p, spec)
				}
				seen[p] = true
			}
		}
	})
}
