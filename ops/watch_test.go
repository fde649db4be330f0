package ops

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// syncEngine is the part of an engine watch's syncs use: one running
// container per service, and a record of what was copied and run in them.
// Anything else it is asked panics (the embedded nil Engine).
type syncEngine struct {
	Engine
	project  string
	services []string

	mu     sync.Mutex
	copies []copied // in order
	execs  []string // "container: cmd"
	batch  chan struct{}
}

type copied struct {
	container, dir string
	files          map[string]string // archive name -> content ("<dir>" for directories)
}

func (e *syncEngine) Observe(ctx context.Context, project string, look *planner.Lookup) (*planner.ObservedState, error) {
	o := &planner.ObservedState{}
	for _, s := range e.services {
		o.Containers = append(o.Containers, planner.ObservedContainer{Name: e.project + "-" + s + "-1", State: "running",
			Labels: map[string]string{planner.LabelService: s, planner.LabelProject: e.project}})
	}
	return o, nil
}

func (e *syncEngine) CopyToContainer(ctx context.Context, name, dir string, r io.Reader) error {
	files := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		data, _ := io.ReadAll(tr)
		if h.Typeflag == tar.TypeDir {
			data = []byte("<dir>")
		}
		files[h.Name] = string(data)
	}
	e.mu.Lock()
	e.copies = append(e.copies, copied{name, dir, files})
	e.mu.Unlock()
	e.signal()
	return nil
}

func (e *syncEngine) Exec(ctx context.Context, name string, o ExecOptions) (int, error) {
	e.mu.Lock()
	e.execs = append(e.execs, name+": "+strings.Join(o.Cmd, " ")+envOf(o))
	e.mu.Unlock()
	e.signal()
	return 0, nil
}

func envOf(o ExecOptions) string {
	if len(o.Env) == 0 {
		return ""
	}
	return " [" + strings.Join(o.Env, " ") + "]"
}

func (e *syncEngine) signal() {
	select {
	case e.batch <- struct{}{}:
	default:
	}
}

func (e *syncEngine) take() ([]copied, []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, x := e.copies, e.execs
	e.copies, e.execs = nil, nil
	return c, x
}

// fakeNotifier delivers the paths a test sends.
type fakeNotifier struct {
	events chan string
	errs   chan error
	paths  []string
}

func (n *fakeNotifier) Events() <-chan string { return n.events }
func (n *fakeNotifier) Errors() <-chan error  { return n.errs }
func (n *fakeNotifier) Close() error          { return nil }

