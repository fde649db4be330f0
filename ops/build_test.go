package ops_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

// builds has two built services, one also named for a registry, beside
// the shop's pulled database.
const builds = `name: shop
services:
  db:
    image: postgres:16
  web:
    build: ./web
  api:
    build: {context: ./api, args: {FLAVOUR: plain}}
    image: registry.example/shop/api:1
    depends_on: [db]
`

// events records progress events.
type events struct {
	mu  sync.Mutex
	all []planner.Event
}

func (r *events) Emit(e planner.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, e)
}

// output is the step output lines recorded, "service | line".
func (r *events) output() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.all {
		if e.Status == planner.StatusOutput {
			out = append(out, e.Service+" | "+e.Text)
		}
	}
	return out
}

func newBuildFixture(t *testing.T) (*fixture, string, *events) {
	f := newFixture(t, builds)
	dir := filepath.Dir(f.p.Stack.Files[0])
	for name, content := range map[string]string{"web/Dockerfile": "FROM busybox\n", "api/Dockerfile": "FROM busybox\nARG FLAVOUR\n"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	ev := &events{}
	f.p.Progress = ev
	return f, dir, ev
}

// mutations are the engine's changing calls, as "Op name" strings.
func mutations(f *fixture) []string {
	var out []string
	for _, c := range f.e.Mutations() {
		out = append(out, c.String())
	}
	return out
}

func (f *fixture) containerIDs() map[string]string {
	out := map[string]string{}
	for _, c := range f.e.Containers() {
		out[c.Name] = c.ID
	}
	return out
}

// TestUpRebuildsWhatChanged: up builds what is missing, labelled with the
// digest of its inputs, and shows the builds' output; after a Dockerfile
// is edited it rebuilds that image only and recreates only its service.
func TestUpRebuildsWhatChanged(t *testing.T) {
	f, dir, ev := newBuildFixture(t)
	f.up(planner.Options{})
	if got := mutations(f); !slices.Contains(got, "BuildImage shop-web") || !slices.Contains(got, "BuildImage registry.example/shop/api:1") {
		t.Fatalf("first up does not build: %v", got)
	}
	web := f.e.ImageLabels("shop-web")[planner.LabelBuildDigest]
	if web == "" || web != f.p.Stack.Services["web"].Build.Digest {
		t.Errorf("web's image is labelled %q, the stack's digest is %q", web, f.p.Stack.Services["web"].Build.Digest)
	}
	if out := ev.output(); !slices.Contains(out, "web | COMMIT shop-web") {
		t.Errorf("the build's output is not in the progress: %q", out)
	}
	before := f.containerIDs()

	f.e.ResetCalls()
	if plan := f.up(planner.Options{}); plan.Mutating() != 0 {
		t.Errorf("up with nothing changed:\n%s", plan)
	}

	os.WriteFile(filepath.Join(dir, "web/Dockerfile"), []byte("FROM busybox\nRUN true\n"), 0o644)
	f.up(planner.Options{})
	if got := strings.Join(mutations(f), "; "); !strings.Contains(got, "BuildImage shop-web") || strings.Contains(got, "BuildImage registry") {
		t.Errorf("up after editing web's Dockerfile: %s", got)
	}
	after := f.containerIDs()
	for name, id := range before {
		if changed, want := after[name] != id, name == "shop-web-1"; changed != want {
			t.Errorf("%s recreated %v, want %v", name, changed, want)
		}
	}
}

// TestBuild: build builds the named services' images (every built one
// with none named), with the command line's args; up then runs the new
// images, recreating the containers of the old ones without rebuilding.
func TestBuild(t *testing.T) {
	f, _, ev := newBuildFixture(t)
	ctx := context.Background()
	f.up(planner.Options{})
	before := f.containerIDs()
	f.e.ResetCalls()
	n, err := f.p.Build(ctx, ops.BuildOptions{Build: planner.BuildOptions{Services: []string{"api"}, NoCache: true,
		Args: map[string]string{"FLAVOUR": "spicy"}}})
	if err != nil || n != 1 || strings.Join(mutations(f), "; ") != "BuildImage registry.example/shop/api:1" {
		t.Fatalf("build api: %d, %v, %v", n, err, mutations(f))
	}
	if !slices.Contains(f.locks, "build") {
		t.Errorf("build takes no lock: %v", f.locks)
	}
	if !slices.Contains(ev.output(), "api | COMMIT registry.example/shop/api:1") {
		t.Errorf("build output: %q", ev.output())
	}
	f.e.ResetCalls()
	f.up(planner.Options{})
	if got := strings.Join(mutations(f), "; "); strings.Contains(got, "Build") || !strings.Contains(got, "CreateContainer shop-api-1") ||
		strings.Contains(got, "shop-web-1") {
		t.Errorf("up after build api: %s", got)
	}
	if after := f.containerIDs(); after["shop-api-1"] == before["shop-api-1"] {
		t.Error("api still runs the image from before build")
	}

	f.e.ResetCalls()
	if n, err := f.p.Build(ctx, ops.BuildOptions{}); err != nil || n != 2 {
		t.Errorf("build (all): %d, %v", n, err)
	}
	if n, err := f.p.Build(ctx, ops.BuildOptions{Build: planner.BuildOptions{Services: []string{"db"}}}); err != nil || n != 0 ||
		!strings.Contains(f.status.String(), "Nothing to build") {
		t.Errorf("build db (no build section): %d, %v, %q", n, err, f.status)
	}
	f.e.Fail("BuildImage", "shop-web", errors.New("building at STEP \"RUN make\": exit status 2"))
	if _, err := f.p.Build(ctx, ops.BuildOptions{Build: planner.BuildOptions{Services: []string{"web"}}}); err == nil ||
		!strings.Contains(err.Error(), "BuildImage shop-web (service web)") || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("failed build: %v", err)
	}
}

