package nmapprobes

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// Confidence of the rules made from match and softmatch lines. A hard
// match sits below most of the engine's own curated rules (80-95), so that
// where both name a product the more specific one wins the engine's scoring;
// nmap mode reports nmap's answers with its own confidence (nmapmode.go).
const (
	HardConfidence = 75
	SoftConfidence = 40
)

// nmap's defaults for directives a probe leaves out.
const (
	defaultRarity     = 5
	defaultWaitMS     = 5000
	defaultWrappedMS  = 3000
	defaultIntensity  = 7
	rulePrefix        = "nmap-"
	softRulePrefix    = "nmap-soft-"
	udpPrefix         = "udp:"
	nullProbe         = "NULL"
	probeFieldDialect = "pcre"
)

// Set is an nmap-service-probes file compiled into the engine's forms.
type Set struct {
	File *File

	rules    []fingerprint.Rule
	probes   []fingerprint.Probe
	nmap     map[string]fingerprint.NmapRule
	services map[string][]string
	chains   map[string][]string
	failed   []*ParseError
	stats    Stats
}

// Stats summarises what a file turned into.
type Stats struct {
	File       string
	Probes     int // Probe sections (TCP and UDP)
	TCPProbes  int
	UDPProbes  int
	MatchLines int // match and softmatch lines in the file
	Soft       int // softmatch lines among the rules
	Rules      int // lines turned into rules (hard and soft)
	Skipped    int // lines the parser could not read
	Rejected   int // lines whose regex or template the engine cannot run
}

// Compiled is the share of match lines that became rules, in percent.
func (s Stats) Compiled() float64 {
	if s.MatchLines == 0 {
		return 100
	}
	return 100 * float64(s.Rules) / float64(s.MatchLines)
}

func (s Stats) String() string {
	return fmt.Sprintf("%s: %d probes (%d TCP, %d UDP), %d match lines, %d rules (%.2f%%, %d softmatch), %d unparsed, %d rejected",
		s.File, s.Probes, s.TCPProbes, s.UDPProbes, s.MatchLines, s.Rules, s.Compiled(), s.Soft, s.Skipped, s.Rejected)
}

// LoadFile reads and compiles an nmap-service-probes file. The path must
// come from the user: nmap's data is never bundled nor looked for.
func LoadFile(path string) (*Set, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nmap probes: %w", err)
	}
	defer fh.Close()
	f, err := Parse(fh, path)
	if err != nil {
		return nil, fmt.Errorf("nmap probes: %w", err)
	}
	return Build(f), nil
}

// Rules returns one rule per usable match line, in file order.
func (s *Set) Rules() []fingerprint.Rule { return s.rules }

// Probes returns every probe that sends something, TCP and UDP, in file
// order (the NULL probe, which sends nothing, excluded). UDP probes are
// named "udp:<name>".
func (s *Set) Probes() []fingerprint.Probe { return s.probes }

// Stats says how much of the file compiled.
func (s *Set) Stats() Stats { return s.stats }

