package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// image is the test image every workload runs (scripts/test-image.sh).
const image = "localhost/busybox:test"

// grace is every container's stop grace period.
const grace = 2 * time.Second

// shape is a stack's structure, which every tool is given in its own form.
type shape struct {
	// Kind is "flat" (independent services), "chain" (each waits for the
	// one before it to be healthy) or "levels" (the second half each
	// depends on one of the first half, and no container heeds SIGTERM).
	Kind string
	N    int
}

func (s shape) String() string { return fmt.Sprintf("%s%d", s.Kind, s.N) }

// command is the services' process. Services that heed SIGTERM trap it and
// exit at once, as real services do, so that stops measure the engine and
// not a timeout; the "levels" ones are a bare sleep as PID 1, which the
// kernel shields from SIGTERM: each stop costs the grace period.
func (s shape) command() []string {
	if s.Kind == "levels" {
		return []string{"sleep", "3600"}
	}
	return []string{"/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"}
}

// healthy reports whether the services have a healthcheck that gates their
// dependents.
func (s shape) healthy() bool { return s.Kind == "chain" }

// dep is the service i depends on, or -1.
func (s shape) dep(i int) int {
	switch {
	case s.Kind == "chain" && i > 0:
		return i - 1
	case s.Kind == "levels" && i >= s.N/2:
		return i - s.N/2
	}
	return -1
}

// levels lists the services in start order, grouped so that each group
// depends only on earlier ones.
func (s shape) levels() [][]int {
	var out [][]int
	switch s.Kind {
	case "chain":
		for i := 0; i < s.N; i++ {
			out = append(out, []int{i})
		}
	case "levels":
		var a, b []int
		for i := 0; i < s.N; i++ {
			if i < s.N/2 {
				a = append(a, i)
			} else {
				b = append(b, i)
			}
		}
		out = [][]int{a, b}
	default:
		var all []int
		for i := 0; i < s.N; i++ {
			all = append(all, i)
		}
		out = [][]int{all}
	}
	return out
}

func quoted(args []string) string {
	b, _ := json.Marshal(args)
	return string(b)
}

// compose is the stack file stack runs.
func (s shape) compose() string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 0; i < s.N; i++ {
		fmt.Fprintf(&b, "  s%d:\n    image: %s\n    command: %s\n    stop_grace_period: %s\n", i, image, quoted(s.command()), grace)
		if s.healthy() {
			b.WriteString("    healthcheck: {test: [\"CMD\", \"true\"], interval: 1s, timeout: 2s}\n")
		}
		if d := s.dep(i); d >= 0 {
			cond := "service_started"
			if s.healthy() {
				cond = "service_healthy"
			}
			fmt.Fprintf(&b, "    depends_on: {s%d: {condition: %s}}\n", d, cond)
		}
	}
	return b.String()
}

// kube is the equivalent Pod YAML for kube play: one Pod per service (kube
// play has no dependencies between Pods, so it gates nothing).
func (s shape) kube(prefix string) string {
	var b strings.Builder
	for i := 0; i < s.N; i++ {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s-s%d\nspec:\n  terminationGracePeriodSeconds: %d\n  containers:\n  - name: s%d\n    image: %s\n    command: %s\n",
			prefix, i, int(grace.Seconds()), i, image, quoted(s.command()))
	}
	return b.String()
}
