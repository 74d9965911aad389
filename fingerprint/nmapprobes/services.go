package nmapprobes

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Services is nmap's port table (an nmap-services file): the name nmap
// reports, marked as a guess, for a port its probes did not identify.
// Like the probes file it is read only from a path the user gives.
type Services struct {
	TCP, UDP map[int]string
	// freq keeps the open frequency of each entry, so that of two names
	// for one port the commoner wins, as in nmap.
	freq map[string]float64
}

// maxServicesLine bounds one line of the file.
const maxServicesLine = 64 << 10

// LoadServices reads an nmap-services file.
func LoadServices(path string) (*Services, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nmap services: %w", err)
	}
	defer fh.Close()
	s, err := ParseServices(fh)
	if err != nil {
		return nil, fmt.Errorf("nmap services: %s: %w", path, err)
	}
	return s, nil
}

// ParseServices reads "name port/proto [frequency] [# comment]" lines;
// blank and "#" lines are skipped, protocols other than tcp and udp
// (sctp) ignored. A line of another shape is an error naming it.
func ParseServices(r io.Reader) (*Services, error) {
	s := &Services{TCP: map[int]string{}, UDP: map[int]string{}, freq: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxServicesLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("line %d: want \"name port/proto [frequency]\", got %q", n, strings.TrimSpace(line))
		}
		portStr, proto, ok := strings.Cut(f[1], "/")
		port, err := strconv.Atoi(portStr)
		if !ok || err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("line %d: bad port %q", n, f[1])
		}
		freq := 0.0
		if len(f) == 3 {
			if freq, err = strconv.ParseFloat(f[2], 64); err != nil {
				return nil, fmt.Errorf("line %d: bad frequency %q", n, f[2])
			}
		}
		var table map[int]string
		switch strings.ToLower(proto) {
		case "tcp":
			table = s.TCP
		case "udp":
			table = s.UDP
		default:
			continue
		}
		key := strings.ToLower(proto) + "/" + portStr
		if old, seen := s.freq[key]; seen && old >= freq {
			continue
		}
		s.freq[key] = freq
		table[port] = f[0]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return s, nil
}
