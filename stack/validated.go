package stack

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// validated remembers, in a directory of the user's cache, the exact
// inputs compose-go's loader has validated, so that a load of the same
// inputs again skips its validation (loader.Options.SkipValidation). That
// validation costs a short-lived process most of its CPU: compose-go
// compiles the compose-spec schema (and the JSON Schema draft it is
// written in) on first use, every run; skipping it halves the CPU time of
// a no-op `up` of a small stack.
//
// Skipping it is the same as running it. Validation is a function of the
// documents compose-go validates, which are a function of the files'
// bytes, the values of the variables they name, the loader's options and
// the code that reads them: podstack's, compose-go's, the JSON Schema
// library's and Go's, all of which the running binary's build ID covers.
// A key is the hash of all of those, and is recorded only once compose-go
// has validated them without error. What else validation does is ruled
// out by using the cache only where it does nothing else: no file reads
// another (include, extends), none has a top-level version key (which
// validation warns about and drops) or merges keys into its top level,
// and the project has a name (validation refuses an empty one).
type validated struct {
	path string // the key's file; "" when these inputs cannot be cached
}

// validatedKey is the marker for files, env, opts and the loader's
// project name in dir; a validated with no path when dir is "" or the
// inputs cannot be cached.
func validatedKey(dir string, files []sourceFile, env map[string]string, opts LoadOptions, name string, explicit bool, profiles []string) validated {
	id := buildID()
	if dir == "" || id == nil || name == "" {
		return validated{}
	}
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	field([]byte("podstack validated v1"))
	field(id)
	field([]byte(opts.WorkingDir))
	field([]byte(name))
	field([]byte{boolByte(explicit), boolByte(opts.KeepVars)})
	for _, p := range profiles {
		field([]byte(p))
	}
	field(nil)
	for _, f := range files {
		if !cacheable(f) {
			return validated{}
		}
		field([]byte(f.Name))
		field(f.Content)
	}
	// Only variables a file names can change what it interpolates to:
	// compose-go's ${NAME} has no indirection.
	keys := make([]string, 0, len(env))
	for k := range env {
		for _, f := range files {
			if bytes.Contains(f.Content, []byte(k)) {
				keys = append(keys, k)
				break
			}
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		field([]byte(k))
		field([]byte(env[k]))
	}
	return validated{path: filepath.Join(dir, hex.EncodeToString(h.Sum(nil)))}
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// cacheable says whether validating f does nothing but validate, and
// reads nothing but f: no include or extends anywhere (keys are never
// interpolated, so the words not being in the bytes rules them out), no
// top-level version key, no merge key at the top level.
func cacheable(f sourceFile) bool {
	if f.parseErr != nil || len(f.docs) == 0 ||
		bytes.Contains(f.Content, []byte("include")) || bytes.Contains(f.Content, []byte("extends")) {
		return false
	}
	for _, doc := range f.docs {
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			return false
		}
		for i := 0; i+1 < len(root.Content); i += 2 {
			if k := root.Content[i].Value; k == "version" || k == "<<" {
				return false
			}
		}
	}
	return true
}

// hit says whether these inputs have been validated before, and marks
// the key used now (its modification time), so pruning keeps it.
func (v validated) hit() bool {
	if v.path == "" {
		return false
	}
	now := time.Now()
	return os.Chtimes(v.path, now, now) == nil
}

// record notes that compose-go validated these inputs without error, and
// prunes the directory. A cache that cannot be written is no cache: loads
// validate as before.
func (v validated) record() {
	if v.path == "" {
		return
	}
	dir := filepath.Dir(v.path)
	if err := os.MkdirAll(dir, 0o700); err == nil {
		_ = os.WriteFile(v.path, nil, 0o600)
		pruneValidated(dir, time.Now())
	}
}

// The cache keeps a key for validatedMaxAge after its last use, and at
// most validatedMaxKeys keys. Every edit of a stack file, value of a
// variable it names and build of podstack makes a new key, so without
// pruning the directory only grows.
const (
	validatedMaxAge  = 30 * 24 * time.Hour
	validatedMaxKeys = 1000
)

// pruneValidated removes the keys in dir not used since validatedMaxAge
// before now, then the least recently used beyond validatedMaxKeys. It
// runs only when a key is recorded, beside a validation that costs far
// more than reading the directory.
func pruneValidated(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type key struct {
		name string
		used time.Time
	}
	var keep []key
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if now.Sub(info.ModTime()) > validatedMaxAge {
			_ = os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		keep = append(keep, key{e.Name(), info.ModTime()})
	}
	if len(keep) <= validatedMaxKeys {
		return
	}
	slices.SortFunc(keep, func(a, b key) int { return a.used.Compare(b.used) })
	for _, k := range keep[:len(keep)-validatedMaxKeys] {
		_ = os.Remove(filepath.Join(dir, k.name))
	}
}

// buildID is the Go build ID of the running binary, which changes with
// any change to its code or its dependencies'; nil where it cannot be
// read (then nothing is cached).
var buildID = sync.OnceValue(func() []byte {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	f, err := elf.Open(exe)
	if err != nil {
		return nil
	}
	defer f.Close()
	s := f.Section(".note.go.buildid")
	if s == nil {
		return nil
	}
	data, err := s.Data()
	if err != nil || len(data) == 0 {
		return nil
	}
	return data
})

// ValidatedCacheDir is where the CLI keeps the cache of validated inputs
// (LoadOptions.ValidatedCache): podstack/validated in the user's cache
// directory; "" when there is none.
func ValidatedCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "podstack", "validated")
}
