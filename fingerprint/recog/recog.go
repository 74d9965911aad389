// Package recog loads Rapid7's recog fingerprint databases (BSD-2-Clause)
// into portrait's rule catalog: every recog <fingerprint> becomes one
// fingerprint.Rule run by the same matcher as the YAML rules, on the
// evidence field the protocol modules produce for the database's text.
//
// Conversion:
//
//   - database "matches" (or file name) → evidence field, pattern type and
//     view (fields.go): ssh.banner → ssh.banner without "SSH-2.0-", ftp/smtp
//     banners without reply codes, pop3/imap greetings without "+OK"/"* OK",
//     http_header.* → http.header.*, html_title → http.title, x509.* →
//     tls.cert.*, telnet → telnet.banner, mysql.banners → mysql.version,
//     dns.versionbind → dns.version_bind, smb.native_os/lm → smb.native_*.
//     Databases without a field are skipped and listed in the Report.
//   - pattern + flags → a Ruby-semantics regex (dialect "recog" or
//     "recog:<view>", fingerprint.Ruby): REG_ICASE → (?i); REG_DOT_NEWLINE,
//     REG_MULTILINE, REG_LINE_ANY_CRLF → Ruby (?m), i.e. dot-all.
//   - params: the rule's role comes from what it names: service.product or
//     service.family → server, else os.* → os, else hw.* → device, else
//     service.component.* → component. Product is that product, renamed
//     to nmap's naming where portrait's builtin rules use it (Apache HTTPD
//     → "Apache httpd", so both catalogs merge into one product), else
//     prefixed by its vendor unless the name already carries it ("Microsoft
//     Exchange Server"); when recog captures the product name, the rule's
//     product is the family or vendor and the captured name goes to Info.
//     Version ← <role>.version, OS ← os.product/os.family (a distribution
//     rather than "Linux" when os.vendor names one), OS version ←
//     os.version, device ←
//     hw.device, CPE ← <role>.cpe23 rewritten to CPE 2.3, pos>0 params are
//     capture groups ({N} templates), {param} references are interpolated.
//   - certainty (fingerprint attribute or <role>.certainty param, default
//     1.0) → confidence = round(50 + 30×certainty): 80 for a certain recog
//     match, below the 90-95 of portrait's own rules for the same products
//     and never above 85, so recog names a product only where the builtin
//     rules have nothing to say.
//   - rule names are "recog:<database>:<slug of the description>".
//   - every <example> becomes a rule example: its text rendered as the
//     module would write the field, expecting the asserted version and OS.
package recog

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// Options tune a load.
type Options struct {
	// Source names the data in rule sources and reports ("recog-go v0.1.0",
	// a directory).
	Source string
	// IncludeUnmapped also loads the databases that have no evidence field,
	// on a field "recog.<matches>" no module produces: used by tests to
	// check every pattern and example, never by scans.
	IncludeUnmapped bool
}

// Report says what a load did.
type Report struct {
	Source    string
	Databases []DatabaseReport
	Loaded    int // databases loaded
	Skipped   int // databases skipped (no evidence field)
	Rules     int // rules produced
	Examples  int // examples carried by those rules
	Dropped   int // fingerprints that could not become rules (see Problems)
	Shields   int // fingerprints that name nothing, kept as vetoes on later rules
	Problems  []string
}

// DatabaseReport is one XML file's outcome.
type DatabaseReport struct {
	File     string
	Matches  string
	Field    string // evidence field, "" when skipped
	Rules    int
	Examples int
	Dropped  int
	Shields  int
	Skipped  string // why the database was not loaded
}

// Database is one parsed recog XML file.
type Database struct {
	File         string
	Matches      string        `xml:"matches,attr"`
	Protocol     string        `xml:"protocol,attr"`
	DatabaseType string        `xml:"database_type,attr"`
	Preference   string        `xml:"preference,attr"`
	Fingerprints []Fingerprint `xml:"fingerprint"`
}

