package nmapprobes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits that keep a hostile or corrupt file from costing unbounded memory.
const (
	maxLine    = 1 << 20 // longest line accepted
	maxProbes  = 10000
	maxMatches = 200000
	maxPorts   = 65536
)

// File is a parsed nmap-service-probes file.
type File struct {
	Name string
	// Exclude lists the ports version detection leaves alone (printers that
	// print whatever they are sent).
	Exclude PortSet
	// Probes in file order. The NULL probe, when present, is among them.
	Probes []*Probe
	// Skipped holds the match lines that could not be parsed or translated.
	Skipped []*ParseError
	// Lines is the number of lines read.
	Lines int
}

// Probe is one Probe section.
type Probe struct {
	Transport string // "tcp" or "udp"
	Name      string
	Payload   []byte
	NoPayload bool // "no-payload": the probe is only sent by NSE scripts
	Ports     PortList
	SSLPorts  PortList
	// TotalWaitMS is how long nmap waits for the answer (0 = unset: 5000).
	TotalWaitMS int
	// TCPWrappedMS: a connection closed by the server within this many
	// milliseconds without data means tcpwrapped (NULL probe only; 0 = unset).
	TCPWrappedMS int
	Rarity       int // 1-9; 0 = unset (nmap's default 5)
	Fallback     []string
	Matches      []*Match
	Line         int
}

// Match is one match or softmatch line.
type Match struct {
	Soft    bool
	Service string
	// Regex is the pattern as written (PCRE); Flags holds its i and s flags.
	Regex string
	Flags string
	// Version info templates, in nmap's syntax ($1, $P(1), $SUBST(...), $I(...)).
	Product, Version, Info, Hostname, OS, Device string
	CPE                                          []string
	Line                                         int
	Raw                                          string // the line as written
}

// ParseError says where a file is wrong and what the line held.
type ParseError struct {
	File string
	Line int
	Text string // the offending line, truncated
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %q", e.File, e.Line, e.Msg, e.Text)
}

