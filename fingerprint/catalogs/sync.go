package catalogs

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/fingerprint/recog"
)

// TTL is how long a synced catalog stays fresh: sync without --force does
// nothing before, and scans flag older data as stale.
const TTL = 7 * 24 * time.Hour

// DefaultRecogURL is where `portrait fingerprint sync` fetches recog when
// no --from is given and nothing was synced before: the upstream
// repository's archive (its xml/ directory is used).
const DefaultRecogURL = "https://github.com/rapid7/recog/archive/refs/heads/main.tar.gz"

// Limits on fetched data: recog's whole xml/ directory is about 5 MiB.
const (
	maxDownload = 64 << 20
	maxFile     = 16 << 20
	maxFiles    = 1000
)

// CacheDir is the sync cache: $PORTRAIT_WORKSPACE/fingerprints when the
// workspace is set, else <user cache dir>/portrait/fingerprints.
func CacheDir() string {
	if ws := os.Getenv("PORTRAIT_WORKSPACE"); ws != "" {
		return filepath.Join(ws, "fingerprints")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "portrait", "fingerprints")
	}
	return filepath.Join(os.TempDir(), "portrait", "fingerprints")
}

// Meta is the cache's metadata file (meta.json).
type Meta struct {
	Sources []SyncedSource `json:"sources"`
}

// SyncedSource is one synced catalog.
type SyncedSource struct {
	Name    string    `json:"name"`   // "recog" or the YAML file's name
	Kind    string    `json:"kind"`   // recog or yaml
	Origin  string    `json:"origin"` // directory, file or URL it came from
	Dir     string    `json:"dir"`    // its directory inside the cache
	Fetched time.Time `json:"fetched"`
	SHA256  string    `json:"sha256"` // of the fetched bytes (archive, file or the files in order)
	Files   int       `json:"files"`
	Rules   int       `json:"rules"`
}

// Stale says whether the source is older than the TTL.
func (s *SyncedSource) Stale(now time.Time) bool { return now.Sub(s.Fetched) > TTL }

// Find returns the source named name, or nil.
func (m *Meta) Find(name string) *SyncedSource {
	if m == nil {
		return nil
	}
	for i := range m.Sources {
		if m.Sources[i].Name == name {
			return &m.Sources[i]
		}
	}
	return nil
}

const metaFile = "meta.json"

// ReadMeta reads dir/meta.json; a missing cache is not an error (nil).
func ReadMeta(dir string) (*Meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fingerprint cache: %w", err)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("fingerprint cache %s: %w", filepath.Join(dir, metaFile), err)
	}
	return &m, nil
}

func writeMeta(dir string, m *Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, metaFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, metaFile))
}

// SyncOptions say what to fetch.
type SyncOptions struct {
	// From is a recog xml directory (or a recog checkout), a directory or
	// file of portrait YAML rules, a .tar.gz/.zip of recog, or an http(s)
	// URL of any of those files. Empty: refresh what recog was synced
	// from before, else DefaultRecogURL.
	From     string
	Force    bool   // fetch even when the cached copy is fresh
	CacheDir string // default CacheDir()
	Client   *http.Client
	Now      func() time.Time
}

// SyncResult says what Sync did.
type SyncResult struct {
	Source  SyncedSource
	Fresh   bool // nothing fetched: the cached copy is younger than the TTL
	Dropped int  // recog fingerprints that could not become rules
	Dir     string
}

