package e2e

import (
	"bytes"
	"context"
	"os"
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
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "STACK_URL=" + podURL, "STACK_PROGRESS=plain"}
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
