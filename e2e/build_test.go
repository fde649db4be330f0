package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildStack has two built services and one that runs a local image. The
// Dockerfiles' RUN lines print a marker that only the shell computes
// ($((1+1)) is 2), so the marker in the output is the build's output, never
// the echo of the Dockerfile's text in a step line or an error.
const buildStack = `services:
  web:
    build: ./web
    command: ["/bin/sh", "-c", "cat /version; exec sleep 3600"]
  api:
    build:
      context: ./api
      target: final
      args: {FLAVOUR: plain}
    command: ["/bin/sh", "-c", "cat /flavour; exec sleep 3600"]
  db:
    image: localhost/busybox:test
    command: ["/bin/sleep", "3600"]
`

func webDockerfile(version string) string {
	return "FROM localhost/busybox:test\nRUN echo built-$((1+1))-web-" + version + " && echo " + version + " > /version\n"
}

const apiDockerfile = `FROM localhost/busybox:test AS base
ARG FLAVOUR
RUN echo $FLAVOUR > /flavour
FROM base AS final
RUN echo built-$((1+1))-api
FROM final AS unused
RUN exit 1
`

// removeImages removes images by reference when the test ends, whatever it
// did (down --rmi should have removed them already), and the images the
// references named on each call of the returned function: a rebuild
// leaves the old image nameless, and the machine is shared.
func removeImages(t *testing.T, refs ...string) (seen func()) {
	var ids []string
	t.Cleanup(func() {
		for _, ref := range append(refs, ids...) {
			exec.Command("podman", "--url", podURL, "rmi", "-f", ref).Run()
		}
	})
	return func() {
		for _, ref := range refs {
			if out, err := exec.Command("podman", "--url", podURL, "image", "inspect", "--format", "{{.Id}}", ref).Output(); err == nil {
				ids = append(ids, strings.TrimSpace(string(out)))
			}
		}
	}
}

func imageExists(t *testing.T, ref string) bool {
	t.Helper()
	return exec.Command("podman", "--url", podURL, "image", "exists", ref).Run() == nil
}

