package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// runStackIn runs the binary in dir as runStack does, with stdin as its
// standard input, and fails the test when it has not ended after limit
// (a command that waits for ever is a failure, not a hung suite).
func runStackIn(t *testing.T, dir, stdin string, limit time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, stackBin, args...)
	cmd.Dir = dir
	cmd.Env = stackEnv(podURL)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("stack %s did not end within %s:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), limit, out.String(), errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run stack %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// sleeper is a service command that runs until stopped.
const sleeper = `["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]`

// TestExecStdin: as in docker compose, exec forwards stdin by default (-T
// only turns the terminal off): `exec -T db cat < dump.sql` used to print
// nothing and exit 0. In a terminal, `exec svc sh` is an interactive shell
// with a terminal, without -it; it used to return at once.
func TestExecStdin(t *testing.T) {
	parallel(t)
	p := project(t, "execin")
	dir := writeStack(t, map[string]string{"compose.yaml": "services:\n  db:\n    image: localhost/busybox:test\n    command: " + sleeper + "\n"})
	mustStack(t, dir, "-p", p, "up", "-d")
	dump := "CREATE TABLE t (id int);\nINSERT INTO t VALUES (42);\n"
	r := runStackIn(t, dir, dump, time.Minute, "-p", p, "exec", "-T", "db", "cat")
	if r.code != 0 || r.stdout != dump {
		t.Errorf("exec -T db cat < dump: want the dump back: %s", r)
	}
	r = runStackIn(t, dir, dump, time.Minute, "-p", p, "exec", "-T", "db", "sh", "-c", "wc -l; exit 5")
	if r.code != 5 || strings.TrimSpace(r.stdout) != "2" {
		t.Errorf("exec -T db sh -c 'wc -l; exit 5' < dump: want 2 and exit 5: %s", r)
	}
	out := inTerminal(t, dir, "echo typed-$((6*7)); tty; exit 3\n", "-p", p, "exec", "db", "sh")
	if !strings.Contains(out, "typed-42") || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "exit=3") {
		t.Errorf("exec db sh in a terminal: want an interactive shell with a terminal, exit 3:\n%s", out)
	}
}

