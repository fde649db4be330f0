package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/podstack/podstack/internal/testcorpus"
)

// skips records, for each compose-go load, whether it was told to skip
// validation.
func watchValidation(t *testing.T) *[]bool {
	t.Helper()
	var skips []bool
	composeLoad = func(ctx context.Context, d types.ConfigDetails, opts ...func(*loader.Options)) (*types.Project, error) {
		var o loader.Options
		for _, f := range opts {
			f(&o)
		}
		skips = append(skips, o.SkipValidation)
		return loader.LoadWithContext(ctx, d, opts...)
	}
	t.Cleanup(func() { composeLoad = loader.LoadWithContext })
	return &skips
}

func markers(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(entries)
}

// loadCachedBothWays loads files without the cache, then twice with an
// empty one: all three give the same stack (or error), and the third
// skips validation where the inputs can be cached.
func loadCachedBothWays(t *testing.T, files ...string) {
	t.Helper()
	env := func() []string { return []string{"PWD_SET=x"} }
	dir := t.TempDir()
	plain, perr := Load(context.Background(), LoadOptions{Files: files, Environ: env})
	skips := watchValidation(t)
	first, ferr := Load(context.Background(), LoadOptions{Files: files, Environ: env, ValidatedCache: dir})
	second, serr := Load(context.Background(), LoadOptions{Files: files, Environ: env, ValidatedCache: dir})
	composeLoad = loader.LoadWithContext
	for _, s := range []*Stack{plain, first, second} {
		if s != nil {
			// compose-go warns of an obsolete version key once per file
			// and process, and of unset variables in map order.
			s.Warnings = slices.DeleteFunc(s.Warnings, func(w Warning) bool { return strings.Contains(w.Message, "`version` is obsolete") })
			slices.SortFunc(s.Warnings, func(a, b Warning) int { return strings.Compare(a.Message, b.Message) })
			if len(s.Warnings) == 0 {
				s.Warnings = nil
			}
		}
	}
	for i, got := range []struct {
		s   *Stack
		err error
	}{{first, ferr}, {second, serr}} {
		switch {
		case (perr == nil) != (got.err == nil):
			t.Errorf("%v, load %d with the cache: %v; without: %v", files, i+1, got.err, perr)
		case perr != nil:
			if perr.Error() != got.err.Error() {
				t.Errorf("%v, load %d: errors differ:\nwith the cache: %v\nwithout:        %v", files, i+1, got.err, perr)
			}
		case !reflect.DeepEqual(plain, got.s):
			a, _ := json.MarshalIndent(got.s, "", " ")
			b, _ := json.MarshalIndent(plain, "", " ")
			t.Errorf("%v, load %d: stacks differ:\nwith the cache:\n%s\nwithout:\n%s", files, i+1, a, b)
		}
	}
	// A load that compose-go validated may still fail podstack's own
	// checks: it is recorded all the same.
	if n := markers(t, dir); n > 1 {
		t.Errorf("%v: %d inputs recorded", files, n)
	} else if n == 1 && (len(*skips) < 2 || (*skips)[0] || !(*skips)[len(*skips)-1]) {
		t.Errorf("%v: recorded, but compose-go was told to skip validation %v", files, *skips)
	}
}

// TestValidatedSameStack: skipping compose-go's validation of inputs it
// has validated before changes nothing, on every test file, the
// awesome-compose corpus and podman-compose's fixtures (several files,
// include, extends, version keys: the inputs that are never cached).
func TestValidatedSameStack(t *testing.T) {
	tests, _ := filepath.Glob("testdata/*.yaml")
	for _, f := range tests {
		loadCachedBothWays(t, f)
	}
	for _, f := range testcorpus.AwesomeCompose(t) {
		loadCachedBothWays(t, f)
	}
	t.Run("podman-compose", func(t *testing.T) {
		root := testcorpus.Peer(t, ".")
		for _, rel := range podmanComposeFiles(t, root) {
			loadCachedBothWays(t, filepath.Join(root, rel))
		}
	})
}

