package version

import "testing"

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"9.3p1", "9.3", 1},
		{"9.3", "9.3p1", -1},
		{"9.2p1", "9.3", -1},
		{"9.2p1", "9.8", -1},
		{"9.8p1", "9.8", 1},
		{"1.1.1k", "1.1.1l", -1},
		{"1.1.1l", "1.1.1k", 1},
		{"1.1.1", "1.1.1a", -1},
		{"2.4.41", "2.4.9", 1},
		{"2.4.9", "2.4.41", -1},
		{"1.0", "1.0.0", 0},
		{"1.0.0", "1", 0},
		{"v1.2.3", "1.2.3", 0},
		{"1:9.2p1", "9.2p1", 0},
		{"1.0rc1", "1.0", -1},
		{"1.0-rc1", "1.0", -1},
		{"2.0.0-beta2", "2.0.0-beta10", -1},
		{"2.0.0-alpha", "2.0.0-beta", -1},
		{"2.0.0-rc1", "2.0.0-beta3", 1},
		{"1.0~rc1", "1.0", -1},
		{"1.0.1", "1.0a", 1},
		{"10.11.19", "10.11.9", 1},
		{"15.18", "15.3", 1},
		{"4.96", "4.91", 1},
		{"4.87", "4.87", 0},
		{"12.6(1)", "12.6(2)", -1},
		{"2021-12-13", "2021-12-2", 1},
		{"8.6.2j-398", "8.6.2j-399", -1},
		{"99999999999999999999999", "99999999999999999999998", 1},
		{"0007", "7", 0},
		{"", "", 0},
		{"", "1", -1},
		{"7.0.15", "7.0.15", 0},
		{"3.0.3", "2.3.4", 1},
		{"2.0a1", "2.0", -1},
		{"3.0b2", "3.0", -1},
		{"3.0b2", "3.0a5", 1},
	}
	for _, tt := range tests {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Compare(tt.b, tt.a); got != -tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d (antisymmetry)", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		v, bound string
		want     bool
	}{
		{"15", "15.3", true},
		{"15", "15.0", false},
		{"15", "16", false},
		{"15.18", "15.3", false},
		{"1.22", "1.22.1", true},
		{"1.22.1", "1.22.1", false},
		{"9.2", "9.2p1", false},
		{"1.1", "1.1.1k", true},
		{"9.2p1", "9.3", false},
		{"", "1", false},
	}
	for _, tt := range tests {
		if got := Split(tt.v, tt.bound); got != tt.want {
			t.Errorf("Split(%q, %q) = %v, want %v", tt.v, tt.bound, got, tt.want)
		}
	}
}

func TestBase(t *testing.T) {
	tests := []struct {
		v, base string
		want    bool
	}{
		{"9.8p1", "9.8", true},
		{"7.7p1", "7.7", true},
		{"1.1.1k", "1.1.1", true},
		{"9.8", "9.8", false},
		{"9.8.1", "9.8", false},
		{"9.8rc1", "9.8", false},
		{"9.7p1", "9.8", false},
		{"9.8p1", "9.8.0", true},
	}
	for _, tt := range tests {
		if got := Base(tt.v, tt.base); got != tt.want {
			t.Errorf("Base(%q, %q) = %v, want %v", tt.v, tt.base, got, tt.want)
		}
	}
}

func TestClean(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"2.4.71", "2.4.71", true},
		{"9.2p1", "9.2p1", true},
		{"2.5 or later", "", false},
		{"2.2.X - 2.3.X", "", false},
		{"8.0.x", "8.0", true},
		{"15", "15", true},
		{"9.6.0+", "", false},
		{"", "", false},
		{"-", "", false},
		{"abc", "", false},
		{"1.2.3 (beta)", "1.2.3", true},
	}
	for _, tt := range tests {
		got, ok := Clean(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Clean(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzCompare checks that Compare never panics, is antisymmetric and
// reflexive on arbitrary input.
func FuzzCompare(f *testing.F) {
	for _, s := range [][2]string{{"9.3p1", "9.3"}, {"1.1.1k", "1.1.1l"}, {"2.4.41", "2.4.9"}, {"1.0~rc1", "1.0"}, {"1:2.3", "v2"}, {"12.6\\(1\\)", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if Compare(a, b) != -Compare(b, a) {
			t.Fatalf("not antisymmetric: %q %q", a, b)
		}
		if Compare(a, a) != 0 {
			t.Fatalf("not reflexive: %q", a)
		}
		_ = Split(a, b)
		_, _ = Clean(a)
	})
}