// TestRunOnceWithRestartPolicy: a one-off of a service with a restart
// policy runs once, as in docker compose (a migration must not run over
// and over): `stack run web echo` on a service with restart:
// unless-stopped used to run echo again and again and never return.
func TestRunOnceWithRestartPolicy(t *testing.T) {
	parallel(t)
	p := project(t, "runonce")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  web:
    image: localhost/busybox:test
    restart: unless-stopped
    command: ` + sleeper + `
    volumes: [data:/data]
volumes:
  data: {}
`})
	r := runStackIn(t, dir, "", 2*time.Minute, "-p", p, "run", "--rm", "web", "sh", "-c", "echo ran >> /data/runs; echo migrated")
	if r.code != 0 || strings.Count(r.stdout, "migrated") != 1 {
		t.Fatalf("run --rm web: want one run, exit 0: %s", r)
	}
	time.Sleep(2 * time.Second) // a restart policy would have run it again by now
	r = runStackIn(t, dir, "", time.Minute, "-p", p, "run", "--rm", "-T", "web", "cat", "/data/runs")
	if r.code != 0 || r.stdout != "ran\n" {
		t.Errorf("the one-off ran %d times, want once: %s", strings.Count(r.stdout, "ran"), r)
	}
	if names := podman(t, "ps", "-a", "--filter", "label=io.podstack.project="+p, "--format", "{{.Names}}"); strings.Contains(names, "-run-") {
		t.Errorf("run --rm left a one-off container: %s", names)
	}
}

// TestRunFlags: run's flags as docker compose spells them: -d prints the
// name, --rm with -d removes the container when it exits, -p publishes
// (`run -p` used to be read as the global project name), --service-ports
// publishes the service's ports, -v mounts (a relative path from the stack
// file's directory), -u, -w, -e, -l, --entrypoint, --name, --use-aliases,
// and stdin is forwarded by default.
func TestRunFlags(t *testing.T) {
	parallel(t)
	p := project(t, "runflags")
	servicePort, publishPort := freePort(t), freePort(t)
	dir := writeStack(t, map[string]string{
		"site/index.html": "hello-site\n",
		"compose.yaml": fmt.Sprintf(`services:
  db:
    image: localhost/busybox:test
    command: %s
  web:
    image: localhost/busybox:test
    command: %s
    restart: always
    ports: ["%d:80"]
    networks:
      default: {aliases: [www]}
    depends_on: [db]
`, sleeper, sleeper, servicePort)})
	httpd := []string{"-v", "./site:/www:ro", "web", "/bin/httpd", "-f", "-p", "80", "-h", "/www"}
	r := runStackIn(t, dir, "", 2*time.Minute, append([]string{"-p", p, "run", "-d", "--rm", "--name", p + "-published", "-p", fmt.Sprintf("127.0.0.1:%d:80", publishPort)}, httpd...)...)
	if r.code != 0 || strings.TrimSpace(r.stdout) != p+"-published" {
		t.Fatalf("run -d --name: want the name on stdout: %s", r)
	}
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/index.html", publishPort)); got != "hello-site\n" {
		t.Errorf("run -p %d:80 -v ./site:/www: got %q", publishPort, got)
	}
	podman(t, "kill", p+"-published")
	if !eventually(15*time.Second, 300*time.Millisecond, func() bool {
		return !strings.Contains(podman(t, "ps", "-a", "--format", "{{.Names}}"), p+"-published")
	}) {
		t.Errorf("run -d --rm: %s-published was not removed when it exited", p)
	}

	r = runStackIn(t, dir, "", time.Minute, append([]string{"-p", p, "run", "-d", "--rm", "--service-ports"}, httpd...)...)
	if r.code != 0 || !strings.HasPrefix(strings.TrimSpace(r.stdout), p+"-web-run-") {
		t.Fatalf("run -d --service-ports: %s", r)
	}
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/index.html", servicePort)); got != "hello-site\n" {
		t.Errorf("run --service-ports: got %q on the service's port %d", got, servicePort)
	}
	podman(t, "kill", strings.TrimSpace(r.stdout))

	r = runStackIn(t, dir, "from-stdin\n", time.Minute, "-p", p, "run", "-T", "--name", p+"-overrides", "-u", "1234", "-w", "/tmp",
		"-e", "X=1", "-l", "team=db", "--entrypoint", "/bin/sh -c", "web", "echo $(id -u) $(pwd) $X; cat")
	if r.code != 0 || r.stdout != "1234 /tmp 1\nfrom-stdin\n" {
		t.Errorf("run -u -w -e --entrypoint, stdin: %s", r)
	}
	if labels := podman(t, "inspect", "--format", "{{index .Config.Labels \"team\"}}", p+"-overrides"); strings.TrimSpace(labels) != "db" {
		t.Errorf("run -l team=db: label %q", labels)
	}

	lookup := func() int {
		return runStackIn(t, dir, "", time.Minute, "-p", p, "run", "--rm", "-T", "--no-deps", "db", "nslookup", "www").code
	}
	if code := lookup(); code == 0 {
		t.Fatal("www resolves before any container answers to it: the test cannot tell --use-aliases apart")
	}
	mustStack(t, dir, "-p", p, "run", "-d", "--use-aliases", "web")
	// aardvark-dns may take a moment to learn the name.
	if !eventually(20*time.Second, time.Second, func() bool { return lookup() == 0 }) {
		t.Error("run --use-aliases: the one-off does not answer to the service's alias www")
	}
}

// TestComposeUsersDay is a docker compose user's day (issue 14's
// acceptance), one command after another on one project: build an image
// from a Dockerfile with up --build, edit the Dockerfile and see up
// rebuild and recreate only that service, cp a file in and out, exec with
// piped stdin, run --rm a one-off of a service with a restart policy (it
// runs once), scale up and down, watch sync a changed file into the
// running container, and down --rmi local remove the built image.
func TestComposeUsersDay(t *testing.T) {
	parallel(t)
	p := project(t, "day")
	image := "localhost/" + p + "-app:latest"
	seen := removeImages(t, image)
	dir := writeStack(t, map[string]string{
		"seed.sql":        "INSERT INTO t VALUES (1);\n",
		"app/Dockerfile":  webDockerfile("v1"),
		"site/index.html": "v1",
		"compose.yaml": `services:
  app:
    build: ./app
    command: ["/bin/sh", "-c", "cat /version; exec sleep 3600"]
    develop:
      watch:
        - {path: ./site, action: sync, target: /srv/site}
  db:
    image: localhost/busybox:test
    command: ` + sleeper + `
    volumes: [data:/data]
  worker:
    image: localhost/busybox:test
    restart: unless-stopped
    command: ` + sleeper + `
    depends_on: [db]
    volumes: [data:/data]
volumes:
  data: {}
`})

	// up --build builds app's image; an edited Dockerfile is rebuilt by
	// the next up, which recreates app alone.
	r := mustStack(t, dir, "-p", p, "up", "-d", "--build")
	seen()
	if !strings.Contains(r.stderr, "built-2-web-v1") || !imageExists(t, image) {
		t.Fatalf("up --build: want %s built, with its output:\n%s", image, r.stderr)
	}
	before := containerIDs(t, p)
	if err := os.WriteFile(filepath.Join(dir, "app/Dockerfile"), []byte(webDockerfile("v2")), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustStack(t, dir, "-p", p, "up", "-d")
	seen()
	if !strings.Contains(r.stderr, "built-2-web-v2") {
		t.Errorf("up after editing the Dockerfile did not rebuild:\n%s", r.stderr)
	}
	after := containerIDs(t, p)
	for name, id := range before {
		if changed, want := after[name] != id, name == p+"-app-1"; changed != want {
			t.Errorf("up after editing app's Dockerfile: %s recreated=%v, want %v", name, changed, want)
		}
	}
	if got := mustStack(t, dir, "-p", p, "exec", "-T", "app", "cat", "/version").stdout; strings.TrimSpace(got) != "v2" {
		t.Errorf("app runs %q, want the rebuilt v2", got)
	}

	// cp in, then out again.
	mustStack(t, dir, "-p", p, "cp", "seed.sql", "db:/data/")
	mustStack(t, dir, "-p", p, "cp", "db:/data/seed.sql", "copied.sql")
	if got, err := os.ReadFile(filepath.Join(dir, "copied.sql")); err != nil || string(got) != "INSERT INTO t VALUES (1);\n" {
		t.Errorf("cp in then out: %q, %v", got, err)
	}

	// exec with piped stdin, as `stack exec -T db sh -c 'cat > ...' < dump`.
	dump := "line one\nline two\n"
	if r := runStackIn(t, dir, dump, time.Minute, "-p", p, "exec", "-T", "db", "sh", "-c", "cat > /data/dump.sql"); r.code != 0 {
		t.Fatalf("exec -T with stdin: %s", r)
	}
	if r := mustStack(t, dir, "-p", p, "exec", "-T", "db", "cat", "/data/dump.sql"); r.stdout != dump {
		t.Errorf("the piped dump did not arrive: %q", r.stdout)
	}

	// A one-off of the restart: unless-stopped worker runs once.
	r = runStackIn(t, dir, "", 2*time.Minute, "-p", p, "run", "--rm", "worker", "sh", "-c", "echo migrated >> /data/migrations")
	if r.code != 0 {
		t.Fatalf("run --rm worker: %s", r)
	}
	time.Sleep(2 * time.Second)
	if got := mustStack(t, dir, "-p", p, "exec", "-T", "db", "cat", "/data/migrations").stdout; got != "migrated\n" {
		t.Errorf("the one-off ran %d times, want once", strings.Count(got, "migrated"))
	}

	// scale up, cp into every replica, scale down.
	running := func() string {
		return podman(t, "ps", "--filter", "label=io.podstack.project="+p, "--format", "{{.Names}}")
	}
	mustStack(t, dir, "-p", p, "scale", "worker=3")
	if got := running(); strings.Count(got, p+"-worker-") != 3 || !strings.Contains(got, p+"-db-1") {
		t.Errorf("scale worker=3: running\n%s", got)
	}
	mustStack(t, dir, "-p", p, "cp", "seed.sql", "worker:/tmp/")
	for i := 1; i <= 3; i++ {
		if r := runStack(t, dir, "-p", p, "exec", "-T", "--index", fmt.Sprint(i), "worker", "cat", "/tmp/seed.sql"); r.code != 0 {
			t.Errorf("cp into every replica: worker-%d has no seed.sql: %s", i, r)
		}
	}
	mustStack(t, dir, "-p", p, "scale", "worker=1")
	if names := podman(t, "ps", "-a", "--filter", "label=io.podstack.project="+p, "--format", "{{.Names}}"); strings.Contains(names, p+"-worker-2") || !strings.Contains(names, p+"-worker-1") {
		t.Errorf("scale worker=1 left:\n%s", names)
	}

	// watch syncs a changed file into the running app container.
	watchDaySync(t, dir, p)

	// down --rmi local removes the built image, and only it.
	mustStack(t, dir, "-p", p, "down", "--rmi", "local")
	if imageExists(t, image) {
		t.Errorf("down --rmi local left %s", image)
	}
	if !imageExists(t, "localhost/busybox:test") {
		t.Errorf("down --rmi local removed an image the stack did not build")
	}
}

// watchDaySync runs `stack watch --no-up` in dir, changes site/index.html
// and waits until app's container has the new content; then stops watch
// with Ctrl-C.
func watchDaySync(t *testing.T, dir, p string) {
	t.Helper()
	cmd := exec.Command(stackBin, "-p", p, "--progress", "plain", "watch", "--no-up")
	cmd.Dir, cmd.Env = dir, stackEnv(podURL)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("watch still running 30s after Ctrl-C:\n%s", stderr.String())
		}
	}()
	if !eventually(2*time.Minute, 200*time.Millisecond, func() bool { return strings.Contains(stderr.String(), "Watch enabled") }) {
		t.Fatalf("watch never said it was watching:\n%s", stderr.String())
	}
	if err := os.WriteFile(filepath.Join(dir, "site/index.html"), []byte("v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !eventually(time.Minute, 300*time.Millisecond, func() bool {
		return runStack(t, dir, "-p", p, "exec", "-T", "app", "cat", "/srv/site/index.html").stdout == "v2"
	}) {
		t.Fatalf("watch did not sync site/index.html into app within a minute:\n%s", stderr.String())
	}
}

// TestAttachCreateTop: create makes containers without starting them;
// attach follows a running service's container until it exits, with
// stdin forwarded, and exits with its code; top without a service lists
// every running container.
func TestAttachCreateTop(t *testing.T) {
	parallel(t)
	p := project(t, "attach")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  reader:
    image: localhost/busybox:test
    stdin_open: true
    command: ["/bin/sh", "-c", "read line; echo got-$$line; exit 3"]
  ticker:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "sleep 2; for i in 1 2 3; do echo tick$$i; sleep 1; done; exit 7"]
  trapper:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'exit 9' INT; while true; do sleep 1; done"]
`})
	mustStack(t, dir, "-p", p, "create")
	if st := states(t, p); st["reader"] != "created" || st["ticker"] != "created" {
		t.Fatalf("create: want both created, not started: %v", st)
	}
	mustStack(t, dir, "-p", p, "start")
	top := mustStack(t, dir, "-p", p, "top").stdout
	if !strings.Contains(top, p+"-reader-1") || !strings.Contains(top, p+"-ticker-1") || !strings.Contains(top, "PID") {
		t.Errorf("top with no service: want both containers' processes:\n%s", top)
	}
	r := runStackIn(t, dir, "", time.Minute, "-p", p, "attach", "--no-stdin", "ticker")
	if r.code != 7 || !strings.Contains(r.stdout, "tick3") {
		t.Errorf("attach ticker: want its output and exit 7: %s", r)
	}
	r = runStackIn(t, dir, "hello\n", time.Minute, "-p", p, "attach", "reader")
	if r.code != 3 || !strings.Contains(r.stdout, "got-hello") {
		t.Errorf("attach reader with stdin: want got-hello and exit 3: %s", r)
	}

	// Ctrl-C in an attach is passed on to the container (--sig-proxy).
	cmd := exec.Command(stackBin, "-p", p, "attach", "--no-stdin", "trapper")
	cmd.Dir, cmd.Env = dir, stackEnv(podURL)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("attach interrupted: want exit 130, got %v", err)
	}
	var c inspectData
	eventually(10*time.Second, 300*time.Millisecond, func() bool { c = inspect(t, p+"-trapper-1"); return !c.State.Running })
	if c.State.Running || c.State.ExitCode != 9 {
		t.Errorf("the container did not get the interrupt: running %v, exit code %d", c.State.Running, c.State.ExitCode)
	}
}

