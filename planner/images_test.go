package planner

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/podstack/podstack/stack"
)

const builtStack = `name: bld
services:
  web:
    build: ./web
  api:
    build: {context: ./api, args: {V: "1"}}
    depends_on: [db]
  db:
    image: postgres
`

// builtWith loads builtStack (from one file per test: its contexts are
// absolute paths) with the given build digests, as
// stack.ResolveBuildDigests would set them; the planner reads no files.
func builtWith(t *testing.T, web, api string) *stack.Stack {
	t.Helper()
	if builtFiles[t.Name()] == "" {
		builtFiles[t.Name()] = writeCompose(t, builtStack)
	}
	s := load(t, builtFiles[t.Name()])
	s.Services["web"].Build.Digest = web
	s.Services["api"].Build.Digest = api
	return s
}

var builtFiles = map[string]string{}

func stepsOf(p *Plan, kind StepKind) []*Step {
	var out []*Step
	for _, st := range p.Steps {
		if st.Kind == kind {
			out = append(out, st)
		}
	}
	return out
}

func findStep(p *Plan, kind StepKind, target string) *Step {
	for _, st := range p.Steps {
		if st.Kind == kind && st.Target == target {
			return st
		}
	}
	return nil
}

// TestReconcileRebuildsChangedBuild: a changed Dockerfile or context
// (another digest) rebuilds that service's image and recreates only its
// containers, the old one running until the new image is there; with
// nothing changed nothing is built (issue 14, item 4: up, --force-recreate
// and --pull always kept the old image).
func TestReconcileRebuildsChangedBuild(t *testing.T) {
	first := reconcile(t, builtWith(t, "w1", "a1"), nil, Options{})
	build := findStep(first, StepBuildImage, "bld-web")
	if build == nil || build.Cause != "image not present" || build.Build.Labels[LabelBuildDigest] != "w1" {
		t.Fatalf("first up does not build web labelled with its digest:\n%s", first)
	}
	for _, c := range first.Containers {
		if want := map[string]string{"web": "w1", "api": "a1"}[c.Service]; c.Labels[LabelBuildDigest] != want {
			t.Errorf("%s carries build digest %q, want %q", c.Name, c.Labels[LabelBuildDigest], want)
		}
	}
	o := applied(first)
	if p := reconcile(t, builtWith(t, "w1", "a1"), o, Options{}); p.Mutating() != 0 {
		t.Errorf("unchanged builds: %d mutating steps:\n%s", p.Mutating(), p)
	}

	for _, opts := range []Options{{}, {ForceRecreate: true}, {Pull: "always"}} {
		p := reconcile(t, builtWith(t, "w2", "a1"), o, opts)
		build := findStep(p, StepBuildImage, "bld-web")
		if build == nil || build.Build.Labels[LabelBuildDigest] != "w2" {
			t.Fatalf("%+v: web's changed build is not rebuilt:\n%s", opts, p)
		}
		if findStep(p, StepBuildImage, "bld-api") != nil && !opts.ForceRecreate && opts.Pull != "always" {
			t.Errorf("%+v: api rebuilt although unchanged:\n%s", opts, p)
		}
		if !opts.ForceRecreate && opts.Pull == "" {
			if build.Cause != "build context changed" {
				t.Errorf("cause %q", build.Cause)
			}
			got := strings.Join(mutations(p), "; ")
			want := "BuildImage bld-web; StopContainer bld-web-1; RemoveContainer bld-web-1; CreateContainer bld-web-1; StartContainer bld-web-1"
			if got != want {
				t.Errorf("mutations:\n got %s\nwant %s", got, want)
			}
			if c := findStep(p, StepCreateContainer, "bld-web-1"); c.Cause != "image rebuilt: build context changed" {
				t.Errorf("container cause %q", c.Cause)
			}
		}
		stop := findStep(p, StepStopContainer, "bld-web-1")
		if stop == nil || !slices.Contains(stop.Deps, build.ID) {
			t.Errorf("%+v: the old web stops before its new image is built:\n%s", opts, p)
		}
	}
}