// Parse reads an nmap-service-probes file. name is used in error messages.
func Parse(r io.Reader, name string) (*File, error) {
	f := &File{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var cur *Probe
	seen := map[string]bool{}
	excludeSeen := false
	nmatch := 0
	for sc.Scan() {
		f.Lines++
		raw := sc.Bytes()
		line := string(bytes.TrimRight(raw, "\r"))
		if strings.TrimSpace(line) == "" || line[0] == '#' {
			continue
		}
		fail := func(format string, a ...any) *ParseError {
			return &ParseError{File: name, Line: f.Lines, Text: clip(line), Msg: fmt.Sprintf(format, a...)}
		}
		directive, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch directive {
		case "Exclude":
			if cur != nil {
				return nil, fail("Exclude must precede every Probe")
			}
			if excludeSeen {
				return nil, fail("only one Exclude directive is allowed")
			}
			excludeSeen = true
			ps, err := ParsePortSet(rest)
			if err != nil {
				return nil, fail("%v", err)
			}
			f.Exclude = ps
		case "Probe":
			p, err := parseProbeLine(rest)
			if err != nil {
				return nil, fail("%v", err)
			}
			key := p.Transport + "/" + p.Name
			if seen[key] {
				return nil, fail("probe %s %s defined twice", strings.ToUpper(p.Transport), p.Name)
			}
			if len(f.Probes) >= maxProbes {
				return nil, fail("more than %d probes", maxProbes)
			}
			seen[key] = true
			p.Line = f.Lines
			f.Probes = append(f.Probes, p)
			cur = p
		case "match", "softmatch":
			if cur == nil {
				return nil, fail("%s before any Probe", directive)
			}
			if nmatch >= maxMatches {
				return nil, fail("more than %d match lines", maxMatches)
			}
			nmatch++
			m, err := ParseMatch(line)
			if err != nil {
				f.Skipped = append(f.Skipped, fail("%v", err))
				continue
			}
			m.Line = f.Lines
			cur.Matches = append(cur.Matches, m)
		case "ports", "sslports":
			if cur == nil {
				return nil, fail("%s before any Probe", directive)
			}
			pl, err := ParsePortList(rest)
			if err != nil {
				return nil, fail("%v", err)
			}
			if directive == "ports" {
				cur.Ports = append(cur.Ports, pl...)
			} else {
				cur.SSLPorts = append(cur.SSLPorts, pl...)
			}
		case "totalwaitms", "tcpwrappedms":
			if cur == nil {
				return nil, fail("%s before any Probe", directive)
			}
			n, err := strconv.Atoi(rest)
			if err != nil || n < 100 || n > 300000 {
				return nil, fail("%s must be 100-300000 milliseconds", directive)
			}
			if directive == "totalwaitms" {
				cur.TotalWaitMS = n
			} else {
				cur.TCPWrappedMS = n
			}
		case "rarity":
			if cur == nil {
				return nil, fail("rarity before any Probe")
			}
			n, err := strconv.Atoi(rest)
			if err != nil || n < 1 || n > 9 {
				return nil, fail("rarity must be 1-9")
			}
			cur.Rarity = n
		case "fallback":
			if cur == nil {
				return nil, fail("fallback before any Probe")
			}
			for _, fb := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
				cur.Fallback = append(cur.Fallback, fb)
			}
		default:
			return nil, fail("unknown directive %q", directive)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &ParseError{File: name, Line: f.Lines + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// Fallbacks name probes anywhere in the file, of the same transport or,
	// failing that, the other one (DNSVersionBindReqTCP falls back to the
	// UDP DNSVersionBindReq).
	for _, p := range f.Probes {
		for _, fb := range p.Fallback {
			if !seen["tcp/"+fb] && !seen["udp/"+fb] {
				return nil, &ParseError{File: name, Line: p.Line, Text: p.Name, Msg: fmt.Sprintf("unknown fallback probe %q", fb)}
			}
		}
	}
	return f, nil
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// parseProbeLine reads "TCP|UDP name q<d>payload<d> [no-payload]".
func parseProbeLine(s string) (*Probe, error) {
	proto, rest, ok := strings.Cut(s, " ")
	if !ok {
		return nil, errors.New("Probe needs a protocol, a name and a probe string")
	}
	p := &Probe{}
	switch proto {
	case "TCP":
		p.Transport = "tcp"
	case "UDP":
		p.Transport = "udp"
	default:
		return nil, fmt.Errorf("Probe protocol must be TCP or UDP, not %q", proto)
	}
	rest = strings.TrimLeft(rest, " \t")
	name, rest, ok := strings.Cut(rest, " ")
	if !ok || name == "" {
		return nil, errors.New("Probe needs a name and a probe string")
	}
	if !validName(name) {
		return nil, fmt.Errorf("bad probe name %q", name)
	}
	p.Name = name
	rest = strings.TrimLeft(rest, " \t")
	if len(rest) < 3 || rest[0] != 'q' {
		return nil, errors.New("probe string must be q<delimiter>...<delimiter>")
	}
	delim := rest[1]
	end := strings.IndexByte(rest[2:], delim)
	if end < 0 {
		return nil, errors.New("probe string not terminated")
	}
	payload, err := Unescape(rest[2 : 2+end])
	if err != nil {
		return nil, fmt.Errorf("probe string: %w", err)
	}
	p.Payload = payload
	for _, opt := range strings.Fields(rest[2+end+1:]) {
		if opt != "no-payload" {
			return nil, fmt.Errorf("unknown probe option %q", opt)
		}
		p.NoPayload = true
	}
	return p, nil
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ',' {
			return false
		}
	}
	return s != ""
}

// ParseMatch reads one "match" or "softmatch" line.
func ParseMatch(line string) (*Match, error) {
	m := &Match{Raw: line}
	directive, rest, _ := strings.Cut(line, " ")
	switch directive {
	case "match":
	case "softmatch":
		m.Soft = true
	default:
		return nil, fmt.Errorf("not a match line")
	}
	rest = strings.TrimLeft(rest, " \t")
	svc, rest, ok := strings.Cut(rest, " ")
	if !ok || svc == "" {
		return nil, errors.New("match needs a service name and a pattern")
	}
	if !validName(svc) {
		return nil, fmt.Errorf("bad service name %q", svc)
	}
	m.Service = svc
	rest = strings.TrimLeft(rest, " \t")
	if len(rest) < 3 || rest[0] != 'm' {
		return nil, errors.New("pattern must be m<delimiter>regex<delimiter>[flags]")
	}
	delim := rest[1]
	end := strings.IndexByte(rest[2:], delim)
	if end < 0 {
		return nil, errors.New("pattern not terminated")
	}
	m.Regex = rest[2 : 2+end]
	rest = rest[2+end+1:]
	i := 0
	for i < len(rest) && rest[i] != ' ' && rest[i] != '\t' {
		switch rest[i] {
		case 'i', 's':
			if !strings.ContainsRune(m.Flags, rune(rest[i])) {
				m.Flags += string(rest[i])
			}
		default:
			return nil, fmt.Errorf("unknown regex flag %q", rest[i])
		}
		i++
	}
	rest = rest[i:]
	for {
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			break
		}
		var key string
		var delimAt int
		if strings.HasPrefix(rest, "cpe:") {
			key, delimAt = "cpe", 4
		} else {
			key, delimAt = rest[:1], 1
		}
		if len(rest) <= delimAt {
			return nil, fmt.Errorf("version field %s has no value", key)
		}
		d := rest[delimAt]
		if isAlnum(d) || d == ' ' {
			return nil, fmt.Errorf("bad delimiter %q after %s", d, key)
		}
		e := strings.IndexByte(rest[delimAt+1:], d)
		if e < 0 {
			return nil, fmt.Errorf("version field %s not terminated", key)
		}
		val := rest[delimAt+1 : delimAt+1+e]
		rest = rest[delimAt+1+e+1:]
		j := 0
		for j < len(rest) && rest[j] != ' ' && rest[j] != '\t' {
			j++
		}
		flags := rest[:j]
		rest = rest[j:]
		if key != "cpe" && flags != "" {
			return nil, fmt.Errorf("version field %s: unexpected %q after the value", key, flags)
		}
		if key == "cpe" && strings.Trim(flags, "a") != "" {
			return nil, fmt.Errorf("cpe: unknown flag %q", flags)
		}
		switch key {
		case "p":
			m.Product = val
		case "v":
			m.Version = val
		case "i":
			m.Info = val
		case "h":
			m.Hostname = val
		case "o":
			m.OS = val
		case "d":
			m.Device = val
		case "cpe":
			m.CPE = append(m.CPE, "cpe:/"+val)
		default:
			return nil, fmt.Errorf("unknown version field %q", key)
		}
	}
	return m, nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Pattern returns the regex in the engine's "pcre" dialect: the flags as an
// inline group, and every byte >= 0x80 written as \xHH. nmap's PCRE runs
// without UTF mode, so a raw byte in the file matches that byte; the engine
// decodes responses as Latin-1, and the dialect would read the raw bytes as
// UTF-8 instead.
func (m *Match) Pattern() string {
	var b strings.Builder
	if m.Flags != "" {
		b.WriteString("(?" + m.Flags + ")")
	}
	re := m.Regex
	for i := 0; i < len(re); i++ {
		c := re[i]
		if c < 0x80 {
			b.WriteByte(c)
			continue
		}
		// A backslash before a raw high byte escapes nothing special: drop
		// it, or it would escape the backslash of the \xHH written here.
		if i > 0 && re[i-1] == '\\' && backslashes(re[:i])%2 == 1 {
			s := b.String()
			b.Reset()
			b.WriteString(s[:len(s)-1])
		}
		fmt.Fprintf(&b, `\x%02x`, c)
	}
	return b.String()
}

func backslashes(s string) int {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n
}