// TestCpDirections: docker cp's naming rules against Podman's archive API,
// both ways: a directory into an existing one, as a new one, its contents
// (DIR/.), a tar archive on stdout and stdin, a stopped container, and
// errors that change nothing.
func TestCpDirections(t *testing.T) {
	parallel(t)
	p := project(t, "cp")
	dir := writeStack(t, map[string]string{
		"site/index.html": "hi\n",
		"site/css/a.css":  "a\n",
		"compose.yaml":    "services:\n  web:\n    image: localhost/busybox:test\n    command: " + sleeper + "\n",
	})
	mustStack(t, dir, "-p", p, "up", "-d")
	find := func(path string) string {
		return mustStack(t, dir, "-p", p, "exec", "-T", "web", "find", path).stdout
	}
	mustStack(t, dir, "-p", p, "exec", "-T", "web", "mkdir", "-p", "/into", "/contents")
	mustStack(t, dir, "-p", p, "cp", "site", "web:/into")
	mustStack(t, dir, "-p", p, "cp", "site", "web:/fresh")
	mustStack(t, dir, "-p", p, "cp", "./site/.", "web:/contents")
	for path, want := range map[string]string{
		"/into":     "/into\n/into/site\n/into/site/css\n/into/site/css/a.css\n/into/site/index.html\n",
		"/fresh":    "/fresh\n/fresh/css\n/fresh/css/a.css\n/fresh/index.html\n",
		"/contents": "/contents\n/contents/css\n/contents/css/a.css\n/contents/index.html\n",
	} {
		lines := strings.Split(strings.TrimSpace(find(path)), "\n")
		sort.Strings(lines)
		if got := strings.Join(lines, "\n") + "\n"; got != want {
			t.Errorf("find %s:\n%s\nwant\n%s", path, got, want)
		}
	}

	mustStack(t, dir, "-p", p, "stop", "-t", "1")
	out := t.TempDir()
	mustStack(t, dir, "-p", p, "cp", "web:/fresh", filepath.Join(out, "copy"))
	mustStack(t, dir, "-p", p, "cp", "web:/fresh/.", out)
	for _, f := range []string{"copy/css/a.css", "css/a.css", "index.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("cp out of a stopped container: %v", err)
		}
	}
	tarball := mustStack(t, dir, "-p", p, "cp", "web:/fresh/index.html", "-").stdout
	if !strings.Contains(tarball, "index.html") || !strings.Contains(tarball, "hi\n") {
		t.Errorf("cp to -: not a tar archive of index.html: %q", tarball)
	}
	if r := runStackIn(t, dir, tarball, time.Minute, "-p", p, "cp", "-", "web:/contents/css"); r.code != 0 {
		t.Fatalf("cp - web:DIR: %s", r)
	}
	mustStack(t, dir, "-p", p, "start")
	if got := find("/contents/css"); !strings.Contains(got, "/contents/css/index.html") {
		t.Errorf("cp - web:/contents/css: %s", got)
	}
	for _, args := range [][]string{{"web:/nope", out}, {"site", "web:/no/such/dir"}, {"site", "web:/fresh/index.html"}} {
		if r := runStack(t, dir, append([]string{"-p", p, "cp"}, args...)...); r.code == 0 || !strings.Contains(r.stderr, "Error:") {
			t.Errorf("cp %v: want an error: %s", args, r)
		}
	}
}