// Key is what maps the database onto a source: its matches attribute, or
// its file name when it has none.
func (d *Database) Key() string {
	if d.Matches != "" {
		return d.Matches
	}
	return strings.TrimSuffix(path.Base(d.File), ".xml")
}

// Fingerprint is one recog <fingerprint>.
type Fingerprint struct {
	Pattern     string    `xml:"pattern,attr"`
	Flags       string    `xml:"flags,attr"`
	Certainty   string    `xml:"certainty,attr"`
	Description string    `xml:"description"`
	Examples    []Example `xml:"example"`
	Params      []Param   `xml:"param"`
}

// Example is one <example>: the text and the params it asserts.
type Example struct {
	Text  string     `xml:",chardata"`
	Attrs []xml.Attr `xml:",any,attr"`
}

// Param is one <param>: a static value (pos 0, may reference other params
// as {name}) or a capture group (pos > 0).
type Param struct {
	Pos   int    `xml:"pos,attr"`
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// ParseDatabase reads one recog XML file.
func ParseDatabase(name string, b []byte) (*Database, error) {
	var db Database
	if err := xml.Unmarshal(b, &db); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	db.File = name
	return &db, nil
}

// Text returns the example's text, base64-decoded when it says so, and
// the params it asserts (attributes not starting with "_").
func (e Example) Decode() (text string, asserts map[string]string, err error) {
	text = e.Text
	asserts = map[string]string{}
	for _, a := range e.Attrs {
		switch {
		case a.Name.Local == "_encoding":
			if a.Value != "base64" {
				return "", nil, fmt.Errorf("unknown example encoding %q", a.Value)
			}
			b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(e.Text), ""))
			if err != nil {
				return "", nil, fmt.Errorf("example: %w", err)
			}
			text = fingerprint.Latin1(b)
		case a.Name.Local == "_filename":
			return "", nil, fmt.Errorf("example in an external file (%s) is not supported", a.Value)
		case strings.HasPrefix(a.Name.Local, "_"):
		default:
			asserts[a.Name.Local] = a.Value
		}
	}
	return text, asserts, nil
}

// ReadDatabases parses every *.xml file at the top of fsys (sorted by
// name). Files are parsed concurrently: XML decoding is most of a load.
func ReadDatabases(fsys fs.FS) ([]*Database, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("recog: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".xml") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("recog: no .xml databases found")
	}
	sort.Strings(names)
	dbs := make([]*Database, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			b, err := fs.ReadFile(fsys, name)
			if err == nil {
				dbs[i], err = ParseDatabase(name, b)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("recog: %w", err)
		}
	}
	return dbs, nil
}

// Rules converts databases into rules.
func Rules(dbs []*Database, opts Options) ([]fingerprint.Rule, Report) {
	rep := Report{Source: opts.Source}
	var rules []fingerprint.Rule
	for _, db := range dbs {
		dr := DatabaseReport{File: db.File, Matches: db.Matches}
		src, ok := sourceFor(db, opts)
		if !ok {
			dr.Skipped = skipReason(db)
			rep.Skipped++
			rep.Databases = append(rep.Databases, dr)
			continue
		}
		dr.Field = src.field
		for _, c := range convertDB(db, src) {
			switch {
			case c.shield:
				dr.Shields++
			case c.err != nil:
				dr.Dropped++
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s fingerprint %d (%q): %v", db.File, c.index+1, c.fp.Description, c.err))
			default:
				dr.Rules++
				dr.Examples += len(c.rule.Examples)
				rules = append(rules, c.rule)
			}
		}
		rep.Shields += dr.Shields
		rep.Loaded++
		rep.Rules += dr.Rules
		rep.Examples += dr.Examples
		rep.Dropped += dr.Dropped
		rep.Databases = append(rep.Databases, dr)
	}
	return rules, rep
}

