package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freePort finds a host port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	var body []byte
	var err error
	if !eventually(3*time.Second, 100*time.Millisecond, func() bool {
		var resp *http.Response
		if resp, err = http.Get(url); err != nil {
			return false
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return true
	}) {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(body)
}

const chainStack = `services:
  db:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "sleep 3; touch /tmp/ready; exec sleep 3600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 20
  api:
    image: localhost/busybox:test
    command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/var/www"]
    depends_on:
      db: {condition: service_healthy}
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 2s
  web:
    image: localhost/busybox:test
    command: ["/bin/httpd", "-f", "-p", "8081", "-h", "/var/www"]
    depends_on:
      api: {condition: service_healthy}
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8081/"]
      interval: 1s
      timeout: 2s
`

// TestHealthGatedChain: db becomes healthy after 3 s; api must start only
// then, and web only once api is healthy. Podman runs no healthchecks here
// (no systemd), so this passes only if stack drives them.
func TestHealthGatedChain(t *testing.T) {
	parallel(t)
	p := project(t, "chain")
	dir := writeStack(t, map[string]string{"compose.yaml": chainStack})
	mustStack(t, dir, "-p", p, "up", "-d", "--wait", "--wait-timeout", "60s")

	db, api, web := inspect(t, p+"-db-1"), inspect(t, p+"-api-1"), inspect(t, p+"-web-1")
	if gap := api.State.StartedAt.Sub(db.State.StartedAt); gap < 3*time.Second {
		t.Errorf("api started %s after db; it must wait for db to be healthy (>= 3s)", gap)
	}
	if !web.State.StartedAt.After(api.State.StartedAt) {
		t.Errorf("web started at %s, not after api (%s)", web.State.StartedAt, api.State.StartedAt)
	}
	for _, c := range []inspectData{db, api, web} {
		if c.State.Health.Status != "healthy" {
			t.Errorf("%s health %q, want healthy", c.Name, c.State.Health.Status)
		}
	}
	r := mustStack(t, dir, "-p", p, "ps", "--format", "json")
	var rows []struct{ Service, State, Health string }
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("ps: %v\n%s", err, r.stdout)
	}
	for _, row := range rows {
		if row.State != "running" || row.Health != "healthy" {
			t.Errorf("ps row %+v", row)
		}
	}
	mustStack(t, dir, "-p", p, "down", "-t", "1")
	if ids := containerIDs(t, p); len(ids) != 0 {
		t.Errorf("down left containers: %v", ids)
	}
}