// Problems lists the match lines that did not become rules, with why.
func (s *Set) Problems() []*ParseError {
	out := append(append([]*ParseError(nil), s.File.Skipped...), s.failed...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// Mode returns the engine settings that schedule the file's probes as
// nmap does at the given version intensity (0-9; <0 means nmap's default 7).
func (s *Set) Mode(intensity int) *fingerprint.NmapMode {
	if intensity < 0 || intensity > 9 {
		intensity = defaultIntensity
	}
	m := &fingerprint.NmapMode{
		Intensity: intensity, Services: s.services, Fallbacks: s.chains, Rules: s.nmap,
		Exclude: s.File.Exclude.TCP.Expand(), TCPWrapped: defaultWrappedMS * time.Millisecond,
		Answer: fingerprint.NmapAnswer,
	}
	for _, p := range s.File.Probes {
		if p.Transport == "tcp" && p.Name == nullProbe && p.TCPWrappedMS > 0 {
			m.TCPWrapped = time.Duration(p.TCPWrappedMS) * time.Millisecond
		}
	}
	for _, p := range s.probes {
		if p.Transport == "tcp" {
			m.Probes = append(m.Probes, p)
		}
	}
	return m
}

// fieldName is the engine name of a probe: UDP probes get a prefix so they
// never share an evidence field with the TCP probe of the same name.
func fieldName(p *Probe) string {
	if p.Transport == "udp" {
		return udpPrefix + p.Name
	}
	return p.Name
}

// Build compiles a parsed file. Lines whose regex the "pcre" dialect
// rejects, or whose templates cannot be expressed, are left out and
// counted.
func Build(f *File) *Set {
	s := &Set{File: f, nmap: map[string]fingerprint.NmapRule{}, services: map[string][]string{}, chains: map[string][]string{}}
	st := &s.stats
	st.File = f.Name
	st.Skipped = len(f.Skipped)
	st.MatchLines = len(f.Skipped)

	byKey := map[string]*Probe{}
	for _, p := range f.Probes {
		byKey[p.Transport+"/"+p.Name] = p
	}
	// Fallback chains, as nmap compiles them: itself, the fallbacks in
	// order, then NULL for TCP probes.
	budget := &portBudget{left: maxExpandedPorts}
	other := map[string]string{"tcp": "udp", "udp": "tcp"}
	readers := map[*Probe][]string{} // probe -> the probes whose answers its lines read
	for _, p := range f.Probes {
		chain := []*Probe{p}
		for _, fb := range p.Fallback {
			q := byKey[p.Transport+"/"+fb]
			if q == nil {
				q = byKey[other[p.Transport]+"/"+fb]
			}
			if q != nil && q != p {
				chain = append(chain, q)
			}
		}
		if null := byKey["tcp/"+nullProbe]; p.Transport == "tcp" && null != nil && p != null {
			chain = append(chain, null)
		}
		names := make([]string, 0, len(chain))
		seen := map[*Probe]bool{}
		for _, q := range chain {
			if seen[q] {
				continue
			}
			seen[q] = true
			names = append(names, fieldName(q))
			if !(p.Name == nullProbe && p.Transport == "tcp") {
				readers[q] = append(readers[q], fieldName(p))
			}
		}
		s.chains[fieldName(p)] = names
	}

	for _, p := range f.Probes {
		st.Probes++
		if p.Transport == "tcp" {
			st.TCPProbes++
		} else {
			st.UDPProbes++
		}
		name := fieldName(p)
		svcSeen := map[string]bool{}
		for _, m := range p.Matches {
			st.MatchLines++
			if !svcSeen[m.Service] {
				svcSeen[m.Service] = true
				s.services[name] = append(s.services[name], m.Service)
			}
			r, err := buildRule(p, m, readers[p])
			if err != nil {
				st.Rejected++
				s.failed = append(s.failed, &ParseError{File: f.Name, Line: m.Line, Text: clip(m.Raw), Msg: err.Error()})
				continue
			}
			s.rules = append(s.rules, r)
			s.nmap[r.Name] = fingerprint.NmapRule{Probe: name, Line: m.Line, Soft: m.Soft}
			st.Rules++
			if m.Soft {
				st.Soft++
			}
		}
		if p.Name == nullProbe && p.Transport == "tcp" || len(p.Payload) == 0 || p.NoPayload {
			continue
		}
		fp := fingerprint.Probe{
			Name: name, Transport: p.Transport, Payload: fingerprint.Latin1(p.Payload),
			Ports: budget.expand(p.Ports), TLSPorts: budget.expand(p.SSLPorts), Rarity: p.Rarity,
			Wait: fmt.Sprintf("%dms", defaultWaitMS), Fallback: strings.Join(s.chains[name][1:], ","),
		}
		if fp.Rarity == 0 {
			fp.Rarity = defaultRarity
		}
		if p.TotalWaitMS > 0 {
			fp.Wait = fmt.Sprintf("%dms", p.TotalWaitMS)
		}
		s.probes = append(s.probes, fp)
	}
	return s
}

// ruleName is unique per line: "nmap-<line>-<service>", "nmap-soft-...".
func ruleName(m *Match) string {
	prefix := rulePrefix
	if m.Soft {
		prefix = softRulePrefix
	}
	var b strings.Builder
	for _, c := range strings.ToLower(m.Service) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return fmt.Sprintf("%s%d-%s", prefix, m.Line, b.String())
}

// buildRule turns one match line of probe p into a rule reading the answers
// of the probes listed in readers (p and those falling back to it).
func buildRule(p *Probe, m *Match, readers []string) (fingerprint.Rule, error) {
	var r fingerprint.Rule
	var product, version, info, hostname, osName, device, cpe string
	for src, dst := range map[*string]*string{&m.Product: &product, &m.Version: &version, &m.Info: &info,
		&m.Hostname: &hostname, &m.OS: &osName, &m.Device: &device} {
		v, err := ConvertTemplate(*src)
		if err != nil {
			return r, err
		}
		*dst = v
	}
	if c := pickCPE(m.CPE); c != "" {
		v, err := ConvertTemplate(c)
		if err != nil {
			return r, err
		}
		cpe = v
	}
	regex := m.Pattern()
	if _, err := fingerprint.PCRE(regex); err != nil {
		return r, fmt.Errorf("regex: %w", err)
	}
	conf := HardConfidence
	if m.Soft {
		conf = SoftConfidence
	}
	base := fingerprint.Pattern{
		Regex: regex, Dialect: probeFieldDialect, Confidence: conf,
		Version: version, Info: info, Hostname: hostname, OS: osName, Device: device, CPE: cpe,
	}
	r = fingerprint.Rule{
		Name: ruleName(m), Product: product, Service: m.Service, Category: m.Service, Role: "server",
	}
	if p.Transport == "tcp" && p.Name == nullProbe {
		b := base
		b.Type = "banner"
		r.Patterns = append(r.Patterns, b)
	}
	if len(readers) > 0 {
		b := base
		b.Type = "response"
		b.Probe = strings.Join(readers, ",")
		r.Patterns = append(r.Patterns, b)
	}
	if len(r.Patterns) == 0 {
		return r, fmt.Errorf("probe %s sends nothing and nothing falls back to it", p.Name)
	}
	return r, nil
}

// pickCPE chooses the application CPE of a line (the engine keeps one):
// cpe:/a:... first, else the first one given.
func pickCPE(cpes []string) string {
	for _, c := range cpes {
		if strings.HasPrefix(c, "cpe:/a:") {
			return c
		}
	}
	if len(cpes) > 0 {
		return cpes[0]
	}
	return ""
}

// maxExpandedPorts caps the port numbers all probes' lists expand to
// together: "ports 1-65535" on thousands of probes must not cost gigabytes.
const maxExpandedPorts = 1 << 20

type portBudget struct{ left int }

func (b *portBudget) expand(l PortList) []int {
	out := l.Expand()
	if len(out) > b.left {
		out = out[:b.left]
	}
	b.left -= len(out)
	return out
}
