package recog

import (
	"io/fs"
	"net/http"
	"runtime/debug"
	"strings"

	recoggo "github.com/RumbleDiscovery/recog-go"
)

// builtinModule is the Go module whose embedded recog XML is portrait's
// builtin recog data (BSD-2-Clause, see its COPYING).
const builtinModule = "github.com/RumbleDiscovery/recog-go"

// BuiltinVersion names the builtin data: the module and its version as
// built into the binary ("github.com/RumbleDiscovery/recog-go v0.1.0").
func BuiltinVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == builtinModule {
				return builtinModule + " " + d.Version
			}
		}
	}
	return builtinModule + " v0.1.0"
}

// BuiltinFS is recog-go's embedded XML databases as an fs.FS.
func BuiltinFS() fs.FS { return httpFS{recoggo.RecogXML} }

// httpFS adapts the http.FileSystem recog-go generates (vfsgen) to fs.FS.
type httpFS struct{ h http.FileSystem }

func (f httpFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	file, err := f.h.Open("/" + strings.TrimPrefix(name, "."))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return file, nil
}

func (f httpFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	d, err := f.h.Open("/" + strings.TrimPrefix(name, "."))
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	defer d.Close()
	infos, err := d.Readdir(-1)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, len(infos))
	for i, fi := range infos {
		out[i] = fs.FileInfoToDirEntry(fi)
	}
	return out, nil
}