// Sync fetches a catalog into the cache, checks it loads, and records it
// in meta.json. The previous copy is replaced only once the new one loaded.
func Sync(ctx context.Context, o SyncOptions) (SyncResult, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	dir := o.CacheDir
	if dir == "" {
		dir = CacheDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return SyncResult{}, fmt.Errorf("fingerprint cache: %w", err)
	}
	meta, err := ReadMeta(dir)
	if err != nil {
		return SyncResult{}, err
	}
	if meta == nil {
		meta = &Meta{}
	}
	from := o.From
	if from == "" {
		from = DefaultRecogURL
		if s := meta.Find("recog"); s != nil {
			from = s.Origin
		}
	}
	res := SyncResult{Dir: dir}
	// Freshness: the same origin synced less than a TTL ago.
	for _, s := range meta.Sources {
		if s.Origin == from && !o.Force && !s.Stale(now()) {
			res.Source, res.Fresh = s, true
			return res, nil
		}
	}

	stage, err := os.MkdirTemp(dir, ".sync-")
	if err != nil {
		return res, fmt.Errorf("fingerprint cache: %w", err)
	}
	defer os.RemoveAll(stage)
	files, sum, err := fetch(ctx, o.Client, from)
	if err != nil {
		return res, err
	}
	src := SyncedSource{Origin: from, Fetched: now().UTC(), SHA256: sum}
	xmls, yamls := 0, 0
	for name := range files {
		switch {
		case strings.HasSuffix(name, ".xml"):
			xmls++
		case strings.HasSuffix(name, ".yaml"), strings.HasSuffix(name, ".yml"):
			yamls++
		}
	}
	switch {
	case xmls > 0:
		src.Kind, src.Name = "recog", "recog"
		for name, b := range files {
			if strings.HasSuffix(name, ".xml") {
				if err := os.WriteFile(filepath.Join(stage, name), b, 0o644); err != nil {
					return res, err
				}
				src.Files++
			}
		}
		rules, dropped, err := checkRecog(stage)
		if err != nil {
			return res, fmt.Errorf("%s: %w", from, err)
		}
		src.Rules, res.Dropped = rules, dropped
	case yamls > 0:
		src.Kind, src.Name = "yaml", yamlName(from)
		for name, b := range files {
			if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
				if err := os.WriteFile(filepath.Join(stage, name), b, 0o644); err != nil {
					return res, err
				}
				src.Files++
			}
		}
		n, err := checkYAML(stage)
		if err != nil {
			return res, fmt.Errorf("%s: %w", from, err)
		}
		src.Rules = n
	default:
		return res, fmt.Errorf("%s: no recog .xml databases or portrait .yaml rules found", from)
	}
	src.Dir = src.Kind + "-" + src.Name
	final := filepath.Join(dir, src.Dir)
	old := final + ".old"
	_ = os.RemoveAll(old)
	if _, err := os.Stat(final); err == nil {
		if err := os.Rename(final, old); err != nil {
			return res, err
		}
	}
	if err := os.Rename(stage, final); err != nil {
		_ = os.Rename(old, final)
		return res, err
	}
	_ = os.RemoveAll(old)
	replaced := false
	for i := range meta.Sources {
		if meta.Sources[i].Name == src.Name {
			meta.Sources[i], replaced = src, true
		}
	}
	if !replaced {
		meta.Sources = append(meta.Sources, src)
	}
	if err := writeMeta(dir, meta); err != nil {
		return res, err
	}
	res.Source = src
	return res, nil
}

var nameRE = regexp.MustCompile(`[^a-z0-9_.-]+`)

// yamlName names a synced YAML catalog after its file or directory.
func yamlName(from string) string {
	base := from
	if u, err := url.Parse(from); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		base = u.Path
	}
	base = strings.ToLower(path.Base(filepath.ToSlash(base)))
	for _, ext := range []string{".yaml", ".yml", ".tar.gz", ".tgz", ".zip"} {
		base = strings.TrimSuffix(base, ext)
	}
	base = strings.Trim(nameRE.ReplaceAllString(base, "-"), "-.")
	if base == "" || base == "recog" {
		base = "rules"
	}
	return base
}

// checkRecog loads the staged databases as a scan would.
func checkRecog(dir string) (rules, dropped int, err error) {
	cat := fingerprint.NewCatalog()
	rep, err := recog.Load(cat, os.DirFS(dir), recog.Options{Source: dir})
	if err != nil {
		return 0, 0, err
	}
	if rep.Rules == 0 {
		return 0, 0, errors.New("no usable recog fingerprints")
	}
	return rep.Rules, rep.Dropped, nil
}

// checkYAML compiles the staged rule files and runs their examples.
func checkYAML(dir string) (int, error) {
	rules, err := readYAMLDir(dir)
	if err != nil {
		return 0, err
	}
	cat := fingerprint.NewCatalog()
	recog.Dialects(cat)
	if err := cat.Add(rules...); err != nil {
		return 0, err
	}
	return len(rules), nil
}

