package fakeengine_test

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/planner"
)

// TestUpCreatesWhatObserveSees: after planner.Up, Observe reports every
// object the plan made, in the states Podman would show.
func TestUpCreatesWhatObserveSees(t *testing.T) {
	f := newFixture(t, shopStack)
	f.up("", planner.Options{})
	o := f.observe("shop")

	pods := map[string]string{}
	for _, p := range o.Pods {
		pods[p.Name] = p.State
	}
	// migrate's pod holds only the finished job: Exited.
	want := map[string]string{"shop-app": "Running", "shop-db": "Running", "shop-migrate": "Exited", "shop-web": "Running"}
	if !maps.Equal(pods, want) {
		t.Errorf("pods %v, want %v", pods, want)
	}
	got := map[string]string{}
	for _, c := range o.Containers {
		got[c.Name] = c.State + "/" + c.Health
		if c.Labels[planner.LabelProject] != "shop" || c.Labels[planner.LabelConfigHash] == "" {
			t.Errorf("%s labels %v", c.Name, c.Labels)
		}
	}
	wantC := map[string]string{"shop-api-1": "running/", "shop-db-1": "running/healthy", "shop-migrate-1": "exited/",
		"shop-proxy-1": "running/", "shop-web-1": "running/"}
	if !maps.Equal(got, wantC) {
		t.Errorf("containers %v, want %v (infra containers never show)", got, wantC)
	}
	ports := map[string]string{}
	for _, c := range o.Containers {
		for _, p := range c.Ports {
			ports[c.Name] += p.Protocol + ":" + strconv.Itoa(int(p.Published)) + "->" + strconv.Itoa(int(p.Target))
		}
	}
	// The pod's members show the infra container's ports, as ps does.
	wantP := map[string]string{"shop-api-1": "tcp:8080->80", "shop-proxy-1": "tcp:8080->80", "shop-web-1": "tcp:8081->80"}
	if !maps.Equal(ports, wantP) {
		t.Errorf("ports %v, want %v", ports, wantP)
	}
	if got := names(o.Volumes, func(v planner.ObservedVolume) string { return v.Name }); !slices.Equal(got, []string{"shop_data"}) {
		t.Errorf("volumes %v", got)
	}
	if got := names(o.Networks, func(n planner.ObservedNetwork) string { return n.Name }); !slices.Equal(got, []string{"shop_default"}) {
		t.Errorf("networks %v", got)
	}
	if len(o.Secrets) != 1 || o.Secrets[0].Name != "shop_dbpass" || o.Secrets[0].Labels[planner.LabelConfigHash] == "" {
		t.Errorf("secrets %+v", o.Secrets)
	}
	if secs := f.e.Secrets(); len(secs) != 1 || string(secs[0].Data) != "s3cret" {
		t.Errorf("the secret holds %+v, want the file's content", secs)
	}
	if !slices.Equal(o.Images, []string{"nginx", "postgres:16", "shop/api:1", "shop/migrate:1"}) {
		t.Errorf("images %v", o.Images)
	}
	if len(o.MissingDirectories) != 0 || len(f.e.MissingDirectories()) != 0 {
		t.Errorf("the bind-mount source was not made: %v", o.MissingDirectories)
	}
	if c := f.container("shop-api-1"); !slices.Contains(c.Binds, filepath.Join(f.dir, "uploads")) {
		t.Errorf("api binds %v", c.Binds)
	}
}

// TestUpOrdersByHealthAndCompletion: api starts only after db's probe said
// healthy and the migration exited 0.
func TestUpOrdersByHealthAndCompletion(t *testing.T) {
	f := newFixture(t, shopStack)
	f.e.Script("shop-db-1", fakeengine.Script{Health: []string{"starting", "starting", "healthy"}})
	f.up("", planner.Options{})
	calls := f.e.Calls()
	healthy := lastIndex(calls, "RunHealthCheck", "shop-db-1")
	migrated := lastIndex(calls, "WaitExit", "shop-migrate-1")
	for _, dependent := range []string{"shop-migrate-1", "shop-api-1"} {
		if start := index(calls, "StartContainer", dependent); start < healthy {
			t.Errorf("%s started (call %d) before db was healthy (call %d):\n%s", dependent, start, healthy, strings.Join(callStrings(calls), "\n"))
		}
	}
	if start := index(calls, "StartContainer", "shop-api-1"); start < migrated {
		t.Errorf("api started before the migration completed:\n%s", strings.Join(callStrings(calls), "\n"))
	}
	if n := f.e.Probes("shop-db-1"); n != 3 {
		t.Errorf("db probed %d times, want 3 (starting, starting, healthy)", n)
	}
}

