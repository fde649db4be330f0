package fswatch

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// collect reads events until want has been seen, failing after a while.
func collect(t *testing.T, w *Watcher, want ...string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	deadline := time.After(5 * time.Second)
	for {
		missing := false
		for _, p := range want {
			if !seen[p] {
				missing = true
			}
		}
		if !missing {
			return seen
		}
		select {
		case p := <-w.Events():
			seen[p] = true
		case err := <-w.Errors():
			t.Fatalf("watch error: %v", err)
		case <-deadline:
			t.Fatalf("saw %v, want all of %v", seen, want)
		}
	}
}

// quiet fails when an event comes within a short while.
func quiet(t *testing.T, w *Watcher, what string) {
	t.Helper()
	select {
	case p := <-w.Events():
		t.Errorf("%s: got an event for %s", what, p)
	case <-time.After(300 * time.Millisecond):
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTreeIsWatchedRecursively: changes deep in a tree, in directories
// created after watching began (with files already in them), and removals
// are reported; skipped directories and paths outside the roots are not.
func TestTreeIsWatchedRecursively(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	write(t, filepath.Join(src, "deep/a.txt"), "a")
	write(t, filepath.Join(src, ".git/HEAD"), "ref")
	write(t, filepath.Join(dir, "outside.txt"), "o")
	w, err := New([]string{src}, func(d string) bool { return filepath.Base(d) == ".git" })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	write(t, filepath.Join(src, "deep/a.txt"), "changed")
	collect(t, w, filepath.Join(src, "deep/a.txt"))

	// A tree made at once (as git checkout or cp -r do): its files count.
	tmp := filepath.Join(dir, "staged")
	write(t, filepath.Join(tmp, "x/y.txt"), "y")
	if err := os.Rename(tmp, filepath.Join(src, "new")); err != nil {
		t.Fatal(err)
	}
	collect(t, w, filepath.Join(src, "new/x/y.txt"))
	// and it is watched from then on
	write(t, filepath.Join(src, "new/x/z.txt"), "z")
	collect(t, w, filepath.Join(src, "new/x/z.txt"))

	if err := os.Remove(filepath.Join(src, "deep/a.txt")); err != nil {
		t.Fatal(err)
	}
	collect(t, w, filepath.Join(src, "deep/a.txt"))

	write(t, filepath.Join(src, ".git/HEAD"), "other")
	write(t, filepath.Join(dir, "outside.txt"), "other")
	quiet(t, w, "skipped directory and outside file")
}

// TestFileAndMissingRoots: a file root is watched through its directory
// (editors replace files by renaming), and the files of a root that does
// not exist yet are reported once it appears.
func TestFileAndMissingRoots(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "package.json")
	write(t, file, "{}")
	write(t, filepath.Join(dir, "other.json"), "{}")
	later := filepath.Join(dir, "later/conf")
	w, err := New([]string{file, later}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	// replace by rename, as editors save
	write(t, file+".tmp", `{"v": 2}`)
	if err := os.Rename(file+".tmp", file); err != nil {
		t.Fatal(err)
	}
	collect(t, w, file)
	write(t, filepath.Join(dir, "other.json"), "{}")
	quiet(t, w, "sibling of a file root")

	// However fast the tree appears, its files are reported, and it is
	// watched from then on.
	write(t, filepath.Join(later, "app.ini"), "x=1")
	collect(t, w, filepath.Join(later, "app.ini"))
	write(t, filepath.Join(later, "more.ini"), "y=1")
	collect(t, w, filepath.Join(later, "more.ini"))
}