// TestUpNoBuild: --no-build refuses an image it would have to build.
func TestUpNoBuild(t *testing.T) {
	f, _, _ := newBuildFixture(t)
	_, err := f.p.Up(context.Background(), ops.UpOptions{Plan: planner.Options{NoBuild: true}, Exec: f.exec})
	if err == nil || !strings.Contains(err.Error(), "image shop-web is not present locally and --no-build forbids building it") {
		t.Fatalf("up --no-build: %v", err)
	}
	if len(mutations(f)) != 0 {
		t.Errorf("up --no-build changed %v", mutations(f))
	}
}

// TestDownRemovesImages: down --rmi local removes the images built under
// the project's names and keeps the others; --rmi all removes those too,
// and works without the stack file.
func TestDownRemovesImages(t *testing.T) {
	f, _, _ := newBuildFixture(t)
	ctx := context.Background()
	f.up(planner.Options{})
	if _, err := f.p.Down(ctx, planner.DownOptions{RemoveImages: "local"}, f.exec); err != nil {
		t.Fatal(err)
	}
	if f.e.ImageID("shop-web") != "" || f.e.ImageID("registry.example/shop/api:1") == "" || f.e.ImageID("postgres:16") == "" {
		t.Errorf("down --rmi local left images %v", f.e.Images())
	}
	f.up(planner.Options{})
	byName := &ops.Project{Name: "shop", Engine: f.e}
	if _, err := byName.Down(ctx, planner.DownOptions{RemoveImages: "all"}, f.exec); err != nil {
		t.Fatal(err)
	}
	if imgs := f.e.Images(); len(imgs) != 3 || slices.Contains(imgs, "docker.io/library/postgres:16") {
		t.Errorf("down -p shop --rmi all left %v (want only the shop stack's other images)", imgs)
	}
}