// TestValidatedKeys: a recorded load is skipped only for the same bytes
// and the same values of the variables the file names; a change to
// either validates again, and an invalid file records nothing. Files that
// make validation do more than validate, or read other files, are never
// recorded.
func TestValidatedKeys(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(t.TempDir(), "validated")
	path := filepath.Join(dir, "compose.yaml")
	write := func(content string) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	load := func(env ...string) error {
		_, err := Load(context.Background(), LoadOptions{Files: []string{path}, ProjectName: "keys", ValidatedCache: cache,
			Environ: func() []string { return env }})
		return err
	}
	skips := watchValidation(t)
	last := func() bool { return (*skips)[len(*skips)-1] }

	write("services:\n  web:\n    image: nginx:${TAG:-1}\n")
	for i, step := range []struct {
		env      []string
		skipped  bool
		recorded int
	}{
		{[]string{"TAG=2", "OTHER=a"}, false, 1},
		{[]string{"TAG=2", "OTHER=a"}, true, 1},
		{[]string{"TAG=2", "OTHER=b"}, true, 1}, // a variable the file does not name
		{[]string{"TAG=3", "OTHER=b"}, false, 2},
	} {
		if err := load(step.env...); err != nil {
			t.Fatal(err)
		}
		if last() != step.skipped || markers(t, cache) != step.recorded {
			t.Errorf("load %d (%v): skipped %v, %d recorded; want %v, %d", i+1, step.env, last(), markers(t, cache), step.skipped, step.recorded)
		}
	}
	// Other bytes: validated again, and an error is an error.
	write("services:\n  web:\n    image: nginx:${TAG:-1}\n    restart: 5\n")
	if err := load("TAG=2"); err == nil || last() {
		t.Errorf("an invalid file loads (%v) or skips validation (%v)", err, last())
	}
	if n := markers(t, cache); n != 2 {
		t.Errorf("an invalid file was recorded: %d", n)
	}
	for _, content := range []string{
		"version: '3'\nservices:\n  web:\n    image: nginx\n",
		"services:\n  web:\n    image: nginx\n  api:\n    extends: web\n",
		"include:\n  - other.yaml\nservices:\n  web:\n    image: nginx\n",
		"x-base: &base\n  services:\n    web:\n      image: nginx\n<<: *base\n",
	} {
		os.WriteFile(filepath.Join(dir, "other.yaml"), []byte("services:\n  db:\n    image: postgres\n"), 0o644)
		write(content)
		before := markers(t, cache)
		for range 2 {
			if err := load(); err != nil {
				t.Fatalf("%q: %v", content, err)
			}
			if last() {
				t.Errorf("%q: validation skipped", content)
			}
		}
		if markers(t, cache) != before {
			t.Errorf("%q: recorded", content)
		}
	}
}

// TestValidatedPrune: the cache forgets keys unused for validatedMaxAge
// and keeps at most validatedMaxKeys, the least recently used going
// first; a hit marks its key used, so a stack loaded every day stays.
func TestValidatedPrune(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	mark := func(name string, used time.Time) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, used, used); err != nil {
			t.Fatal(err)
		}
	}
	mark("stale", now.Add(-validatedMaxAge-time.Hour))
	mark("used-today", now.Add(-validatedMaxAge-time.Hour))
	if !(validated{path: filepath.Join(dir, "used-today")}).hit() {
		t.Fatal("a recorded key is no hit")
	}
	for i := range validatedMaxKeys + 5 {
		mark(fmt.Sprintf("k%04d", i), now.Add(-time.Duration(validatedMaxKeys+5-i)*time.Minute))
	}
	pruneValidated(dir, now)
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != validatedMaxKeys {
		t.Errorf("%d keys kept, want %d", len(names), validatedMaxKeys)
	}
	for _, gone := range []string{"stale", "k0000", "k0005"} {
		if slices.Contains(names, gone) {
			t.Errorf("%s was kept", gone)
		}
	}
	for _, kept := range []string{"used-today", "k0006", fmt.Sprintf("k%04d", validatedMaxKeys+4)} {
		if !slices.Contains(names, kept) {
			t.Errorf("%s was pruned", kept)
		}
	}
}
