package ops_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// shopPorts is shop with the API published on another port: the hash of
// its pod (one without an infra container) changes, and with it its
// container's.
var shopPorts = strings.Replace(shop, `ports: ["8080:80"]`, `ports: ["8081:80"]`, 1)

// load loads content as the stack file beside f's (its secret file is
// the same one).
func (f *fixture) load(content string) *stack.Stack {
	f.t.Helper()
	path := filepath.Join(f.dir, "changed.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{path}, Environ: func() []string { return nil }})
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// infraOf is the name of pod's infra container.
func infraOf(t *testing.T, e *fakeengine.Engine, pod string) string {
	t.Helper()
	for _, c := range e.Containers() {
		if c.Infra && c.Pod == pod {
			return c.Name
		}
	}
	t.Fatalf("pod %s has no infra container", pod)
	return ""
}

// TestUpWorksPodsOutFromContainers: up takes the project's pods from its
// container listing (Lookup.Pods) instead of listing them, and plans
// exactly what listing them would: in every state below, up's plan (a dry
// run) is `plan`'s (which lists the pods), and the pods it observes are
// the listed ones wherever it did not list them. A running stack, one
// stopped, a container or a pod removed by hand, a pod with no container,
// a configuration change, a pod --no-recreate left stale, another
// environment, orphans: each is a state where a shortcut that guessed a
// pod's labels or state would plan something else. The one thing up does
// not see is a pod the stack no longer has that holds no container: its
// plan lacks the warning about that pod, and only that.
func TestUpWorksPodsOutFromContainers(t *testing.T) {
	ctx := context.Background()
	byHand := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		scene func(t *testing.T, f *fixture) // after an up of shop
		stack string                         // the stack planned then; shop when ""
		env   string                         // its environment
		opts  planner.Options
		// listed says the containers cannot tell and the pods are listed.
		listed bool
		// unseen is a pod that working the pods out from the containers
		// does not see: it holds no container.
		unseen string
	}{
		{name: "running"},
		{name: "scaled up", opts: planner.Options{Scale: map[string]int{"db": 2, "web": 2}}},
		{name: "scaled down", opts: planner.Options{Scale: map[string]int{"db": 0}}},
		{name: "forced", opts: planner.Options{ForceRecreate: true}},
		{name: "member of a pod with an infra container stopped", scene: func(t *testing.T, f *fixture) {
			byHand(f.e.StopContainer(ctx, "shop-web-1", 0))
		}},
		{name: "stopped, infra containers too, then forced", opts: planner.Options{ForceRecreate: true}, scene: func(t *testing.T, f *fixture) {
			byHand(f.p.Stop(ctx, planner.DownOptions{}))
			f.e.SetState(infraOf(t, f.e, "shop-front"), "exited", 0)
		}},
		{name: "left created by an interrupted run", scene: func(t *testing.T, f *fixture) {
			for _, n := range []string{"shop-web-1", "shop-proxy-1", infraOf(t, f.e, "shop-front")} {
				f.e.SetState(n, "created", 0)
			}
		}},
		{name: "container removed by hand: its pod holds none", listed: true, scene: func(t *testing.T, f *fixture) {
			byHand(f.e.RemoveContainer(ctx, "shop-api-1", false))
		}},
		{name: "pod removed by hand", listed: true, scene: func(t *testing.T, f *fixture) {
			byHand(f.e.RemovePod(ctx, "shop-api"))
		}},
		{name: "members of a pod with an infra container removed by hand", scene: func(t *testing.T, f *fixture) {
			byHand(f.e.RemoveContainer(ctx, "shop-web-1", false))
			byHand(f.e.RemoveContainer(ctx, "shop-proxy-1", false))
		}},
		{name: "orphan pod holding nothing", unseen: "shop-old", scene: func(t *testing.T, f *fixture) {
			f.e.AddPod(fakeengine.Pod{Name: "shop-old", Labels: planner.Labels("shop", "", planner.LabelPod, "old", planner.LabelConfigHash, "0ld")})
		}},
		{name: "orphan pod holding nothing, removed", listed: true, unseen: "shop-old", opts: planner.Options{RemoveOrphans: true}, scene: func(t *testing.T, f *fixture) {
			f.e.AddPod(fakeengine.Pod{Name: "shop-old", Labels: planner.Labels("shop", "", planner.LabelPod, "old", planner.LabelConfigHash, "0ld")})
		}},
		{name: "orphan pod with a container of a service gone", listed: true, scene: func(t *testing.T, f *fixture) {
			f.e.AddPod(fakeengine.Pod{Name: "shop-old", Labels: planner.Labels("shop", "", planner.LabelPod, "old", planner.LabelConfigHash, "0ld")})
			f.e.AddContainer(fakeengine.Container{Name: "shop-old-1", Pod: "shop-old", Image: "nginx", State: "running",
				Labels: planner.Labels("shop", "", planner.LabelService, "old", planner.LabelNumber, "1", planner.LabelPod, "old", planner.LabelConfigHash, "0ld")})
		}},
		{name: "pod configuration changed", stack: shopPorts, listed: true},
		// The members' hashes do not cover a pod with an infra container:
		// its labels are read from that container.
		{name: "a service joins a pod with an infra container", stack: strings.Replace(shop, "volumes:\n  data:", "  cache:\n    image: nginx\n    x-pod: front\nvolumes:\n  data:", 1)},
		{name: "pod configuration changed, pod holding nothing", stack: shopPorts, listed: true, scene: func(t *testing.T, f *fixture) {
			byHand(f.e.RemoveContainer(ctx, "shop-api-1", false))
		}},
		{name: "pod left stale by --no-recreate", stack: shopPorts, listed: true, scene: func(t *testing.T, f *fixture) {
			// The API's container goes; --no-recreate makes it again in
			// the pod it keeps, whose labels say the old ports.
			byHand(f.e.RemoveContainer(ctx, "shop-api-1", false))
			p := ops.New(f.load(shopPorts), f.e)
			if _, err := p.Up(ctx, ops.UpOptions{Plan: planner.Options{NoRecreate: true}, Exec: f.exec}); err != nil {
				t.Fatal(err)
			}
			if c, _ := f.e.Container("shop-api-1"); c.Labels[planner.LabelStalePod] != "true" {
				t.Errorf("--no-recreate made shop-api-1 in a stale pod without %s: %v", planner.LabelStalePod, c.Labels)
			}
		}},
		{name: "another environment", env: "prod", listed: true},
		{name: "another environment, --no-recreate", env: "prod", listed: true, opts: planner.Options{NoRecreate: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, shop)
			f.up(planner.Options{})
			if tc.scene != nil {
				tc.scene(t, f)
			}
			s := f.p.Stack
			if tc.stack != "" {
				s = f.load(tc.stack)
			}
			if tc.env != "" {
				copied := *s
				copied.Environment = tc.env
				s = &copied
			}
			p := ops.New(s, f.e)
			p.Now = f.p.Now
			want, err := p.Plan(ctx, tc.opts, false)
			if err != nil {
				t.Fatal(err)
			}
			f.e.ResetCalls()
			got, err := p.Up(ctx, ops.UpOptions{Plan: tc.opts, DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			if listed := f.e.PodListings() > 0; listed != tc.listed {
				t.Errorf("pods listed: %v, want %v", listed, tc.listed)
			}
			wantWarnings := want.Warnings
			if tc.unseen != "" && !tc.listed {
				wantWarnings = slices.DeleteFunc(slices.Clone(wantWarnings), func(w string) bool {
					return strings.HasPrefix(w, "pod "+tc.unseen+" is not declared")
				})
				if len(wantWarnings) == len(want.Warnings) {
					t.Errorf("plan does not warn about %s: %q", tc.unseen, want.Warnings)
				}
			}
			if got.String() != want.String() || !slices.Equal(got.Warnings, wantWarnings) {
				t.Errorf("up plans\n%s%q\nlisting the pods plans\n%s%q", got, got.Warnings, want, want.Warnings)
			}
			look := planner.LookupFor(s)
			look.Pods = planner.ExpectPods(s, "")
			derived, err := f.e.Observe(ctx, "shop", look)
			if err != nil {
				t.Fatal(err)
			}
			all, err := f.e.Observe(ctx, "shop", nil)
			if err != nil {
				t.Fatal(err)
			}
			listedPods := slices.DeleteFunc(all.Pods, func(p planner.ObservedPod) bool { return p.Name == tc.unseen })
			if !slices.EqualFunc(derived.Pods, listedPods, samePod) {
				t.Errorf("pods worked out\n%+v\nlisted\n%+v", derived.Pods, all.Pods)
			}
			// Up carries the plan out, and then nothing is left to do.
			if _, err := p.Up(ctx, ops.UpOptions{Plan: tc.opts, Exec: f.exec}); err != nil {
				t.Fatalf("up: %v", err)
			}
			again, err := p.Up(ctx, ops.UpOptions{Plan: tc.opts, DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			if n := again.Mutating(); n != 0 && !tc.opts.ForceRecreate {
				t.Errorf("after up, up plans %d mutating steps:\n%s", n, again)
			}
		})
	}
}

func samePod(a, b planner.ObservedPod) bool {
	return a.ID == b.ID && a.Name == b.Name && a.State == b.State && mapsEqual(a.Labels, b.Labels)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// TestNoopUpListsNoPods: a no-op up of a running stack lists no pods, and
// a stack that changed lists them once.
func TestNoopUpListsNoPods(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	f.e.ResetCalls()
	if plan := f.up(planner.Options{}); plan.Mutating() != 0 {
		t.Fatalf("second up: %s", plan)
	}
	if n := f.e.PodListings(); n != 0 {
		t.Errorf("a no-op up listed the pods %d times", n)
	}
	if n := f.e.Called("Observe", "shop"); n != 1 {
		t.Errorf("a no-op up observed %d times", n)
	}
}
