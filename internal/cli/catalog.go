package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/fingerprint/catalogs"
	"github.com/portrait-scanner/portrait/fingerprint/recog"
)

// Catalog management: list, show, sync and validate work on the catalog a
// scan would load (fingerprint/catalogs: builtin YAML < recog < synced <
// custom --rules files).

func newCatalogListCmd(g *globals) *cobra.Command {
	var category, search, source, output string
	var sources, noRecog bool
	var rules []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the loaded fingerprint rules, or with --sources the catalogs they come from",
		Long: `List prints every rule a scan would load: portrait's builtin rules, recog's
(embedded or synced), synced rule files and --rules files, in merge order.
--category, --search (name, product, vendor or CPE) and --source filter them.
--sources lists the catalogs instead, with their origin, version and rule count.
-o yaml prints the rules in the rule-file format (docs/rules.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output, "table", "json", "yaml"); err != nil {
				return err
			}
			cat, infos, err := catalogs.LoadCatalogs(cmd.Context(), catalogs.Options{Rules: rules, NoRecog: noRecog})
			if err != nil {
				return err
			}
			if sources {
				return printSources(g.stdout, infos, output)
			}
			var views []ruleView
			for _, r := range cat.Rules() {
				src := catalogs.SourceOf(infos, r.Name)
				if category != "" && !strings.EqualFold(r.Category, category) {
					continue
				}
				if source != "" && !strings.HasPrefix(src, source) {
					continue
				}
				if search != "" && !containsAnyFold(search, r.Name, r.Product, r.Vendor, r.CPE) {
					continue
				}
				views = append(views, viewOf(r, src))
			}
			switch output {
			case "json":
				return writeJSON(g.stdout, views)
			case "yaml":
				return writeRulesYAML(g.stdout, views)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSOURCE\tCATEGORY\tROLE\tPRODUCT")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Name, v.Source, v.Category, firstStr(v.Role, "server"), v.Product)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%d of %d rules\n", len(views), cat.Len())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&category, "category", "", "only rules of this category (ssh, http, ftp...)")
	f.StringVar(&search, "search", "", "only rules whose name, product, vendor or CPE contains this text")
	f.StringVar(&source, "source", "", "only rules from this source (builtin, recog, synced, custom)")
	f.StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	f.BoolVar(&sources, "sources", false, "list the loaded catalogs instead of the rules")
	f.BoolVar(&noRecog, "no-recog", false, "leave out recog's rules")
	f.StringArrayVar(&rules, "rules", nil, "extra rule file (YAML), as for scan; repeatable")
	return cmd
}

func newCatalogShowCmd(g *globals) *cobra.Command {
	var output string
	var rules []string
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one rule: its patterns, examples and source",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output, "yaml", "json"); err != nil {
				return err
			}
			cat, infos, err := catalogs.LoadCatalogs(cmd.Context(), catalogs.Options{Rules: rules})
			if err != nil {
				return err
			}
			var near []string
			for _, r := range cat.Rules() {
				if r.Name == args[0] {
					v := viewOf(r, catalogs.SourceOf(infos, r.Name))
					if output == "json" {
						return writeJSON(g.stdout, v)
					}
					fmt.Fprintf(g.stdout, "# source: %s\n", v.Source)
					return writeRulesYAML(g.stdout, []ruleView{v})
				}
				if strings.Contains(r.Name, args[0]) && len(near) < 10 {
					near = append(near, r.Name)
				}
			}
			if len(near) > 0 {
				return usagef("no rule named %q; did you mean: %s", args[0], strings.Join(near, ", "))
			}
			return usagef("no rule named %q (portrait fingerprint list --search TEXT finds rules)", args[0])
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	cmd.Flags().StringArrayVar(&rules, "rules", nil, "extra rule file (YAML); repeatable")
	return cmd
}

func newCatalogSyncCmd(g *globals) *cobra.Command {
	var from string
	var force bool
	cmd := &cobra.Command{
		Use:   "sync [--from DIR|FILE|URL] [--force]",
		Short: "Fetch newer fingerprint data (recog, rule files) into the workspace cache",
		Long: `Sync fetches a catalog into the workspace cache, checks that it loads, and
records it; scans then use it (merge order: builtin < synced < --rules files).

--from takes a recog checkout or its xml/ directory, a .tar.gz or .zip of recog,
a portrait YAML rule file or directory, or an http(s) URL of any of those files.
Recog data replaces the embedded recog databases as a whole; YAML rules add to
the builtin rules and override those of the same name. Without --from, sync
refreshes recog from where it was last synced, else from
` + catalogs.DefaultRecogURL + `.

The cache is $PORTRAIT_WORKSPACE/fingerprints, else <user cache dir>/portrait/
fingerprints. A catalog synced less than 7 days ago is not fetched again unless
--force is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := catalogs.Sync(cmd.Context(), catalogs.SyncOptions{From: from, Force: force})
			if err != nil {
				return err
			}
			s := res.Source
			if res.Fresh {
				fmt.Fprintf(g.stdout, "%s is up to date: synced %s ago from %s (--force fetches it again)\n",
					s.Name, time.Since(s.Fetched).Round(time.Minute), s.Origin)
				return nil
			}
			fmt.Fprintf(g.stdout, "synced %s (%s) from %s: %d files, %d rules", s.Name, s.Kind, s.Origin, s.Files, s.Rules)
			if res.Dropped > 0 {
				fmt.Fprintf(g.stdout, ", %d fingerprints left out", res.Dropped)
			}
			fmt.Fprintf(g.stdout, "\ncache: %s\n", res.Dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "directory, file or URL to fetch (default: recog, from where it was last synced)")
	cmd.Flags().BoolVar(&force, "force", false, "fetch even when the cached copy is younger than 7 days")
	return cmd
}

