package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const day2Stack = `services:
  db:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; rm -f /tmp/ready; for i in 1 2 3 4 5 6; do echo db line $$i; done; sleep 2; touch /tmp/ready; sleep 3600 & wait"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 20
  api:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; for i in 1 2 3 4 5; do echo api line $$i; done; sleep 3600 & wait"]
    depends_on:
      db: {condition: service_healthy}
  web:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    depends_on: [api]
`

// TestDay2 runs the lifecycle commands on one stack, as a user would.
func TestDay2(t *testing.T) {
	parallel(t)
	p := project(t, "day2")
	dir := writeStack(t, map[string]string{"compose.yaml": day2Stack})
	mustStack(t, dir, "-p", p, "up", "-d", "--wait-timeout", "60s")

	t.Run("stop then start restores the chain in order", func(t *testing.T) {
		mustStack(t, dir, "-p", p, "stop")
		for svc, st := range states(t, p) {
			if st == "running" {
				t.Errorf("%s still running after stop", svc)
			}
		}
		mustStack(t, dir, "-p", p, "start")
		db, api, web := inspect(t, p+"-db-1"), inspect(t, p+"-api-1"), inspect(t, p+"-web-1")
		if gap := api.State.StartedAt.Sub(db.State.StartedAt); gap < 2*time.Second {
			t.Errorf("api started %s after db; it must wait until db is healthy again (~2s)", gap)
		}
		if web.State.StartedAt.Before(api.State.StartedAt) {
			t.Errorf("web started before api")
		}
	})

	t.Run("ls lists the stack", func(t *testing.T) {
		r := mustStack(t, "", "ls", "--format", "json")
		var rows []struct {
			Name       string
			Containers int
			Status     string
		}
		json.Unmarshal([]byte(r.stdout), &rows)
		found := false
		for _, row := range rows {
			if row.Name == p {
				found = row.Containers == 3 && row.Status == "running(3)"
				if !found {
					t.Errorf("ls row %+v", row)
				}
			}
		}
		if !found {
			t.Errorf("ls does not list %s:\n%s", p, r.stdout)
		}
	})

	t.Run("pause and unpause", func(t *testing.T) {
		if k := serverCaps(t); k.Freezer() != nil {
			// Rootless Podman on cgroup v1 cannot pause: the user is told
			// why, as a limit of the host, with the fix; nothing changes.
			r := runStack(t, dir, "-p", p, "pause", "--pod", "web")
			if r.code != 1 || !strings.Contains(r.stderr, "rootless Podman") || !strings.Contains(r.stderr, "cgroup v2") ||
				strings.Count(r.stderr, "cgroup v1") != 1 {
				t.Errorf("pause on %s: want one explanation naming the limit and the fix: %s", k.Mode(), r)
			}
			if st := inspect(t, p+"-web-1").State.Status; st != "running" {
				t.Errorf("web is %s after a refused pause", st)
			}
			return
		}
		mustStack(t, dir, "-p", p, "pause", "--pod", "web")
		if inspect(t, p+"-web-1").State.Status != "paused" {
			t.Error("podman does not see web paused")
		}
		r := mustStack(t, dir, "-p", p, "ps", "--format", "{{.Service}}={{.State}}")
		if !strings.Contains(r.stdout, "web=paused") {
			t.Errorf("stack ps: %s", r.stdout)
		}
		mustStack(t, dir, "-p", p, "unpause", "web")
		if inspect(t, p+"-web-1").State.Status != "running" {
			t.Error("web not running after unpause")
		}
	})

	t.Run("logs --tail and -f", func(t *testing.T) {
		r := mustStack(t, dir, "-p", p, "logs", "--tail", "3", "db", "api")
		var db, api int
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			switch {
			case strings.HasPrefix(line, "db-1  | db line"):
				db++
			case strings.HasPrefix(line, "api-1 | api line"):
				api++
			default:
				t.Errorf("unexpected line %q", line)
			}
		}
		if db != 3 || api != 3 {
			t.Errorf("--tail 3: %d db and %d api lines:\n%s", db, api, r.stdout)
		}
		cmd := exec.Command(stackBin, "-p", p, "logs", "-f", "db", "api")
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "STACK_URL=" + podURL}
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		seen := map[string]bool{}
		sc := bufio.NewScanner(out)
		deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
		defer deadline.Stop()
		for sc.Scan() && !(seen["db"] && seen["api"] && seen["exec"]) {
			line := sc.Text()
			if strings.HasPrefix(line, "db-1  | ") {
				seen["db"] = true
			}
			if strings.HasPrefix(line, "api-1 | ") {
				seen["api"] = true
			}
			if strings.Contains(line, "followed-line") {
				seen["exec"] = true
			}
			if seen["db"] && seen["api"] && !seen["sent"] {
				seen["sent"] = true
				// A line written now must arrive through the follow.
				podman(t, "exec", p+"-api-1", "sh", "-c", "echo followed-line > /proc/1/fd/1")
			}
		}
		if !seen["db"] || !seen["api"] || !seen["exec"] {
			t.Errorf("logs -f saw %v", seen)
		}
	})

	t.Run("logs -f follows across a restart", func(t *testing.T) {
		cmd := exec.Command(stackBin, "-p", p, "logs", "-f", "--tail", "0", "api")
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "STACK_URL=" + podURL}
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		time.Sleep(500 * time.Millisecond)
		mustStack(t, dir, "-p", p, "restart", "api", "-t", "1")
		deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
		defer deadline.Stop()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "api line 1") {
				return // a line printed by the restarted container
			}
		}
		t.Error("logs -f did not pick up the restarted container's output")
	})

	t.Run("exec and run", func(t *testing.T) {
		r := runStack(t, dir, "-p", p, "exec", "api", "sh", "-c", "echo from-exec; exit 7")
		if r.code != 7 || !strings.Contains(r.stdout, "from-exec") {
			t.Errorf("exec: %s", r)
		}
		r = runStack(t, dir, "-p", p, "run", "--rm", "web", "sh", "-c", "echo one-off; exit 3")
		if r.code != 3 || !strings.Contains(r.stdout, "one-off") {
			t.Errorf("run: %s", r)
		}
		if names := podman(t, "ps", "-a", "--format", "{{.Names}}"); strings.Contains(names, p+"-web-run-") {
			t.Errorf("run --rm left a container: %s", names)
		}
	})

	t.Run("stats", func(t *testing.T) {
		if k := serverCaps(t); k.Freezer() != nil {
			r := runStack(t, dir, "-p", p, "stats", "--no-stream", "--format", "json")
			if r.code != 1 || !strings.Contains(r.stderr, "rootless Podman") || !strings.Contains(r.stderr, "no resource statistics") {
				t.Errorf("stats on %s: want the limit explained: %s", k.Mode(), r)
			}
			return
		}
		r := mustStack(t, dir, "-p", p, "stats", "--no-stream", "--format", "json")
		var rows []struct {
			Name       string
			CPUPercent float64
			MemUsage   int64
			PIDs       int64
		}
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if len(rows) != 3 {
			t.Errorf("%d records, want one per running container: %s", len(rows), r.stdout)
		}
		for _, row := range rows {
			if row.CPUPercent < 0 || row.MemUsage < 0 || row.PIDs < 1 {
				t.Errorf("record %+v", row)
			}
		}
	})

	t.Run("events", func(t *testing.T) {
		cmd := exec.Command(stackBin, "-p", p, "events", "--json")
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "STACK_URL=" + podURL}
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		time.Sleep(time.Second)
		podman(t, "run", "--rm", "--name", p+"-unrelated", "localhost/busybox:test", "true")
		mustStack(t, dir, "-p", p, "restart", "web", "-t", "1")
		deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
		defer deadline.Stop()
		sc := bufio.NewScanner(out)
		started := false
		for !started && sc.Scan() {
			var e struct{ Action, Name, Type string }
			json.Unmarshal(sc.Bytes(), &e)
			if e.Name == p+"-unrelated" {
				t.Errorf("event of an unrelated container: %s", sc.Text())
			}
			started = e.Type == "container" && e.Action == "start" && e.Name == p+"-web-1"
		}
		if !started {
			t.Error("no start event for web")
		}
	})

	t.Run("kill one service, and unknown names", func(t *testing.T) {
		mustStack(t, dir, "-p", p, "kill", "-s", "KILL", "db")
		st := states(t, p)
		if st["db"] == "running" || st["api"] != "running" || st["web"] != "running" {
			t.Errorf("after kill db: %v", st)
		}
		before := containerIDs(t, p)
		if r := runStack(t, dir, "-p", p, "stop", "--pod", "nopod"); r.code != 2 || !strings.Contains(r.stderr, `no pod "nopod"`) {
			t.Errorf("--pod of a missing pod: %s", r)
		}
		for _, args := range [][]string{{"stop", "nope"}, {"kill", "nope"}, {"logs", "nope"}, {"exec", "nope", "true"}} {
			r := runStack(t, dir, append([]string{"-p", p}, args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, `no such service "nope"`) {
				t.Errorf("%v: %s", args, r)
			}
		}
		if after := containerIDs(t, p); len(after) != len(before) || states(t, p)["api"] != "running" {
			t.Errorf("a failed command touched containers")
		}
	})
}