// TestReconcileBuildFlags: --build builds every selected image without
// recreating what is current; --no-build builds nothing, warns about a
// stale image and refuses a missing one.
func TestReconcileBuildFlags(t *testing.T) {
	o := applied(reconcile(t, builtWith(t, "w1", "a1"), nil, Options{}))

	p := reconcile(t, builtWith(t, "w1", "a1"), o, Options{Build: true})
	if got := strings.Join(mutations(p), "; "); got != "BuildImage bld-api; BuildImage bld-web" {
		t.Errorf("--build: %s", got)
	}
	p = reconcile(t, builtWith(t, "w1", "a1"), o, Options{Build: true, Services: []string{"web"}, NoDeps: true})
	if got := strings.Join(mutations(p), "; "); got != "BuildImage bld-web" {
		t.Errorf("--build web: %s", got)
	}

	p = reconcile(t, builtWith(t, "w2", "a1"), o, Options{NoBuild: true})
	if p.Mutating() != 0 || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "--no-build keeps it") {
		t.Errorf("--no-build with a stale image: warnings %q\n%s", p.Warnings, p)
	}
	_, err := Reconcile(builtWith(t, "w1", "a1"), &ObservedState{Images: []string{"postgres"}}, Options{NoBuild: true})
	if !stack.IsInvalid(err) || !strings.Contains(err.Error(), "image bld-web is not present locally and --no-build forbids building it") {
		t.Errorf("--no-build with a missing image: %v", err)
	}
}

// TestReconcileImageMadeElsewhere: an image without a build digest label
// (pulled, or built by hand) is used as it is; containers follow the
// image they run, and an unknown digest compares nothing.
func TestReconcileImageMadeElsewhere(t *testing.T) {
	s := builtWith(t, "w1", "a1")
	first := reconcile(t, s, &ObservedState{Images: []string{"bld-web", "bld-api", "postgres"}}, Options{})
	if len(stepsOf(first, StepBuildImage)) != 0 {
		t.Errorf("an image made elsewhere is rebuilt:\n%s", first)
	}
	o := applied(first)
	o.BuildDigests = nil
	if p := reconcile(t, s, o, Options{}); p.Mutating() != 0 {
		t.Errorf("containers of an unlabelled image recreated:\n%s", p)
	}
	// Stack built it, then someone tagged another image under its name.
	o = applied(reconcile(t, s, nil, Options{}))
	o.BuildDigests = map[string]string{"bld-api": "a1"}
	p := reconcile(t, s, o, Options{})
	if got := strings.Join(mutations(p), "; "); got != "StopContainer bld-web-1; RemoveContainer bld-web-1; CreateContainer bld-web-1; StartContainer bld-web-1" {
		t.Errorf("web's image replaced: %s", got)
	}
	if c := findStep(p, StepCreateContainer, "bld-web-1"); c == nil || c.Cause != "image changed" {
		t.Errorf("cause of recreating web:\n%s", p)
	}
	// Digests not resolved (a remote context, or a caller that did not ask):
	// nothing is compared, nothing recreated.
	if p := reconcile(t, builtWith(t, "", ""), applied(reconcile(t, s, nil, Options{})), Options{}); p.Mutating() != 0 {
		t.Errorf("unknown digests recreate:\n%s", p)
	}
}

// TestReconcileFollowsImageIDs: a container made from an image its name
// no longer points to (rebuilt by stack build, or pulled since) is made
// again from the current one, as docker compose does; one that runs the
// current image is left alone.
func TestReconcileFollowsImageIDs(t *testing.T) {
	s := builtWith(t, "w1", "a1")
	o := applied(reconcile(t, s, nil, Options{}))
	o.ImageIDs = map[string]string{"bld-web": "id-web", "bld-api": "id-api", "postgres": "id-pg"}
	for i, c := range o.Containers {
		o.Containers[i].ImageID = map[string]string{"web": "id-web", "api": "id-api", "db": "id-pg"}[c.Labels[LabelService]]
	}
	if p := reconcile(t, s, o, Options{}); p.Mutating() != 0 {
		t.Errorf("containers of current images recreated:\n%s", p)
	}
	o.ImageIDs["postgres"], o.ImageIDs["bld-api"] = "id-pg-2", "id-api-2"
	p := reconcile(t, s, o, Options{})
	if got := strings.Join(mutations(p), "; "); !strings.Contains(got, "CreateContainer bld-db-1") ||
		!strings.Contains(got, "CreateContainer bld-api-1") || strings.Contains(got, "bld-web-1") || strings.Contains(got, "Image") {
		t.Errorf("after db's image was pulled and api's rebuilt: %s", got)
	}
	if c := findStep(p, StepCreateContainer, "bld-db-1"); c.Cause != "image changed" {
		t.Errorf("cause %q", c.Cause)
	}
	if p := reconcile(t, s, o, Options{NoRecreate: true}); p.Mutating() != 0 {
		t.Errorf("--no-recreate recreates:\n%s", p)
	}
}

