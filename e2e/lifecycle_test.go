package e2e

import (
	"strings"
	"testing"
)

// TestRollback: a failed up with --rollback removes what it created; without
// it, the objects stay (labelled) and the error says so.
func TestRollback(t *testing.T) {
	parallel(t)
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  ok:
    image: localhost/busybox:test
    command: ["/bin/sleep", "3600"]
    volumes: [data:/data]
  broken:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "exit 4"]
  after:
    image: localhost/busybox:test
    command: ["/bin/sleep", "3600"]
    depends_on:
      broken: {condition: service_completed_successfully}
volumes:
  data: {}
`})
	p := project(t, "rb")
	r := runStack(t, dir, "-p", p, "up", "-d")
	if r.code != 1 || !strings.Contains(r.stderr, "stack down") || len(containerIDs(t, p)) == 0 {
		t.Fatalf("failed up without --rollback must leave its objects and say how to clean up: %s", r)
	}
	mustStack(t, dir, "-p", p, "down", "-v", "-t", "1")

	r = runStack(t, dir, "-p", p, "up", "-d", "--rollback")
	if r.code != 1 || !strings.Contains(r.stderr, "rolled back") || !strings.Contains(r.stderr, `service "broken" exited with code 4`) {
		t.Fatalf("up --rollback: %s", r)
	}
	if ids := containerIDs(t, p); len(ids) != 0 {
		t.Errorf("rollback left containers %v", ids)
	}
	left := podman(t, "pod", "ps", "-q", "--filter", "label=io.podstack.project="+p) +
		podman(t, "volume", "ls", "-q", "--filter", "label=io.podstack.project="+p) +
		podman(t, "network", "ls", "-q", "--filter", "label=io.podstack.project="+p)
	if strings.TrimSpace(left) != "" {
		t.Errorf("rollback left pods, volumes or networks: %q", left)
	}
}

// TestPullNeverAndBuild: a missing image with --pull never fails before
// anything is created; a build: service is built through the API.
func TestPullNeverAndBuild(t *testing.T) {
	parallel(t)
	p := project(t, "img")
	dir := writeStack(t, map[string]string{
		"compose.yaml": `services:
  local:
    image: localhost/busybox:test
    command: ["/bin/sleep", "3600"]
  missing:
    image: localhost/podstack-does-not-exist:1
`,
		"build.yaml": `services:
  built:
    build:
      context: ./app
      args: {GREETING: hello-from-build}
    image: localhost/` + p + `-built:latest
    command: ["/bin/sh", "-c", "cat /greeting; exec sleep 3600"]
`,
		"app/Dockerfile": "FROM localhost/busybox:test\nARG GREETING\nRUN echo $GREETING > /greeting\n",
	})
	r := runStack(t, dir, "-p", p, "up", "-d", "--pull", "never")
	if r.code != 2 || !strings.Contains(r.stderr, "localhost/podstack-does-not-exist:1 is not present locally") {
		t.Errorf("--pull never: %s", r)
	}
	if ids := containerIDs(t, p); len(ids) != 0 {
		t.Errorf("--pull never created %v", ids)
	}

	t.Cleanup(func() { podman(t, "rmi", "-f", "localhost/"+p+"-built:latest") })
	mustStack(t, dir, "-p", p, "-f", "build.yaml", "up", "-d")
	logs := mustStack(t, dir, "-p", p, "-f", "build.yaml", "logs", "--no-log-prefix")
	if !strings.Contains(logs.stdout, "hello-from-build") {
		t.Errorf("the built image did not run its build arg: %s", logs)
	}
}

// TestAnonymousVolumes: rm -v and down -v remove a container's anonymous
// volumes; rm without -s leaves running containers alone.
func TestAnonymousVolumes(t *testing.T) {
	parallel(t)
	p := project(t, "anon")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  a:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: ["/scratch"]
  b:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: ["/scratch"]
`})
	mustStack(t, dir, "-p", p, "up", "-d")
	anon := func(c string) string {
		return strings.TrimSpace(podman(t, "inspect", c, "--format", "{{range .Mounts}}{{.Name}}{{end}}"))
	}
	va, vb := anon(p+"-a-1"), anon(p+"-b-1")
	if va == "" || vb == "" {
		t.Fatalf("no anonymous volumes: %q %q", va, vb)
	}
	if r := mustStack(t, dir, "-p", p, "rm", "a"); !strings.Contains(r.stderr, "No stopped containers") {
		t.Errorf("rm without -s touched a running container: %s", r)
	}
	mustStack(t, dir, "-p", p, "rm", "-s", "-v", "-f", "a")
	vols := podman(t, "volume", "ls", "--format", "{{.Name}}")
	if strings.Contains(vols, va) {
		t.Errorf("rm -v kept the anonymous volume %s", va)
	}
	mustStack(t, dir, "-p", p, "down", "-v")
	if vols := podman(t, "volume", "ls", "--format", "{{.Name}}"); strings.Contains(vols, vb) {
		t.Errorf("down -v kept the anonymous volume %s", vb)
	}
}
