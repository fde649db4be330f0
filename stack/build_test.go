package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func digestOf(t *testing.T, b *Build) string {
	t.Helper()
	d, err := b.ContextDigest()
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 32 {
		t.Fatalf("digest %q", d)
	}
	return d
}

// TestContextDigest: the digest changes with every input of a build and
// with nothing the build does not read.
func TestContextDigest(t *testing.T) {
	root := t.TempDir()
	ctx := filepath.Join(root, "app")
	writeTree(t, ctx, map[string]string{
		"Dockerfile":          "FROM busybox\nCOPY . /app\n",
		".dockerignore":       "# comment\nnode_modules\n*.log\n!keep.log\n/tmp\n",
		"main.go":             "package main\n",
		"pkg/lib.go":          "package pkg\n",
		"node_modules/x/a.js": "1",
		"debug.log":           "noise",
		"keep.log":            "kept",
		"tmp/scratch":         "x",
	})
	b := &Build{Context: ctx}
	base := digestOf(t, b)
	if again := digestOf(t, b); again != base {
		t.Fatalf("two digests of the same context differ: %s %s", base, again)
	}

	changes := []struct {
		name    string
		change  func()
		undo    func()
		changed bool
	}{
		{"Dockerfile edited", edit(t, ctx, "Dockerfile", "FROM busybox\nCOPY . /srv\n"), nil, true},
		{"context file edited", edit(t, ctx, "pkg/lib.go", "package pkg // v2\n"), nil, true},
		{"context file added", edit(t, ctx, "pkg/new.go", "package pkg\n"), nil, true},
		{"empty directory added", func() { os.Mkdir(filepath.Join(ctx, "empty"), 0o755) }, func() { os.Remove(filepath.Join(ctx, "empty")) }, true},
		{"file mode changed", func() { os.Chmod(filepath.Join(ctx, "main.go"), 0o755) }, func() { os.Chmod(filepath.Join(ctx, "main.go"), 0o644) }, true},
		{"symlink added", func() { os.Symlink("main.go", filepath.Join(ctx, "link")) }, func() { os.Remove(filepath.Join(ctx, "link")) }, true},
		{"exception of an ignore pattern edited", edit(t, ctx, "keep.log", "kept v2"), nil, true},
		{".dockerignore edited", edit(t, ctx, ".dockerignore", "node_modules\n*.log\n!keep.log\n/tmp\n"), nil, true},
		{"ignored file edited", edit(t, ctx, "debug.log", "more noise"), nil, false},
		{"file in an ignored directory edited", edit(t, ctx, "node_modules/x/a.js", "2"), nil, false},
		{"file under an anchored pattern edited", edit(t, ctx, "tmp/scratch", "y"), nil, false},
		{"file outside the context edited", edit(t, root, "README", "not sent"), nil, false},
	}
	for _, c := range changes {
		before := digestOf(t, b)
		c.change()
		after := digestOf(t, b)
		if (after != before) != c.changed {
			t.Errorf("%s: digest changed=%v, want %v", c.name, after != before, c.changed)
		}
		if c.undo != nil {
			c.undo()
			if back := digestOf(t, b); back != before {
				t.Errorf("%s undone: the digest did not come back", c.name)
			}
		}
	}

	settings := []struct {
		name string
		b    Build
	}{
		{"args", Build{Context: ctx, Args: map[string]string{"V": "1"}}},
		{"target", Build{Context: ctx, Target: "final"}},
		{"labels", Build{Context: ctx, Labels: map[string]string{"a": "b"}}},
	}
	plain := digestOf(t, b)
	for _, s := range settings {
		if digestOf(t, &s.b) == plain {
			t.Errorf("changing the build's %s leaves the digest", s.name)
		}
	}
	// NoCache and Pull change how it builds, not what.
	if digestOf(t, &Build{Context: ctx, NoCache: true, Pull: true}) != plain {
		t.Errorf("no_cache or pull changed the digest")
	}
}

func edit(t *testing.T, dir, name, content string) func() {
	return func() { writeTree(t, dir, map[string]string{name: content}) }
}

