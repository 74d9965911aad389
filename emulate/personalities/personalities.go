// Package personalities ships the personalities recorded from the lab's
// real Debian servers (emulate/record_lab_test.go re-records them): test
// fixtures for the emulator and ready-made honeypots for
// `portrait emulate --personality NAME`.
package personalities

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// Names lists the shipped personalities.
func Names() []string {
	ents, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Get returns a shipped personality's file.
func Get(name string) ([]byte, bool) {
	b, err := files.ReadFile(name + ".yaml")
	return b, err == nil
}