// TestBuildDay: a compose user's day with built images. up builds what is
// missing and shows the build's output; a changed Dockerfile is rebuilt by
// the next up, and only that service is recreated; a failed build shows its
// output once; down --rmi local removes the built images and nothing else.
func TestBuildDay(t *testing.T) {
	parallel(t)
	p := project(t, "build")
	web, api := "localhost/"+p+"-web:latest", "localhost/"+p+"-api:latest"
	seen := removeImages(t, web, api)
	dir := writeStack(t, map[string]string{
		"compose.yaml":   buildStack,
		"web/Dockerfile": webDockerfile("v1"),
		"api/Dockerfile": apiDockerfile,
	})

	r := mustStack(t, dir, "-p", p, "up", "-d", "--build")
	seen()
	for _, marker := range []string{"built-2-web-v1", "built-2-api"} {
		if strings.Count(r.stderr, marker) != 1 {
			t.Errorf("up --build: want the build output %q once:\n%s", marker, r.stderr)
		}
	}
	if !imageExists(t, web) || !imageExists(t, api) {
		t.Fatalf("up --build did not build %s and %s:\n%s", web, api, r)
	}
	logs := mustStack(t, dir, "-p", p, "logs", "--no-log-prefix", "api")
	if !strings.Contains(logs.stdout, "plain") {
		t.Errorf("api was not built with its build arg: %s", logs)
	}
	before := containerIDs(t, p)

	t.Run("up with nothing changed builds nothing", func(t *testing.T) {
		r := mustStack(t, dir, "-p", p, "up", "-d")
		if strings.Contains(r.stderr, "built-2-") || strings.Contains(r.stderr, "Build") {
			t.Errorf("up rebuilt an unchanged image:\n%s", r.stderr)
		}
		plan := mustStack(t, dir, "-p", p, "plan", "--format", "json")
		var pl struct{ Steps []struct{ Kind string } }
		json.Unmarshal([]byte(plan.stdout), &pl)
		if len(pl.Steps) != 0 {
			t.Errorf("plan after up has steps: %s", plan.stdout)
		}
	})

	t.Run("a changed Dockerfile is rebuilt and only its service recreated", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "web/Dockerfile"), []byte(webDockerfile("v2")), 0o644)
		plan := mustStack(t, dir, "-p", p, "plan")
		if !strings.Contains(plan.stdout, "BuildImage") || !strings.Contains(plan.stdout, "build context changed") {
			t.Errorf("plan after editing the Dockerfile does not rebuild:\n%s", plan.stdout)
		}
		r := mustStack(t, dir, "-p", p, "up", "-d")
		seen()
		if !strings.Contains(r.stderr, "built-2-web-v2") || strings.Contains(r.stderr, "built-2-api") {
			t.Errorf("up after editing web's Dockerfile: want web rebuilt and api not:\n%s", r.stderr)
		}
		after := containerIDs(t, p)
		for name, id := range before {
			changed := after[name] != id
			if want := name == p+"-web-1"; changed != want {
				t.Errorf("%s: recreated=%v, want %v", name, changed, want)
			}
		}
		out := mustStack(t, dir, "-p", p, "exec", "-T", "web", "cat", "/version")
		if strings.TrimSpace(out.stdout) != "v2" {
			t.Errorf("web runs %q, want the rebuilt v2", out.stdout)
		}
	})

	t.Run("a file the .dockerignore leaves out changes nothing", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "web/.dockerignore"), []byte("notes.txt\n"), 0o644)
		mustStack(t, dir, "-p", p, "up", "-d") // the .dockerignore itself is in the context
		seen()
		ids := containerIDs(t, p)
		os.WriteFile(filepath.Join(dir, "web/notes.txt"), []byte("scratch"), 0o644)
		r := mustStack(t, dir, "-p", p, "up", "-d")
		if strings.Contains(r.stderr, "Build") {
			t.Errorf("an ignored file caused a build:\n%s", r.stderr)
		}
		if after := containerIDs(t, p); after[p+"-web-1"] != ids[p+"-web-1"] {
			t.Errorf("an ignored file recreated web")
		}
	})

	t.Run("build builds only what is named, with args and no cache", func(t *testing.T) {
		ids := containerIDs(t, p)
		r := mustStack(t, dir, "-p", p, "build", "--no-cache", "--build-arg", "FLAVOUR=spicy", "api")
		seen()
		if !strings.Contains(r.stderr, "built-2-api") || strings.Contains(r.stderr, "built-2-web") {
			t.Errorf("build api: want api's build output only:\n%s", r.stderr)
		}
		if after := containerIDs(t, p); after[p+"-api-1"] != ids[p+"-api-1"] {
			t.Errorf("build recreated a container")
		}
		// As with docker compose, up runs the image build made (its ID is
		// not the one api's container was made from) and rebuilds nothing.
		r = mustStack(t, dir, "-p", p, "up", "-d")
		if strings.Contains(r.stderr, "Build") {
			t.Errorf("up rebuilt the image build made:\n%s", r.stderr)
		}
		after := containerIDs(t, p)
		if after[p+"-api-1"] == ids[p+"-api-1"] || after[p+"-web-1"] != ids[p+"-web-1"] {
			t.Errorf("up after build api: want api recreated from its new image, web left alone")
		}
		logs := mustStack(t, dir, "-p", p, "logs", "--no-log-prefix", "api")
		if !strings.Contains(logs.stdout, "spicy") {
			t.Errorf("api does not run the image built with --build-arg: %s", logs)
		}
		r = runStack(t, dir, "-p", p, "build", "nosuch")
		if r.code != 2 || !strings.Contains(r.stderr, "nosuch") {
			t.Errorf("build of an unknown service: %s", r)
		}
	})

	t.Run("images shows ID and size", func(t *testing.T) {
		r := mustStack(t, dir, "-p", p, "images")
		if !strings.Contains(r.stdout, "IMAGE ID") || !strings.Contains(r.stdout, "SIZE") || !strings.Contains(r.stdout, p+"-web") {
			t.Errorf("images table:\n%s", r.stdout)
		}
		r = mustStack(t, dir, "-p", p, "images", "--format", "json")
		var rows []struct {
			ID, ContainerName, Repository, Tag string
			Size                               int64
		}
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 3 {
			t.Fatalf("images json (%v):\n%s", err, r.stdout)
		}
		want := strings.TrimSpace(podman(t, "image", "inspect", "--format", "{{.Id}}", web))
		for _, row := range rows {
			if row.ContainerName == p+"-web-1" && (row.ID != want || row.Size <= 0 || row.Repository != "localhost/"+p+"-web" || row.Tag != "latest") {
				t.Errorf("web's image row %+v, want ID %s and a size", row, want)
			}
		}
	})

	t.Run("a failed build shows its output once", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "web/Dockerfile"),
			[]byte("FROM localhost/busybox:test\nRUN echo failing-$((40+2))-marker && exit 3\n"), 0o644)
		r := runStack(t, dir, "-p", p, "up", "-d")
		if r.code == 0 {
			t.Fatalf("up with a failing build succeeded: %s", r)
		}
		if n := strings.Count(r.stderr, "failing-42-marker"); n != 1 {
			t.Errorf("the failed build's output appears %d times, want once:\n%s", n, r.stderr)
		}
		if !strings.Contains(r.stderr, "web") {
			t.Errorf("the failure does not name the service:\n%s", r.stderr)
		}
		os.WriteFile(filepath.Join(dir, "web/Dockerfile"), []byte(webDockerfile("v2")), 0o644)
	})

	t.Run("down --rmi local removes the built images only", func(t *testing.T) {
		mustStack(t, dir, "-p", p, "down", "--rmi", "local")
		if imageExists(t, web) || imageExists(t, api) {
			t.Errorf("down --rmi local left the built images")
		}
		if !imageExists(t, "localhost/busybox:test") {
			t.Fatalf("down --rmi local removed the db's image localhost/busybox:test")
		}
		if ids := containerIDs(t, p); len(ids) != 0 {
			t.Errorf("down left %v", ids)
		}
	})
}