// TestPullAndPush: pull goes on past an image it cannot pull when told
// to, and says what it pulls nothing for; push pushes the built images
// that have a registry name.
func TestPullAndPush(t *testing.T) {
	f, _, ev := newBuildFixture(t)
	ctx := context.Background()
	unreachable := errors.New("pinging container registry registry.example: connect: connection refused")
	f.e.Fail("PullImage", "registry.example/shop/api:1", unreachable)
	f.e.Fail("PullImage", "postgres:16", unreachable)

	err := f.p.Pull(ctx, ops.PullOptions{Exec: planner.ExecOptions{Parallel: 1}})
	if err == nil || !strings.Contains(err.Error(), "PullImage postgres:16 (service db)") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("pull from an unreachable registry: %v", err)
	}
	if !strings.Contains(f.status.String(), "Skipping web: built from its build section, not pulled") {
		t.Errorf("status: %q", f.status)
	}
	// api's pull failing is a warning (it can be built); with
	// --ignore-pull-failures db's is too.
	if err := f.p.Pull(ctx, ops.PullOptions{Pull: planner.PullOptions{IgnoreFailures: true}}); err != nil {
		t.Errorf("pull --ignore-pull-failures: %v", err)
	}
	var warned []string
	for _, e := range ev.all {
		if e.Status == planner.StatusWarning {
			warned = append(warned, e.Resource)
		}
	}
	if slices.Sort(warned); !slices.Equal(slices.Compact(warned), []string{"postgres:16", "registry.example/shop/api:1"}) {
		t.Errorf("warnings for %v", warned)
	}
	f.e.Fail("PullImage", "postgres:16", nil)
	f.e.ResetCalls()
	if err := f.p.Pull(ctx, ops.PullOptions{Pull: planner.PullOptions{Services: []string{"db"}, Policy: "missing"}}); err != nil ||
		len(mutations(f)) != 0 {
		t.Errorf("pull --policy missing of a present image: %v %v", err, mutations(f))
	}
	if err := f.p.Pull(ctx, ops.PullOptions{Pull: planner.PullOptions{Services: []string{"db"}}}); err != nil ||
		!slices.Contains(ev.output(), "db | Trying to pull docker.io/library/postgres:16...") {
		t.Errorf("pull db: %v, output %q", err, ev.output())
	}

	if _, err := f.p.Build(ctx, ops.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	f.e.ResetCalls()
	if err := f.p.Push(ctx, ops.PushOptions{}); err != nil || strings.Join(mutations(f), "; ") != "PushImage registry.example/shop/api:1" {
		t.Errorf("push: %v %v", err, mutations(f))
	}
	f.e.Fail("PushImage", "registry.example/shop/api:1", unreachable)
	if err := f.p.Push(ctx, ops.PushOptions{}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("push to an unreachable registry: %v", err)
	}
	if err := f.p.Push(ctx, ops.PushOptions{Push: planner.PushOptions{IgnoreFailures: true}}); err != nil {
		t.Errorf("push --ignore-push-failures: %v", err)
	}
	if err := f.p.Push(ctx, ops.PushOptions{Push: planner.PushOptions{Services: []string{"web"}}}); err == nil ||
		!strings.Contains(err.Error(), "has no image: name to push its build under") {
		t.Errorf("push web: %v", err)
	}
}

// TestImagesAfterRebuild: images shows the image a container was made
// from, by ID, also once a rebuild has taken its name.
func TestImagesAfterRebuild(t *testing.T) {
	f, _, _ := newBuildFixture(t)
	ctx := context.Background()
	f.up(planner.Options{})
	old := f.e.ImageID("shop-web")
	if _, err := f.p.Build(ctx, ops.BuildOptions{Build: planner.BuildOptions{Services: []string{"web"}, NoCache: true}}); err != nil {
		t.Fatal(err)
	}
	rows, err := f.p.Images(ctx, []string{"web"})
	if err != nil || len(rows) != 1 {
		t.Fatalf("images web: %v %+v", err, rows)
	}
	if r := rows[0]; r.ID != old || r.Repository != "<none>" || r.Tag != "<none>" || r.Service != "web" || r.Size == 0 {
		t.Errorf("web's row after a rebuild: %+v (old image %s)", r, old)
	}
}