// watching starts Watch on the stack in the background and returns the
// notifier it watches through; the test's end stops it.
func watching(t *testing.T, s *stack.Stack, e *syncEngine, status io.Writer) *fakeNotifier {
	t.Helper()
	n := &fakeNotifier{events: make(chan string, 16), errs: make(chan error)}
	p := &Project{Name: s.Name, Stack: s, Engine: e, Status: status}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- p.Watch(ctx, WatchOptions{NoUp: true, Quiet: 50 * time.Millisecond, Ready: func() { close(ready) },
			Notify: func(paths []string, skip func(string) bool) (Notifier, error) {
				n.paths = paths
				return n, nil
			}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch ended with %v, want nil on Ctrl-C", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("watch ended before it was ready: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("watch never became ready")
	}
	return n
}

// settle waits for the engine to be used and then to stay unused for a
// while: a batch has been handled.
func settle(t *testing.T, e *syncEngine) {
	t.Helper()
	select {
	case <-e.batch:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing was synced")
	}
	for {
		select {
		case <-e.batch:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func loadStack(t *testing.T, dir, text string) *stack.Stack {
	t.Helper()
	writeFiles(t, dir, map[string]string{"compose.yaml": text})
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml")},
		Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWatchSyncs: a batch of changes under a sync rule becomes one archive
// copied into the service's running container at the target, a deleted
// file is removed there, and ignored files (the rule's ignore, the build's
// .dockerignore, editors' temporary files, .git) never travel.
func TestWatchSyncs(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"web/src/index.html": "v1", "web/src/old.css": "x", "web/src/tmp/cache": "c",
		"web/Dockerfile": "FROM scratch", "web/.dockerignore": "src/*.log\n",
	})
	s := loadStack(t, dir, `name: demo
services:
  web:
    build: ./web
    develop:
      watch:
        - path: ./web/src
          action: sync
          target: /app
          ignore: [tmp/]
  db:
    image: busybox
`)
	e := &syncEngine{project: "demo", services: []string{"web", "db"}, batch: make(chan struct{}, 1)}
	var status bytes.Buffer
	n := watching(t, s, e, &status)
	if want := []string{filepath.Join(dir, "web/src")}; !reflect.DeepEqual(n.paths, want) {
		t.Errorf("watched %v, want %v", n.paths, want)
	}

	src := filepath.Join(dir, "web/src")
	writeFiles(t, src, map[string]string{"index.html": "v2", "new/page.html": "p", "debug.log": "l", ".index.html.swp": "s", "tmp/cache": "c2"})
	os.Remove(filepath.Join(src, "old.css"))
	for _, f := range []string{"index.html", "new/page.html", "debug.log", ".index.html.swp", "tmp/cache", "old.css", ".git/HEAD"} {
		n.events <- filepath.Join(src, f)
	}
	settle(t, e)
	copies, execs := e.take()
	if len(copies) != 1 {
		t.Fatalf("%d copies, want one batch: %+v", len(copies), copies)
	}
	want := copied{container: "demo-web-1", dir: "/", files: map[string]string{"app/index.html": "v2", "app/new/page.html": "p"}}
	if !reflect.DeepEqual(copies[0], want) {
		t.Errorf("copied %+v\nwant %+v", copies[0], want)
	}
	if want := []string{"demo-web-1: rm -rf -- /app/old.css"}; !reflect.DeepEqual(execs, want) {
		t.Errorf("ran %v, want %v", execs, want)
	}
	if !strings.Contains(status.String(), "Syncing web: ./web/src/index.html, ./web/src/new/page.html, removed /app/old.css") {
		t.Errorf("status does not say what was synced:\n%s", status.String())
	}

	// A directory that appears is copied whole (less what is ignored).
	writeFiles(t, src, map[string]string{"assets/a.png": "a", "assets/tmp/x": "no"})
	os.MkdirAll(filepath.Join(src, "tmp"), 0o755)
	n.events <- filepath.Join(src, "assets")
	settle(t, e)
	copies, _ = e.take()
	if len(copies) != 1 || !reflect.DeepEqual(copies[0].files, map[string]string{"app/assets/": "<dir>", "app/assets/a.png": "a", "app/assets/tmp/": "<dir>", "app/assets/tmp/x": "no"}) {
		// tmp/ is ignored relative to the rule's path, not inside assets.
		t.Errorf("directory copy %+v", copies)
	}
}

// TestWatchInitialSyncAndExec: initial_sync copies the whole tree in
// before watching (less the Dockerfile and stack files), and sync+exec
// runs its command once per batch after syncing, with its environment.
func TestWatchInitialSyncAndExec(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"conf/app.ini": "a=1", "conf/sub/b.ini": "b=1", "conf/Dockerfile": "FROM x", "conf/compose.yaml": "x"})
	s := loadStack(t, dir, `name: demo
services:
  api:
    image: busybox
    develop:
      watch:
        - path: ./conf
          action: sync+exec
          target: /etc/app
          initial_sync: true
          exec:
            command: [kill, -HUP, "1"]
            environment: {WHY: reload}
`)
	e := &syncEngine{project: "demo", services: []string{"api"}, batch: make(chan struct{}, 1)}
	n := watching(t, s, e, nil)
	copies, execs := e.take()
	if len(copies) != 1 || !reflect.DeepEqual(copies[0].files, map[string]string{"etc/app/app.ini": "a=1", "etc/app/sub/b.ini": "b=1"}) {
		t.Errorf("initial sync copied %+v", copies)
	}
	if len(execs) != 0 {
		t.Errorf("initial sync ran %v", execs)
	}

	writeFiles(t, dir, map[string]string{"conf/app.ini": "a=2", "conf/sub/b.ini": "b=2"})
	n.events <- filepath.Join(dir, "conf/app.ini")
	n.events <- filepath.Join(dir, "conf/sub/b.ini")
	settle(t, e)
	copies, execs = e.take()
	if len(copies) != 1 || len(copies[0].files) != 2 {
		t.Errorf("copies %+v", copies)
	}
	if want := []string{"demo-api-1: kill -HUP 1 [WHY=reload]"}; !reflect.DeepEqual(execs, want) {
		t.Errorf("ran %v, want %v (once per batch)", execs, want)
	}
}

// TestWatchNothingToWatch: services without develop.watch are refused up
// front, naming them, before anything starts.
func TestWatchNothingToWatch(t *testing.T) {
	s := loadStack(t, t.TempDir(), "name: demo\nservices:\n  db:\n    image: busybox\n")
	p := &Project{Name: "demo", Stack: s, Engine: &syncEngine{}}
	err := p.Watch(context.Background(), WatchOptions{Services: []string{"db"}})
	if !errors.Is(err, ErrNothingToWatch) && (err == nil || !strings.Contains(err.Error(), ErrNothingToWatch.Error())) {
		t.Fatalf("err %v, want %v", err, ErrNothingToWatch)
	}
	if !strings.Contains(err.Error(), "(db)") {
		t.Errorf("%v does not name the service", err)
	}
}

// TestWatchRuleMatch: a rule maps host paths under it to the container,
// with ignore and include patterns relative to its path.
func TestWatchRuleMatch(t *testing.T) {
	svc := &stack.Service{Name: "web"}
	r, err := newWatchRule(svc, stack.WatchRule{Path: "/src/web", Action: stack.WatchSync, Target: "/app",
		Ignore: []string{"node_modules/", "**/*.test.js"}, Include: []string{"*.js", "lib/"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"/src/web/main.js":             "/app/main.js",
		"/src/web/lib/x/y.go":          "/app/lib/x/y.go",
		"/src/web/readme.md":           "", // not included
		"/src/web/node_modules/a.js":   "", // ignored
		"/src/web/lib/a.test.js":       "", // ignored
		"/src/webapp/main.js":          "", // a sibling, not under the path
		"/src/web/.git/objects/ab.js":  "",
		"/src/web/lib/.idea/workspace": "",
	}
	var got []string
	for p, want := range cases {
		target, ok := r.match(p)
		if ok != (want != "") || target != want {
			got = append(got, p+" -> "+target)
		}
	}
	sort.Strings(got)
	if len(got) > 0 {
		t.Errorf("wrong matches: %v", got)
	}
}