// unreachable is an image on a registry nothing listens for: port 1 of
// this machine refuses at once, so the test waits for no timeout.
const unreachable = "localhost:1/podstack-e2e/nothing:1"

// TestPullAndPushWithoutRegistry: pulling and pushing where no registry
// answers fails clearly, naming the image; --ignore-pull-failures and
// --ignore-push-failures warn and go on; images already here need no
// registry (pull --policy missing, up --pull missing).
func TestPullAndPushWithoutRegistry(t *testing.T) {
	parallel(t)
	p := project(t, "pull")
	pushed := "localhost:1/" + p + "/app:1"
	removeImages(t, pushed)
	dir := writeStack(t, map[string]string{
		"compose.yaml": `services:
  local:
    image: localhost/busybox:test
    command: ["/bin/sleep", "3600"]
  remote:
    image: ` + unreachable + `
  app:
    build: ./app
    image: ` + pushed + `
    command: ["/bin/sleep", "3600"]
`,
		"app/Dockerfile": "FROM localhost/busybox:test\n",
	})

	r := runStack(t, dir, "-p", p, "pull", "remote")
	if r.code == 0 || !strings.Contains(r.stderr, unreachable) || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("pull from an unreachable registry: want a failure naming the image and the cause: %s", r)
	}
	if strings.Count(r.stderr, "connection refused") > 2 {
		t.Errorf("the cause is repeated:\n%s", r.stderr)
	}
	r = runStack(t, dir, "-p", p, "pull", "--ignore-pull-failures", "remote", "app")
	if r.code != 0 || !strings.Contains(r.stderr, "Failed, going on") {
		t.Errorf("pull --ignore-pull-failures: %s", r)
	}
	r = mustStack(t, dir, "-p", p, "pull", "--policy", "missing", "local")
	if !strings.Contains(r.stderr, "Skipping local: localhost/busybox:test is present") {
		t.Errorf("pull --policy missing of a local image: %s", r)
	}
	r = mustStack(t, dir, "-p", p, "pull", "--quiet", "--policy", "missing", "local")
	if strings.TrimSpace(r.stderr) != "" {
		t.Errorf("pull --quiet printed %q", r.stderr)
	}

	mustStack(t, dir, "-p", p, "up", "-d", "--pull", "missing", "local", "app")
	r = runStack(t, dir, "-p", p, "push", "app")
	if r.code == 0 || !strings.Contains(r.stderr, pushed) || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("push to an unreachable registry: %s", r)
	}
	r = runStack(t, dir, "-p", p, "push", "--ignore-push-failures")
	if r.code != 0 || !strings.Contains(r.stderr, "Failed, going on") {
		t.Errorf("push --ignore-push-failures: %s", r)
	}
	r = runStack(t, dir, "-p", p, "push", "local")
	if r.code != 2 || !strings.Contains(r.stderr, "has no build section") {
		t.Errorf("push of a service that builds nothing: %s", r)
	}
}

// The registry the push and pull tests use: every Podman leg
// (scripts/leg.sh) starts its own (scripts/registry.sh) and sets these.
const (
	// registryEnv names it as host:port; over plain HTTP, the test
	// service's registries.conf must call it insecure.
	registryEnv = "STACK_TEST_REGISTRY"
	// requireRegistryEnv=1 (set by every Podman leg) makes a missing
	// registry a failure; other runs (go test, make e2e) skip.
	requireRegistryEnv = "PODSTACK_REQUIRE_REGISTRY"
)

