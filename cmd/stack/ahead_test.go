package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podstack/podstack/internal/lock"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

// fakeService answers a ping as Podman 4.3.1 and every listing with
// nothing, and counts the container listings.
type fakeService struct {
	url      string
	mu       sync.Mutex
	listings int
}

func newFakeService(t *testing.T) *fakeService {
	f := &fakeService{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Libpod-API-Version", "4.3.1")
		w.Header().Set("API-Version", "1.41")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			w.Write([]byte("OK"))
		case strings.HasSuffix(r.URL.Path, "/containers/json"):
			f.mu.Lock()
			f.listings++
			f.mu.Unlock()
			w.Write([]byte("[]"))
		default: // pods, volumes, networks, secrets: none
			w.Write([]byte("[]"))
		}
	}))
	t.Cleanup(srv.Close)
	f.url = "tcp://" + strings.TrimPrefix(srv.URL, "http://")
	return f
}

func (f *fakeService) listed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listings
}

// TestUpAhead: while `up` loads its stack it takes the project's lock and
// starts the container listing under it, never without it: where another
// run holds the lock nothing is listed ahead and the usual lock (which
// waits) is taken; where the loaded stack is another project the lock
// goes; whatever no command took is released.
func TestUpAhead(t *testing.T) {
	t.Setenv(lock.DirEnv, t.TempDir())
	ctx := context.Background()
	start := func(t *testing.T) (*ahead, *fakeService, *int) {
		t.Setenv(lock.DirEnv, t.TempDir())
		f := newFakeService(t)
		g := &globalOptions{url: f.url, getenv: func(string) string { return "" }}
		a := g.startAhead(ctx, true)
		usual := 0
		return a, f, &usual
	}
	project := func(name string, usual *int) *ops.Project {
		return &ops.Project{Name: name, Lock: func(context.Context, string) (func(), error) { *usual++; return func() {}, nil }}
	}
	held := func(t *testing.T, url, name string) bool {
		l, err := lock.Acquire(ctx, lock.Options{Service: lock.ServiceKey(url), Project: name, Command: "test", NoWait: true})
		if err != nil {
			return true
		}
		l.Release()
		return false
	}

	t.Run("free lock", func(t *testing.T) {
		a, f, usual := start(t)
		a.onName("shop")
		a.onName("other") // a second announcement does not count
		c, err := a.client()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p := project("shop", usual)
		a.adopt(p, c)
		if !held(t, f.url, "shop") || held(t, f.url, "other") {
			t.Fatal("the lock taken ahead is not the project's, or not held")
		}
		release, err := p.Lock(ctx, "up")
		if err != nil || *usual != 0 {
			t.Fatalf("up's lock: %v, usual lock taken %d times", err, *usual)
		}
		// The observation takes the listing made ahead: it lists no more.
		if _, err := c.Observe(ctx, "shop", &planner.Lookup{Containers: []string{}}); err != nil {
			t.Fatal(err)
		}
		release()
		if held(t, f.url, "shop") {
			t.Error("the lock outlived up's release")
		}
		if n := f.listed(); n != 1 {
			t.Errorf("%d container listings, want the one made ahead", n)
		}
		if _, err := p.Lock(ctx, "up"); err != nil || *usual != 1 {
			t.Errorf("a second lock for up: %v, usual lock taken %d times, want once", err, *usual)
		}
		a.close()
	})

	t.Run("lock held by another run", func(t *testing.T) {
		a, f, usual := start(t)
		other, err := lock.Acquire(ctx, lock.Options{Service: lock.ServiceKey(f.url), Project: "shop", Command: "down", NoWait: true})
		if err != nil {
			t.Fatal(err)
		}
		a.onName("shop")
		c, err := a.client()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p := project("shop", usual)
		a.adopt(p, c)
		if n := f.listed(); n != 0 {
			t.Errorf("listed %d times without the lock", n)
		}
		if _, err := p.Lock(ctx, "up"); err != nil || *usual != 1 {
			t.Errorf("up's lock: %v, usual lock taken %d times, want once", err, *usual)
		}
		a.close()
		other.Release()
	})

	t.Run("another project loaded", func(t *testing.T) {
		a, f, usual := start(t)
		a.onName("guess")
		c, err := a.client()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p := project("shop", usual)
		a.adopt(p, c)
		a.close()
		if held(t, f.url, "guess") {
			t.Error("the lock of the project guessed is still held")
		}
		if _, err := p.Lock(ctx, "up"); err != nil || *usual != 1 {
			t.Errorf("up's lock: %v, usual lock taken %d times, want once", err, *usual)
		}
	})

	// died leaves a lock record behind as a run killed holding the lock
	// does (the lock file's holder record, with a pid that is not ours).
	died := func(t *testing.T, url, name string) {
		l, err := lock.Acquire(ctx, lock.Options{Service: lock.ServiceKey(url), Project: name, Command: "up", NoWait: true})
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
		files, _ := filepath.Glob(filepath.Join(os.Getenv(lock.DirEnv), name+"-*"))
		if len(files) != 1 {
			t.Fatalf("lock files of %s: %v", name, files)
		}
		if err := os.WriteFile(files[0], []byte(`{"pid": 999999999, "command": "up"}`+"\n"), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	interrupted := func(t *testing.T, url, name string) bool {
		l, err := lock.Acquire(ctx, lock.Options{Service: lock.ServiceKey(url), Project: name, Command: "test", NoWait: true})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Abandon()
		return l.Interrupted() != nil
	}

	t.Run("a run died holding the lock", func(t *testing.T) {
		a, f, usual := start(t)
		died(t, f.url, "shop")
		a.onName("shop")
		c, err := a.client()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var status strings.Builder
		p := project("shop", usual)
		p.Status = &status
		a.adopt(p, c)
		if n := f.listed(); n != 0 {
			t.Errorf("listed %d times before settling what the dead run left", n)
		}
		// Settling waits out a grace period: cut it short.
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, err := p.Lock(short, "up"); err == nil || !strings.Contains(status.String(), "ended without finishing") {
			t.Errorf("up's lock did not settle first: %v; said %q", err, status.String())
		}
		a.close()
	})

	t.Run("a dead run's record outlives a guess", func(t *testing.T) {
		a, f, usual := start(t)
		died(t, f.url, "guess")
		a.onName("guess")
		c, err := a.client()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		a.adopt(project("shop", usual), c)
		a.close()
		if !interrupted(t, f.url, "guess") {
			t.Error("the next run of the project guessed no longer learns that a run died holding its lock")
		}
	})

	t.Run("load failed", func(t *testing.T) {
		a, f, _ := start(t)
		a.onName("shop")
		a.close() // as up returns on a load error
		if held(t, f.url, "shop") {
			t.Error("the lock taken ahead outlived a failed load")
		}
	})
}
