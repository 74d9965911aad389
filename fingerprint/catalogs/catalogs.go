// Package catalogs assembles the rule catalog a scan runs on from every
// source, in merge order:
//
//  1. builtin: portrait's own YAML rules (fingerprint/rules, embedded);
//  2. recog: Rapid7's recog databases embedded through the Go module
//     github.com/RumbleDiscovery/recog-go (BSD-2-Clause), converted by
//     fingerprint/recog;
//  3. synced: what `portrait fingerprint sync` stored in the workspace
//     cache (a newer recog snapshot replaces the embedded one as a whole;
//     portrait YAML rule files add to or override the builtins by name);
//  4. custom: the user's --rules files.
//
// A later source overrides an earlier rule of the same name, so a synced
// or custom file can fix a builtin rule without a new release. Every source
// is reported with its origin, version and rule count (SourceInfo), which
// `portrait fingerprint list --sources` shows.
package catalogs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/fingerprint/recog"
)

// Options select the sources.
type Options struct {
	// Rules are the user's rule files (--rules, config), merged last.
	Rules []string
	// NoRecog leaves out recog (builtin and synced).
	NoRecog bool
	// NoSynced ignores the sync cache.
	NoSynced bool
	// CacheDir overrides the sync cache directory (default CacheDir()).
	CacheDir string
}

// SourceInfo describes one loaded catalog.
type SourceInfo struct {
	Name      string        `json:"name" yaml:"name"`                                     // builtin, recog, synced:<name>, custom:<file>
	Kind      string        `json:"kind" yaml:"kind"`                                     // yaml or recog
	Origin    string        `json:"origin" yaml:"origin"`                                 // module, directory, URL or file
	Version   string        `json:"version,omitempty" yaml:"version,omitempty"`           // module version, sync time, file date
	Rules     int           `json:"rules" yaml:"rules"`                                   // rules loaded from it
	Overrides int           `json:"overrides,omitempty" yaml:"overrides,omitempty"`       // earlier rules it replaced
	Dropped   int           `json:"dropped,omitempty" yaml:"dropped,omitempty"`           // rules that could not load
	Stale     bool          `json:"stale,omitempty" yaml:"stale,omitempty"`               // synced longer ago than the TTL
	Problems  []string      `json:"problems,omitempty" yaml:"problems,omitempty"`         // why rules were dropped
	LoadTime  time.Duration `json:"load_time_ns" yaml:"load_time_ns"`                     // parse and compile time
	Names     []string      `json:"-" yaml:"-"`                                           // the rules it contributed
	Report    *recog.Report `json:"recog_report,omitempty" yaml:"recog_report,omitempty"` // recog sources only
}