func newCatalogValidateCmd(g *globals) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "validate [FILE...]",
		Short: "Check rule files: syntax, duplicates, regexes, broad patterns and every example",
		Long: `Validate checks each rule file against the catalog a scan loads:

  - syntax, and duplicate rule names inside the files (a name that exists in an
    earlier catalog is reported as an override, which merging allows);
  - regexes that do not compile, or that match the empty string;
  - rules so broad they match more than half of a corpus of real responses
    (lab recordings and protocol/*/testdata);
  - every rule's examples, run through the whole catalog.

With no FILE it checks the loaded catalogs themselves: the builtin and synced
rules as above, and recog's examples (at least 99% must identify as they say;
-v lists the failures). It exits non-zero when anything fails.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := &validator{g: g, verbose: verbose}
			if len(args) == 0 {
				return v.all(cmd)
			}
			return v.files(cmd, args)
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every recog example failure")
	return cmd
}

type validator struct {
	g        *globals
	verbose  bool
	failures int
}

func (v *validator) fail(format string, a ...any) {
	v.failures++
	fmt.Fprintf(v.g.stdout, "FAIL "+format+"\n", a...)
}

func (v *validator) note(format string, a ...any) {
	fmt.Fprintf(v.g.stdout, "note "+format+"\n", a...)
}

func (v *validator) files(cmd *cobra.Command, files []string) error {
	var mine []fingerprint.Rule
	defined := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return usageError{err}
		}
		rules, err := fingerprint.ParseRules(bytes.NewReader(b), f)
		if err != nil {
			v.fail("%v", err)
			continue
		}
		if len(rules) == 0 {
			v.fail("%s: no fingerprints in file", f)
		}
		for _, r := range rules {
			if other, ok := defined[r.Name]; ok {
				v.fail("%s: duplicate rule name %q (also in %s)", f, r.Name, other)
				continue
			}
			defined[r.Name] = f
			mine = append(mine, r)
		}
	}
	base, infos, err := catalogs.LoadCatalogs(cmd.Context(), catalogs.Options{})
	if err != nil {
		return err
	}
	for _, r := range mine {
		if src := catalogs.SourceOf(infos, r.Name); src != "" {
			v.note("%s: rule %q overrides the %s rule of that name", defined[r.Name], r.Name, src)
		}
	}
	good := v.checkRules(mine, defined)
	if len(good) == 0 {
		return v.finish(len(mine), 0)
	}
	// The whole catalog with the good rules on top, as a scan merges them.
	cat, names := mergeOnto(base, good)
	_, failures := cat.CheckExamples()
	passed := countExamples(good)
	for _, f := range failures {
		if names[f.Rule] && f.Index >= 0 {
			passed--
		}
		if names[f.Rule] {
			v.fail("%v", f)
		} else if f.Index >= 0 && strings.HasPrefix(f.Source, "builtin:") {
			// A builtin example broken by the new rules is their fault too.
			v.fail("%v (with these rules loaded)", f)
		}
	}
	v.broad(cat, names)
	return v.finish(len(mine), passed)
}

// checkRules compiles each rule on its own and checks for patterns that
// match the empty string; it returns the rules that compiled.
func (v *validator) checkRules(rules []fingerprint.Rule, where map[string]string) []fingerprint.Rule {
	var good []fingerprint.Rule
	for _, r := range rules {
		scratch := fingerprint.NewCatalog()
		recog.Dialects(scratch)
		if err := scratch.Add(r); err != nil {
			v.fail("%s: %v", where[r.Name], err)
			continue
		}
		ok := true
		for i, p := range r.Patterns {
			if empty, err := catalogs.MatchesEmpty(p); err == nil && empty {
				v.fail("%s: rule %q pattern %d: regex %q matches the empty string", where[r.Name], r.Name, i+1, p.Regex)
				ok = false
			}
		}
		if ok {
			good = append(good, r)
		}
	}
	return good
}

func (v *validator) broad(cat *fingerprint.Catalog, names map[string]bool) {
	broad, err := catalogs.BroadRules(cat, 0.5)
	if err != nil {
		v.fail("corpus: %v", err)
		return
	}
	for _, b := range broad {
		if names == nil || names[b.Rule] {
			v.fail("rule %q matches %d of %d recorded responses: too broad to identify anything", b.Rule, b.Matched, b.Of)
		}
	}
}

func (v *validator) all(cmd *cobra.Command) error {
	cat, infos, err := catalogs.LoadCatalogs(cmd.Context(), catalogs.Options{})
	if err != nil {
		return err
	}
	recogRule := func(name string) bool { return strings.HasPrefix(name, "recog:") }
	// Builtin and synced YAML rules: compile, empty matches, examples.
	var yamlRules []fingerprint.Rule
	where := map[string]string{}
	for _, r := range cat.Rules() {
		if !recogRule(r.Name) {
			yamlRules = append(yamlRules, r)
			where[r.Name] = catalogs.SourceOf(infos, r.Name)
		}
	}
	v.checkRules(yamlRules, where)
	_, failures := cat.CheckExamples()
	passed := countExamples(yamlRules)
	for _, f := range failures {
		if recogRule(f.Rule) {
			continue // recog is verified below, with recog's own semantics
		}
		if f.Index >= 0 {
			passed--
		}
		v.fail("%v", f)
	}
	v.broad(cat, nil)
	// recog: every example, with recog's semantics.
	fsys, name, err := catalogs.RecogData(catalogs.Options{})
	if err != nil {
		return err
	}
	dbs, err := recog.ReadDatabases(fsys)
	if err != nil {
		return err
	}
	ver := recog.Verify(cat, dbs, recog.Options{Source: name})
	if v.verbose {
		for _, f := range ver.Failures {
			fmt.Fprintf(v.g.stdout, "recog: %s\n", f)
		}
	}
	fmt.Fprintf(v.g.stdout, "recog (%s): %d/%d examples identify as they say (%.2f%%)\n", name, ver.Passed, ver.Total, 100*ver.Rate())
	if ver.Rate() < 0.99 {
		v.fail("recog: fewer than 99%% of the examples pass (-v lists them)")
	}
	for _, in := range infos {
		if in.Dropped > 0 {
			v.note("%s: %d rules could not be loaded", in.Name, in.Dropped)
		}
	}
	return v.finish(len(yamlRules), passed)
}

func (v *validator) finish(rules, examples int) error {
	fmt.Fprintf(v.g.stdout, "%d rules checked, %d examples passed, %d failures\n", rules, examples, v.failures)
	if v.failures > 0 {
		return fmt.Errorf("%d check(s) failed", v.failures)
	}
	return nil
}

// mergeOnto returns base's rules with rules added (replacing those of the
// same name) in a new catalog, and the names of the added rules.
func mergeOnto(base *fingerprint.Catalog, rules []fingerprint.Rule) (*fingerprint.Catalog, map[string]bool) {
	names := map[string]bool{}
	for _, r := range rules {
		names[r.Name] = true
	}
	cat := fingerprint.NewCatalog()
	recog.Dialects(cat)
	for _, r := range base.Rules() {
		if !names[r.Name] {
			_ = cat.Add(r)
		}
	}
	for _, r := range rules {
		_ = cat.Add(r)
	}
	return cat, names
}

func countExamples(rules []fingerprint.Rule) int {
	n := 0
	for _, r := range rules {
		n += len(r.Examples)
	}
	return n
}

// ruleView is a rule as list and show print it: the rule-file format
// (docs/rules.md) without empty keys, plus where it came from.
type ruleView struct {
	Name     string        `json:"name" yaml:"name"`
	Source   string        `json:"source" yaml:"-"`
	Product  string        `json:"product" yaml:"product"`
	Vendor   string        `json:"vendor,omitempty" yaml:"vendor,omitempty"`
	Category string        `json:"category,omitempty" yaml:"category,omitempty"`
	Service  string        `json:"service,omitempty" yaml:"service,omitempty"`
	Role     string        `json:"role,omitempty" yaml:"role,omitempty"`
	CPE      string        `json:"cpe,omitempty" yaml:"cpe,omitempty"`
	Requires []string      `json:"requires,omitempty" yaml:"requires,omitempty"`
	OS       string        `json:"os,omitempty" yaml:"os,omitempty"`
	Patterns []patternView `json:"patterns" yaml:"patterns"`
	Examples []exampleView `json:"examples,omitempty" yaml:"examples,omitempty"`
}

type patternView struct {
	Type         string `json:"type" yaml:"type"`
	Field        string `json:"field,omitempty" yaml:"field,omitempty"`
	Header       string `json:"header,omitempty" yaml:"header,omitempty"`
	Probe        string `json:"probe,omitempty" yaml:"probe,omitempty"`
	Dialect      string `json:"dialect,omitempty" yaml:"dialect,omitempty"`
	Regex        string `json:"regex" yaml:"regex"`
	VersionGroup int    `json:"version_group,omitempty" yaml:"version_group,omitempty"`
	Confidence   int    `json:"confidence,omitempty" yaml:"confidence,omitempty"`
	Version      string `json:"version,omitempty" yaml:"version,omitempty"`
	Info         string `json:"info,omitempty" yaml:"info,omitempty"`
	OS           string `json:"os,omitempty" yaml:"os,omitempty"`
	OSVersion    string `json:"os_version,omitempty" yaml:"os_version,omitempty"`
	OSGroup      int    `json:"os_group,omitempty" yaml:"os_group,omitempty"`
	OSVersionGrp int    `json:"os_version_group,omitempty" yaml:"os_version_group,omitempty"`
	Device       string `json:"device,omitempty" yaml:"device,omitempty"`
	CPE          string `json:"cpe,omitempty" yaml:"cpe,omitempty"`
}

type exampleView struct {
	Fields  map[string]string `json:"fields,omitempty" yaml:"fields,omitempty"`
	Banner  string            `json:"banner,omitempty" yaml:"banner,omitempty"`
	Product string            `json:"product,omitempty" yaml:"product,omitempty"`
	Version string            `json:"version,omitempty" yaml:"version,omitempty"`
	OS      string            `json:"os,omitempty" yaml:"os,omitempty"`
	Info    string            `json:"info,omitempty" yaml:"info,omitempty"`
}

func viewOf(r fingerprint.Rule, source string) ruleView {
	v := ruleView{Name: r.Name, Source: source, Product: r.Product, Vendor: r.Vendor, Category: r.Category,
		Service: r.Service, Role: r.Role, CPE: r.CPE, Requires: r.Requires, OS: r.OS}
	for _, p := range r.Patterns {
		v.Patterns = append(v.Patterns, patternView{Type: p.Type, Field: p.Field, Header: p.Header, Probe: p.Probe,
			Dialect: p.Dialect, Regex: p.Regex, VersionGroup: p.VersionGroup, Confidence: p.Confidence,
			Version: p.Version, Info: p.Info, OS: p.OS, OSVersion: p.OSVersion, OSGroup: p.OSGroup,
			OSVersionGrp: p.OSVersionGrp, Device: p.Device, CPE: p.CPE})
	}
	for _, e := range r.Examples {
		v.Examples = append(v.Examples, exampleView(e))
	}
	return v
}

func printSources(w io.Writer, infos []catalogs.SourceInfo, output string) error {
	switch output {
	case "json":
		return writeJSON(w, infos)
	case "yaml":
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		return enc.Encode(infos)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tKIND\tRULES\tVERSION\tLOAD\tORIGIN")
	for _, in := range infos {
		extra := ""
		if in.Overrides > 0 {
			extra += fmt.Sprintf(" (overrides %d)", in.Overrides)
		}
		if in.Dropped > 0 {
			extra += fmt.Sprintf(" (%d left out)", in.Dropped)
		}
		if in.Stale {
			extra += " (stale: run portrait fingerprint sync)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%v\t%s%s\n", in.Name, in.Kind, in.Rules, in.Version,
			in.LoadTime.Round(time.Millisecond), in.Origin, extra)
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeRulesYAML writes rules as a rule file that --rules can load back.
func writeRulesYAML(w io.Writer, views []ruleView) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	defer enc.Close()
	return enc.Encode(struct {
		Fingerprints []ruleView `yaml:"fingerprints"`
	}{views})
}

func checkFormat(got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return usagef("invalid output format %q (want %s)", got, strings.Join(allowed, ", "))
}

func containsAnyFold(needle string, hay ...string) bool {
	n := strings.ToLower(needle)
	for _, h := range hay {
		if strings.Contains(strings.ToLower(h), n) {
			return true
		}
	}
	return false
}