// TestRunInterrupt: Ctrl-C during an attached run is passed on to the
// one-off as SIGINT, as docker compose run does, and run returns (exit
// 130). It used to leave the one-off running (without --rm) or have
// --rm's removal stop it with SIGTERM after its grace period.
func TestRunInterrupt(t *testing.T) {
	parallel(t)
	p := project(t, "runint")
	dir := writeStack(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: localhost/busybox:test\n    command: " + sleeper + "\n"})
	name := p + "-interrupted"
	cmd := exec.Command(stackBin, "-p", p, "run", "--name", name, "-T", "web", "/bin/sh", "-c", "trap 'exit 9' INT; echo ready; while true; do sleep 1; done")
	cmd.Dir, cmd.Env = dir, stackEnv(podURL)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, _ := io.ReadAtLeast(out, buf, len("ready")); !strings.Contains(string(buf[:n]), "ready") {
		t.Fatalf("the one-off did not start: %q", buf[:n])
	}
	cmd.Process.Signal(os.Interrupt)
	ended := make(chan error, 1)
	go func() { io.Copy(io.Discard, out); ended <- cmd.Wait() }()
	select {
	case err := <-ended:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
			t.Errorf("run interrupted: want exit 130, got %v", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("run went on after Ctrl-C")
	}
	var c inspectData
	eventually(10*time.Second, 300*time.Millisecond, func() bool { c = inspect(t, name); return !c.State.Running })
	if c.State.Running || c.State.ExitCode != 9 {
		t.Errorf("the one-off did not get the interrupt: running %v, exit code %d", c.State.Running, c.State.ExitCode)
	}
}

// TestNamedServiceEnablesItsProfileInEveryCommand: as docker compose does,
// naming a service behind a profile on the command line enables that
// profile for run, create and scale (run used to say "no such service").
func TestNamedServiceEnablesItsProfileInEveryCommand(t *testing.T) {
	parallel(t)
	p := project(t, "profnamed")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  web:
    image: localhost/busybox:test
    command: ` + sleeper + `
  tool:
    image: localhost/busybox:test
    profiles: [tools]
    command: ` + sleeper + `
`})
	if r := runStackIn(t, dir, "", time.Minute, "-p", p, "run", "--rm", "-T", "tool", "echo", "from-tool"); r.code != 0 || !strings.Contains(r.stdout, "from-tool") {
		t.Errorf("run --rm tool: %s", r)
	}
	mustStack(t, dir, "-p", p, "create", "tool")
	if got := podman(t, "ps", "-a", "--filter", "name=^"+p+"-tool-1$", "--format", "{{.Names}}"); strings.TrimSpace(got) != p+"-tool-1" {
		t.Errorf("create tool: containers %q", got)
	}
	mustStack(t, dir, "-p", p, "scale", "tool=2")
	if got := podman(t, "ps", "--filter", "name=^"+p+"-tool-", "--format", "{{.Names}}"); len(strings.Fields(got)) != 2 {
		t.Errorf("scale tool=2: running %q", got)
	}
	if got := podman(t, "ps", "-a", "--filter", "name=^"+p+"-web-", "--format", "{{.Names}}"); strings.TrimSpace(got) != "" {
		t.Errorf("scale tool=2 touched web: %q", got)
	}
}