// TestContextDigestDockerfileElsewhere: a Dockerfile outside the context
// is read by the build, so it counts; its own .dockerignore applies when
// the context has none.
func TestContextDigestDockerfileElsewhere(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"docker/web.Dockerfile":              "FROM busybox\n",
		"docker/web.Dockerfile.dockerignore": "secret.txt\n",
		"src/main.go":                        "package main\n",
		"src/secret.txt":                     "x",
	})
	b := &Build{Context: filepath.Join(root, "src"), Dockerfile: "../docker/web.Dockerfile"}
	before := digestOf(t, b)
	writeTree(t, root, map[string]string{"src/secret.txt": "y"})
	if digestOf(t, b) != before {
		t.Errorf("a file the Dockerfile's own .dockerignore excludes changed the digest")
	}
	writeTree(t, root, map[string]string{"docker/web.Dockerfile": "FROM busybox:2\n"})
	if digestOf(t, b) == before {
		t.Errorf("editing a Dockerfile outside the context left the digest")
	}
}

// TestContextDigestLargeFiles: a file above ContentLimit counts by size
// and modification time, so its content is never read.
func TestContextDigestLargeFiles(t *testing.T) {
	ctx := t.TempDir()
	big := strings.Repeat("a", ContentLimit+1)
	writeTree(t, ctx, map[string]string{"Dockerfile": "FROM busybox\n", "model.bin": big})
	path := filepath.Join(ctx, "model.bin")
	stamp := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(path, stamp, stamp)
	b := &Build{Context: ctx}
	before := digestOf(t, b)
	// Same size, same time, other content: not read, so not seen.
	writeTree(t, ctx, map[string]string{"model.bin": strings.Repeat("b", ContentLimit+1)})
	os.Chtimes(path, stamp, stamp)
	if digestOf(t, b) != before {
		t.Errorf("a large file's content was digested")
	}
	os.Chtimes(path, stamp.Add(time.Second), stamp.Add(time.Second))
	if digestOf(t, b) == before {
		t.Errorf("a large file's new modification time left the digest")
	}
}

// TestResolveBuildDigests: every build gets its digest; one whose inputs
// are not there (a remote or missing context, a missing Dockerfile) keeps
// none; one that cannot be read is a problem naming the service and file.
func TestResolveBuildDigests(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"ok/Dockerfile": "FROM busybox\n", "nodockerfile/main.go": "x",
		"badignore/Dockerfile": "FROM busybox\n", "badignore/.dockerignore": "[z-a\n"})
	s := &Stack{Services: map[string]*Service{
		"ok":     {Name: "ok", Build: &Build{Context: filepath.Join(root, "ok")}},
		"gone":   {Name: "gone", Build: &Build{Context: filepath.Join(root, "gone")}},
		"nodf":   {Name: "nodf", Build: &Build{Context: filepath.Join(root, "nodockerfile")}},
		"bad":    {Name: "bad", Build: &Build{Context: filepath.Join(root, "badignore")}},
		"remote": {Name: "remote", Build: &Build{Context: "https://github.com/example/app.git"}},
		"pulled": {Name: "pulled", Image: "busybox"},
	}}
	err := s.ResolveBuildDigests()
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Service != "bad" ||
		!strings.Contains(err.Error(), "ignore patterns of "+filepath.Join(root, "badignore")) {
		t.Fatalf("want one problem about bad's .dockerignore, got %v", err)
	}
	for name, want := range map[string]bool{"ok": true, "gone": false, "nodf": false, "bad": false, "remote": false} {
		if got := s.Services[name].Build.Digest != ""; got != want {
			t.Errorf("%s has a digest: %v, want %v", name, got, want)
		}
	}
	if err := s.ResolveBuildDigests("ok", "pulled"); err != nil {
		t.Errorf("only the named services: %v", err)
	}
}

// BenchmarkContextDigest: the digest of a context of 10,000 small source
// files in 100 directories, beside 10,000 files in an ignored node_modules.
// up and plan pay this once per built service (ContentLimit bounds large
// files). On the 2-core test VM it costs about 220 ms of CPU, nearly all of
// it the open, read and lstat system calls: ~20 µs per file.
func BenchmarkContextDigest(b *testing.B) {
	ctx := b.TempDir()
	files := map[string]string{"Dockerfile": "FROM busybox\nCOPY . /app\n", ".dockerignore": "node_modules\n"}
	line := strings.Repeat("x", 1000)
	for d := range 100 {
		for f := range 100 {
			files[fmt.Sprintf("src/d%d/f%d.go", d, f)] = line
			files[fmt.Sprintf("node_modules/d%d/f%d.js", d, f)] = line
		}
	}
	writeTree(b, ctx, files)
	bd := &Build{Context: ctx}
	before := cpuTime()
	for b.Loop() {
		if _, err := bd.ContextDigest(); err != nil {
			b.Fatal(err)
		}
	}
	// On a shared machine wall time says more about the neighbours.
	b.ReportMetric(float64((cpuTime()-before).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