// TestPodNetworking: pod members talk over localhost, other pods are
// reached by service name, and published ports answer from the host.
func TestPodNetworking(t *testing.T) {
	parallel(t)
	p := project(t, "net")
	port := freePort(t)
	dir := writeStack(t, map[string]string{"compose.yaml": fmt.Sprintf(`services:
  front:
    image: localhost/busybox:test
    command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/var/www"]
    ports: ["127.0.0.1:%d:8080"]
    x-pod: edge
  sidecar:
    image: localhost/busybox:test
    command: ["/bin/sleep", "3600"]
    x-pod: edge
  backend:
    image: localhost/busybox:test
    command: ["/bin/httpd", "-f", "-p", "9090", "-h", "/var/www"]
`, port)})
	mustStack(t, dir, "-p", p, "up", "-d")

	out := podman(t, "exec", p+"-sidecar-1", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/")
	if !strings.Contains(out, "podstack test image") {
		t.Errorf("sidecar could not reach front on localhost: %q", out)
	}
	if a, b := inspect(t, p+"-front-1").Pod, inspect(t, p+"-sidecar-1").Pod; a == "" || a != b {
		t.Errorf("front and sidecar are not in one pod: %q %q", a, b)
	}
	// Static busybox wget cannot resolve names itself: resolve through the
	// network's DNS, then fetch the address.
	out = podman(t, "exec", p+"-sidecar-1", "sh", "-c",
		"ip=$(nslookup backend | awk '/^Address/ {a=$NF} END {print a}'); wget -q -O - http://$ip:9090/")
	if !strings.Contains(out, "podstack test image") {
		t.Errorf("sidecar could not reach backend by service name: %q", out)
	}
	if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !strings.Contains(body, "podstack test image") {
		t.Errorf("published port answered %q", body)
	}
}

// TestSharedVolume: two containers see each other's files in a named
// volume; down keeps the volume, down -v removes it.
func TestSharedVolume(t *testing.T) {
	parallel(t)
	p := project(t, "vol")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  writer:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "echo shared > /data/hello; exec sleep 3600"]
    volumes: [data:/data]
  reader:
    image: localhost/busybox:test
    command: ["/bin/sleep", "3600"]
    volumes: [data:/data]
    depends_on: [writer]
volumes:
  data: {}
`})
	mustStack(t, dir, "-p", p, "up", "-d")
	var out string
	if !eventually(3*time.Second, 100*time.Millisecond, func() bool {
		out = podman(t, "exec", p+"-reader-1", "cat", "/data/hello")
		return strings.Contains(out, "shared")
	}) {
		t.Fatalf("reader sees %q", out)
	}
	vol := p + "_data"
	mustStack(t, dir, "-p", p, "down", "-t", "1")
	if !strings.Contains(podman(t, "volume", "ls", "--format", "{{.Name}}"), vol) {
		t.Errorf("down removed the volume %s", vol)
	}
	mustStack(t, dir, "-p", p, "down", "-v", "-t", "1")
	if strings.Contains(podman(t, "volume", "ls", "--format", "{{.Name}}"), vol) {
		t.Errorf("down -v kept the volume %s", vol)
	}
}

// TestIdempotence: a second up changes nothing; changing one service's
// environment recreates only that container.
func TestIdempotence(t *testing.T) {
	parallel(t)
	p := project(t, "idem")
	stackFile := func(level string) string {
		return `services:
  a:
    image: localhost/busybox:test
    command: ["/bin/sleep", "3600"]
    environment: {LEVEL: "` + level + `"}
  b:
    image: localhost/busybox:test
    command: ["/bin/sleep", "3600"]
    depends_on: [a]
  c:
    image: localhost/busybox:test
    command: ["/bin/sleep", "3600"]
`
	}
	dir := writeStack(t, map[string]string{"compose.yaml": stackFile("one")})
	mustStack(t, dir, "-p", p, "up", "-d")
	before := containerIDs(t, p)
	if len(before) != 3 {
		t.Fatalf("containers after up: %v", before)
	}

	r := mustStack(t, dir, "-p", p, "up", "-d", "--progress", "json")
	if strings.TrimSpace(r.stderr) != "" {
		t.Errorf("second up did something (events):\n%s", r.stderr)
	}
	plan := mustStack(t, dir, "-p", p, "plan", "--format", "json")
	var pl struct{ Steps []struct{ Kind string } }
	json.Unmarshal([]byte(plan.stdout), &pl)
	if len(pl.Steps) != 0 {
		t.Errorf("plan after up has %d steps: %s", len(pl.Steps), plan.stdout)
	}
	if after := containerIDs(t, p); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("container IDs changed: %v -> %v", before, after)
	}

	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(stackFile("two")), 0o644)
	mustStack(t, dir, "-p", p, "up", "-d")
	after := containerIDs(t, p)
	for name, id := range before {
		changed := after[name] != id
		if wantChanged := name == p+"-a-1"; changed != wantChanged {
			t.Errorf("%s: recreated=%v, want %v", name, changed, wantChanged)
		}
	}
}

// TestSafety: look-alike objects not created by stack survive down, and an
// invalid stack creates nothing.
func TestSafety(t *testing.T) {
	parallel(t)
	p := project(t, "safe")
	t.Cleanup(func() {
		podman(t, "rm", "-f", "-t", "0", p+"-web-1-lookalike", p+"-db-1")
		podman(t, "pod", "rm", "-f", p+"-other")
	})
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  web:
    image: localhost/busybox:test
    command: ["/bin/sleep", "3600"]
`, "bad.yaml": `services:
  web:
    image: localhost/busybox:test
    depends_on: [db]
  db:
    image: localhost/busybox:test
    depends_on: [web]
`})
	podman(t, "run", "-d", "--name", p+"-db-1", "localhost/busybox:test", "sleep", "3600")
	podman(t, "run", "-d", "--name", p+"-web-1-lookalike", "--label", "io.podstack.service=web", "localhost/busybox:test", "sleep", "3600")
	podman(t, "pod", "create", "--name", p+"-other")
	mustStack(t, dir, "-p", p, "up", "-d")
	mustStack(t, dir, "-p", p, "down", "-v", "-t", "1", "--remove-orphans")
	names := podman(t, "ps", "-a", "--format", "{{.Names}}") + podman(t, "pod", "ps", "--format", "{{.Name}}")
	for _, n := range []string{p + "-db-1", p + "-web-1-lookalike", p + "-other"} {
		if !strings.Contains(names, n) {
			t.Errorf("down removed %s, which stack did not create", n)
		}
	}
	if strings.Contains(names, p+"-web-1\n") {
		t.Errorf("down left the stack's own container")
	}

	r := runStack(t, dir, "-p", p+"-bad", "up", "-d", "-f", "bad.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "dependency cycle") {
		t.Errorf("invalid stack: %s", r)
	}
	if ids := containerIDs(t, p+"-bad"); len(ids) != 0 {
		t.Errorf("invalid stack created containers: %v", ids)
	}
	out := podman(t, "pod", "ps", "--filter", "label=io.podstack.project="+p+"-bad", "-q") +
		podman(t, "network", "ls", "--filter", "label=io.podstack.project="+p+"-bad", "-q")
	if strings.TrimSpace(out) != "" {
		t.Errorf("invalid stack created pods or networks: %q", out)
	}
}

