package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/podmanapi"
	"github.com/podstack/podstack/stack"
)

// Each benchmark compares, on the same service and stack:
//   stack: the built binary (`stack up -d` then `stack down`), as a user runs it;
//   rest:  the same plans executed in-process through the REST bindings (no
//          process start, no file loading): the API calls the plan needs;
//   kube:  `podman kube play` / `kube down` of equivalent Pod YAML.
// Busybox as PID 1 ignores SIGTERM unless it traps it: the workloads trap it
// and exit, as real services do, so stops measure the engine, not a timeout.

// chainCompose is n services in a health-gated chain: s(i) waits for s(i-1)
// to be healthy; each becomes healthy at once.
func chainCompose(n int) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  s%d:\n    image: localhost/busybox:test\n    command: %s\n    stop_grace_period: 2s\n", i, workload)
		b.WriteString("    healthcheck: {test: [\"CMD\", \"true\"], interval: 1s, timeout: 2s}\n")
		if i > 0 {
			fmt.Fprintf(&b, "    depends_on: {s%d: {condition: service_healthy}}\n", i-1)
		}
	}
	return b.String()
}

// flatCompose is n independent services.
func flatCompose(n int) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  s%d:\n    image: localhost/busybox:test\n    command: %s\n    stop_grace_period: 2s\n", i, workload)
	}
	return b.String()
}

// workload sleeps and exits at once on SIGTERM.
const workload = `["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]`

// kubeYAML is one Pod per service, the equivalent for kube play.
func kubeYAML(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: kp-s%d\nspec:\n  terminationGracePeriodSeconds: 2\n  containers:\n  - name: s%d\n    image: localhost/busybox:test\n    command: %s\n", i, i, workload)
	}
	return b.String()
}

func benchStack(b *testing.B, compose string) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644)
	p := "bench-stack"
	defer cleanupProject(p)
	for b.Loop() {
		for _, args := range [][]string{{"up", "-d"}, {"down"}} {
			cmd := exec.Command(stackBin, append([]string{"-p", p, "--progress", "quiet"}, args...)...)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "STACK_URL=" + podURL}
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("stack %v: %v\n%s", args, err, out)
			}
		}
	}
}

func benchREST(b *testing.B, compose string) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644)
	ctx := context.Background()
	s, err := stack.Load(ctx, stack.LoadOptions{WorkingDir: dir, ProjectName: "bench-rest", Environ: func() []string { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	c, err := podmanapi.Connect(ctx, podmanapi.ConnectOptions{URL: podURL})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	defer cleanupProject(s.Name)
	for b.Loop() {
		if _, err := planner.Up(ctx, c, s, planner.Options{}, planner.UpOptions{}, planner.ExecOptions{}, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := planner.Down(ctx, c, s.Name, s, planner.DownOptions{}, planner.ExecOptions{}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func benchKube(b *testing.B, n int) {
	path := filepath.Join(b.TempDir(), "pods.yaml")
	os.WriteFile(path, []byte(kubeYAML(n)), 0o644)
	for b.Loop() {
		for _, args := range [][]string{{"kube", "play", path}, {"kube", "down", path}} {
			if out, err := exec.Command("podman", append([]string{"--url", podURL}, args...)...).CombinedOutput(); err != nil {
				b.Fatalf("podman %v: %v\n%s", args, err, out)
			}
		}
	}
}

func requireBench(b *testing.B) {
	if podURL == "" || stackBin == "" {
		b.Skip("needs STACK_TEST_URL and the binary: run make bench")
	}
}

// BenchmarkUpDown8HealthGated: up+down of an 8-service health-gated chain.
// kube play has no health gating, so its figure is a lower bound.
func BenchmarkUpDown8HealthGated(b *testing.B) {
	requireBench(b)
	b.Run("stack", func(b *testing.B) { benchStack(b, chainCompose(8)) })
	b.Run("rest", func(b *testing.B) { benchREST(b, chainCompose(8)) })
	b.Run("kube", func(b *testing.B) { benchKube(b, 8) })
}

// BenchmarkUpDown40: up+down of 40 independent services.
func BenchmarkUpDown40(b *testing.B) {
	requireBench(b)
	b.Run("stack", func(b *testing.B) { benchStack(b, flatCompose(40)) })
	b.Run("rest", func(b *testing.B) { benchREST(b, flatCompose(40)) })
	b.Run("kube", func(b *testing.B) { benchKube(b, 40) })
}

// BenchmarkNoopUp: `up -d` of an 8-service stack that is already up.
func BenchmarkNoopUp(b *testing.B) {
	requireBench(b)
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(chainCompose(8)), 0o644)
	p := "bench-noop"
	defer cleanupProject(p)
	run := func() {
		cmd := exec.Command(stackBin, "-p", p, "--progress", "quiet", "up", "-d")
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "STACK_URL=" + podURL}
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
	run()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
}
