package stack

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/podstack/podstack/internal/testcorpus"
)

// loadBothWays loads files with compose-go given podstack's parsed
// documents and the project name they give, and with compose-go parsing
// the files itself: the two must give the same stack, or the same error.
func loadBothWays(t *testing.T, files ...string) {
	t.Helper()
	load := func(fast bool) (*Stack, error) {
		composeFastPaths = fast
		defer func() { composeFastPaths = true }()
		return Load(context.Background(), LoadOptions{Files: files, Environ: func() []string { return []string{"PWD_SET=x"} }})
	}
	fast, ferr := load(true)
	slow, serr := load(false)
	// compose-go warns of an obsolete version key once per file and
	// process: only the first load of a file says so. It warns of unset
	// variables in map order: any order.
	for _, s := range []*Stack{fast, slow} {
		if s != nil {
			s.Warnings = slices.DeleteFunc(s.Warnings, func(w Warning) bool { return strings.Contains(w.Message, "`version` is obsolete") })
			slices.SortFunc(s.Warnings, func(a, b Warning) int { return strings.Compare(a.Message, b.Message) })
			if len(s.Warnings) == 0 {
				s.Warnings = nil
			}
		}
	}
	switch {
	case (ferr == nil) != (serr == nil):
		t.Errorf("%v: with podstack's parse: %v; with compose-go's: %v", files, ferr, serr)
	case ferr != nil:
		if ferr.Error() != serr.Error() {
			t.Errorf("%v: errors differ:\nwith podstack's parse: %v\nwith compose-go's:     %v", files, ferr, serr)
		}
	case !reflect.DeepEqual(fast, slow):
		a, _ := json.MarshalIndent(fast, "", " ")
		b, _ := json.MarshalIndent(slow, "", " ")
		t.Errorf("%v: stacks differ:\nwith podstack's parse:\n%s\nwith compose-go's:\n%s", files, a, b)
	}
}

// TestComposeFastPathsSameStack: handing compose-go podstack's parsed
// documents and project name changes nothing, on every test file, the
// awesome-compose corpus and podman-compose's fixtures (which exercise
// !reset, !override, include, extends and several files).
func TestComposeFastPathsSameStack(t *testing.T) {
	tests, _ := filepath.Glob("testdata/*.yaml")
	for _, f := range tests {
		loadBothWays(t, f)
	}
	for _, f := range testcorpus.AwesomeCompose(t) {
		loadBothWays(t, f)
	}
	t.Run("podman-compose", func(t *testing.T) {
		root := testcorpus.Peer(t, ".")
		byDir := map[string][]string{}
		for _, rel := range podmanComposeFiles(t, root) {
			f := filepath.Join(root, rel)
			loadBothWays(t, f)
			byDir[filepath.Dir(f)] = append(byDir[filepath.Dir(f)], f)
		}
		// Several files merged: each directory's first file with each other.
		pairs := 0
		for _, fs := range byDir {
			for _, f := range fs[1:] {
				loadBothWays(t, fs[0], f)
				pairs++
			}
		}
		if pairs < 10 {
			t.Errorf("merged only %d pairs of files", pairs)
		}
	})
}
