package planner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podstack/podstack/stack"
)

// checkHashes fails t when a hash in p is not what the definitions
// (referenceContainerHash, referencePodHash) give.
func checkHashes(t *testing.T, p *Plan) {
	t.Helper()
	for _, pod := range p.Pods {
		if want := referencePodHash(pod); pod.Hash != want {
			t.Fatalf("pod %s: hash %s, the definition gives %s", pod.Name, pod.Hash, want)
		}
	}
	for _, c := range p.Containers {
		if want := referenceContainerHash(p.Stack, c.Spec, p.PodOf(c.Service)); c.Hash != want {
			t.Fatalf("container %s: hash %s, the definition gives %s", c.Name, c.Hash, want)
		}
	}
}

// FuzzPlan: whatever loads can be planned, against nothing and against
// itself applied; planning never panics or hangs, and refuses only with
// problems (exit 2), and hashes as the definitions say. Seeded with the awesome-compose corpus, the examples
// and the test stacks.
func FuzzPlan(f *testing.F) {
	n := 0
	for _, p := range []string{"../testdata/awesome-compose/*/compose.y*ml", "../testdata/awesome-compose/*/docker-compose.y*ml",
		"../examples/*/*.yaml", "testdata/*.yaml", "../stack/testdata/valid-*.yaml", "../cmd/stack/testdata/invalid/*.yaml"} {
		matches, _ := filepath.Glob(p)
		for _, m := range matches {
			if data, err := os.ReadFile(m); err == nil {
				f.Add(data)
				n++
			}
		}
	}
	if n == 0 {
		f.Fatal("no seeds")
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s, err := stack.Load(ctx, stack.LoadOptions{Files: []string{"-"}, WorkingDir: dir, ProjectName: "fuzz",
			Stdin: bytes.NewReader(data), Environ: func() []string { return nil }})
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("load hung")
			}
			return // loading is FuzzLoadCompose's and FuzzLoadKube's
		}
		for _, opts := range []Options{{}, {Wait: true}, {Policy: PolicyProject}, {Policy: PolicyService, NoStart: true}} {
			p, err := Reconcile(s, &ObservedState{}, opts)
			if err != nil {
				if !stack.IsInvalid(err) {
					t.Fatalf("Reconcile %+v: an error that is not a problem (exit 2): %v", opts, err)
				}
				continue
			}
			_ = p.String()
			checkHashes(t, p)
			again, err := Reconcile(s, applied(p), opts)
			if err != nil {
				t.Fatalf("Reconcile %+v of the applied plan: %v", opts, err)
			}
			if opts.Policy == "" && !opts.Wait && again.Mutating() != 0 {
				t.Fatalf("a plan applied is not a no-op the second time:\n%s", again)
			}
		}
	})
}