// TestDryRunImages: build, pull, push and down --rmi on the dry-run engine
// report their steps and change nothing, not one image; a later plan on
// the same engine plans as after them (a command of several phases, such
// as watch's rebuild then up): the image a dry build made is current, the
// one a dry down removed is missing.
func TestDryRunImages(t *testing.T) {
	f, dir, _ := newBuildFixture(t)
	ctx := context.Background()
	f.up(planner.Options{})
	os.WriteFile(filepath.Join(dir, "web/Dockerfile"), []byte("FROM busybox\nRUN true\n"), 0o644)
	images, webID, containers := f.e.Images(), f.e.ImageID("shop-web"), f.containerIDs()
	f.e.ResetCalls()

	var mu sync.Mutex
	var steps []string
	p := ops.New(f.p.Stack, ops.DryRun(f.e, nil))
	p.Now = f.p.Now
	p.Progress = planner.EventsFunc(func(e planner.Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Status == planner.StatusDone && e.Kind != "" {
			steps = append(steps, string(e.Kind)+" "+e.Resource)
		}
	})
	reported := func(what string, want ...string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for _, w := range want {
			if !slices.Contains(steps, w) {
				t.Errorf("%s --dry-run: no %q among the steps %v", what, w, steps)
			}
		}
		steps = nil
	}
	planOf := func() string {
		t.Helper()
		plan, err := p.Up(ctx, ops.UpOptions{DryRun: true, Exec: f.exec})
		if err != nil {
			t.Fatalf("up --dry-run: %v", err)
		}
		var out []string
		for _, s := range plan.Steps {
			out = append(out, string(s.Kind)+" "+s.Target+" ("+s.Cause+")")
		}
		return strings.Join(out, "; ")
	}

	if n, err := p.Build(ctx, ops.BuildOptions{}); err != nil || n != 2 {
		t.Fatalf("build --dry-run: %d, %v", n, err)
	}
	reported("build", "BuildImage shop-web", "BuildImage registry.example/shop/api:1")
	if got := planOf(); strings.Contains(got, "BuildImage") || !strings.Contains(got, "RemoveContainer shop-web-1 (image changed)") ||
		strings.Contains(got, "RemoveContainer shop-api-1") {
		t.Errorf("up after build --dry-run plans %s; want web recreated from its new image, nothing built", got)
	}
	steps = nil
	if err := p.Pull(ctx, ops.PullOptions{}); err != nil {
		t.Errorf("pull --dry-run: %v", err)
	}
	reported("pull", "PullImage postgres:16")
	if err := p.Push(ctx, ops.PushOptions{}); err != nil {
		t.Errorf("push --dry-run: %v", err)
	}
	reported("push", "PushImage registry.example/shop/api:1")
	if _, err := p.Down(ctx, planner.DownOptions{RemoveImages: "local"}, f.exec); err != nil {
		t.Errorf("down --rmi local --dry-run: %v", err)
	}
	reported("down --rmi local", "RemoveContainer shop-web-1", "RemoveImage shop-web")
	if got := planOf(); !strings.Contains(got, "BuildImage shop-web (image not present)") {
		t.Errorf("up after down --rmi local --dry-run plans %s; want web's image built again", got)
	}

	if m := mutations(f); len(m) != 0 {
		t.Errorf("dry runs reached the engine: %v", m)
	}
	if after := f.e.Images(); !slices.Equal(after, images) || f.e.ImageID("shop-web") != webID {
		t.Errorf("images %v (web %s), were %v (web %s)", after, f.e.ImageID("shop-web"), images, webID)
	}
	if after := f.containerIDs(); len(after) != len(containers) || after["shop-web-1"] != containers["shop-web-1"] {
		t.Errorf("containers %v, were %v", after, containers)
	}
}

// TestBuildRefusesLocalContextsTheHostCannotRead: stack build, like up,
// refuses a local additional context the service cannot read (before
// Podman 5.6, on another host) before any build starts, naming the service
// and the key; the other builds named do not run first.
func TestBuildRefusesLocalContextsTheHostCannotRead(t *testing.T) {
	f := newFixture(t, `name: shop
services:
  web:
    build: ./web
  api:
    build:
      context: ./api
      additional_contexts: {files: ./files}
`)
	dir := filepath.Dir(f.p.Stack.Files[0])
	for _, d := range []string{"web", "api", "files"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
		os.WriteFile(filepath.Join(dir, d, "Dockerfile"), []byte("FROM busybox\n"), 0o644)
	}
	f.e.SetHost(planner.Host{Mode: "rootful Podman 4.3.1", NoLocalBuildContexts: "Podman 5.6 or later"})
	_, err := f.p.Build(context.Background(), ops.BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), `service "api": build.additional_contexts files is a local directory`) ||
		!strings.Contains(err.Error(), "Podman 5.6 or later") {
		t.Errorf("want api's local context refused, got %v", err)
	}
	if got := mutations(f); len(got) != 0 {
		t.Errorf("built before refusing: %v", got)
	}
	if _, err := f.p.Build(context.Background(), ops.BuildOptions{Build: planner.BuildOptions{Services: []string{"web"}}}); err != nil {
		t.Errorf("build web alone (no local context): %v", err)
	}
}