// fetch reads From into memory: base name → content of every .xml, .yaml
// and .yml file it holds, and the SHA-256 of what was read.
func fetch(ctx context.Context, client *http.Client, from string) (map[string][]byte, string, error) {
	if u, err := url.Parse(from); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		b, err := download(ctx, client, from)
		if err != nil {
			return nil, "", err
		}
		files, err := unpack(path.Base(u.Path), b)
		return files, digest(b), err
	}
	st, err := os.Stat(from)
	if err != nil {
		return nil, "", fmt.Errorf("sync: %w", err)
	}
	if !st.IsDir() {
		if st.Size() > maxDownload {
			return nil, "", fmt.Errorf("%s: larger than %d bytes", from, maxDownload)
		}
		b, err := os.ReadFile(from)
		if err != nil {
			return nil, "", err
		}
		files, err := unpack(filepath.Base(from), b)
		return files, digest(b), err
	}
	// A recog checkout holds its databases in xml/.
	if st, err := os.Stat(filepath.Join(from, "xml")); err == nil && st.IsDir() {
		from = filepath.Join(from, "xml")
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return nil, "", err
	}
	files := map[string][]byte{}
	h := sha256.New()
	for _, e := range entries {
		if e.IsDir() || !wanted(e.Name()) {
			continue
		}
		if len(files) >= maxFiles {
			return nil, "", fmt.Errorf("%s: more than %d files", from, maxFiles)
		}
		info, err := e.Info()
		if err != nil || info.Size() > maxFile {
			return nil, "", fmt.Errorf("%s: unreadable or larger than %d bytes", e.Name(), maxFile)
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return nil, "", err
		}
		files[e.Name()] = b
		h.Write([]byte(e.Name()))
		h.Write(b)
	}
	return files, hex.EncodeToString(h.Sum(nil)), nil
}

func wanted(name string) bool {
	return strings.HasSuffix(name, ".xml") || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func download(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Minute}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "portrait/"+fingerprint.Version+" (fingerprint sync)")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sync: %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("sync: %s: %w", u, err)
	}
	if len(b) > maxDownload {
		return nil, fmt.Errorf("sync: %s: larger than %d bytes", u, maxDownload)
	}
	return b, nil
}

// unpack returns the wanted files of an archive (tar.gz, zip) or the file
// itself. Archive paths are flattened to base names; in an archive holding
// a recog checkout only the databases of its xml/ directory are taken.
func unpack(name string, b []byte) (map[string][]byte, error) {
	files := map[string][]byte{}
	add := func(p string, r io.Reader, size int64) error {
		base := path.Base(p)
		if !wanted(base) || strings.HasPrefix(base, ".") {
			return nil
		}
		if strings.HasSuffix(base, ".xml") && strings.Contains(p, "/") && path.Base(path.Dir(p)) != "xml" {
			return nil // recog's tests and specs hold other XML
		}
		if size > maxFile {
			return fmt.Errorf("%s: larger than %d bytes", p, maxFile)
		}
		if len(files) >= maxFiles {
			return fmt.Errorf("more than %d files", maxFiles)
		}
		data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
		if err != nil {
			return err
		}
		if len(data) > maxFile {
			return fmt.Errorf("%s: larger than %d bytes", p, maxFile)
		}
		files[base] = data
		return nil
	}
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		tr := tar.NewReader(io.LimitReader(zr, 4*maxDownload))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if h.Typeflag != tar.TypeReg {
				continue
			}
			if err := add(h.Name, tr, h.Size); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			err = add(f.Name, rc, int64(f.UncompressedSize64))
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	default:
		base := path.Base(name)
		if !wanted(base) {
			// Guess from the content: recog XML or portrait YAML.
			switch t := bytes.TrimSpace(b); {
			case bytes.HasPrefix(t, []byte("<?xml")), bytes.HasPrefix(t, []byte("<fingerprints")):
				base = "recog.xml"
			case bytes.Contains(t, []byte("fingerprints:")):
				base = "rules.yaml"
			default:
				return nil, fmt.Errorf("%s: neither an archive, recog XML nor portrait YAML", name)
			}
		}
		files[base] = b
	}
	return files, nil
}
