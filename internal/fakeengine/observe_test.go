package fakeengine_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

// TestObserveScoping: Observe reports what podmanapi's does, no more: the
// project's labelled objects, storage leftovers named like its containers,
// foreign volumes, networks and secrets only where looked up (secrets also
// by the project's name prefix), present images and missing directories.
func TestObserveScoping(t *testing.T) {
	e := fakeengine.New()
	mine := map[string]string{planner.LabelProject: "p"}
	theirs := map[string]string{planner.LabelProject: "q"}
	e.AddPod(fakeengine.Pod{Name: "p-app", Labels: mine, Infra: true})
	e.AddPod(fakeengine.Pod{Name: "q-app", Labels: theirs})
	e.AddPod(fakeengine.Pod{Name: "p-bare"})
	e.AddContainer(fakeengine.Container{Name: "p-web-1", Pod: "p-app", Labels: mine, State: "running", Health: "healthy",
		StartedAt: time.Date(2026, 1, 1, 10, 0, 0, 123, time.UTC), FinishedAt: time.Date(2026, 1, 1, 9, 59, 59, 500, time.UTC)})
	e.AddContainer(fakeengine.Container{Name: "p-web-2", State: "running"}) // unlabelled look-alike
	e.AddContainer(fakeengine.Container{Name: "q-web-1", Pod: "q-app", Labels: theirs})
	e.AddContainer(fakeengine.Container{Name: "p-db-1", State: planner.StateStorage})
	e.AddContainer(fakeengine.Container{Name: "q-db-1", State: planner.StateStorage})
	e.AddVolume(fakeengine.Volume{Name: "p_data", Labels: mine})
	e.AddVolume(fakeengine.Volume{Name: "p_cache"})  // foreign, looked up
	e.AddVolume(fakeengine.Volume{Name: "p_cache2"}) // foreign, not looked up
	e.AddVolume(fakeengine.Volume{Name: "q_data", Labels: theirs})
	e.AddNetwork(fakeengine.Network{Name: "p_default", Labels: mine})
	e.AddNetwork(fakeengine.Network{Name: "shared"})
	e.AddSecret(fakeengine.Secret{Name: "p_key", Labels: mine})
	e.AddSecret(fakeengine.Secret{Name: "p_handmade"}) // the project's prefix
	e.AddSecret(fakeengine.Secret{Name: "token"})      // looked up
	e.AddSecret(fakeengine.Secret{Name: "other"})
	e.AddSecret(fakeengine.Secret{Name: "renamed", Labels: mine})
	e.AddImages("redis:7", "localhost/app:1")
	e.AddMissingDirectories("/srv/b", "/srv/a")

	look := &planner.Lookup{Images: []string{"redis:7", "docker.io/library/redis:7", "app:1", "nope", "redis:7"},
		Volumes: []string{"p_data", "p_cache"}, Networks: []string{"shared", "absent"}, Secrets: []string{"token"},
		Directories: []string{"/srv/a", "/srv/b", "/srv/c"}}
	o, err := e.Observe(context.Background(), "p", look)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s %v, want %v", what, got, want)
		}
	}
	check("containers", names(o.Containers, func(c planner.ObservedContainer) string { return c.Name + ":" + c.State }),
		[]string{"p-db-1:storage", "p-web-1:running"})
	check("pods", names(o.Pods, func(p planner.ObservedPod) string { return p.Name + ":" + p.State }), []string{"p-app:Running"})
	check("volumes", names(o.Volumes, func(v planner.ObservedVolume) string { return v.Name }), []string{"p_cache", "p_data"})
	check("networks", names(o.Networks, func(n planner.ObservedNetwork) string { return n.Name }), []string{"p_default", "shared"})
	check("secrets", names(o.Secrets, func(s planner.ObservedSecret) string { return s.Name }), []string{"p_handmade", "p_key", "renamed", "token"})
	check("images", o.Images, []string{"app:1", "docker.io/library/redis:7", "redis:7"})
	check("missing directories", o.MissingDirectories, []string{"/srv/a", "/srv/b"})
	web := o.Containers[1]
	if web.Health != "healthy" || web.Pod != "p-app" || !web.StartedAt.Equal(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)) ||
		!web.FinishedAt.Equal(time.Date(2026, 1, 1, 9, 59, 59, 0, time.UTC)) {
		t.Errorf("web %+v (ps reports whole seconds, and the last exit of one running again)", web)
	}

	e.SetRemote(true)
	if o, _ := e.Observe(context.Background(), "p", look); len(o.MissingDirectories) != 0 {
		t.Errorf("a remote service tells missing directories: %v", o.MissingDirectories)
	}
	if err := e.CreateDirectory(context.Background(), "/srv/a"); err != nil || len(e.MissingDirectories()) != 2 {
		t.Errorf("a remote service made a local directory: %v %v", err, e.MissingDirectories())
	}
}

// TestProjectsAggregates: every project with containers, counted by state,
// infra containers and storage leftovers not counted.
func TestProjectsAggregates(t *testing.T) {
	e := fakeengine.New()
	e.AddPod(fakeengine.Pod{Name: "p-app", Labels: map[string]string{planner.LabelProject: "p"}, Infra: true})
	for _, c := range []fakeengine.Container{
		{Name: "p-a-1", Pod: "p-app", State: "running"}, {Name: "p-b-1", State: "running"}, {Name: "p-c-1", State: "exited"},
		{Name: "q-a-1", State: "created", Labels: map[string]string{planner.LabelEnvironment: "staging"}},
	} {
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[planner.LabelProject] = c.Name[:1]
		e.AddContainer(c)
	}
	e.AddContainer(fakeengine.Container{Name: "p-z-1", State: planner.StateStorage})
	e.AddContainer(fakeengine.Container{Name: "loose", State: "running"})
	got, err := e.Projects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []ops.ProjectSummary{{Name: "p", Containers: 3, Status: "exited(1), running(2)"},
		{Name: "q", Environment: "staging", Containers: 1, Status: "created(1)"}}
	if !slices.Equal(got, want) {
		t.Errorf("projects %+v, want %+v", got, want)
	}
}

// TestObserveLeftoversOnlyWhereANameIsFree: as podmanapi, leftovers in
// storage are looked for only when Lookup.Containers names a container the
// project's labelled ones do not hold (or is not given).
func TestObserveLeftoversOnlyWhereANameIsFree(t *testing.T) {
	e := fakeengine.New()
	e.AddContainer(fakeengine.Container{Name: "p-web-1", Labels: map[string]string{planner.LabelProject: "p"}, State: "running"})
	e.AddContainer(fakeengine.Container{Name: "p-db-1", State: planner.StateStorage})
	for _, tc := range []struct {
		wanted []string
		want   []string
	}{
		{nil, []string{"p-db-1", "p-web-1"}},
		{[]string{"p-web-1", "p-db-1"}, []string{"p-db-1", "p-web-1"}},
		{[]string{"p-web-1"}, []string{"p-web-1"}},
	} {
		o, err := e.Observe(context.Background(), "p", &planner.Lookup{Containers: tc.wanted})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(o.Containers, func(c planner.ObservedContainer) string { return c.Name }); !slices.Equal(got, tc.want) {
			t.Errorf("wanted %q: observed %v, want %v", tc.wanted, got, tc.want)
		}
	}
}
