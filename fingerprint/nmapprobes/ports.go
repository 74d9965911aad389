package nmapprobes

import (
	"fmt"
	"strconv"
	"strings"
)

// PortRange is an inclusive range of port numbers.
type PortRange struct{ Lo, Hi int }

// PortList is a "ports"/"sslports" list: 21,23,1040-1043.
type PortList []PortRange

// Contains says whether port p is in the list.
func (l PortList) Contains(p int) bool {
	for _, r := range l {
		if p >= r.Lo && p <= r.Hi {
			return true
		}
	}
	return false
}

// Expand lists every port of the list, capped at 65536 entries.
func (l PortList) Expand() []int {
	var out []int
	seen := map[int]bool{}
	for _, r := range l {
		for p := r.Lo; p <= r.Hi && len(out) < maxPorts; p++ {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// ParsePortList reads a comma separated list of ports and ranges.
func ParsePortList(s string) (PortList, error) {
	var out PortList
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		r, err := parseRange(item)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty port list")
	}
	return out, nil
}

func parseRange(item string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(item, "-")
	a, err := parsePort(lo)
	if err != nil {
		return PortRange{}, err
	}
	b := a
	if isRange {
		if b, err = parsePort(hi); err != nil {
			return PortRange{}, err
		}
		if b < a {
			return PortRange{}, fmt.Errorf("port range %q runs backwards", item)
		}
	}
	return PortRange{a, b}, nil
}

func parsePort(s string) (int, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 || s == "" || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("bad port %q (want 0-65535)", s)
	}
	return n, nil
}

// PortSet is an Exclude specification: ports per transport.
type PortSet struct{ TCP, UDP PortList }

// ParsePortSet reads "T:9100-9107,U:53,80": a T:/U: prefix applies to the
// items that follow it; items before any prefix apply to both transports.
// S: (SCTP) items are accepted and ignored.
func ParsePortSet(s string) (PortSet, error) {
	var ps PortSet
	mode := "both"
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if len(item) >= 2 && item[1] == ':' {
			switch item[0] {
			case 'T', 't':
				mode = "tcp"
			case 'U', 'u':
				mode = "udp"
			case 'S', 's':
				mode = "sctp"
			default:
				return ps, fmt.Errorf("bad protocol prefix in %q (want T:, U: or S:)", item)
			}
			item = item[2:]
		}
		r, err := parseRange(item)
		if err != nil {
			return ps, err
		}
		switch mode {
		case "tcp":
			ps.TCP = append(ps.TCP, r)
		case "udp":
			ps.UDP = append(ps.UDP, r)
		case "both":
			ps.TCP = append(ps.TCP, r)
			ps.UDP = append(ps.UDP, r)
		}
	}
	return ps, nil
}
