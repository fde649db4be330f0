package planner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podstack/podstack/stack"
)

// generatedStack writes a compose file with n services: a few tiers, each
// service depending on two of the tier before (half health-gated), with
// healthchecks, volumes, published ports and some x-pod groups.
func generatedStack(tb testing.TB, n int) string {
	var b strings.Builder
	b.WriteString("name: big\nservices:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  s%d:\n    image: img%d:1\n    environment: {ID: \"%d\"}\n", i, i%50, i)
		fmt.Fprintf(&b, "    healthcheck: {test: [\"CMD\", \"true\"], interval: 1s}\n")
		if i%10 == 0 {
			fmt.Fprintf(&b, "    ports: [\"%d:80\"]\n", 20000+i)
		}
		if i%7 == 0 {
			fmt.Fprintf(&b, "    volumes: [\"v%d:/data\"]\n", i%20)
		}
		if i%25 == 1 {
			fmt.Fprintf(&b, "    x-pod: group%d\n", i/25)
		}
		if i >= 20 {
			fmt.Fprintf(&b, "    depends_on:\n      s%d: {condition: service_healthy}\n      s%d: {condition: service_started}\n", i-20, i-13)
		}
	}
	b.WriteString("volumes:\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "  v%d: {}\n", i)
	}
	path := filepath.Join(tb.TempDir(), "compose.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkPlan: load, group, validate and plan a 1000-service stack against
// an empty machine. Target: under 100 ms and 100 MB per operation.
func BenchmarkPlan(b *testing.B) {
	path := generatedStack(b, 1000)
	b.ReportAllocs()
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
	for b.Loop() {
		p, err := Reconcile(s, o, Options{})
		if err != nil || p.Mutating() != 0 {
			b.Fatalf("%v, %d mutating", err, p.Mutating())
		}
	}
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
