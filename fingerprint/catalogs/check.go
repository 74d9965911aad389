package catalogs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/fingerprint/recog"
)

// CompilePattern compiles a pattern's regex in its dialect, as a catalog
// would (builtin dialects: "" and "re2" Go RE2, "pcre", recog's).
func CompilePattern(p fingerprint.Pattern) (fingerprint.Regex, error) {
	switch d := p.Dialect; {
	case d == "" || d == "re2":
		re, err := regexp.Compile(p.Regex)
		if err != nil {
			return nil, err
		}
		return re, nil
	case d == "pcre":
		return fingerprint.PCRE(p.Regex)
	case d == "recog" || strings.HasPrefix(d, "recog:"):
		if c := recog.Compiler(d); c != nil {
			return c(p.Regex)
		}
	}
	return nil, fmt.Errorf("unknown regex dialect %q", p.Dialect)
}

// MatchesEmpty reports whether a pattern matches the empty string: such a
// pattern matches every text, so it identifies nothing.
func MatchesEmpty(p fingerprint.Pattern) (bool, error) {
	re, err := CompilePattern(p)
	if err != nil {
		return false, err
	}
	return re.FindStringSubmatchIndex("") != nil, nil
}

// RecogData returns the recog databases a load with opts uses (the synced
// snapshot when there is one, else the embedded data) and their name.
func RecogData(opts Options) (fs.FS, string, error) {
	dir := opts.CacheDir
	if dir == "" {
		dir = CacheDir()
	}
	if !opts.NoSynced {
		meta, err := ReadMeta(dir)
		if err != nil {
			return nil, "", err
		}
		if s := meta.Find("recog"); s != nil {
			return os.DirFS(filepath.Join(dir, s.Dir)), "synced:recog (" + s.Origin + ")", nil
		}
	}
	return recog.BuiltinFS(), recog.BuiltinVersion(), nil
}
