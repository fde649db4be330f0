package planner

import (
	"slices"
	"strings"
	"testing"
)

// contextStack has a chain of service: build contexts: app is built from
// lib's image, which is built from base's; tool only builds.
const contextStack = `name: ctx
services:
  app:
    build:
      context: .
      dockerfile_inline: "FROM base\n"
      additional_contexts: {base: "service:lib", files: ./files}
  lib:
    build:
      context: .
      additional_contexts: {root: "service:base"}
  base:
    build: .
`

// TestBuildContextOrder: a build reading another service's image through a
// service: context waits for that image's build, whichever order the names
// sort in, and reads it as the image the stack builds for the service.
func TestBuildContextOrder(t *testing.T) {
	s := load(t, writeCompose(t, contextStack))
	p := reconcile(t, s, nil, Options{})
	app, lib, base := findStep(p, StepBuildImage, "ctx-app"), findStep(p, StepBuildImage, "ctx-lib"), findStep(p, StepBuildImage, "ctx-base")
	if app == nil || lib == nil || base == nil {
		t.Fatalf("up does not build all three images:\n%s", p)
	}
	if !slices.Contains(app.Deps, lib.ID) || !slices.Contains(lib.Deps, base.ID) {
		t.Errorf("builds not ordered app after lib after base:\n%s", p)
	}
	if got := app.Build.AdditionalContexts["base"]; got != "docker-image://ctx-lib" {
		t.Errorf("app's base context is %q, want lib's image docker-image://ctx-lib", got)
	}
	if got := s.Services["app"].Build.AdditionalContexts["base"]; got != "service:lib" {
		t.Errorf("planning changed the stack's build section: %q", got)
	}
	if got := app.Build.AdditionalContexts["files"]; got != s.Services["app"].Build.AdditionalContexts["files"] {
		t.Errorf("a local context changed: %q", got)
	}
}

// TestBuildContextOfUnselectedService: up of one service builds the images
// its build reads when they are missing, first; when they are present and
// current, only its own.
func TestBuildContextOfUnselectedService(t *testing.T) {
	s := load(t, writeCompose(t, contextStack))
	p := reconcile(t, s, nil, Options{Services: []string{"app"}, NoDeps: true})
	app, lib, base := findStep(p, StepBuildImage, "ctx-app"), findStep(p, StepBuildImage, "ctx-lib"), findStep(p, StepBuildImage, "ctx-base")
	if app == nil || lib == nil || base == nil || !slices.Contains(app.Deps, lib.ID) || !slices.Contains(lib.Deps, base.ID) {
		t.Fatalf("up app with its context images missing: want base, lib, app built in order:\n%s", p)
	}
	if lib.Cause != "image not present (a build context of app)" {
		t.Errorf("lib's build says %q", lib.Cause)
	}
	for _, name := range []string{"app", "lib", "base"} {
		s.Services[name].Build.Digest = "d-" + name
	}
	o := applied(reconcile(t, s, nil, Options{}))
	s.Services["app"].Build.Digest = "d-app2"
	p = reconcile(t, s, o, Options{Services: []string{"app"}, NoDeps: true})
	if findStep(p, StepBuildImage, "ctx-app") == nil || len(stepsOf(p, StepBuildImage)) != 1 {
		t.Errorf("up app with its context changed and its context images current: want app's build alone:\n%s", p)
	}
	// A change of base's context changes the digests of the images built
	// from it too (stack.ResolveBuildDigests chains them).
	for _, name := range []string{"app", "lib", "base"} {
		s.Services[name].Build.Digest = "d-" + name + "3"
	}
	p = reconcile(t, s, o, Options{Services: []string{"app"}, NoDeps: true})
	if base := findStep(p, StepBuildImage, "ctx-base"); base == nil || base.Cause != "build context changed (a build context of lib)" {
		t.Errorf("up app with base's context changed: want base rebuilt first:\n%s", p)
	}
}

// TestPlanBuildContextOrder: stack build of one service builds the images
// its build reads first.
func TestPlanBuildContextOrder(t *testing.T) {
	s := load(t, writeCompose(t, contextStack))
	p, err := PlanBuild(s, BuildOptions{Services: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	app, lib, base := findStep(p, StepBuildImage, "ctx-app"), findStep(p, StepBuildImage, "ctx-lib"), findStep(p, StepBuildImage, "ctx-base")
	if app == nil || lib == nil || base == nil || !slices.Contains(app.Deps, lib.ID) || !slices.Contains(lib.Deps, base.ID) ||
		len(p.Steps) != 3 {
		t.Fatalf("stack build app: want base, lib, app in order:\n%s", p)
	}
}

// TestBuildContextHostCheck: a runtime that cannot read local build
// contexts fails the plan before anything is created, naming the service,
// the key and what it needs; contexts that are images pass.
func TestBuildContextHostCheck(t *testing.T) {
	s := load(t, writeCompose(t, contextStack))
	host := Host{Mode: "rootful Podman 4.3.1", NoLocalBuildContexts: "Podman 5.6 or later"}
	_, err := Reconcile(s, &ObservedState{Host: host}, Options{})
	if err == nil || !strings.Contains(err.Error(), `service "app": build.additional_contexts files is a local directory, which rootful Podman 4.3.1 cannot read`) ||
		!strings.Contains(err.Error(), "use Podman 5.6 or later") {
		t.Errorf("want the local context refused, got %v", err)
	}
	delete(s.Services["app"].Build.AdditionalContexts, "files")
	if _, err := Reconcile(s, &ObservedState{Host: host}, Options{}); err != nil {
		t.Errorf("service: contexts only: %v", err)
	}
}
