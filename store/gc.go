package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Settings is the workspace's own workspace.yaml: retention and the
// notification rules (kept raw here; package notify reads them).
type Settings struct {
	Retention     Retention `yaml:"retention"`
	Notifications yaml.Node `yaml:"notifications"`
}

// Retention bounds what the workspace keeps. Zero values keep everything.
type Retention struct {
	MaxAge       Age  `yaml:"max_age"`        // "90d", "720h"
	MaxScans     int  `yaml:"max_scans"`      // newest N kept
	MinFreeSpace Size `yaml:"min_free_space"` // "2GiB": oldest scans go until the disk has this much free
}

// Empty tells whether no limit is set.
func (r Retention) Empty() bool { return r.MaxAge == 0 && r.MaxScans == 0 && r.MinFreeSpace == 0 }

// LoadSettings reads workspace.yaml; a missing file is empty settings.
// Unknown keys are errors, as in portrait's config file.
func (w *Workspace) LoadSettings() (*Settings, error) {
	var s Settings
	b, err := os.ReadFile(filepath.Join(w.Dir, SettingsFile))
	if errors.Is(err, os.ErrNotExist) {
		return &s, nil
	}
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", filepath.Join(w.Dir, SettingsFile), err)
	}
	return &s, nil
}

// Age is a duration that also accepts days ("30d").
type Age time.Duration

// UnmarshalYAML parses "30d", "12h", "90m".
func (a *Age) UnmarshalYAML(n *yaml.Node) error {
	d, err := ParseAge(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*a = Age(d)
	return nil
}

// ParseAge parses a Go duration or a number of days ("30d").
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid age %q (want e.g. 30d or 12h)", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid age %q (want e.g. 30d or 12h)", s)
	}
	return d, nil
}

// Size is a byte count that accepts units ("500MB", "2GiB").
type Size int64

// UnmarshalYAML parses sizes.
func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*z = Size(v)
	return nil
}

// ParseSize parses "1024", "500MB", "2GiB", "1.5G".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suf string
		mul float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	mul := 1.0
	for _, u := range units {
		if v, ok := strings.CutSuffix(t, u.suf); ok {
			t, mul = strings.TrimSpace(v), u.mul
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 500MB or 2GiB)", s)
	}
	return int64(n * mul), nil
}

// GCResult is what a collection removed (or would remove).
type GCResult struct {
	Removed []GCItem
	Kept    int
}

// GCItem is one scan removed, and why.
type GCItem struct {
	ID     string
	Reason string
	Bytes  int64
}

// GC applies the retention limits: scans older than MaxAge go, then the
// oldest beyond MaxScans, then the oldest while the disk has less than
// MinFreeSpace free. A running scan is never removed, nor the newest scan
// for lack of space. dryRun reports without removing.
func (w *Workspace) GC(r Retention, now time.Time, dryRun bool) (*GCResult, error) {
	ids, err := w.IDs()
	if err != nil {
		return nil, err
	}
	type item struct {
		id      string
		created time.Time
		running bool
	}
	var items []item
	for _, id := range ids {
		it := item{id: id, created: idTime(id)}
		if st, err := w.Status(id); err == nil {
			if t, err := time.Parse(time.RFC3339, st.Started); err == nil {
				it.created = t
			}
			it.running = st.Effective() == StateRunning
		}
		items = append(items, it)
	}
	res := &GCResult{}
	removed := map[string]bool{}
	drop := func(it item, why string) error {
		if it.running || removed[it.id] {
			return nil
		}
		size := dirSize(w.ScanDir(it.id))
		if !dryRun {
			if err := w.Remove(it.id); err != nil {
				return err
			}
		}
		removed[it.id] = true
		res.Removed = append(res.Removed, GCItem{ID: it.id, Reason: why, Bytes: size})
		return nil
	}
	if r.MaxAge > 0 {
		for _, it := range items {
			if !it.created.IsZero() && now.Sub(it.created) > time.Duration(r.MaxAge) {
				if err := drop(it, "older than "+time.Duration(r.MaxAge).String()); err != nil {
					return res, err
				}
			}
		}
	}
	if r.MaxScans > 0 {
		kept := 0
		for i := len(items) - 1; i >= 0; i-- {
			if removed[items[i].id] {
				continue
			}
			kept++
			if kept > r.MaxScans {
				if err := drop(items[i], fmt.Sprintf("beyond the newest %d", r.MaxScans)); err != nil {
					return res, err
				}
			}
		}
	}
	if r.MinFreeSpace > 0 {
		free, ok := freeSpace(w.Dir)
		var freed int64
		for i := 0; ok && i < len(items)-1 && free+freed < int64(r.MinFreeSpace); i++ {
			if removed[items[i].id] {
				continue
			}
			size := dirSize(w.ScanDir(items[i].id))
			if err := drop(items[i], "disk below "+formatSize(int64(r.MinFreeSpace))+" free"); err != nil {
				return res, err
			}
			if dryRun {
				freed += size
			} else {
				free, ok = freeSpace(w.Dir)
			}
		}
	}
	res.Kept = len(items) - len(removed)
	return res, nil
}

// idTime reads the creation time out of an id made by NewID.
func idTime(id string) time.Time {
	if len(id) < 16 {
		return time.Time{}
	}
	t, err := time.Parse("20060102T150405Z", id[:16])
	if err != nil {
		return time.Time{}
	}
	return t
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + "GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + "MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// FormatSize renders a byte count for people.
func FormatSize(n int64) string { return formatSize(n) }