func sourceFor(db *Database, opts Options) (source, bool) {
	if s, ok := sources[db.Key()]; ok {
		return s, true
	}
	if !opts.IncludeUnmapped {
		return source{}, false
	}
	return source{field: "recog." + db.Key(), typ: "field", category: db.Protocol}, true
}

func skipReason(db *Database) string {
	if r, ok := unmapped[db.Key()]; ok {
		return r
	}
	return fmt.Sprintf("no evidence field for %q", db.Key())
}

// converted is one fingerprint's conversion.
type converted struct {
	index  int
	fp     *Fingerprint
	rule   fingerprint.Rule
	err    error
	shield bool // names nothing: a veto on the rules after it
}

// convertDB converts a database's fingerprints in order. Fingerprints that
// name nothing stop recog's first-match search, so they shield the rules
// after them: each rule carries the earlier shields as vetoes.
func convertDB(db *Database, src source) []converted {
	used := map[string]int{}
	var unless []string
	out := make([]converted, 0, len(db.Fingerprints))
	for i := range db.Fingerprints {
		f := &db.Fingerprints[i]
		c := converted{index: i, fp: f}
		if isShield(f) {
			c.shield = true
			expr := flagPrefix(f.Flags) + f.Pattern
			if _, err := compilerFor(src)(expr); err == nil {
				unless = append(unless, expr)
			}
		} else {
			c.rule, c.err = convert(db, f, src, used, unless)
		}
		out = append(out, c)
	}
	return out
}

// Load parses every database of fsys and adds the rules to cat (the recog
// dialects are registered first). Fingerprints that fail to compile are
// dropped and listed in the report; an error is returned only when the
// data cannot be read at all or a rule name collides.
func Load(cat *fingerprint.Catalog, fsys fs.FS, opts Options) (Report, error) {
	dbs, err := ReadDatabases(fsys)
	if err != nil {
		return Report{Source: opts.Source}, err
	}
	rules, rep := Rules(dbs, opts)
	Dialects(cat)
	// Compile one by one so a bad pattern drops only its rule.
	kept := 0
	for _, r := range rules {
		if err := cat.Add(r); err != nil {
			if strings.Contains(err.Error(), "defined twice") {
				return rep, err
			}
			rep.Problems = append(rep.Problems, err.Error())
			rep.Dropped++
			rep.Rules--
			rep.Examples -= len(r.Examples)
			for i := range rep.Databases {
				if strings.HasPrefix(r.Name, "recog:"+dbStem(rep.Databases[i].File)+":") {
					rep.Databases[i].Rules--
					rep.Databases[i].Dropped++
					rep.Databases[i].Examples -= len(r.Examples)
				}
			}
			continue
		}
		kept++
	}
	return rep, nil
}

func dbStem(file string) string { return strings.TrimSuffix(path.Base(file), ".xml") }

// Summary is a one-line account of the report.
func (r Report) Summary() string {
	return fmt.Sprintf("%s: %d databases loaded, %d skipped, %d rules, %d examples, %d shields, %d fingerprints dropped",
		r.Source, r.Loaded, r.Skipped, r.Rules, r.Examples, r.Shields, r.Dropped)
}

// String lists every database with its outcome.
func (r Report) String() string {
	var b bytes.Buffer
	fmt.Fprintln(&b, r.Summary())
	for _, d := range r.Databases {
		if d.Skipped != "" {
			fmt.Fprintf(&b, "  skipped %-28s %s\n", d.File, d.Skipped)
			continue
		}
		fmt.Fprintf(&b, "  loaded  %-28s → %-30s %4d rules %5d examples", d.File, d.Field, d.Rules, d.Examples)
		if d.Dropped > 0 {
			fmt.Fprintf(&b, " (%d dropped)", d.Dropped)
		}
		b.WriteByte('\n')
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  problem: %s\n", p)
	}
	return b.String()
}

// certainty parses a recog certainty ("0.8", ".80"); default 1.
func certainty(s string) float64 {
	if s == "" {
		return 1
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f > 1 {
		return 1
	}
	return f
}
