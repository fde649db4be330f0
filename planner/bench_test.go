package planner

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/podstack/podstack/internal/cputime"
	"github.com/podstack/podstack/internal/stackgen"
	"github.com/podstack/podstack/internal/testcorpus"
	"github.com/podstack/podstack/stack"
)

// generatedStack writes stackgen's n-service compose file to a temporary
// directory and returns its path.
func generatedStack(tb testing.TB, n int) string {
	path := filepath.Join(tb.TempDir(), "compose.yaml")
	if err := os.WriteFile(path, stackgen.Compose(n), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkPlan: load, group, validate and plan a 1000-service stack against
// an empty machine. Target (issue 16): no more than 1.1x compose-go's loader
// alone on the same file: see BenchmarkPlanOverComposeGo.
func BenchmarkPlan(b *testing.B) {
	path := generatedStack(b, 1000)
	b.ReportAllocs()
	cpu := cputime.Used()
	for b.Loop() {
		s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{path}, Environ: noEnv})
		if err != nil {
			b.Fatal(err)
		}
		p, err := Reconcile(s, &ObservedState{}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Containers) != 1000 {
			b.Fatalf("%d containers", len(p.Containers))
		}
	}
	cputime.Report(b, cpu)
}

// BenchmarkReconcile: group, validate and plan an already loaded
// 1000-service stack against an empty machine: podstack's share of
// BenchmarkPlan (the rest is loading, see stack's BenchmarkLoad1000).
// Target (issue 16): under 20 ms of CPU and 10 MB per operation.
func BenchmarkReconcile(b *testing.B) {
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{generatedStack(b, 1000)}, Environ: noEnv})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu := cputime.Used()
	for b.Loop() {
		p, err := Reconcile(s, &ObservedState{}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Containers) != 1000 {
			b.Fatalf("%d containers", len(p.Containers))
		}
	}
	cputime.Report(b, cpu)
}

// BenchmarkReconcileNoop: plan a 1000-service stack that is already up
// (the work of a no-op `stack up` besides observing).
func BenchmarkReconcileNoop(b *testing.B) {
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{generatedStack(b, 1000)}, Environ: noEnv})
	if err != nil {
		b.Fatal(err)
	}
	first, err := Reconcile(s, &ObservedState{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	o := applied(first)
	b.ReportAllocs()
	cpu := cputime.Used()
	for b.Loop() {
		p, err := Reconcile(s, o, Options{})
		if err != nil || p.Mutating() != 0 {
			b.Fatalf("%v, %d mutating", err, p.Mutating())
		}
	}
	cputime.Report(b, cpu)
}

func TestGeneratedStackPlans(t *testing.T) {
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{generatedStack(t, 200)}, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Reconcile(s, &ObservedState{}, Options{}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPlanCorpus: load, group, validate and plan every awesome-compose
// file, reported per file: the size of stacks people write.
func BenchmarkPlanCorpus(b *testing.B) {
	files := testcorpus.AwesomeCompose(b)
	b.ReportAllocs()
	cpu := cputime.Used()
	for b.Loop() {
		for _, f := range files {
			s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{f}, Environ: noEnv})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Reconcile(s, &ObservedState{}, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(files))/1000, "ms/file")
	cputime.Report(b, cpu)
}

// BenchmarkPlanOverComposeGo: load + plan of a 1000-service stack beside
// compose-go's loader alone on the same file, with the options stack gives
// it (stack/compose.go, composeOptions), interleaved in one loop so that
// both see the same machine. x-loader is the ratio of their CPU times:
// issue 16's target is at most 1.1.
func BenchmarkPlanOverComposeGo(b *testing.B) {
	path := generatedStack(b, 1000)
	content, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	plan := func() {
		s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{path}, Environ: noEnv})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Reconcile(s, &ObservedState{}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	compose := func() {
		_, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
			WorkingDir:  filepath.Dir(path),
			ConfigFiles: []types.ConfigFile{{Filename: path, Content: content}},
			Environment: types.Mapping{},
		}, func(o *loader.Options) {
			o.SetProjectName("big", true)
			o.SkipConsistencyCheck = true
			o.ResolvePaths = true
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	// timed runs f after a collection, so that each side pays for
	// collecting its own garbage, and returns the CPU time it took.
	timed := func(f func()) time.Duration {
		runtime.GC()
		t0 := cputime.Used()
		f()
		return cputime.Used() - t0
	}
	var ours, theirs time.Duration
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			ours += timed(plan)
			theirs += timed(compose)
		} else {
			theirs += timed(compose)
			ours += timed(plan)
		}
		i++
	}
	b.ReportMetric(float64(ours)/float64(b.N)/1e6, "plan-cpu-ms/op")
	b.ReportMetric(float64(theirs)/float64(b.N)/1e6, "loader-cpu-ms/op")
	b.ReportMetric(float64(ours)/float64(theirs), "x-loader")
}
