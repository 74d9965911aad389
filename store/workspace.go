// Package store keeps every scan in a workspace folder so that scans can be
// resumed, re-reported, compared and queried later.
//
// Layout of a workspace (default: $XDG_DATA_HOME/portrait, else
// ~/.local/share/portrait):
//
//	workspace.yaml            optional settings: retention, notifications
//	index.db                  SQLite index of every scan (rebuilt by reindex)
//	scans/<id>/request.json   what was asked: targets and flags
//	scans/<id>/status.json    state, progress, stage timings, errors, runs
//	scans/<id>/results.jsonl  the append-only record stream: the record of truth
//	scans/<id>/checkpoint.jsonl  services identified but not yet released
//	                          (their host still running); removed at the end
//	scans/<id>/artifacts/banners/<ip>-<port>-<probe>.bin  raw responses
//	scans/<id>/reports/       reports rendered from the scan
//
// results.jsonl is the only file a scan's meaning depends on: the index is
// a cache of it (portrait workspace reindex) and status.json a summary.
package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// File and folder names inside a scan's folder.
const (
	RequestFile    = "request.json"
	StatusFile     = "status.json"
	ResultsFile    = "results.jsonl"
	CheckpointFile = "checkpoint.jsonl"
	BannersDir     = "artifacts/banners"
	ReportsDir     = "reports"
	IndexFile      = "index.db"
	SettingsFile   = "workspace.yaml"
)

// Workspace is an opened workspace folder.
type Workspace struct {
	Dir string
}

// DefaultDir is the workspace used when no --workspace-dir is given:
// $PORTRAIT_WORKSPACE, else $XDG_DATA_HOME/portrait, else
// ~/.local/share/portrait (the data-dir sibling of os.UserConfigDir).
func DefaultDir() (string, error) {
	if d := os.Getenv("PORTRAIT_WORKSPACE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "portrait"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("workspace: no home directory (use --workspace-dir): %w", err)
	}
	return filepath.Join(home, ".local", "share", "portrait"), nil
}

// Open opens (creating if needed) the workspace at dir; "" means DefaultDir.
func Open(dir string) (*Workspace, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	if err := os.MkdirAll(filepath.Join(dir, "scans"), 0o755); err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return &Workspace{Dir: dir}, nil
}

// ScanDir is the folder of scan id.
func (w *Workspace) ScanDir(id string) string { return filepath.Join(w.Dir, "scans", id) }

// Path is a file of scan id.
func (w *Workspace) Path(id, name string) string { return filepath.Join(w.ScanDir(id), name) }

// NewID makes a scan id that sorts by creation time: UTC time to the
// second and 4 random hex digits (two scans started in the same second
// differ).
func NewID(t time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// validID refuses ids that could leave the scans folder.
func validID(id string) bool {
	if id == "" || len(id) > 64 || id == "." || id == ".." {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Create makes the folder of a new scan and writes its request.
func (w *Workspace) Create(req *Request) (string, error) {
	if req.ID == "" {
		req.ID = NewID(time.Now())
	}
	if !validID(req.ID) {
		return "", fmt.Errorf("invalid scan id %q", req.ID)
	}
	dir := w.ScanDir(req.ID)
	if err := os.MkdirAll(filepath.Join(dir, BannersDir), 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, ReportsDir), 0o755); err != nil {
		return "", err
	}
	if err := writeJSONAtomic(filepath.Join(dir, RequestFile), req); err != nil {
		return "", err
	}
	return req.ID, nil
}

// IDs lists the scans, oldest first.
func (w *Workspace) IDs() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(w.Dir, "scans"))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && validID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// ErrNoScan is returned for a reference that names no scan.
var ErrNoScan = errors.New("no such scan")

// Resolve turns a user's reference into a scan id: a full id, a unique
// prefix of one, "latest" (the newest scan), or "latest~N" (N before it).
func (w *Workspace) Resolve(ref string) (string, error) {
	ids, err := w.IDs()
	if err != nil {
		return "", err
	}
	if ref == "latest" || strings.HasPrefix(ref, "latest~") {
		n := 0
		if rest, ok := strings.CutPrefix(ref, "latest~"); ok {
			if n, err = strconv.Atoi(rest); err != nil || n < 0 {
				return "", fmt.Errorf("%w: %q (want latest~N)", ErrNoScan, ref)
			}
		}
		if n >= len(ids) {
			return "", fmt.Errorf("%w: %q (the workspace %s holds %d scans)", ErrNoScan, ref, w.Dir, len(ids))
		}
		return ids[len(ids)-1-n], nil
	}
	var match []string
	for _, id := range ids {
		if id == ref {
			return id, nil
		}
		if ref != "" && strings.HasPrefix(id, ref) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return "", fmt.Errorf("%w: %q in %s (portrait scans list shows them)", ErrNoScan, ref, w.Dir)
	}
	return "", fmt.Errorf("scan reference %q is ambiguous: %s", ref, strings.Join(match, ", "))
}

// Remove deletes a scan's folder and its index rows.
func (w *Workspace) Remove(id string) error {
	if !validID(id) {
		return fmt.Errorf("invalid scan id %q", id)
	}
	if err := os.RemoveAll(w.ScanDir(id)); err != nil {
		return err
	}
	if ix, err := w.OpenIndex(); err == nil {
		defer ix.Close()
		return ix.Delete(id)
	} else {
		return err
	}
}

// Results reads a scan's record stream.
func (w *Workspace) Results(id string) (*Results, error) {
	return ReadResultsFile(w.Path(id, ResultsFile))
}

// Request is a scan's request.json: enough to run the same scan again.
type Request struct {
	ID      string              `json:"id"`
	Created string              `json:"created"`
	Scanner string              `json:"scanner"`
	Command string              `json:"command"` // "scan"
	Args    []string            `json:"args"`    // the targets, as given
	Flags   map[string][]string `json:"flags"`   // flags set on the command line, by long name
	Ports   int                 `json:"ports"`   // ports per host
	Config  string              `json:"config,omitempty"`
	Monitor string              `json:"monitor,omitempty"` // the monitor job that ran it
}

// Request reads a scan's request.json.
func (w *Workspace) Request(id string) (*Request, error) {
	var r Request
	if err := readJSON(w.Path(id, RequestFile), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeJSONAtomic writes v through a temporary file renamed over path, so
// a reader (or a crash) sees the old or the new file, never half of one.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
