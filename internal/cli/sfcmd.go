package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// maxInput caps what from-sf and gaps read from one file.
const maxInput = 256 << 20

func newFromSFCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "from-sf FILE",
		Short: "Turn SF service fingerprints into rule skeletons (YAML)",
		Long: `from-sf reads the service fingerprints (SF-Port...) in FILE, as nmap prints them or as
portrait writes them (the "fingerprint" of a scan's JSONL records), and writes one rule
skeleton per fingerprint in the rule format (docs/rules.md): a banner or response
pattern anchored on the answer's first bytes, and the answer itself as the rule's
example. Edit the name, product and service, widen the regex where the answer varies,
capture the version, then check with: portrait fingerprint validate RULES.yaml
FILE "-" reads standard input.`,
		Example: `  portrait fingerprint from-sf nmap-output.txt > my-rules.yaml
  portrait fingerprint from-sf scan.jsonl > my-rules.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readInput(args[0])
			if err != nil {
				return err
			}
			fps, bad := fingerprintsIn(data)
			for _, e := range bad {
				fmt.Fprintf(g.stderr, "warning: %v\n", e)
			}
			if len(fps) == 0 {
				return usagef("%s: no SF fingerprint found", args[0])
			}
			out, err := ruleSkeletons(fps)
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(out)
			return err
		},
	}
}

func readInput(name string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxInput {
		return nil, usagef("%s: larger than %d MiB", name, maxInput>>20)
	}
	return data, nil
}

// sfItem is one fingerprint and where it came from.
type sfItem struct {
	fp   *fingerprint.SFPrint
	host string
	port int
}

// fingerprintsIn finds fingerprints in scan JSONL records ("fingerprint"
// fields) and in plain text (nmap's output, bare fingerprints).
func fingerprintsIn(data []byte) ([]sfItem, []error) {
	var items []sfItem
	var errs []error
	var text bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxInput)
	for sc.Scan() {
		line := sc.Bytes()
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) > 0 && trimmed[0] == '{' {
			var rec struct {
				Host        string `json:"host"`
				Port        int    `json:"port"`
				Fingerprint string `json:"fingerprint"`
			}
			if json.Unmarshal(trimmed, &rec) == nil {
				if rec.Fingerprint != "" {
					fp, err := fingerprint.ParseSF(rec.Fingerprint)
					if err != nil {
						errs = append(errs, fmt.Errorf("%s:%d: %w", rec.Host, rec.Port, err))
						continue
					}
					items = append(items, sfItem{fp: fp, host: rec.Host, port: rec.Port})
				}
				continue
			}
		}
		text.Write(line)
		text.WriteByte('\n')
	}
	for _, part := range splitReports(text.String()) {
		fps, bad := fingerprint.FindSFs(part.text)
		for _, fp := range fps {
			items = append(items, sfItem{fp: fp, host: part.host, port: fp.Port})
		}
		errs = append(errs, bad...)
	}
	return items, errs
}

type nmapReport struct{ host, text string }

// splitReports cuts nmap's normal output at each "Nmap scan report for"
// line, so fingerprints know their host; text without one is one part.
func splitReports(text string) []nmapReport {
	var out []nmapReport
	cur := nmapReport{}
	for _, line := range strings.SplitAfter(text, "\n") {
		if h, ok := strings.CutPrefix(line, "Nmap scan report for "); ok {
			out = append(out, cur)
			h = strings.TrimSpace(h)
			if i := strings.LastIndex(h, "("); i >= 0 && strings.HasSuffix(h, ")") {
				h = h[i+1 : len(h)-1] // "name (address)"
			}
			cur = nmapReport{host: h}
			continue
		}
		cur.text += line
	}
	return append(out, cur)
}

// pickResponse chooses the answer a rule is best written from: the
// banner (the service spoke first: nothing we sent shaped it), else the
// first answer.
func pickResponse(fp *fingerprint.SFPrint) fingerprint.SFResponse {
	for _, r := range fp.Responses {
		if r.Probe == "NULL" && len(r.Data) > 0 {
			return r
		}
	}
	for _, r := range fp.Responses {
		if len(r.Data) > 0 {
			return r
		}
	}
	return fingerprint.SFResponse{}
}

// literalPrefix is the part of an answer a skeleton anchors on: its first
// line when short, else its first 32 bytes; cut before the first digit
// when that leaves 6 bytes or more (versions, dates and counters vary
// between instances of one product).
func literalPrefix(b []byte) []byte {
	const maxLine, maxBytes, minCut = 64, 32, 6
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i < maxLine {
		b = b[:i+1]
	} else if len(b) > maxBytes {
		b = b[:maxBytes]
	}
	if i := bytes.IndexAny(b, "0123456789"); i >= minCut {
		b = b[:i]
	}
	return b
}

// quoteRegex writes bytes as a Go (RE2) regex literal over Latin-1 text.
func quoteRegex(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		switch {
		case strings.IndexByte(`\.+*?()|[]{}^$`, c) >= 0:
			s.WriteByte('\\')
			s.WriteByte(c)
		case c == '\r':
			s.WriteString(`\r`)
		case c == '\n':
			s.WriteString(`\n`)
		case c == '\t':
			s.WriteString(`\t`)
		case c >= 0x20 && c < 0x7f:
			s.WriteByte(c)
		default:
			fmt.Fprintf(&s, `\x%02x`, c)
		}
	}
	return s.String()
}

// ruleSkeletons writes one rule per fingerprint, checked against its own
// example before it is printed.
func ruleSkeletons(items []sfItem) ([]byte, error) {
	var rules []skelRule
	names := map[string]int{}
	for _, it := range items {
		resp := pickResponse(it.fp)
		if len(resp.Data) == 0 {
			continue
		}
		name := fmt.Sprintf("custom-%d-%s", it.fp.Port, strings.ToLower(sanitizeName(resp.Probe)))
		if names[name]++; names[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, names[name])
		}
		p := skelPattern{Regex: "^" + quoteRegex(literalPrefix(resp.Data)), Confidence: 80}
		ex := skelExample{Product: "TODO"}
		text := fingerprint.Latin1(resp.Data)
		switch {
		case resp.Probe == "NULL" && it.fp.TLS:
			p.Type, p.Field = "field", "tls.banner"
			ex.Fields = map[string]string{"tls.banner": text}
		case resp.Probe == "NULL":
			p.Type = "banner"
			ex.Banner = text
		default:
			p.Type, p.Probe = "response", resp.Probe
			ex.Fields = map[string]string{"probe." + resp.Probe: text}
		}
		rules = append(rules, skelRule{Name: name, Product: "TODO", Category: "unknown",
			Patterns: []skelPattern{p}, Examples: []skelExample{ex}})
	}
	if len(rules) == 0 {
		return nil, usagef("the fingerprints hold no response data")
	}
	var buf bytes.Buffer
	buf.WriteString("# Rule skeletons made by portrait fingerprint from-sf. For each rule: name the\n" +
		"# product (nmap's naming where nmap has one), set category and service, widen the\n" +
		"# regex where the answer varies and capture the version ((?P<version>...)), then\n" +
		"# run: portrait fingerprint validate THIS_FILE\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(struct {
		Fingerprints []skelRule `yaml:"fingerprints"`
	}{rules}); err != nil {
		return nil, err
	}
	// The skeletons must load, and each must identify its own example.
	parsed, err := fingerprint.ParseRules(bytes.NewReader(buf.Bytes()), "from-sf")
	if err != nil {
		return nil, fmt.Errorf("generated rules do not parse: %w", err)
	}
	cat := fingerprint.NewCatalog()
	if err := cat.Add(parsed...); err != nil {
		return nil, fmt.Errorf("generated rules do not compile: %w", err)
	}
	if _, failures := cat.CheckExamples(); len(failures) > 0 {
		return nil, fmt.Errorf("generated rule fails its example: %v", failures[0])
	}
	return buf.Bytes(), nil
}

// The skeleton's YAML: the keys of docs/rules.md a new rule needs, and
// nothing empty.
type skelRule struct {
	Name     string        `yaml:"name"`
	Product  string        `yaml:"product"`
	Category string        `yaml:"category"`
	Patterns []skelPattern `yaml:"patterns"`
	Examples []skelExample `yaml:"examples"`
}

type skelPattern struct {
	Type       string `yaml:"type"`
	Field      string `yaml:"field,omitempty"`
	Probe      string `yaml:"probe,omitempty"`
	Regex      string `yaml:"regex"`
	Confidence int    `yaml:"confidence"`
}

type skelExample struct {
	Banner  string            `yaml:"banner,omitempty"`
	Fields  map[string]string `yaml:"fields,omitempty"`
	Product string            `yaml:"product"`
}

func sanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

func newGapsCmd(g *globals) *cobra.Command {
	var format string
	var prefix int
	cmd := &cobra.Command{
		Use:   "gaps FILE...",
		Short: "List the answers no rule identified, grouped by similarity, most common first",
		Long: `gaps reads scan results (portrait's JSONL, or nmap's normal output) and lists the
