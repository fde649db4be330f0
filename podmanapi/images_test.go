package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podstack/podstack/stack"
)

// TestObserveDuringBuild: a build on the same host creates and removes a
// Buildah container per step, and Podman 4.3's listing of external
// containers fails when one goes between its list and its lookup
// ("determining buildah container ...: container not known", Podman
// issue 23492, fixed in 5.2). Observe must not fail for that: here about
// one observe in eight did before.
func TestObserveDuringBuild(t *testing.T) {
	c := testClient(t)
	ctx := context.Background()
	dir := t.TempDir()
	steps := []string{"FROM localhost/busybox:test"}
	for i := range 40 {
		steps = append(steps, fmt.Sprintf("RUN true %d", i))
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(strings.Join(steps, "\n")+"\n"), 0o644)
	ref := fmt.Sprintf("localhost/it-observe-build-%d", time.Now().UnixNano()%1000000)
	t.Cleanup(func() { c.RemoveImage(context.Background(), ref) })

	var done atomic.Bool
	built := make(chan error, 1)
	go func() {
		built <- c.BuildImage(ctx, ref, &stack.Build{Context: dir, NoCache: true}, nil)
		done.Store(true)
	}()
	observes := 0
	for !done.Load() {
		if _, err := c.Observe(ctx, "it-observe-during-build", nil); err != nil {
			t.Fatalf("observe %d during a build: %v", observes+1, err)
		}
		observes++
	}
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	if observes < 5 {
		t.Errorf("only %d observes ran during the build: the test proves little", observes)
	}
}

// TestRetryKilledRuntime: a build step that failed only because the
// service's runtime process got SIGKILL (Podman before 4.6 killed it when
// the Go thread that forked it exited; seen in CI with builds beside other
// calls) is built again, saying why; a step whose own command was killed
// (exit status 137) or failed is not, and the retries are bounded.
func TestRetryKilledRuntime(t *testing.T) {
	killed := errors.New(`building at STEP "RUN make": while running runtime: signal: killed`)
	cases := []struct {
		name      string
		errs      []error
		wantTries int
		wantErr   bool
	}{
		{"killed once", []error{killed, nil}, 2, false},
		{"killed every time", []error{killed, killed, killed, killed}, 1 + killedRuntimeRetries, true},
		{"the step's command killed", []error{errors.New(`building at STEP "RUN make": while running runtime: exit status 137`), nil}, 1, true},
		{"the step failed", []error{errors.New(`building at STEP "RUN false": while running runtime: exit status 1`), nil}, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			tries := 0
			err := retryKilledRuntime(context.Background(), &out, func() error { tries++; return tc.errs[tries-1] })
			if tries != tc.wantTries || (err != nil) != tc.wantErr {
				t.Fatalf("%d tries, err %v; want %d tries, error %v", tries, err, tc.wantTries, tc.wantErr)
			}
			if said := strings.Count(out.String(), "building again"); said != tries-1 {
				t.Errorf("said %d times it builds again, after %d tries:\n%s", said, tries, out.String())
			}
		})
	}
	t.Run("not after cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		tries := 0
		retryKilledRuntime(ctx, io.Discard, func() error { tries++; cancel(); return killed })
		if tries != 1 {
			t.Errorf("built %d times after the user cancelled, want once", tries)
		}
	})
}
