package ops_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/stack"
)

// fakeNotifier delivers the paths a test sends, as if they had changed.
type fakeNotifier struct {
	events chan string
	errs   chan error
	paths  []string
}

func (n *fakeNotifier) Events() <-chan string { return n.events }
func (n *fakeNotifier) Errors() <-chan error  { return n.errs }
func (n *fakeNotifier) Close() error          { return nil }

// syncBuffer is a status buffer Watch writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// watchFixture is a stack watched on the fake engine: Watch brought it up
// and runs in the background until the test ends.
type watchFixture struct {
	t      *testing.T
	dir    string
	e      *fakeengine.Engine
	n      *fakeNotifier
	status *syncBuffer
}

func writeTree(t *testing.T, dir string, files map[string]string) {
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

func loadIn(t *testing.T, dir, text string) *stack.Stack {
	t.Helper()
	writeTree(t, dir, map[string]string{"compose.yaml": text})
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml")},
		Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startWatch(t *testing.T, dir, text string) *watchFixture {
	t.Helper()
	s := loadIn(t, dir, text)
	e := fakeengine.New()
	e.AddImages("busybox")
	f := &watchFixture{t: t, dir: dir, e: e, n: &fakeNotifier{events: make(chan string, 16), errs: make(chan error)}, status: &syncBuffer{}}
	p := ops.New(s, e)
	p.Status = f.status
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- p.Watch(ctx, ops.WatchOptions{Quiet: 20 * time.Millisecond, Ready: func() { close(ready) },
			Notify: func(paths []string, skip func(string) bool) (ops.Notifier, error) {
				f.n.paths = paths
				return f.n, nil
			}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch ended with %v, want nil when its context ends (Ctrl-C)", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("watch ended before it was ready: %v\n%s", err, f.status.String())
	case <-time.After(10 * time.Second):
		t.Fatal("watch never became ready")
	}
	e.ResetCalls()
	return f
}

// change sends paths (relative to the stack's directory) as changed and
// waits until the batch has been handled: the engine is called, then
// stays uncalled for a while.
func (f *watchFixture) change(paths ...string) []fakeengine.Call {
	f.t.Helper()
	for _, p := range paths {
		f.n.events <- filepath.Join(f.dir, p)
	}
	deadline := time.Now().Add(10 * time.Second)
	seen := 0
	stableSince := time.Now()
	for {
		calls := len(f.e.Calls())
		if calls != seen {
			seen, stableSince = calls, time.Now()
		}
		if seen > 0 && time.Since(stableSince) > 200*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("nothing happened after changes to %v:\n%s", paths, f.status.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	calls := f.e.Mutations()
	f.e.ResetCalls()
	return calls
}

// TestWatchSyncs: Watch brings the stack up; a batch of changes under a
// sync rule becomes one archive copied into the service's running
// container at the target, a deleted file is removed there, and ignored
// files (the rule's ignore, the build's .dockerignore, editors' temporary
// files, .git) never travel.
func TestWatchSyncs(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"web/src/index.html": "v1", "web/src/old.css": "x", "web/src/tmp/cache": "c",
		"web/Dockerfile": "FROM busybox", "web/.dockerignore": "**/*.log\n",
	})
	f := startWatch(t, dir, `name: demo
services:
  web:
    build: ./web
    image: busybox
    develop:
      watch:
        - path: ./web/src
          action: sync
          target: /app
          ignore: [tmp/]
  db:
    image: busybox
`)
	if c, ok := f.e.Container("demo-web-1"); !ok || c.State != "running" {
		t.Fatalf("watch did not bring web up: %+v", c)
	}
	if want := []string{filepath.Join(dir, "web/src")}; !reflect.DeepEqual(f.n.paths, want) {
		t.Errorf("watched %v, want %v", f.n.paths, want)
	}

	writeTree(t, filepath.Join(dir, "web/src"), map[string]string{"index.html": "v2", "new/page.html": "p", "debug.log": "l",
		".index.html.swp": "s", "tmp/cache": "c2"})
	os.Remove(filepath.Join(dir, "web/src/old.css"))
	f.change("web/src/index.html", "web/src/new/page.html", "web/src/debug.log", "web/src/.index.html.swp",
		"web/src/tmp/cache", "web/src/old.css", "web/src/.git/HEAD")
	copies := f.e.Copies()
	if len(copies) != 1 {
		t.Fatalf("%d copies, want one batch: %+v", len(copies), copies)
	}
	want := fakeengine.CopyRequest{Container: "demo-web-1", Dir: "/", Files: map[string]string{"/app/index.html": "v2", "/app/new/page.html": "p"}}
	if !reflect.DeepEqual(copies[0], want) {
		t.Errorf("copied %+v\nwant %+v", copies[0], want)
	}
	var rm []string
	for _, x := range f.e.Execs() {
		rm = append(rm, x.Container+": "+strings.Join(x.Cmd, " "))
	}
	if want := []string{"demo-web-1: rm -rf -- /app/old.css"}; !reflect.DeepEqual(rm, want) {
		t.Errorf("ran %v, want %v", rm, want)
	}
	if !strings.Contains(f.status.String(), "Syncing web: ./web/src/index.html, ./web/src/new/page.html, removed /app/old.css") {
		t.Errorf("status does not say what was synced:\n%s", f.status.String())
	}

	// A directory that appears is copied whole, less what is ignored
	// (.dockerignore's **/*.log).
	writeTree(t, filepath.Join(dir, "web/src"), map[string]string{"assets/a.png": "a", "assets/x.log": "no"})
	f.change("web/src/assets")
	copies = f.e.Copies()[1:]
	if len(copies) != 1 || !reflect.DeepEqual(copies[0].Files, map[string]string{"/app/assets": "<dir>", "/app/assets/a.png": "a"}) {
		t.Errorf("directory copy %+v", copies)
	}
}

// TestWatchInitialSyncAndExec: initial_sync copies the whole tree in
// before watching (less the Dockerfile and stack files), and sync+exec
// runs its command once per batch after syncing, with its environment.
func TestWatchInitialSyncAndExec(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"conf/app.ini": "a=1", "conf/sub/b.ini": "b=1", "conf/Dockerfile": "FROM x", "conf/compose.yaml": "x"})
	f := startWatch(t, dir, `name: demo
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
	copies := f.e.Copies()
	if len(copies) != 1 || !reflect.DeepEqual(copies[0].Files, map[string]string{"/etc/app/app.ini": "a=1", "/etc/app/sub/b.ini": "b=1"}) {
		t.Errorf("initial sync copied %+v", copies)
	}
	if x := f.e.Execs(); len(x) != 0 {
		t.Errorf("initial sync ran %+v", x)
	}

	writeTree(t, dir, map[string]string{"conf/app.ini": "a=2", "conf/sub/b.ini": "b=2"})
	f.change("conf/app.ini", "conf/sub/b.ini")
	if copies := f.e.Copies()[1:]; len(copies) != 1 || len(copies[0].Files) != 2 {
		t.Errorf("copies %+v", copies)
	}
	x := f.e.Execs()
	if len(x) != 1 || x[0].Container != "demo-api-1" || strings.Join(x[0].Cmd, " ") != "kill -HUP 1" || !reflect.DeepEqual(x[0].Env, []string{"WHY=reload"}) {
		t.Errorf("ran %+v, want kill -HUP 1 once per batch, with WHY=reload", x)
	}
}

// TestWatchRestartAndRebuild: sync+restart syncs, then restarts the
// service's container; restart only restarts; rebuild builds the image
// again and recreates the container from it.
func TestWatchRestartAndRebuild(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"conf/app.ini": "a", "app/Dockerfile": "FROM busybox", "app/main.go": "package main"})
	f := startWatch(t, dir, `name: demo
services:
  api:
    image: busybox
    develop:
      watch:
        - {path: ./conf, action: sync+restart, target: /etc/app}
        - {path: ./flags, action: restart}
  built:
    build: ./app
    develop:
      watch:
        - {path: ./app, action: rebuild}
`)
	calls := f.change("conf/app.ini")
	if got := names(calls); !reflect.DeepEqual(got, []string{"CopyTo demo-api-1", "StopContainer demo-api-1", "StartContainer demo-api-1"}) {
		t.Errorf("sync+restart did %v", got)
	}
	calls = f.change("flags")
	if got := names(calls); !reflect.DeepEqual(got, []string{"StopContainer demo-api-1", "StartContainer demo-api-1"}) {
		t.Errorf("restart did %v", got)
	}
	before, _ := f.e.Container("demo-built-1")
	calls = f.change("app/main.go")
	got := names(calls)
	if len(got) == 0 || got[0] != "BuildImage demo-built" {
		t.Errorf("rebuild did %v, want BuildImage first", got)
	}
	// A build that fails leaves the running container alone.
	f.e.FailOnce("BuildImage", "demo-built", errors.New("build failed: syntax error"))
	calls = f.change("app/main.go")
	if got := names(calls); !reflect.DeepEqual(got, []string{"BuildImage demo-built"}) {
		t.Errorf("a failed rebuild did %v", got)
	}
	if !strings.Contains(f.status.String(), "rebuild built: ") {
		t.Errorf("the failed rebuild is not reported:\n%s", f.status.String())
	}
	after, ok := f.e.Container("demo-built-1")
	if !ok || after.ID == before.ID || after.State != "running" {
		t.Errorf("rebuild left built as %+v (was %s): want a new running container", after, before.ID)
	}
	for _, c := range calls {
		if strings.Contains(c.Name, "api") {
			t.Errorf("rebuilding built touched api: %v", got)
		}
	}
}

func names(calls []fakeengine.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.String())
	}
	return out
}

// TestWatchNothingToWatch: services without develop.watch are refused up
// front, naming them, before anything starts.
func TestWatchNothingToWatch(t *testing.T) {
	s := loadIn(t, t.TempDir(), "name: demo\nservices:\n  db:\n    image: busybox\n")
	e := fakeengine.New()
	err := ops.New(s, e).Watch(context.Background(), ops.WatchOptions{Services: []string{"db"}})
	if err == nil || !strings.Contains(err.Error(), ops.ErrNothingToWatch.Error()) || !strings.Contains(err.Error(), "(db)") {
		t.Fatalf("err %v, want %v naming db", err, ops.ErrNothingToWatch)
	}
	var problems stack.Problems
	if !errors.As(err, &problems) {
		t.Errorf("%v is no usage problem (exit 2)", err)
	}
	if m := e.Mutations(); len(m) != 0 {
		t.Errorf("changed %v before refusing", m)
	}
}