// TestFailingHealthcheck: up --wait fails within the timeout, naming the
// service and showing its last log lines.
func TestFailingHealthcheck(t *testing.T) {
	parallel(t)
	p := project(t, "sick")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  sick:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "echo starting up; echo cannot open database; exec sleep 3600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/never"]
      interval: 1s
      timeout: 1s
      retries: 3
`})
	start := time.Now()
	r := runStack(t, dir, "-p", p, "up", "-d", "--wait", "--wait-timeout", "20s")
	if r.code == 0 {
		t.Fatalf("up --wait succeeded with a failing healthcheck:\n%s", r)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("took %s, beyond the wait timeout", took)
	}
	for _, want := range []string{`service "sick"`, "healthy", "cannot open database"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error does not mention %q:\n%s", want, r.stderr)
		}
	}
}

// TestDownSharedPod: a pod with several members (x-pod) comes down whole:
// its infra container carries the pod's labels but belongs to the pod, so
// down removes the pod and then the network; ls counts only services.
func TestDownSharedPod(t *testing.T) {
	parallel(t)
	p := project(t, "shared")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  a: {image: localhost/busybox:test, command: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"], x-pod: grp}
  b: {image: localhost/busybox:test, command: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"], x-pod: grp}
`})
	mustStack(t, dir, "-p", p, "up", "-d")
	var rows []struct {
		Name       string
		Containers int
	}
	json.Unmarshal([]byte(mustStack(t, "", "ls", "--format", "json").stdout), &rows)
	for _, r := range rows {
		if r.Name == p && r.Containers != 2 {
			t.Errorf("ls counts %d containers, want the 2 services'", r.Containers)
		}
	}
	mustStack(t, dir, "-p", p, "down")
	label := "label=io.podstack.project=" + p
	if left := podman(t, "pod", "ps", "-q", "--filter", label) + podman(t, "ps", "-aq", "--filter", label) +
		podman(t, "network", "ls", "-q", "--filter", "name="+p); strings.TrimSpace(left) != "" {
		t.Errorf("down left objects behind: %q", left)
	}
}

// TestHealthcheckKeepsImageTest: a compose healthcheck with timings and no
// test runs the image's own HEALTHCHECK test with those timings; on an
// image without one, the plan says the service runs without a healthcheck
// and `up --wait` waits for it to start instead of failing.
func TestHealthcheckKeepsImageTest(t *testing.T) {
	parallel(t)
	p := project(t, "imghealth")
	image := "localhost/" + p + ":latest"
	ctx := writeStack(t, map[string]string{"Containerfile": "FROM localhost/busybox:test\nHEALTHCHECK --interval=30s --retries=7 CMD test -d /\n"})
	// HEALTHCHECK is kept only in the docker image format.
	podman(t, "build", "--format", "docker", "-t", image, "-f", filepath.Join(ctx, "Containerfile"), ctx)
	t.Cleanup(func() { exec.Command("podman", "--url", podURL, "rmi", "-f", image).Run() })

	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  web:
    image: ` + image + `
    command: ["sleep", "3600"]
    healthcheck:
      interval: 1s
      timeout: 3s
  plain:
    image: localhost/busybox:test
    command: ["sleep", "3600"]
    healthcheck:
      interval: 2s
`})
	r := mustStack(t, dir, "-p", p, "up", "-d", "--wait", "--wait-timeout", "60s")
	if !strings.Contains(r.stderr, "service plain: the healthcheck keeps the image's own test, but image localhost/busybox:test has none") {
		t.Errorf("up does not say that plain runs without a healthcheck:\n%s", r)
	}
	var cfg []struct {
		Config struct {
			Healthcheck *struct {
				Test     []string
				Interval int64
				Timeout  int64
				Retries  int
			}
		}
		State struct{ Health *struct{ Status string } }
	}
	out := podman(t, "inspect", p+"-web-1", p+"-plain-1")
	if err := json.Unmarshal([]byte(out), &cfg); err != nil || len(cfg) != 2 {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	h := cfg[0].Config.Healthcheck
	if h == nil || strings.Join(h.Test, " ") != "CMD-SHELL test -d /" || h.Interval != int64(time.Second) || h.Timeout != int64(3*time.Second) {
		t.Errorf("web healthcheck %+v, want the image's test with interval 1s, timeout 3s", h)
	}
	if cfg[0].State.Health == nil || cfg[0].State.Health.Status != "healthy" {
		t.Errorf("web health %+v, want healthy after --wait", cfg[0].State.Health)
	}
	if h := cfg[1].Config.Healthcheck; h != nil && len(h.Test) > 0 && h.Test[0] != "NONE" {
		t.Errorf("plain healthcheck %+v, want none", h)
	}
}
