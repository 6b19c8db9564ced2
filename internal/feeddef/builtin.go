package feeddef

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

var builtins = sync.OnceValues(func() ([]*Definition, error) {
	files, err := fs.Glob(builtinFS, "builtin/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	out := make([]*Definition, 0, len(files))
	for _, f := range files {
		src, err := builtinFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		d, err := Parse(src)
		if err != nil {
			return nil, fmt.Errorf("built-in feed definition %s:\n%w", f, err)
		}
		if want := strings.TrimSuffix(strings.TrimPrefix(f, "builtin/"), ".yaml"); d.ID != want {
			return nil, fmt.Errorf("built-in feed definition %s has id %q", f, d.ID)
		}
		out = append(out, d)
	}
	return out, nil
})

// Builtins returns the built-in definitions, sorted by id. They are
// shared: callers must not change them.
func Builtins() []*Definition {
	ds, err := builtins()
	if err != nil {
		// The files are embedded and tested: this is a build defect.
		panic(err)
	}
	return ds
}

// Builtin returns the built-in definition with id, or nil.
func Builtin(id string) *Definition {
	for _, d := range Builtins() {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// BuiltinSource returns the YAML text of the built-in definition id
// (for showing or copying it), or nil.
func BuiltinSource(id string) []byte {
	b, err := builtinFS.ReadFile("builtin/" + id + ".yaml")
	if err != nil {
		return nil
	}
	return b
}
