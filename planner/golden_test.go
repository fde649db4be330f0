package planner

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podstack/podstack/internal/testcorpus"
	"github.com/podstack/podstack/stack"
)

var update = flag.Bool("update", false, "rewrite golden files")

// noEnv keeps the machine's environment out of the tests.
func noEnv() []string { return nil }

func load(t testing.TB, files ...string) *stack.Stack {
	t.Helper()
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: files, Environ: noEnv})
	if err != nil {
		t.Fatalf("load %v: %v", files, err)
	}
	return s
}

// golden compares got with testdata/<name>.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./planner -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./planner -update rewrites it)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// describePlan renders the grouping and the plan for golden files.
func describePlan(p *Plan) string {
	var b bytes.Buffer
	b.WriteString("pods:\n")
	for _, pod := range p.Pods {
		var ports []string
		for _, pt := range pod.Ports {
			if pt.Published != 0 {
				ports = append(ports, fmt.Sprintf("%d:%d/%s", pt.Published, pt.Target, pt.Protocol))
			}
		}
		fmt.Fprintf(&b, "  %s infra=%v services=%s", pod.Name, pod.Infra, strings.Join(pod.Services, ","))
		if len(ports) > 0 {
			fmt.Fprintf(&b, " ports=%s", strings.Join(ports, ","))
		}
		if len(pod.AddHosts) > 0 {
			fmt.Fprintf(&b, " hosts=%s", strings.Join(pod.AddHosts, ","))
		}
		for _, n := range sortedKeys(pod.Networks) {
			fmt.Fprintf(&b, " net=%s[%s]", n, strings.Join(pod.Networks[n], ","))
		}
		b.WriteString("\n")
	}
	b.WriteString("plan:\n")
	b.WriteString(p.String())
	var path []string
	for _, st := range p.CriticalPath() {
		path = append(path, fmt.Sprintf("#%d", st.ID))
	}
	fmt.Fprintf(&b, "critical path: %s\n", strings.Join(path, " -> "))
	return b.String()
}

func planFor(t *testing.T, s *stack.Stack, opts Options) *Plan {
	t.Helper()
	p, err := Reconcile(s, &ObservedState{}, opts)
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return p
}

func TestGoldenPlans(t *testing.T) {
	cases := []struct {
		name, file string
		opts       Options
	}{
		{"chain", "testdata/chain.yaml", Options{}},
		{"chain-wait", "testdata/chain.yaml", Options{Wait: true}},
		{"sidecar", "testdata/sidecar.yaml", Options{}},
		{"xpod", "testdata/xpod.yaml", Options{}},
		{"policy-auto", "testdata/policies.yaml", Options{Policy: PolicyAuto}},
		{"policy-service", "testdata/policies.yaml", Options{Policy: PolicyService}},
		{"policy-project", "testdata/policies.yaml", Options{Policy: PolicyProject}},
		{"webstack", "../examples/webstack/compose.yaml", Options{}},
		{"demo", "../examples/demo/compose.yaml", Options{}},
		{"kube-pod", "../examples/kube-pod/pod.yaml", Options{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, describePlan(planFor(t, load(t, tc.file), tc.opts)))
		})
	}
}

// TestGoldenCorpus plans every awesome-compose file against an empty machine.
func TestGoldenCorpus(t *testing.T) {
	for _, f := range testcorpus.AwesomeCompose(t) {
		name := testcorpus.Project(f)
		t.Run(name, func(t *testing.T) {
			golden(t, "corpus/"+name, describePlan(planFor(t, load(t, f), Options{})))
		})
	}
}

func TestGoldenGraphs(t *testing.T) {
	s := load(t, "testdata/chain.yaml")
	pods, err := Group(s, PolicyAuto)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"dot", "mermaid"} {
		var b bytes.Buffer
		if err := Graph(s, pods, format, &b); err != nil {
			t.Fatal(err)
		}
		golden(t, "chain-graph-"+format, b.String())
	}
	if err := Graph(s, pods, "svg", &bytes.Buffer{}); err == nil {
		t.Error("unknown format accepted")
	}
}