// TestPlanDownRemovesImages: --rmi local removes the images built under
// the project's names, --rmi all every service's image, after the
// containers; the stack file is not needed.
func TestPlanDownRemovesImages(t *testing.T) {
	s := builtWith(t, "w1", "a1")
	o := applied(reconcile(t, s, nil, Options{}))
	for _, c := range []struct {
		s    *stack.Stack
		mode string
		want []string
	}{
		{s, "local", []string{"bld-api", "bld-web"}},
		{s, "all", []string{"bld-api", "bld-web", "postgres"}},
		{nil, "local", []string{"bld-api", "bld-web"}},
		{nil, "all", []string{"bld-api", "bld-web", "postgres"}},
		{s, "", nil},
	} {
		p, err := PlanDown("bld", c.s, o, DownOptions{RemoveImages: c.mode})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		removed := map[int]bool{}
		for _, st := range stepsOf(p, StepRemoveContainer) {
			removed[st.ID] = true
		}
		for _, st := range stepsOf(p, StepRemoveImage) {
			got = append(got, st.Target)
			if !st.Optional || len(st.Deps) < len(removed) {
				t.Errorf("%s: an image is removed before the containers, or its failure is fatal: %s", c.mode, st)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("stack=%v --rmi %q removes %v, want %v", c.s != nil, c.mode, got, c.want)
		}
	}
	// Without the stack, a local image is one under the project's own name.
	o.Containers[0].Image = "localhost/bld-api:latest"
	p, _ := PlanDown("bld", nil, o, DownOptions{RemoveImages: "local"})
	if findStep(p, StepRemoveImage, "localhost/bld-api:latest") == nil {
		t.Errorf("a container's fully named image is not recognised:\n%s", p)
	}
}

// TestPlanBuildPullPush: the image commands' plans.
func TestPlanBuildPullPush(t *testing.T) {
	s := load(t, writeCompose(t, `name: img
services:
  web: {build: ./web, image: registry.example/web:1, depends_on: [base]}
  base: {build: {context: ./base, no_cache: true}}
  db: {image: postgres}
  tool: {image: tool, pull_policy: never}
  cache: {image: postgres}
`))
	s.Services["web"].Build.Digest = "w1"

	p, err := PlanBuild(s, BuildOptions{})
	if err != nil || strings.Join(mutations(p), "; ") != "BuildImage img-base; BuildImage registry.example/web:1" {
		t.Fatalf("build all: %v\n%s", err, p)
	}
	web := findStep(p, StepBuildImage, "registry.example/web:1")
	if web.Build.Labels[LabelBuildDigest] != "w1" || web.Build.NoCache || len(web.Deps) != 0 {
		t.Errorf("web's build %+v deps %v", web.Build, web.Deps)
	}
	if s.Services["web"].Build.Labels != nil {
		t.Errorf("planning a build changed the stack's build section")
	}
	if !findStep(p, StepBuildImage, "img-base").Build.NoCache {
		t.Errorf("build.no_cache lost")
	}
	p, _ = PlanBuild(s, BuildOptions{Services: []string{"web"}, NoCache: true, Pull: true, Args: map[string]string{"V": "2"}})
	if got := strings.Join(mutations(p), "; "); got != "BuildImage registry.example/web:1" || !p.Steps[0].Build.NoCache || !p.Steps[0].Build.Pull ||
		p.Steps[0].Build.Args["V"] != "2" || p.Steps[0].Build.Labels[LabelBuildDigest] != "w1" {
		t.Errorf("build web --no-cache --pull --build-arg V=2: %s %+v", got, p.Steps[0].Build)
	}
	if s.Services["web"].Build.Args != nil {
		t.Errorf("--build-arg changed the stack's build section")
	}
	p, _ = PlanBuild(s, BuildOptions{Services: []string{"web"}, WithDependencies: true})
	if got := strings.Join(mutations(p), "; "); got != "BuildImage img-base; BuildImage registry.example/web:1" {
		t.Errorf("build web --with-dependencies: %s", got)
	}
	if _, err := PlanBuild(s, BuildOptions{Services: []string{"nope"}}); !stack.IsInvalid(err) {
		t.Errorf("build of an unknown service: %v", err)
	}

	pp, err := PlanPull(s, &ObservedState{Images: []string{"postgres"}}, PullOptions{})
	if err != nil || strings.Join(mutations(pp.Plan), "; ") != "PullImage postgres; PullImage registry.example/web:1" {
		t.Fatalf("pull: %v\n%s", err, pp.Plan)
	}
	if st := findStep(pp.Plan, StepPullImage, "registry.example/web:1"); !st.Optional {
		t.Errorf("a buildable service's pull failure must be a warning: %s", st)
	}
	if st := findStep(pp.Plan, StepPullImage, "postgres"); st.Optional || st.Policy != "always" {
		t.Errorf("postgres pull: %s", st)
	}
	if got := strings.Join(pp.Skipped, "; "); got != "base: built from its build section, not pulled; tool: pull_policy never" {
		t.Errorf("skipped: %s", got)
	}
	pp, _ = PlanPull(s, &ObservedState{Images: []string{"postgres"}}, PullOptions{Policy: "missing", IgnoreBuildable: true, IgnoreFailures: true})
	if len(pp.Steps) != 0 || len(pp.Skipped) != 5 {
		t.Errorf("pull --policy missing --ignore-buildable: %v\n%s", pp.Skipped, pp.Plan)
	}
	pp, _ = PlanPull(s, nil, PullOptions{Services: []string{"db"}, IgnoreFailures: true})
	if len(pp.Steps) != 1 || !pp.Steps[0].Optional {
		t.Errorf("pull db --ignore-pull-failures:\n%s", pp.Plan)
	}
	pp, _ = PlanPull(s, nil, PullOptions{Services: []string{"web"}, IncludeDeps: true})
	if got := strings.Join(mutations(pp.Plan), "; "); got != "PullImage registry.example/web:1" || len(pp.Skipped) != 1 {
		t.Errorf("pull web --include-deps (base is built): %s %v", got, pp.Skipped)
	}

	p, err = PlanPush(s, PushOptions{})
	if err != nil || strings.Join(mutations(p), "; ") != "PushImage registry.example/web:1" {
		t.Errorf("push: %v\n%s", err, p)
	}
	// A dependency pulled in by --include-deps that has nothing to push
	// is no error; only a service named is.
	if p, err = PlanPush(s, PushOptions{Services: []string{"web"}, IncludeDeps: true}); err != nil || len(p.Steps) != 1 {
		t.Errorf("push web --include-deps: %v\n%s", err, p)
	}
	_, err = PlanPush(s, PushOptions{Services: []string{"base", "db"}})
	if !stack.IsInvalid(err) || !strings.Contains(err.Error(), `service "base": has no image: name to push its build under`) ||
		!strings.Contains(err.Error(), `service "db": has no build section: its image postgres is not built here`) {
		t.Errorf("push of services without both build and image: %v", err)
	}
}

// TestExecuteStreamsStepOutput: a build's output reaches the events line
// by line as it comes, and the failure says only what failed, so the
// output is shown once.
func TestExecuteStreamsStepOutput(t *testing.T) {
	rt := newFake()
	rt.logs["build app"] = "STEP 1/2: FROM busybox\nSTEP 2/2: RUN make\r\nmake: *** [all] Error 2\n\nlast line without newline"
	rt.errs["build app"] = errors.New("building at STEP \"RUN make\": exit status 2")
	p := mkPlan(spec{kind: StepBuildImage, target: "app", service: "app"})
	p.Steps[0].Build, p.Steps[0].Image = &stack.Build{Context: "."}, "app"
	err, r := exec(t, p, rt, ExecOptions{})
	if err == nil {
		t.Fatal("a failed build succeeded")
	}
	var lines []string
	var failed Event
	for _, e := range r.events {
		switch e.Status {
		case StatusOutput:
			if e.Service != "app" || e.Resource != "app" || e.Kind != StepBuildImage {
				t.Errorf("output event %+v does not name its step", e)
			}
			lines = append(lines, e.Text)
		case StatusFailed:
			failed = e
		}
	}
	want := []string{"STEP 1/2: FROM busybox", "STEP 2/2: RUN make", "make: *** [all] Error 2", "last line without newline"}
	if !slices.Equal(lines, want) {
		t.Errorf("output lines %q, want %q", lines, want)
	}
	if strings.Contains(failed.Detail, "Error 2") || strings.Contains(err.Error(), "Error 2") {
		t.Errorf("the failure repeats the output: %q / %v", failed.Detail, err)
	}
}

// TestExecuteIgnoredPullFailure: with --ignore-pull-failures one image that
// cannot be pulled warns and the others are pulled.
func TestExecuteIgnoredPullFailure(t *testing.T) {
	rt := newFake()
	rt.errs["pull gone"] = errors.New("connection refused")
	p := mkPlan(spec{kind: StepPullImage, target: "gone", opt: true}, spec{kind: StepPullImage, target: "here", opt: true})
	p.Steps[0].Image, p.Steps[1].Image = "gone", "here"
	err, r := exec(t, p, rt, ExecOptions{Parallel: 1})
	if err != nil {
		t.Fatalf("ignored failure failed the pull: %v", err)
	}
	if _, ok := rt.find("pull", "here"); !ok {
		t.Error("the pull after the failure did not run")
	}
	texts := map[Status]string{}
	for _, e := range r.events {
		if e.Resource == "gone" {
			texts[e.Status] = e.Text + ": " + e.Detail
		}
	}
	if texts[StatusWarning] != "Failed, going on: connection refused" {
		t.Errorf("events of the failed pull: %v", texts)
	}
}
