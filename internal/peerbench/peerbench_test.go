package main

import (
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/podstack/podstack/stack"
)

// The stack file stack is given must describe the structure the bare
// client carries out by hand: the same services, dependencies and health
// gating, or the comparison is not like for like.
func TestComposeMatchesShape(t *testing.T) {
	for _, sh := range []shape{{"flat", 5}, {"chain", 4}, {"levels", 6}} {
		t.Run(sh.String(), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(sh.compose()), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := stack.Load(context.Background(), stack.LoadOptions{WorkingDir: dir, ProjectName: "p", Environ: func() []string { return nil }})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Services) != sh.N {
				t.Fatalf("%d services, want %d", len(s.Services), sh.N)
			}
			level := map[string]int{}
			for k, l := range sh.levels() {
				for _, i := range l {
					level["s"+strconv.Itoa(i)] = k
				}
			}
			for name, svc := range s.Services {
				if (svc.Health != nil) != sh.healthy() {
					t.Errorf("%s: healthcheck %v, want %v", name, svc.Health != nil, sh.healthy())
				}
				for dep, d := range svc.DependsOn {
					if level[dep] >= level[name] {
						t.Errorf("%s (level %d) depends on %s (level %d): the bare client starts it first", name, level[name], dep, level[dep])
					}
					if want := map[bool]stack.Condition{true: stack.ConditionHealthy, false: stack.ConditionStarted}[sh.healthy()]; d.Condition != want {
						t.Errorf("%s -> %s: condition %s, want %s", name, dep, d.Condition, want)
					}
				}
				if len(svc.DependsOn) == 0 && level[name] != 0 {
					t.Errorf("%s has no dependency but starts at level %d", name, level[name])
				}
			}
			if got := strings.Count(sh.kube("x"), "kind: Pod"); got != sh.N {
				t.Errorf("kube YAML has %d Pods, want %d", got, sh.N)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"/v5.8.2/libpod/containers/p-s1-1/start":       "/libpod/containers/{name}/start",
		"/v5.8.2/libpod/containers/create":             "/libpod/containers/create",
		"/v4.0.0/libpod/containers/json":               "/libpod/containers/json",
		"/v5.8.2/libpod/pods/p-s1":                     "/libpod/pods/{name}",
		"/v5.8.2/libpod/play/kube":                     "/libpod/play/kube",
		"/v5.8.2/libpod/networks/p_default":            "/libpod/networks/{name}",
		"/v5.8.2/libpod/containers/p-s1-1/healthcheck": "/libpod/containers/{name}/healthcheck",
	} {
		if got := endpoint(in); got != want {
			t.Errorf("endpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// The plot is a well-formed SVG document with one line per tool and pass.
func TestPlot(t *testing.T) {
	rep := report{Machine: machine{Cores: 2, Podman: "4.3.1"}, Rounds: 3}
	for _, mode := range []string{"quiet", "busy"} {
		p := pass{Mode: mode}
		for _, n := range []int{10, 40, 100} {
			for k, tool := range tools {
				p.Results = append(p.Results, result{Row: "updown" + strconv.Itoa(n), Services: n, Linear: true, Tool: tool, Median: float64(n*(k+1)) / 10})
			}
		}
		p.Results = append(p.Results, result{Row: "noop8", Services: 8, Tool: "stack", Median: 0.1})
		rep.Passes = append(rep.Passes, p)
	}
	svg := plot(rep)
	d := xml.NewDecoder(strings.NewReader(svg))
	lines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 6 {
		t.Errorf("%d lines, want 6 (3 tools x 2 passes)", lines)
	}
}

// A run without the plot's rows writes no plot and links none, and drops
// an earlier run's plot, which the new results.md would not describe.
func TestWriteWithoutLinearRows(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "linearity.svg")
	if err := os.WriteFile(svg, []byte("<svg/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := report{Rounds: 1, Passes: []pass{{Mode: "quiet", Results: []result{{Row: "noop8", Services: 8, Tool: "stack", Median: 0.1}}}}}
	if err := rep.write(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(svg); !os.IsNotExist(err) {
		t.Errorf("linearity.svg left behind: %v", err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "results.md"))
	if strings.Contains(string(md), "linearity.svg") || !strings.Contains(string(md), "0.100 s") {
		t.Errorf("results.md:\n%s", md)
	}
	rep.Passes[0].Results = append(rep.Passes[0].Results, result{Row: "updown10", Services: 10, Linear: true, Tool: "stack", Median: 2})
	if err := rep.write(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(svg); err != nil {
		t.Errorf("no plot with a linear row: %v", err)
	}
}