unidentified services: the ports that carry a service fingerprint. Answers are grouped
by the probe that drew them and their first bytes with every digit run made 0, so
the same unknown service on many hosts (or in several versions) is one line; the
most common gaps come first. Write a rule for one with:
  portrait fingerprint from-sf FILE`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usagef("invalid -o %q (want table or json)", format)
			}
			if prefix < 4 || prefix > 256 {
				return usagef("--prefix must be 4-256 bytes")
			}
			var items []sfItem
			for _, name := range args {
				data, err := readInput(name)
				if err != nil {
					return err
				}
				its, bad := fingerprintsIn(data)
				for _, e := range bad {
					fmt.Fprintf(g.stderr, "warning: %s: %v\n", name, e)
				}
				items = append(items, its...)
			}
			groups := groupGaps(items, prefix)
			if format == "json" {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(groups)
			}
			if len(groups) == 0 {
				fmt.Fprintln(g.stdout, "no unidentified services")
				return nil
			}
			fmt.Fprintf(g.stdout, "%5s  %-20s %-50s %s\n", "PORTS", "PROBE", "ANSWER STARTS", "WHERE")
			for _, gr := range groups {
				where := strings.Join(gr.Where, " ")
				if len(gr.Where) > 4 {
					where = strings.Join(gr.Where[:4], " ") + fmt.Sprintf(" (+%d)", len(gr.Where)-4)
				}
				fmt.Fprintf(g.stdout, "%5d  %-20s %-50s %s\n", gr.Count, gr.Probe, gr.Sample, where)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table or json")
	cmd.Flags().IntVar(&prefix, "prefix", 16, "bytes of the answer that make two answers alike")
	return cmd
}

// gapGroup is a set of unidentified services that answered alike.
type gapGroup struct {
	Count  int      `json:"count"`
	Probe  string   `json:"probe"`
	Key    string   `json:"key"`    // the normalised answer start the group shares
	Sample string   `json:"sample"` // the first member's answer start, escaped
	Where  []string `json:"where"`  // host:port (or :port) of every member
}

// groupGaps groups fingerprints by their chosen answer: the probe and the
// first prefix bytes with digit runs collapsed to "0" (versions, dates,
// lengths and ports vary between instances of one product).
func groupGaps(items []sfItem, prefix int) []*gapGroup {
	byKey := map[string]*gapGroup{}
	var order []*gapGroup
	for _, it := range items {
		resp := pickResponse(it.fp)
		if len(resp.Data) == 0 {
			continue
		}
		key := resp.Probe + "\x00" + string(normalizeAnswer(resp.Data, prefix))
		gr := byKey[key]
		if gr == nil {
			start := resp.Data
			if len(start) > 32 {
				start = start[:32]
			}
			gr = &gapGroup{Probe: resp.Probe, Key: strconv.Quote(string(normalizeAnswer(resp.Data, prefix))), Sample: showBytes(start)}
			if len(gr.Sample) > 50 {
				gr.Sample = gr.Sample[:47] + "..."
			}
			byKey[key] = gr
			order = append(order, gr)
		}
		gr.Count++
		port := it.port
		if port == 0 {
			port = it.fp.Port
		}
		gr.Where = append(gr.Where, fmt.Sprintf("%s:%d", it.host, port))
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].Count > order[j].Count })
	return order
}

// showBytes prints an answer's start readably: printable ASCII as it is,
// the rest escaped.
func showBytes(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		switch {
		case c == '\r':
			s.WriteString(`\r`)
		case c == '\n':
			s.WriteString(`\n`)
		case c == '\\':
			s.WriteString(`\\`)
		case c >= 0x20 && c < 0x7f:
			s.WriteByte(c)
		default:
			fmt.Fprintf(&s, `\x%02x`, c)
		}
	}
	return s.String()
}

// normalizeAnswer takes the first n bytes of an answer with every run of
// digits replaced by one "0".
func normalizeAnswer(b []byte, n int) []byte {
	out := make([]byte, 0, n)
	for i := 0; i < len(b) && len(out) < n; i++ {
		c := b[i]
		if c >= '0' && c <= '9' {
			for i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9' {
				i++
			}
			c = '0'
		}
		out = append(out, c)
	}
	return out
}
