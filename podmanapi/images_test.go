package podmanapi

import (
	"context"
	"fmt"
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