// TestUnhealthyDependencyStopsDependents: an unhealthy database fails the
// up with its logs, and its dependents never start.
func TestUnhealthyDependencyStopsDependents(t *testing.T) {
	f := newFixture(t, shopStack)
	f.e.Script("shop-db-1", fakeengine.Script{Health: []string{"starting", "unhealthy"}, Stderr: []string{"FATAL: bad config"}})
	_, err := f.tryUp("", planner.Options{})
	if err == nil || !strings.Contains(err.Error(), "unhealthy after 2 probes") || !strings.Contains(err.Error(), "FATAL: bad config") {
		t.Fatalf("up: %v", err)
	}
	for _, c := range []string{"shop-migrate-1", "shop-api-1"} {
		if n := f.e.Called("StartContainer", c); n != 0 {
			t.Errorf("%s started %d times although db is unhealthy", c, n)
		}
	}
}

// TestFailedJobStopsDependents: a migration that exits 3 fails the up.
func TestFailedJobStopsDependents(t *testing.T) {
	f := newFixture(t, shopStack)
	f.e.ScriptService("migrate", fakeengine.Script{Exits: []int{3}, Stdout: []string{"relation exists"}})
	_, err := f.tryUp("", planner.Options{})
	if err == nil || !strings.Contains(err.Error(), "exited with code 3") || !strings.Contains(err.Error(), "relation exists") {
		t.Fatalf("up: %v", err)
	}
	if f.e.Called("StartContainer", "shop-api-1") != 0 {
		t.Error("api started after a failed migration")
	}
}

// TestSecondUpIsNoOp: planning against what the first up made changes
// nothing.
func TestSecondUpIsNoOp(t *testing.T) {
	f := newFixture(t, shopStack)
	f.up("", planner.Options{})
	f.e.ResetCalls()
	p := f.up("", planner.Options{})
	if p.Mutating() != 0 {
		t.Errorf("second up plans %d mutating steps:\n%s", p.Mutating(), p)
	}
	if m := f.e.Mutations(); len(m) != 0 {
		t.Errorf("second up changed the engine: %v", m)
	}
}

// TestEnvChangeRecreatesOneContainer: a changed environment recreates only
// that service's container; the rest keep their IDs.
func TestEnvChangeRecreatesOneContainer(t *testing.T) {
	f := newFixture(t, shopStack)
	f.up("", planner.Options{})
	before := map[string]string{}
	for _, c := range f.e.Containers() {
		before[c.Name] = c.ID
	}
	f.rewrite("MODE: one", "MODE: two")
	f.e.ResetCalls()
	f.up("", planner.Options{})
	got := callStrings(f.e.Mutations())
	want := []string{"StopContainer shop-db-1", "RemoveContainer shop-db-1", "CreateContainer shop-db-1", "StartContainer shop-db-1"}
	if !slices.Equal(got, want) {
		t.Errorf("mutations %v, want %v", got, want)
	}
	for _, c := range f.e.Containers() {
		changed := before[c.Name] != c.ID
		if changed != (c.Name == "shop-db-1") {
			t.Errorf("%s: ID changed %v", c.Name, changed)
		}
	}
	if c := f.container("shop-db-1"); c.Env["MODE"] != "two" || c.State != "running" {
		t.Errorf("db is %s with MODE=%s", c.State, c.Env["MODE"])
	}
}

// TestInterruptedContainerIsRecreated: a container an interrupted run left
// created is made again, as starting it would fail.
func TestInterruptedContainerIsRecreated(t *testing.T) {
	f := newFixture(t, shopStack)
	f.up("", planner.Options{})
	f.e.SetState("shop-web-1", "created", 0)
	f.e.ResetCalls()
	f.up("", planner.Options{})
	got := callStrings(f.e.Mutations())
	want := []string{"RemoveContainer shop-web-1", "CreateContainer shop-web-1", "StartContainer shop-web-1"}
	if !slices.Equal(got, want) {
		t.Errorf("mutations %v, want %v", got, want)
	}
}

