package fingerprint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// RuleFile is the YAML document of a rule file (docs/rules.md).
type RuleFile struct {
	Fingerprints []Rule `yaml:"fingerprints"`
}

// Rule identifies one product from evidence. Any matching pattern identifies it.
type Rule struct {
	Name     string    `yaml:"name"`
	Product  string    `yaml:"product"`
	Vendor   string    `yaml:"vendor"`
	Category string    `yaml:"category"`
	Service  string    `yaml:"service"`
	Role     string    `yaml:"role"`
	CPE      string    `yaml:"cpe"`
	Requires []string  `yaml:"requires"`
	OS       string    `yaml:"os"`
	Patterns []Pattern `yaml:"patterns"`
	Examples []Example `yaml:"examples"`

	source string // file the rule came from, for error messages
}

// Pattern is one way of recognising a rule's product.
type Pattern struct {
	Type         string `yaml:"type"`
	Field        string `yaml:"field"`
	Header       string `yaml:"header"`
	Probe        string `yaml:"probe"`
	Regex        string `yaml:"regex"`
	VersionGroup int    `yaml:"version_group"`
	Confidence   int    `yaml:"confidence"`
	OS           string `yaml:"os"`
	OSVersion    string `yaml:"os_version"`
	Version      string `yaml:"version"`
	Info         string `yaml:"info"`
	Device       string `yaml:"device"`
	Hostname     string `yaml:"hostname"`
	CPE          string `yaml:"cpe"`
	OSGroup      int    `yaml:"os_group"`
	OSVersionGrp int    `yaml:"os_version_group"`
	// Dialect selects the regex engine: "" or "re2" (Go regexp, default),
	// or one a loader registered ("pcre" for recog and nmap rules).
	Dialect string `yaml:"dialect"`
}

// Example is a rule's own test: evidence fields in, identification out.
type Example struct {
	Fields  map[string]string `yaml:"fields"`
	Banner  string            `yaml:"banner"`
	Product string            `yaml:"product"`
	Version string            `yaml:"version"`
	OS      string            `yaml:"os"`
	Info    string            `yaml:"info"`
}

// ParseRules reads one rule file. Unknown keys are errors, so that a typo in a
// custom rule does not silently produce a rule that never matches.
func ParseRules(r io.Reader, source string) ([]Rule, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f RuleFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	for i := range f.Fingerprints {
		f.Fingerprints[i].source = source
	}
	return f.Fingerprints, nil
}

// Regex is what the matcher needs of a compiled regular expression. Go's
// *regexp.Regexp satisfies it; sources written for backtracking engines
// (recog, nmap-service-probes) plug in an adapter, so they still go through
// the one matcher.
type Regex interface {
	// FindStringSubmatchIndex returns byte offsets as regexp does.
	FindStringSubmatchIndex(s string) []int
	// SubexpIndex returns the index of a named group, or -1.
	SubexpIndex(name string) int
}

// RegexCompiler compiles a pattern's regex for a given dialect.
type RegexCompiler func(expr string) (Regex, error)

func compileRE2(e string) (Regex, error) { return regexp.Compile(e) }

// compiledPattern is a pattern ready to run: its regex, the fields it reads
// and a literal that must occur in the text for the regex to have a chance.
type compiledPattern struct {
	rule    *compiledRule
	pat     Pattern
	re      Regex
	fields  []string
	literal string // "" when no mandatory literal could be derived
	fold    bool   // literal compared case-insensitively
	// anyOf, when set (and literal is not), lists literals one of which
	// every match contains (from alternations such as (nginx|openresty)).
	anyOf []string
}

type compiledRule struct {
	Rule
	patterns []*compiledPattern
}

// fieldsFor maps a pattern type onto the evidence fields it reads.
func fieldsFor(p Pattern) ([]string, error) {
	switch p.Type {
	case "banner":
		return []string{"banner"}, nil
	case "ssh_banner":
		return []string{"ssh.banner"}, nil
	case "http_header":
		if p.Header == "" {
			return nil, errors.New("http_header pattern needs header:")
		}
		h := strings.ToLower(p.Header)
		return []string{"http.header." + h, "http.404.header." + h}, nil
	case "http_content":
		return []string{"http.body", "http.title", "http.404.body"}, nil
	case "tls_cert":
		return []string{"tls.cert.subject", "tls.cert.issuer", "tls.cert.san"}, nil
	case "field":
		if p.Field == "" {
			return nil, errors.New("field pattern needs field:")
		}
		return []string{p.Field}, nil
	case "response":
		// probe: may list several probes ("GetRequest,HTTPOptions"): one
		// pattern for the answers to all of them (nmap's fallbacks).
		var out []string
		for _, name := range strings.Split(p.Probe, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, "probe."+name)
			}
		}
		if len(out) == 0 {
			return nil, errors.New("response pattern needs probe:")
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown pattern type %q (want banner, ssh_banner, http_header, http_content, tls_cert, field or response)", p.Type)
}

