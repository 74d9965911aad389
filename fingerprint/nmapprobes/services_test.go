package nmapprobes

import (
	"strings"
	"testing"
)

func TestParseServices(t *testing.T) {
	const file = `# Fields in this file are: Service name, portnum/protocol, open-frequency, optional comments
#
tcpmux	1/tcp	0.001995	# TCP Port Service Multiplexer
tcpmux	1/udp	0.001236
eforward	2181/tcp	0.000076	# eforward
zookeeper	2181/tcp	0.000010	# a rarer name for the same port loses
ssh	22/tcp	0.182286	# Secure Shell Login
sctp-thing	22/sctp	0.000000
noprefix	7777/tcp
`
	s, err := ParseServices(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		table map[int]string
		port  int
		want  string
	}{
		{s.TCP, 1, "tcpmux"}, {s.UDP, 1, "tcpmux"}, {s.TCP, 2181, "eforward"},
		{s.TCP, 22, "ssh"}, {s.TCP, 7777, "noprefix"}, {s.UDP, 22, ""}, {s.TCP, 3, ""},
	} {
		if got := c.table[c.port]; got != c.want {
			t.Errorf("port %d: %q, want %q", c.port, got, c.want)
		}
	}
}

func TestParseServicesErrors(t *testing.T) {
	for _, in := range []string{
		"ssh\n",
		"ssh 22\n",
		"ssh 70000/tcp 0.1\n",
		"ssh x/tcp\n",
		"ssh 22/tcp often\n",
		"ssh 22/tcp 0.1 extra\n",
	} {
		if _, err := ParseServices(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: error %v, want one naming line 1", in, err)
		}
	}
}

func FuzzParseServices(f *testing.F) {
	f.Add("ssh\t22/tcp\t0.18\t# x\n")
	f.Add("a 1/udp\n#c\n\nb 65535/tcp 1e-3\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseServices(strings.NewReader(in))
		if err != nil {
			return
		}
		for p := range s.TCP {
			if p < 0 || p > 65535 {
				t.Fatalf("port %d", p)
			}
		}
	})
}