// LoadCatalogs builds the catalog from every source (see the package doc)
// and describes each source. It fails on unreadable builtin data and on
// broken user files; rules of recog data that do not compile are dropped
// and listed in their SourceInfo.
func LoadCatalogs(ctx context.Context, opts Options) (*fingerprint.Catalog, []SourceInfo, error) {
	var m merger
	dir := opts.CacheDir
	if dir == "" {
		dir = CacheDir()
	}
	var meta *Meta
	var err error
	if !opts.NoSynced {
		if meta, err = ReadMeta(dir); err != nil {
			return nil, nil, err
		}
	}
	// recog's XML is parsed while the builtin rules compile.
	var rp *recogPrep
	done := make(chan struct{})
	if !opts.NoRecog {
		go func() { defer close(done); rp = prepareRecog(meta, dir) }()
	} else {
		close(done)
	}

	// 1. builtin YAML.
	start := time.Now()
	builtin, err := fingerprint.Builtin()
	if err != nil {
		<-done
		return nil, nil, fmt.Errorf("builtin rules: %w", err)
	}
	m.add(SourceInfo{Name: "builtin", Kind: "yaml", Origin: "fingerprint/rules (embedded)", Version: fingerprint.Version}, builtin.Rules(), time.Since(start))

	// 2-3. recog (synced snapshot or embedded) and synced YAML.
	<-done
	if rp != nil {
		if rp.err != nil {
			return nil, nil, rp.err
		}
		m.tolerant[m.add(rp.info, rp.rules, rp.took)] = true
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if meta != nil {
		for _, s := range meta.Sources {
			if s.Kind != "yaml" {
				continue
			}
			start := time.Now()
			rules, err := readYAMLDir(filepath.Join(dir, s.Dir))
			if err != nil {
				return nil, nil, fmt.Errorf("synced rules %s (run portrait fingerprint sync --force): %w", s.Name, err)
			}
			m.add(SourceInfo{Name: "synced:" + s.Name, Kind: "yaml", Origin: s.Origin, Version: s.Fetched.UTC().Format(time.RFC3339),
				Stale: s.Stale(time.Now())}, rules, time.Since(start))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}

	// 4. custom files.
	for _, f := range opts.Rules {
		start := time.Now()
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("read rules: %w", err)
		}
		rules, err := fingerprint.ParseRules(bytes.NewReader(b), f)
		if err != nil {
			return nil, nil, fmt.Errorf("parse rules: %w", err)
		}
		if len(rules) == 0 {
			return nil, nil, fmt.Errorf("%s: no fingerprints in file", f)
		}
		// Custom rules add to the builtins, never replace them (a synced
		// catalog may update builtin data; a user file may not shadow it).
		for _, r := range rules {
			if i, ok := m.byName[r.Name]; ok && m.owner[i] == 0 {
				return nil, nil, fmt.Errorf("%s: rule %q has the name of a builtin rule; custom rules add to the builtins and never replace them: rename it", f, r.Name)
			}
		}
		version := ""
		if st, err := os.Stat(f); err == nil {
			version = st.ModTime().UTC().Format(time.RFC3339)
		}
		m.add(SourceInfo{Name: "custom:" + filepath.Base(f), Kind: "yaml", Origin: f, Version: version}, rules, time.Since(start))
	}

	cat, err := m.build(builtin)
	if err != nil {
		return nil, nil, err
	}
	return cat, m.infos, nil
}

// merger collects rules by name, later sources replacing earlier ones.
type merger struct {
	infos  []SourceInfo
	rules  []fingerprint.Rule
	owner  []int // index into infos of each rule
	byName map[string]int
	// tolerant marks sources whose rules may fail to compile one by one
	// (recog data) instead of failing the whole load.
	tolerant map[int]bool
}

func (m *merger) add(info SourceInfo, rules []fingerprint.Rule, took time.Duration) int {
	if m.byName == nil {
		m.byName = map[string]int{}
	}
	if m.tolerant == nil {
		m.tolerant = map[int]bool{}
	}
	src := len(m.infos)
	info.LoadTime = took
	for _, r := range rules {
		if i, ok := m.byName[r.Name]; ok {
			if m.owner[i] != src {
				info.Overrides++
			}
			m.rules[i] = r
			m.owner[i] = src
			continue
		}
		m.byName[r.Name] = len(m.rules)
		m.rules = append(m.rules, r)
		m.owner = append(m.owner, src)
	}
	m.infos = append(m.infos, info)
	return src
}

// recogPrep is recog data parsed and converted, ready to merge.
type recogPrep struct {
	info  SourceInfo
	rules []fingerprint.Rule
	took  time.Duration
	err   error
}

func prepareRecog(meta *Meta, dir string) *recogPrep {
	start := time.Now()
	info := SourceInfo{Name: "recog", Kind: "recog", Origin: recog.BuiltinVersion() + " (embedded)",
		Version: strings.TrimPrefix(recog.BuiltinVersion(), "github.com/RumbleDiscovery/recog-go ")}
	fsys := recog.BuiltinFS()
	if s := meta.Find("recog"); s != nil {
		info.Name = "synced:recog"
		info.Origin = s.Origin
		info.Version = s.Fetched.UTC().Format(time.RFC3339)
		info.Stale = s.Stale(time.Now())
		fsys = os.DirFS(filepath.Join(dir, s.Dir))
	}
	dbs, err := recog.ReadDatabases(fsys)
	if err != nil {
		if info.Name == "synced:recog" {
			err = fmt.Errorf("synced recog data (run portrait fingerprint sync --force): %w", err)
		}
		return &recogPrep{err: err}
	}
	rules, rep := recog.Rules(dbs, recog.Options{Source: info.Origin})
	info.Report = &rep
	info.Problems = append(info.Problems, rep.Problems...)
	info.Dropped = rep.Dropped
	return &recogPrep{info: info, rules: rules, took: time.Since(start)}
}

// build compiles the merged rules. When no later source overrides a
// builtin rule, the builtin catalog is reused as is.
func (m *merger) build(builtin *fingerprint.Catalog) (*fingerprint.Catalog, error) {
	cat := builtin
	first := builtin.Len()
	for i := 0; i < first && i < len(m.owner); i++ {
		if m.owner[i] != 0 {
			cat, first = fingerprint.NewCatalog(), 0
			break
		}
	}
	recog.Dialects(cat)
	for i, r := range m.rules {
		src := m.owner[i]
		if i >= first {
			t0 := time.Now()
			err := cat.Add(r)
			m.infos[src].LoadTime += time.Since(t0)
			if err != nil {
				if m.tolerant[src] && !strings.Contains(err.Error(), "defined twice") {
					m.infos[src].Dropped++
					m.infos[src].Problems = append(m.infos[src].Problems, err.Error())
					continue
				}
				return nil, fmt.Errorf("%s: %w", m.infos[src].Name, err)
			}
		}
		m.infos[src].Names = append(m.infos[src].Names, r.Name)
	}
	for i := range m.infos {
		m.infos[i].Rules = len(m.infos[i].Names)
	}
	return cat, nil
}

// readYAMLDir parses every *.yaml / *.yml file of dir in name order.
func readYAMLDir(dir string) ([]fingerprint.Rule, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var all []fingerprint.Rule
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		rules, err := fingerprint.ParseRules(bytes.NewReader(b), "synced:"+n)
		if err != nil {
			return nil, err
		}
		all = append(all, rules...)
	}
	if len(all) == 0 {
		return nil, errors.New("no rules")
	}
	return all, nil
}

// SourceOf returns the name of the source that defined rule name.
func SourceOf(infos []SourceInfo, name string) string {
	for i := len(infos) - 1; i >= 0; i-- {
		for _, n := range infos[i].Names {
			if n == name {
				return infos[i].Name
			}
		}
	}
	return ""
}