func compileRule(r Rule, dialects map[string]RegexCompiler) (*compiledRule, error) {
	if r.Name == "" {
		return nil, errors.New("rule without name")
	}
	if r.Product == "" && r.Service == "" {
		// A rule without a product only names the service (nmap match
		// lines without p/).
		return nil, fmt.Errorf("rule %q: no product (or service)", r.Name)
	}
	if len(r.Patterns) == 0 {
		return nil, fmt.Errorf("rule %q: no patterns", r.Name)
	}
	cr := &compiledRule{Rule: r}
	for i, p := range r.Patterns {
		fields, err := fieldsFor(p)
		if err != nil {
			return nil, fmt.Errorf("rule %q pattern %d: %w", r.Name, i+1, err)
		}
		compile, ok := dialects[p.Dialect]
		if !ok {
			return nil, fmt.Errorf("rule %q pattern %d: unknown regex dialect %q", r.Name, i+1, p.Dialect)
		}
		re, err := compile(p.Regex)
		if err != nil {
			return nil, fmt.Errorf("rule %q pattern %d: bad regex: %w", r.Name, i+1, err)
		}
		if p.Confidence == 0 {
			p.Confidence = 80
		}
		if p.Confidence < 0 || p.Confidence > 100 {
			return nil, fmt.Errorf("rule %q pattern %d: confidence %d outside 0-100", r.Name, i+1, p.Confidence)
		}
		cp := &compiledPattern{rule: cr, pat: p, re: re, fields: fields}
		if p.Dialect == "" || p.Dialect == "re2" {
			cp.literal, cp.fold = requiredLiteral(p.Regex)
			if cp.literal == "" {
				cp.anyOf, cp.fold = requiredAlternatives(p.Regex)
			}
		} else if isBacktrackingDialect(p.Dialect) {
			cp.literal, cp.fold = pcreLiteral(p.Regex)
		}
		cr.patterns = append(cr.patterns, cp)
	}
	return cr, nil
}

// requiredAlternatives derives a small set of literals one of which every
// match must contain, looking through groups, repetitions of at least one
// and alternations. It returns nil when it cannot be sure. Literals are
// lower-cased (and fold is true) when any part is case-insensitive.
func requiredAlternatives(expr string) ([]string, bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, false
	}
	re = re.Simplify()
	fold := false
	var walk func(r *syntax.Regexp) []string
	walk = func(r *syntax.Regexp) []string {
		switch r.Op {
		case syntax.OpLiteral:
			if r.Flags&syntax.FoldCase != 0 {
				fold = true
			}
			return []string{string(r.Rune)}
		case syntax.OpCapture, syntax.OpPlus:
			return walk(r.Sub[0])
		case syntax.OpRepeat:
			if r.Min >= 1 {
				return walk(r.Sub[0])
			}
		case syntax.OpConcat:
			var best []string
			for _, sub := range r.Sub {
				set := walk(sub)
				if set != nil && (best == nil || shortest(set) > shortest(best)) {
					best = set
				}
			}
			return best
		case syntax.OpAlternate:
			var all []string
			for _, sub := range r.Sub {
				set := walk(sub)
				if set == nil {
					return nil
				}
				all = append(all, set...)
			}
			return all
		}
		return nil
	}
	set := walk(re)
	if len(set) == 0 || len(set) > 16 || shortest(set) < 3 {
		return nil, false
	}
	if fold {
		for i := range set {
			set[i] = strings.ToLower(set[i])
		}
	}
	return set, fold
}

func shortest(set []string) int {
	n := -1
	for _, s := range set {
		if n < 0 || len(s) < n {
			n = len(s)
		}
	}
	return n
}

// requiredLiteral finds the longest literal that every match of the regex
// must contain: the cheap prefilter run before the regex itself.
func requiredLiteral(expr string) (string, bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return "", false
	}
	re = re.Simplify()
	best, fold := "", false
	consider := func(r *syntax.Regexp) {
		if r.Op == syntax.OpLiteral && len(string(r.Rune)) > len(best) {
			best, fold = string(r.Rune), r.Flags&syntax.FoldCase != 0
		}
	}
	switch re.Op {
	case syntax.OpLiteral:
		consider(re)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			consider(s)
		}
	}
	if len(best) < 3 {
		return "", false
	}
	if fold {
		best = strings.ToLower(best)
	}
	return best, fold
}