// TestPsHealthIsCurrent: with no systemd timers nobody runs healthchecks
// after `up -d --wait` returns; ps must not keep reporting the last result.
func TestPsHealthIsCurrent(t *testing.T) {
	parallel(t)
	p := project(t, "pshealth")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  svc:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; touch /tmp/ok; sleep 3600 & wait"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 1s
      timeout: 2s
      retries: 1
`})
	mustStack(t, dir, "-p", p, "up", "-d", "--wait", "--wait-timeout", "60s")
	health := func() string {
		r := mustStack(t, dir, "-p", p, "ps", "--format", "{{.Service}}={{.Health}}")
		return strings.TrimSpace(r.stdout)
	}
	if h := health(); h != "svc=healthy" {
		t.Fatalf("after up --wait: %q, want svc=healthy", h)
	}
	mustStack(t, dir, "-p", p, "exec", "-T", "svc", "rm", "/tmp/ok")
	time.Sleep(1500 * time.Millisecond) // longer than the interval: the last result is stale
	if h := health(); h != "svc=unhealthy" {
		t.Errorf("after the check's file went away: %q, want svc=unhealthy", h)
	}
	if h := health(); h != "svc=unhealthy" { // the check ran just now: reported as is
		t.Errorf("second ps: %q, want svc=unhealthy", h)
	}
}

// inTerminal runs the stack binary under a real pseudo-terminal (util-linux
// script, part of every Debian base system), typing stdin, and returns what
// the terminal showed, ending with "exit=N".
func inTerminal(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("this test needs util-linux's script to provide a terminal: %v", err)
	}
	line := stackBin + " " + strings.Join(args, " ") + "; echo exit=$?"
	cmd := exec.Command(scriptBin, "-qec", line, "/dev/null")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "STACK_URL=" + podURL, "TERM=dumb",
		"STACK_PROGRESS=quiet"}
	// What is typed stays open until the command ends, as a user's
	// terminal does: at the end of its input script types ^D, which could
	// reach the container after its shell exited; Podman 5's attach then
	// fails writing it ("write unixpacket ...: broken pipe") and drops the
	// output it had not yet passed on (libpod's HTTPAttach returns on the
	// first error of either direction).
	typed, keyboard, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer typed.Close()
	defer keyboard.Close()
	if _, err := keyboard.WriteString(stdin); err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = typed
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	return strings.ReplaceAll(string(out), "\r", "")
}

// TestExecTTY: `exec -it` under a real terminal: the command sees one,
// reads what is typed, and its exit code is ours; -T gives no terminal.
func TestExecTTY(t *testing.T) {
	parallel(t)
	p := project(t, "tty")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  svc:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
`})
	mustStack(t, dir, "-p", p, "up", "-d")
	if out := inTerminal(t, dir, "", "-p", p, "exec", "-it", "svc", "tty"); !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "exit=0") {
		t.Errorf("exec -it tty: want a /dev/pts device and exit 0:\n%s", out)
	}
	if out := inTerminal(t, dir, "", "-p", p, "exec", "-T", "svc", "tty"); !strings.Contains(out, "not a tty") || !strings.Contains(out, "exit=1") {
		t.Errorf("exec -T tty: want no terminal and exit 1:\n%s", out)
	}
	out := inTerminal(t, dir, "echo typed-$((6*7)); exit 3\n", "-p", p, "exec", "-it", "svc", "sh")
	if !strings.Contains(out, "typed-42") || !strings.Contains(out, "exit=3") {
		t.Errorf("interactive shell: want the typed command's output and exit 3:\n%s", out)
	}
}

