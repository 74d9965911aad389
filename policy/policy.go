// Package policy checks a scan against what is expected to listen where: a
// YAML file of rules per host or network ("22/ssh and 443/https on web-*;
// nothing else"). Every deviation is a finding with a severity.
//
// The file:
//
//	policies:
//	  - name: web servers
//	    hosts: ["web-*", "10.0.1.0/24", "127.0.0.1"]  # names (glob), addresses, CIDR; "*" = every host
//	    allow: ["22/ssh", "80/http", "443/https"]      # PORT[/tcp|udp][/SERVICE], "*/SERVICE", "8000-8100"
//	    require: ["22/ssh"]                            # must be open
//	    deny: ["23", "*/telnet"]                       # must never be open (severity high)
//	    only: true                                     # nothing else may be open
//	    severity: medium                               # of the unexpected ports (default medium)
//	    products:                                      # version floors
//	      - {product: OpenSSH, min_version: "9.0", severity: high}
//
// A service name in a rule matches the scan's service name, and "https",
// "imaps", "ssl/http"... match that service inside TLS.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/store"
)

// File is a policy file.
type File struct {
	Policies []Policy `yaml:"policies"`
}

// Policy is what is expected of the hosts it names.
type Policy struct {
	Name     string    `yaml:"name"`
	Hosts    []string  `yaml:"hosts"`
	Allow    []string  `yaml:"allow"`
	Require  []string  `yaml:"require"`
	Deny     []string  `yaml:"deny"`
	Only     bool      `yaml:"only"`
	Severity string    `yaml:"severity"`
	Products []Product `yaml:"products"`

	allow, require, deny []portRule
	hosts                []hostPattern
}

// Product is a version floor for a product.
type Product struct {
	Product    string `yaml:"product"`
	MinVersion string `yaml:"min_version"`
	Severity   string `yaml:"severity"`
}

// portRule is one PORT[/PROTO][/SERVICE] entry.
type portRule struct {
	text      string
	lo, hi    int    // 0, 0: any port
	transport string // "" = any
	service   string // "" = any
}

type hostPattern struct {
	glob   string
	prefix netip.Prefix
	addr   netip.Addr
}

// Load reads and checks a policy file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse reads a policy document. Unknown keys are errors.
func Parse(b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(f.Policies) == 0 {
		return nil, errors.New("no policies (the file needs a policies: list)")
	}
	for i := range f.Policies {
		p := &f.Policies[i]
		if p.Name == "" {
			p.Name = "policy " + strconv.Itoa(i+1)
		}
		if len(p.Hosts) == 0 {
			return nil, fmt.Errorf("%s: no hosts (use [\"*\"] for every host)", p.Name)
		}
		for _, h := range p.Hosts {
			hp, err := parseHost(h)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Name, err)
			}
			p.hosts = append(p.hosts, hp)
		}
		var err error
		if p.allow, err = parseRules(p.Allow); err != nil {
			return nil, fmt.Errorf("%s: allow: %w", p.Name, err)
		}
		if p.require, err = parseRules(p.Require); err != nil {
			return nil, fmt.Errorf("%s: require: %w", p.Name, err)
		}
		if p.deny, err = parseRules(p.Deny); err != nil {
			return nil, fmt.Errorf("%s: deny: %w", p.Name, err)
		}
		if p.Severity == "" {
			p.Severity = "medium"
		}
		if !validSeverity(p.Severity) {
			return nil, fmt.Errorf("%s: severity %q (want info, low, medium, high or critical)", p.Name, p.Severity)
		}
		for j, pr := range p.Products {
			if pr.Product == "" || pr.MinVersion == "" {
				return nil, fmt.Errorf("%s: products[%d] needs product and min_version", p.Name, j)
			}
			if pr.Severity == "" {
				p.Products[j].Severity = "medium"
			} else if !validSeverity(pr.Severity) {
				return nil, fmt.Errorf("%s: products[%d]: severity %q", p.Name, j, pr.Severity)
			}
		}
	}
	return &f, nil
}