// Match is one rule's hit on the evidence.
type Match struct {
	Rule       string
	Product    string
	Version    string
	Info       string
	OS         string
	OSVersion  string
	Device     string
	Hostname   string
	Role       string
	Category   string
	Service    string
	CPE        string
	Confidence int
	Source     string // pattern type that matched (banner, http_header...)
	Field      string // evidence field that matched
	Evidence   string // the matched text, trimmed
}

// match runs the pattern on one field's text. lower returns the text in
// lower case, computed once per field and Match call (the fold prefilter).
func (cp *compiledPattern) match(field, text string, lower func() string) (Match, bool) {
	if cp.literal != "" {
		if cp.fold {
			if !strings.Contains(lower(), cp.literal) {
				return Match{}, false
			}
		} else if !strings.Contains(text, cp.literal) {
			return Match{}, false
		}
	} else if len(cp.anyOf) > 0 {
		hay := text
		if cp.fold {
			hay = lower()
		}
		found := false
		for _, l := range cp.anyOf {
			if strings.Contains(hay, l) {
				found = true
				break
			}
		}
		if !found {
			return Match{}, false
		}
	}
	idx := cp.re.FindStringSubmatchIndex(text)
	if idx == nil {
		return Match{}, false
	}
	return cp.build(text, idx, field), true
}

func (cp *compiledPattern) build(text string, idx []int, field string) Match {
	r, p := cp.rule, cp.pat
	rawGroup := func(i int) string {
		if i <= 0 || 2*i+1 >= len(idx) || idx[2*i] < 0 {
			return ""
		}
		return text[idx[2*i]:idx[2*i+1]]
	}
	group := func(i int) string { return strings.TrimSpace(rawGroup(i)) }
	named := func(name string) string {
		if i := cp.re.SubexpIndex(name); i > 0 {
			return group(i)
		}
		return ""
	}
	expand := func(tmpl string) string {
		if !strings.Contains(tmpl, "{") {
			return tmpl
		}
		var b strings.Builder
		for i := 0; i < len(tmpl); i++ {
			if tmpl[i] == '{' {
				if v, n, ok := templateCall(tmpl[i:], rawGroup); ok {
					b.WriteString(v)
					i += n - 1
					continue
				}
				if j := strings.IndexByte(tmpl[i:], '}'); j > 0 {
					key := tmpl[i+1 : i+j]
					if n, err := strconv.Atoi(key); err == nil {
						b.WriteString(group(n))
					} else if key == "version" && cp.re.SubexpIndex("version") <= 0 {
						b.WriteString(group(p.VersionGroup))
					} else {
						b.WriteString(named(key))
					}
					i += j
					continue
				}
			}
			b.WriteByte(tmpl[i])
		}
		return strings.TrimSpace(b.String())
	}
	m := Match{
		Rule: r.Name, Product: r.Product, Role: r.Role, Category: r.Category, Service: r.Service,
		Confidence: p.Confidence, Source: p.Type, Field: field,
	}
	if m.Role == "" {
		m.Role = "server"
	}
	switch {
	case p.Version != "":
		m.Version = expand(p.Version)
	case named("version") != "":
		m.Version = named("version")
	case p.VersionGroup > 0:
		m.Version = group(p.VersionGroup)
	}
	m.Info = expand(p.Info)
	if m.Info == "" {
		m.Info = named("info")
	}
	m.OS = firstNonEmpty(named("os"), group(p.OSGroup), expand(p.OS), r.OS)
	m.OSVersion = firstNonEmpty(named("os_version"), group(p.OSVersionGrp), expand(p.OSVersion))
	m.Device = firstNonEmpty(named("device"), expand(p.Device))
	m.Hostname = firstNonEmpty(named("hostname"), expand(p.Hostname))
	if strings.Contains(m.Product, "{") {
		m.Product = expand(m.Product)
	}
	cpe := p.CPE
	if cpe == "" {
		cpe = r.CPE
	}
	if cpe != "" {
		v := m.Version
		if v == "" {
			v = "*"
		}
		m.CPE = strings.ReplaceAll(expand(strings.ReplaceAll(cpe, "{version}", cpeEscape(v))), " ", "_")
	}
	ev := text[idx[0]:idx[1]]
	if len(ev) > 200 {
		ev = ev[:200]
	}
	m.Evidence = strings.TrimSpace(printable(ev))
	return m
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func cpeEscape(v string) string {
	if v == "*" {
		return v
	}
	var b strings.Builder
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('\\')
			b.WriteRune(r)
		}
	}
	return b.String()
}

// printable makes evidence safe to show on a terminal.
func printable(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch {
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