// TestPushPullRegistry: push a built image to a real registry, remove it,
// pull it back and run it.
func TestPushPullRegistry(t *testing.T) {
	parallel(t)
	registry := os.Getenv(registryEnv)
	if registry == "" {
		if os.Getenv(requireRegistryEnv) == "1" {
			t.Fatalf("%s is not set: every test leg starts a registry (scripts/registry.sh start) and sets it", registryEnv)
		}
		t.Skipf("needs a registry: set %s=host:port (scripts/registry.sh start runs one; see README, Images and builds)", registryEnv)
	}
	p := project(t, "registry")
	ref := registry + "/podstack-e2e/" + p + ":1"
	removeImages(t, ref)
	dir := writeStack(t, map[string]string{
		"compose.yaml": `services:
  app:
    build: ./app
    image: ` + ref + `
    command: ["/bin/sh", "-c", "cat /marker; exec sleep 3600"]
`,
		"app/Dockerfile": "FROM localhost/busybox:test\nRUN echo pushed-$((1+1)) > /marker\n",
	})
	mustStack(t, dir, "-p", p, "build")
	r := mustStack(t, dir, "-p", p, "push")
	if !strings.Contains(r.stderr, "Pushed") || !strings.Contains(r.stderr, "app | ") {
		t.Errorf("push shows no progress:\n%s", r.stderr)
	}
	podman(t, "rmi", ref)
	r = mustStack(t, dir, "-p", p, "pull")
	if !strings.Contains(r.stderr, "app | Trying to pull "+ref) || !imageExists(t, ref) {
		t.Errorf("pull:\n%s", r.stderr)
	}
	r = mustStack(t, dir, "-p", p, "up", "-d")
	if strings.Contains(r.stderr, "Build") {
		t.Errorf("up rebuilt the pulled image, which carries the stack's build digest:\n%s", r.stderr)
	}
	if out := mustStack(t, dir, "-p", p, "exec", "-T", "app", "cat", "/marker"); strings.TrimSpace(out.stdout) != "pushed-2" {
		t.Errorf("app runs %q", out.stdout)
	}
	mustStack(t, dir, "-p", p, "down", "--rmi", "all")
	if imageExists(t, ref) {
		t.Errorf("down --rmi all left %s", ref)
	}
}

// TestDryRunImageCommands: --dry-run on build, up --build, pull, push and
// down --rmi shows each image step marked DRY-RUN and changes nothing on
// Podman: no build runs, no image is pulled, pushed or removed, no
// container is touched.
func TestDryRunImageCommands(t *testing.T) {
	parallel(t)
	p := project(t, "dryimages")
	web, app := "localhost/"+p+"-web:latest", "localhost:1/"+p+"/app:1"
	removeImages(t, web, app)
	dir := writeStack(t, map[string]string{
		"compose.yaml": `services:
  web:
    build: ./web
    command: ["/bin/sh", "-c", "cat /version; exec sleep 3600"]
  app:
    build: ./app
    image: ` + app + `
    command: ["/bin/sleep", "3600"]
  db:
    image: localhost/busybox:test
    command: ["/bin/sleep", "3600"]
`,
		"web/Dockerfile": webDockerfile("v1"),
		"app/Dockerfile": "FROM localhost/busybox:test\nRUN echo built-$((1+1))-app\n",
	})
	mustStack(t, dir, "-p", p, "up", "-d")
	os.WriteFile(filepath.Join(dir, "web/Dockerfile"), []byte(webDockerfile("v2")), 0o644)
	imageIDs := func() string {
		return podman(t, "image", "inspect", "--format", "{{.Id}} {{.RepoTags}}", web, app, "localhost/busybox:test")
	}
	containers := func() string {
		names := strings.Fields(podman(t, "ps", "-a", "--filter", "label=io.podstack.project="+p, "--format", "{{.Names}}"))
		return podman(t, append([]string{"container", "inspect", "--format", "{{.Name}} {{.Id}} {{.State.Status}} {{.State.StartedAt}}"}, names...)...)
	}
	images, before := imageIDs(), containers()

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"build", "--dry-run"}, []string{"DRY-RUN Image " + p + "-web Built", "DRY-RUN Image " + app + " Built"}},
		{[]string{"--dry-run", "up", "-d", "--build"}, []string{"BuildImage", p + "-web-1"}},
		{[]string{"pull", "--dry-run", "db"}, []string{"DRY-RUN Image localhost/busybox:test Pulled"}},
		{[]string{"push", "--dry-run"}, []string{"DRY-RUN Image " + app + " Pushed"}},
		{[]string{"down", "--rmi", "local", "--dry-run"}, []string{"DRY-RUN Image " + p + "-web Removed", "DRY-RUN Container " + p + "-web-1 Removed"}},
		{[]string{"down", "--rmi", "all", "--dry-run"}, []string{"DRY-RUN Image " + app + " Removed"}},
	} {
		r := mustStack(t, dir, append([]string{"-p", p}, tc.args...)...)
		for _, w := range tc.want {
			if !strings.Contains(r.stdout+r.stderr, w) {
				t.Errorf("%v: no %q in\n%s", tc.args, w, r)
			}
		}
		if strings.Contains(r.stderr, "built-2-") {
			t.Errorf("%v ran a build:\n%s", tc.args, r.stderr)
		}
	}
	if after := imageIDs(); after != images {
		t.Errorf("dry runs changed the images:\nbefore:\n%s\nafter:\n%s", images, after)
	}
	if after := containers(); after != before {
		t.Errorf("dry runs changed the containers:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