// TestStorageLeftoverIsReplaced: a container left only in storage holds
// its name; the plan removes it first, or the create meeting it does.
func TestStorageLeftoverIsReplaced(t *testing.T) {
	f := newFixture(t, shopStack)
	f.e.AddContainer(fakeengine.Container{Name: "shop-web-1", State: planner.StateStorage})
	f.up("", planner.Options{})
	if c := f.container("shop-web-1"); c.State != "running" || c.Labels[planner.LabelProject] != "shop" {
		t.Errorf("web is %+v", c)
	}
	if f.e.Called("RemoveContainer", "shop-web-1") != 1 {
		t.Errorf("the leftover was not removed first: %v", f.e.Calls())
	}

	e := fakeengine.New()
	e.AddContainer(fakeengine.Container{Name: "x-web-1", State: planner.StateStorage})
	e.AddImages("nginx")
	s := f.load("x")
	p, err := planner.Reconcile(s, nil, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range p.Steps {
		switch st.Kind {
		case planner.StepCreateNetwork:
			err = e.CreateNetwork(context.Background(), st.Network, nil)
		case planner.StepCreatePod:
			err = e.CreatePod(context.Background(), st.PodSpec, s)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Met at create (a plan made before it was left), the leftover is
	// replaced there, as podmanapi does (planner.ClaimName).
	c := p.Containers[len(p.Containers)-1] // x-web-1
	if err := e.CreateContainer(context.Background(), c, p.PodOf(c.Service), s); err != nil {
		t.Errorf("create over a storage leftover: %v", err)
	}
	if got, ok := e.Container("x-web-1"); !ok || got.State != "created" || got.Labels[planner.LabelProject] != "x" {
		t.Errorf("after a create over a storage leftover: %+v", got)
	}
}

// TestDownLeavesNothingOfTheProject: down -v removes every object of the
// project and nothing of another project or of unlabelled look-alikes,
// which an up before it did not touch either.
func TestDownLeavesNothingOfTheProject(t *testing.T) {
	f := newFixture(t, shopStack)
	// Another project from the same file, without published ports (they
	// would be taken).
	f.up("", planner.Options{})
	f.rewrite(`ports: ["8080:80"]`, `expose: ["80"]`)
	f.rewrite(`ports: ["8081:80"]`, `expose: ["80"]`)
	f.up("other", planner.Options{})
	f.rewrite(`expose: ["80"]`, `ports: ["8080:80"]`)
	f.rewrite(`expose: ["80"]`, `ports: ["8081:80"]`)
	// Look-alikes: named like the project's objects, without its labels.
	f.e.AddPod(fakeengine.Pod{Name: "shop-lookalike"})
	f.e.AddContainer(fakeengine.Container{Name: "shop-web-2", Image: "nginx", State: "running", Pod: "shop-lookalike"})
	f.e.AddVolume(fakeengine.Volume{Name: "shop_cache"})
	f.e.AddNetwork(fakeengine.Network{Name: "shop_extra"})
	f.e.AddSecret(fakeengine.Secret{Name: "shop_token", Data: []byte("t")})
	keep := map[string]bool{}
	for _, c := range f.e.Containers() {
		if c.Labels[planner.LabelProject] != "shop" {
			keep[c.Name] = true
		}
	}
	f.e.ResetCalls()
	f.up("", planner.Options{RemoveOrphans: true})
	f.down("", planner.DownOptions{Volumes: true, RemoveOrphans: true})
	for _, c := range f.e.Calls() {
		if keep[c.Name] || strings.HasPrefix(c.Name, "other") || slices.Contains([]string{"shop-lookalike", "shop_cache", "shop_extra", "shop_token"}, c.Name) {
			t.Errorf("touched %s", c)
		}
	}

	o := f.observe("shop")
	if len(o.Pods)+len(o.Containers)+len(o.Networks) != 0 || len(o.Volumes) != 0 {
		t.Errorf("left of shop: %+v", o)
	}
	for _, s := range o.Secrets {
		if s.Labels[planner.LabelProject] == "shop" {
			t.Errorf("left secret %s", s.Name)
		}
	}
	for name := range keep {
		if _, ok := f.e.Container(name); !ok {
			t.Errorf("%s is gone", name)
		}
	}
	other := f.observe("other")
	if len(other.Containers) != 5 || len(other.Pods) != 4 || len(other.Volumes) != 1 || len(other.Secrets) != 1 {
		t.Errorf("the other project lost objects: %+v", other)
	}
	if _, ok := f.e.Pod("shop-lookalike"); !ok {
		t.Error("the unlabelled pod is gone")
	}
	vols := names(f.e.Volumes(), func(v fakeengine.Volume) string { return v.Name })
	nets := names(f.e.Networks(), func(n fakeengine.Network) string { return n.Name })
	if !slices.Contains(vols, "shop_cache") || !slices.Contains(nets, "shop_extra") || !slices.Contains(nets, "podman") {
		t.Errorf("volumes %v networks %v", vols, nets)
	}
}

// TestForeignVolumeIsUsedNotRemoved: a volume of the stack's name that the
// project did not create is mounted as it is and survives down -v.
func TestForeignVolumeIsUsedNotRemoved(t *testing.T) {
	f := newFixture(t, shopStack)
	f.e.AddVolume(fakeengine.Volume{Name: "shop_data", Labels: map[string]string{"owner": "dba"}})
	p := f.up("", planner.Options{})
	if !strings.Contains(p.String(), "UseVolume") || len(p.Warnings) == 0 {
		t.Errorf("the plan does not show the foreign volume:\n%s", p)
	}
	f.down("", planner.DownOptions{Volumes: true})
	if vols := f.e.Volumes(); len(vols) != 1 || vols[0].Labels["owner"] != "dba" {
		t.Errorf("volumes after down -v: %+v", vols)
	}
}

// TestFaultLeavesStateForTheNextUp: an injected start failure fails the up
// naming the step; the container stays created, and the next up, with the
// fault gone, makes it again and starts it.
func TestFaultLeavesStateForTheNextUp(t *testing.T) {
	f := newFixture(t, shopStack)
	boom := errors.New("runc: boom")
	f.e.Fail("StartContainer", "shop-web-1", boom)
	_, err := f.tryUp("", planner.Options{})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "StartContainer shop-web-1") {
		t.Fatalf("up: %v", err)
	}
	if c := f.container("shop-web-1"); c.State != "created" {
		t.Errorf("web is %s", c.State)
	}
	f.e.Fail("StartContainer", "shop-web-1", nil)
	f.up("", planner.Options{})
	if c := f.container("shop-web-1"); c.State != "running" {
		t.Errorf("web is %s after the second up", c.State)
	}

	f.e.FailOnce("StopContainer", "", boom)
	ctx := context.Background()
	if err := f.e.StopContainer(ctx, "shop-web-1", 0); !errors.Is(err, boom) || f.container("shop-web-1").State != "running" {
		t.Errorf("first stop: %v", err)
	}
	if err := f.e.StopContainer(ctx, "shop-web-1", 0); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

// TestRollbackRemovesWhatTheRunMade: with Rollback, a failed up leaves
// nothing it created.
func TestRollbackRemovesWhatTheRunMade(t *testing.T) {
	f := newFixture(t, shopStack)
	f.e.Fail("CreateContainer", "shop-web-1", errors.New("no space left on device"))
	s := f.load("")
	_, err := planner.Up(context.Background(), f.e, s, planner.Options{}, planner.UpOptions{Rollback: true}, f.exec(), nil)
	if err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("up: %v", err)
	}
	o := f.observe("shop")
	if len(o.Containers)+len(o.Pods)+len(o.Volumes)+len(o.Networks)+len(o.Secrets) != 0 {
		t.Errorf("left after rollback: %+v", o)
	}
}

// TestPrivilegedPortsRefusedBeforeAnything: a rootless host's port limit
// (SetHost) refuses the stack before anything is created.
func TestPrivilegedPortsRefusedBeforeAnything(t *testing.T) {
	f := newFixture(t, strings.Replace(shopStack, `"8081:80"`, `"81:80"`, 1))
	f.e.SetHost(planner.Host{Mode: "rootless Podman 4.3.1", UnprivilegedPortStart: 1024})
	if _, err := f.tryUp("", planner.Options{}); err == nil || !strings.Contains(err.Error(), "privileged") {
		t.Fatalf("up: %v", err)
	}
	if m := f.e.Mutations(); len(m) != 0 {
		t.Errorf("created before refusing: %v", m)
	}
}