// TestRunOneOff: `run` on a stack that is not up creates what the one-off
// needs and starts its dependency, health-gated, as docker compose run does;
// -it attaches a terminal; --rm leaves nothing behind.
func TestRunOneOff(t *testing.T) {
	parallel(t)
	p := project(t, "oneoff")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  db:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; rm -f /data/ready; sleep 2; touch /data/ready; sleep 3600 & wait"]
    healthcheck: {test: ["CMD", "test", "-f", "/data/ready"], interval: 1s, retries: 20}
    volumes: [data:/data]
  migrate:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "test -f /data/ready && echo db-was-ready"]
    depends_on: {db: {condition: service_healthy}}
    volumes: [data:/data]
volumes:
  data: {}
`})
	r := runStack(t, dir, "-p", p, "run", "--rm", "migrate")
	if r.code != 0 || !strings.Contains(r.stdout, "db-was-ready") {
		t.Fatalf("run migrate must start only once db is healthy: %s", r)
	}
	r = runStack(t, dir, "-p", p, "run", "--rm", "-T", "migrate", "sh", "-c", "echo to-out; echo to-err >&2; exit 4")
	if r.code != 4 || !strings.Contains(r.stdout, "to-out") || strings.Contains(r.stdout, "to-err") || !strings.Contains(r.stderr, "to-err") {
		t.Errorf("run with a command: want exit 4 and the streams kept apart: %s", r)
	}
	out := inTerminal(t, dir, "echo typed-$((6*7)); exit 3\n", "-p", p, "run", "--rm", "-it", "migrate", "sh")
	if !strings.Contains(out, "typed-42") || !strings.Contains(out, "exit=3") {
		t.Errorf("run -it sh: want the typed command's output and exit 3:\n%s", out)
	}
	if names := podman(t, "ps", "-a", "--format", "{{.Names}}"); strings.Contains(names, p+"-migrate-") {
		t.Errorf("run --rm left a container: %s", names)
	}
	if st := states(t, p); len(st) != 1 || st["db"] != "running" {
		t.Errorf("want db running and no migrate container, got %v", st)
	}
}

// TestAttachedUpCtrlC: an attached up prints prefixed logs; Ctrl-C stops
// the stack in reverse dependency order and exits 130; a second Ctrl-C
// during a slow stop kills at once.
func TestAttachedUpCtrlC(t *testing.T) {
	parallel(t)
	p := project(t, "attached")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  db:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; echo db says hello; sleep 3600 & wait"]
  api:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'sleep 1; exit 0' TERM; echo api says hello; sleep 3600 & wait"]
    depends_on: [db]
  stubborn:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap '' TERM; echo stubborn; sleep 3600 & wait; sleep 3600"]
    stop_grace_period: 60s
    profiles: [slow]
`})
	start := func(args ...string) (*exec.Cmd, *bytes.Buffer, *bufio.Scanner) {
		cmd := exec.Command(stackBin, append([]string{"-p", p, "--progress", "plain"}, args...)...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "STACK_URL=" + podURL}
		var out bytes.Buffer
		cmd.Stdout = &out
		errPipe, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out, bufio.NewScanner(errPipe)
	}
	waitFor := func(sc *bufio.Scanner, what string) string {
		var seen strings.Builder
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), what) {
				return seen.String()
			}
		}
		t.Fatalf("stderr ended before %q:\n%s", what, seen.String())
		return ""
	}
	exitOf := func(cmd *exec.Cmd, limit time.Duration) (int, time.Duration) {
		begin := time.Now()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(limit):
			cmd.Process.Kill()
			t.Fatalf("still running %s after the signal", limit)
		}
		return cmd.ProcessState.ExitCode(), time.Since(begin)
	}

	cmd, out, sc := start("up")
	waitFor(sc, "Attaching to")
	time.Sleep(1500 * time.Millisecond) // let the first lines through
	cmd.Process.Signal(os.Interrupt)
	go func() {
		for sc.Scan() {
		}
	}()
	if code, _ := exitOf(cmd, 30*time.Second); code != 130 {
		t.Errorf("exit %d after Ctrl-C, want 130", code)
	}
	for _, want := range []string{"db-1", "| db says hello", "api-1", "| api says hello"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, out.String())
		}
	}
	db, api := inspect(t, p+"-db-1"), inspect(t, p+"-api-1")
	if db.State.Running || api.State.Running {
		t.Fatalf("still running after Ctrl-C: db %v, api %v", db.State.Running, api.State.Running)
	}
	if !db.State.FinishedAt.After(api.State.FinishedAt) {
		t.Errorf("db stopped at %s, before api (%s): want reverse dependency order", db.State.FinishedAt, api.State.FinishedAt)
	}

	cmd, _, sc = start("--profile", "slow", "up")
	waitFor(sc, "Attaching to")
	cmd.Process.Signal(os.Interrupt)
	waitFor(sc, "Gracefully stopping")
	time.Sleep(time.Second)
	cmd.Process.Signal(os.Interrupt)
	go func() {
		for sc.Scan() {
		}
	}()
	if code, took := exitOf(cmd, 30*time.Second); code != 130 || took > 15*time.Second {
		t.Errorf("second Ctrl-C: exit %d after %s, want 130 well before the 60 s grace period", code, took)
	}
	if inspect(t, p+"-stubborn-1").State.Running {
		t.Error("stubborn still running after the second Ctrl-C")
	}
}
