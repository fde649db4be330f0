package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
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
	requirePodman(t)
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
	requirePodman(t)
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
	requirePodman(t)
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
	gone := false
	for deadline := time.Now().Add(15 * time.Second); !gone && time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		gone = !strings.Contains(podman(t, "ps", "-a", "--format", "{{.Names}}"), p+"-published")
	}
	if !gone {
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
	if code := lookup(); code != 0 {
		t.Error("run --use-aliases: the one-off does not answer to the service's alias www")
	}
}
