package fakeengine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// clock advances only when the executor sleeps, so health-check intervals
// cost no real time; the engine stamps its times with it too.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// shopStack has a bit of everything a plan makes: a healthchecked database
// with a named volume and a secret, a one-shot migration, a two-service
// pod (so an infra container) with published ports and a bind mount, and
// a single-service pod publishing its own port.
const shopStack = `name: shop
services:
  db:
    image: postgres:16
    environment: {MODE: one}
    healthcheck: {test: ["CMD", "pg_isready"], interval: 2s}
    volumes: [data:/var/lib/postgresql/data]
    secrets: [dbpass]
  migrate:
    image: shop/migrate:1
    depends_on: {db: {condition: service_healthy}}
  api:
    image: shop/api:1
    x-pod: app
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
    volumes: [./uploads:/srv/uploads]
  proxy:
    image: nginx
    x-pod: app
    ports: ["8080:80"]
  web:
    image: nginx
    ports: ["8081:80"]
volumes:
  data: {}
secrets:
  dbpass: {file: ./dbpass.txt}
`

// fixture is an engine, a clock shared with the executor, and the stack
// file it plans from.
type fixture struct {
	t     *testing.T
	e     *fakeengine.Engine
	clock *clock
	dir   string
	path  string
}

// newFixture writes the stack (and its secret file) and returns an engine
// where the migration is a job that succeeds and the uploads directory is
// missing.
func newFixture(t *testing.T, content string) *fixture {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dbpass.txt"), []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, e: fakeengine.New(), clock: newClock(), dir: dir, path: path}
	f.e.SetClock(f.clock.Now)
	f.e.ScriptService("migrate", fakeengine.Script{Exits: []int{0}, Stdout: []string{"migrated"}})
	f.e.AddMissingDirectories(filepath.Join(dir, "uploads"))
	return f
}

// load reads the stack file as it is now.
func (f *fixture) load(project string) *stack.Stack {
	f.t.Helper()
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{f.path}, ProjectName: project,
		Environ: func() []string { return nil }})
	if err != nil {
		f.t.Fatalf("load: %v", err)
	}
	return s
}

// rewrite replaces old with new in the stack file.
func (f *fixture) rewrite(old, new string) {
	f.t.Helper()
	b, err := os.ReadFile(f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		f.t.Fatalf("stack has no %q", old)
	}
	if err := os.WriteFile(f.path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) exec() planner.ExecOptions {
	return planner.ExecOptions{Now: f.clock.Now, Sleep: f.clock.Sleep, WaitTimeout: time.Minute}
}

// up runs planner.Up for the project ("" the file's name) and fails the
// test on an error.
func (f *fixture) up(project string, opts planner.Options) *planner.Plan {
	f.t.Helper()
	p, err := f.tryUp(project, opts)
	if err != nil {
		f.t.Fatalf("up: %v\nplan:\n%s", err, p)
	}
	return p
}

func (f *fixture) tryUp(project string, opts planner.Options) (*planner.Plan, error) {
	s := f.load(project)
	return planner.Up(context.Background(), f.e, s, opts, planner.UpOptions{}, f.exec(), nil)
}

func (f *fixture) down(project string, opts planner.DownOptions) *planner.Plan {
	f.t.Helper()
	s := f.load(project)
	p, err := planner.Down(context.Background(), f.e, s.Name, s, opts, f.exec(), nil)
	if err != nil {
		f.t.Fatalf("down: %v\nplan:\n%s", err, p)
	}
	return p
}

func (f *fixture) observe(project string) *planner.ObservedState {
	f.t.Helper()
	o, err := f.e.Observe(context.Background(), project, planner.LookupFor(f.load(project)))
	if err != nil {
		f.t.Fatal(err)
	}
	return o
}

func (f *fixture) container(name string) fakeengine.Container {
	f.t.Helper()
	c, ok := f.e.Container(name)
	if !ok {
		f.t.Fatalf("no container %s", name)
	}
	return c
}

// index is the position of the first call "op name" in calls, -1 if none.
func index(calls []fakeengine.Call, op, name string) int {
	for i, c := range calls {
		if c.Op == op && c.Name == name {
			return i
		}
	}
	return -1
}

// lastIndex is the position of the last call "op name", -1 if none.
func lastIndex(calls []fakeengine.Call, op, name string) int {
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Op == op && calls[i].Name == name {
			return i
		}
	}
	return -1
}

func callStrings(calls []fakeengine.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.String())
	}
	return out
}

func names[T any](list []T, name func(T) string) []string {
	var out []string
	for _, v := range list {
		out = append(out, name(v))
	}
	return out
}
