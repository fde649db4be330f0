package planner

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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
// an empty machine. Target: under 100 ms and 100 MB per operation.
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