func validSeverity(s string) bool {
	switch strings.ToLower(s) {
	case "info", "low", "medium", "high", "critical":
		return true
	}
	return false
}

func parseHost(s string) (hostPattern, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return hostPattern{}, errors.New("empty host pattern")
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return hostPattern{prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return hostPattern{addr: a}, nil
	}
	if _, err := path.Match(s, ""); err != nil {
		return hostPattern{}, fmt.Errorf("host pattern %q: %w", s, err)
	}
	return hostPattern{glob: strings.ToLower(s)}, nil
}

func (h hostPattern) match(addr, name string) bool {
	switch {
	case h.prefix.IsValid():
		a, err := netip.ParseAddr(addr)
		return err == nil && h.prefix.Contains(a.Unmap())
	case h.addr.IsValid():
		a, err := netip.ParseAddr(addr)
		return err == nil && a.Unmap() == h.addr.Unmap()
	}
	for _, x := range []string{addr, strings.ToLower(name)} {
		if x == "" {
			continue
		}
		if ok, _ := path.Match(h.glob, x); ok {
			return true
		}
	}
	return false
}

func parseRules(ss []string) ([]portRule, error) {
	var out []portRule
	for _, s := range ss {
		r, err := parseRule(s)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// parseRule reads PORT[/tcp|udp][/SERVICE], "*" for any port, LO-HI for a
// range, or a service name alone.
func parseRule(s string) (portRule, error) {
	r := portRule{text: strings.TrimSpace(s)}
	parts := strings.Split(strings.ToLower(r.text), "/")
	if r.text == "" {
		return r, errors.New("empty rule")
	}
	first := parts[0]
	switch {
	case first == "*" || first == "any":
	case isPortOrRange(first):
		lo, hi, _ := strings.Cut(first, "-")
		r.lo, _ = strconv.Atoi(lo)
		r.hi = r.lo
		if hi != "" {
			r.hi, _ = strconv.Atoi(hi)
		}
		if r.lo < 1 || r.hi > 65535 || r.lo > r.hi {
			return r, fmt.Errorf("%q: port out of range", s)
		}
	default:
		// A service alone: "ssh" (any port). "ssl/http" is a service too.
		parts = append([]string{"*"}, parts...)
	}
	rest := parts[1:]
	if len(rest) > 0 && (rest[0] == "tcp" || rest[0] == "udp") {
		r.transport, rest = rest[0], rest[1:]
	}
	r.service = strings.Join(rest, "/")
	return r, nil
}

func isPortOrRange(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// target is one open port of the scan.
type target struct {
	host, hostname, transport string
	port                      int
	svc                       *fingerprint.Service
}

// names are the ways a rule may name the port's service.
func (t target) names() []string {
	if t.svc == nil || t.svc.Service == "" {
		return nil
	}
	n := strings.ToLower(t.svc.Service)
	if !t.svc.TLS {
		return []string{n}
	}
	out := []string{n, "ssl/" + n, n + "s", "tls/" + n}
	switch n {
	case "smtp":
		out = append(out, "submissions")
	case "domain":
		out = append(out, "domain-s")
	}
	return out
}

func (r portRule) matchPort(t *target) bool {
	if r.lo != 0 && (t.port < r.lo || t.port > r.hi) {
		return false
	}
	if r.transport != "" && r.transport != t.transport {
		return false
	}
	return true
}

// matchService: a rule without a service matches any; with one, the port's
// service must be known and named so.
func (r portRule) matchService(t *target) bool {
	if r.service == "" {
		return true
	}
	for _, n := range t.names() {
		if n == r.service {
			return true
		}
	}
	return false
}

func (r portRule) match(t *target) bool { return r.matchPort(t) && r.matchService(t) }

// Deviation is a policy finding; it marshals as a "finding" record.
type Deviation struct {
	Type      string `json:"type"`   // "finding"
	Source    string `json:"source"` // "policy"
	ID        string `json:"id"`     // "policy/<kind>"
	Kind      string `json:"kind"`   // unexpected-port, denied-port, missing-port, wrong-service, old-version
	Policy    string `json:"policy"`
	Host      string `json:"host"`
	Hostname  string `json:"hostname,omitempty"`
	Port      int    `json:"port,omitempty"`
	Transport string `json:"transport,omitempty"`
	Severity  string `json:"severity"`
	Title     string `json:"title"`
	Observed  string `json:"observed,omitempty"`
	Expected  string `json:"expected,omitempty"`
}

// RecordType and RecordHost make a deviation a scan.Record.
func (d Deviation) RecordType() string { return "finding" }
func (d Deviation) RecordHost() string { return d.Host }

// Deviation kinds.
const (
	Unexpected   = "unexpected-port"
	Denied       = "denied-port"
	Missing      = "missing-port"
	WrongService = "wrong-service"
	OldVersion   = "old-version"
)

// Check returns the deviations of a scan from the policies, sorted by
// host and port.
func (f *File) Check(res *store.Results) []Deviation {
	hosts := map[string]string{} // up hosts -> hostname
	for _, h := range res.Hosts {
		if h.State == "up" {
			hosts[h.Host] = h.Hostname
		}
	}
	ports := map[store.Key]*target{}
	get := func(host, hostname, transport string, port int) *target {
		if transport == "" {
			transport = "tcp"
		}
		k := store.Key{Host: host, Transport: transport, Port: port}
		t, ok := ports[k]
		if !ok {
			t = &target{host: host, hostname: hostname, transport: transport, port: port}
			ports[k] = t
		}
		if _, ok := hosts[host]; !ok {
			hosts[host] = hostname
		}
		return t
	}
	for _, p := range res.Ports {
		if p.State == "open" {
			get(p.Host, p.Hostname, p.Transport, p.Port)
		}
	}
	for _, s := range res.Services {
		if s.State == "" || s.State == "open" {
			get(s.Host, s.Hostname, s.Transport, s.Port).svc = s
		}
	}
	byHost := map[string][]*target{}
	for _, t := range ports {
		byHost[t.host] = append(byHost[t.host], t)
	}
	var out []Deviation
	for host, name := range hosts {
		var apply []*Policy
		for i := range f.Policies {
			p := &f.Policies[i]
			for _, hp := range p.hosts {
				if hp.match(host, name) {
					apply = append(apply, p)
					break
				}
			}
		}
		if len(apply) > 0 {
			out = append(out, checkHost(host, name, byHost[host], apply)...)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Host != b.Host {
			return hostLess(a.Host, b.Host)
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Policy < b.Policy
	})
	return out
}

func checkHost(host, name string, open []*target, apply []*Policy) []Deviation {
	var out []Deviation
	dev := func(p *Policy, t *target, kind, sev, title, observed, expected string) {
		d := Deviation{Type: "finding", Source: "policy", ID: "policy/" + kind, Kind: kind, Policy: p.Name, Host: host, Hostname: name,
			Severity: strings.ToLower(sev), Title: title, Observed: observed, Expected: expected}
		if t != nil {
			d.Port, d.Transport = t.port, t.transport
		}
		out = append(out, d)
	}
	for _, t := range open {
		where := fmt.Sprintf("%d/%s", t.port, t.transport)
		seen := describe(t)
		denied := false
		for _, p := range apply {
			for _, r := range p.deny {
				if r.match(t) {
					dev(p, t, Denied, "high", fmt.Sprintf("%s is open (%s), which %q denies", where, seen, p.Name), seen, "closed ("+r.text+")")
					denied = true
					break
				}
			}
		}
		if denied {
			continue
		}
		// Expected when a rule of an applicable policy names the port and
		// its service; a rule naming the port but another service makes it
		// a wrong service rather than an unexpected port.
		allowed := false
		var portOnly []portRule
		var portOnlyPolicy *Policy
		for _, p := range apply {
			for _, r := range append(append([]portRule{}, p.allow...), p.require...) {
				if r.match(t) {
					allowed = true
				} else if r.matchPort(t) && r.lo != 0 {
					portOnly = append(portOnly, r)
					portOnlyPolicy = p
				}
			}
		}
		if allowed {
			continue
		}
		if len(portOnly) > 0 {
			var want []string
			for _, r := range portOnly {
				want = append(want, r.text)
			}
			dev(portOnlyPolicy, t, WrongService, "medium", fmt.Sprintf("%s runs %s, not what %q expects (%s)", where, seen, portOnlyPolicy.Name, strings.Join(want, ", ")), seen, strings.Join(want, ", "))
			continue
		}
		for _, p := range apply {
			if p.Only {
				dev(p, t, Unexpected, p.Severity, fmt.Sprintf("%s is open (%s): %q allows nothing else than %s", where, seen, p.Name, strings.Join(append(append([]string{}, p.Allow...), p.Require...), ", ")), seen, strings.Join(append(append([]string{}, p.Allow...), p.Require...), ", "))
				break
			}
		}
	}
	for _, p := range apply {
		for _, r := range p.require {
			found := false
			for _, t := range open {
				if r.match(t) {
					found = true
					break
				}
			}
			if !found {
				d := len(out)
				dev(p, nil, Missing, "medium", fmt.Sprintf("%s is not open, which %q requires", r.text, p.Name), "", r.text)
				if r.lo != 0 && r.lo == r.hi {
					out[d].Port = r.lo
					out[d].Transport = r.transport
				}
			}
		}
		for _, pr := range p.Products {
			for _, t := range open {
				if t.svc == nil || !strings.EqualFold(t.svc.Product, pr.Product) || t.svc.Version == "" {
					continue
				}
				if CompareVersions(t.svc.Version, pr.MinVersion) < 0 {
					dev(p, t, OldVersion, pr.Severity, fmt.Sprintf("%s %s on %d/%s is older than %s, the floor of %q", t.svc.Product, t.svc.Version, t.port, t.transport, pr.MinVersion, p.Name),
						t.svc.Product+" "+t.svc.Version, ">= "+pr.MinVersion)
				}
			}
		}
	}
	return out
}

func describe(t *target) string {
	if t.svc == nil {
		return "not identified"
	}
	name := t.svc.Service
	if name == "" {
		name = "unknown service"
	}
	if t.svc.TLS {
		name = "ssl/" + name
	}
	return strings.TrimSpace(name + " " + strings.TrimSpace(t.svc.Product+" "+t.svc.Version))
}

// CompareVersions orders version strings by their numeric and alphabetic
// runs ("9.2p1" > "9.0", "1.10" > "1.9", "2.4.9" < "2.4.41"); it returns
// -1, 0 or 1.
func CompareVersions(a, b string) int {
	x, y := chunks(a), chunks(b)
	for i := 0; i < len(x) || i < len(y); i++ {
		if i >= len(x) {
			return -1
		}
		if i >= len(y) {
			return 1
		}
		p, q := x[i], y[i]
		pn, perr := strconv.Atoi(p)
		qn, qerr := strconv.Atoi(q)
		switch {
		case perr == nil && qerr == nil:
			if pn != qn {
				return cmp(pn, qn)
			}
		case perr == nil: // a number ranks above a letter run ("1.0" > "1.rc")
			return 1
		case qerr == nil:
			return -1
		default:
			if c := strings.Compare(p, q); c != 0 {
				return c
			}
		}
	}
	return 0
}

func cmp(a, b int) int {
	if a < b {
		return -1
	}
	return 1
}

// chunks splits "9.2p1" into 9, 2, p, 1.
func chunks(v string) []string {
	var out []string
	cur := ""
	kind := 0 // 1 digit, 2 letter
	for _, c := range strings.ToLower(v) {
		k := 0
		switch {
		case c >= '0' && c <= '9':
			k = 1
		case c >= 'a' && c <= 'z':
			k = 2
		}
		if k != kind && cur != "" {
			out = append(out, cur)
			cur = ""
		}
		kind = k
		if k != 0 {
			cur += string(c)
		}
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

func hostLess(a, b string) bool {
	x, e1 := netip.ParseAddr(a)
	y, e2 := netip.ParseAddr(b)
	if e1 == nil && e2 == nil {
		return x.Less(y)
	}
	return a < b
}
