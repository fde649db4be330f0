package fakeengine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

const restartStack = `name: rs
services:
  job: {image: busybox, restart: "on-failure:2"}
  flaky: {image: busybox, restart: "on-failure:2"}
  svc: {image: busybox, restart: always}
  once: {image: busybox, restart: "no"}
  keep: {image: busybox, restart: unless-stopped}
`

type ended struct {
	code      int
	restarted bool
	err       error
}

// waitEnd calls WaitEnd in a goroutine and returns once it is blocked, so
// what the test does next is the exit it reports.
func waitEnd(t *testing.T, e *fakeengine.Engine, name string) <-chan ended {
	t.Helper()
	ch := make(chan ended, 1)
	go func() {
		code, restarted, err := e.WaitEnd(context.Background(), name)
		ch <- ended{code, restarted, err}
	}()
	awaitWaiter(t, e, name)
	return ch
}

// awaitWaiter returns once a wait is blocked on the container; a fake that
// never blocks fails the test rather than hanging it.
func awaitWaiter(t *testing.T, e *fakeengine.Engine, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.AwaitWaiters(ctx, name, 1); err != nil {
		t.Fatalf("no wait blocked on %s: %v", name, err)
	}
}

func expectEnd(t *testing.T, ch <-chan ended, code int, restarted bool) {
	t.Helper()
	got := <-ch
	if got.err != nil || got.code != code || got.restarted != restarted {
		t.Errorf("WaitEnd = %d, %v, %v; want %d, %v", got.code, got.restarted, got.err, code, restarted)
	}
}

// TestWaitEndFollowsRestartPolicies: each exit is reported with whether
// the container's policy brought it back (Podman 5.3 and later).
func TestWaitEndFollowsRestartPolicies(t *testing.T) {
	f := newFixture(t, restartStack)
	f.e.SetServer(ops.ServerInfo{Version: "5.4.0"})
	f.e.ScriptService("job", fakeengine.Script{Exits: []int{1}})
	f.up("", planner.Options{})
	e := f.e

	// A job that keeps failing ran three times (two retries) and has ended.
	if c := f.container("rs-job-1"); c.State != "exited" || c.ExitCode != 1 || c.RestartCount != 2 {
		t.Errorf("job: %s, exit %d, %d restarts", c.State, c.ExitCode, c.RestartCount)
	}
	code, restarted, err := e.WaitEnd(context.Background(), "rs-job-1")
	if code != 1 || restarted || err != nil {
		t.Errorf("WaitEnd(job) = %d, %v, %v", code, restarted, err)
	}
	starts, restarts := 0, 0
	for _, ev := range e.EventLog() {
		if ev.Name == "rs-job-1" {
			starts += btoi(ev.Action == "start")
			restarts += btoi(ev.Action == "restart")
		}
	}
	if starts != 3 || restarts != 2 {
		t.Errorf("job: %d start and %d restart events, want 3 and 2", starts, restarts)
	}

	// on-failure:2, exits driven by the test: two retries, then the end.
	for i, restarted := range []bool{true, true, false} {
		ch := waitEnd(t, e, "rs-flaky-1")
		if err := e.Exit("rs-flaky-1", 1); err != nil {
			t.Fatal(err)
		}
		expectEnd(t, ch, 1, restarted)
		if c := f.container("rs-flaky-1"); c.RestartCount != min(i+1, 2) {
			t.Errorf("exit %d: restart count %d", i+1, c.RestartCount)
		}
	}
	// A clean exit is no failure: on-failure leaves it ended.
	if err := e.StartContainer(context.Background(), "rs-flaky-1"); err != nil {
		t.Fatal(err)
	}
	if c := f.container("rs-flaky-1"); c.RestartCount != 0 {
		t.Errorf("a user's start keeps restart count %d; Podman starts it again at 0", c.RestartCount)
	}
	ch := waitEnd(t, e, "rs-flaky-1")
	e.Exit("rs-flaky-1", 0)
	expectEnd(t, ch, 0, false)

	// always: a crash comes back; a user's stop does not.
	ch = waitEnd(t, e, "rs-svc-1")
	e.Exit("rs-svc-1", 3)
	expectEnd(t, ch, 3, true)
	if c := f.container("rs-svc-1"); c.State != "running" || c.RestartCount != 1 {
		t.Errorf("svc after a crash: %s, %d restarts", c.State, c.RestartCount)
	}
	ch = waitEnd(t, e, "rs-svc-1")
	if err := e.StopContainer(context.Background(), "rs-svc-1", 0); err != nil {
		t.Fatal(err)
	}
	expectEnd(t, ch, 137, false)

	// no: the first exit ends it.
	ch = waitEnd(t, e, "rs-once-1")
	e.Exit("rs-once-1", 4)
	expectEnd(t, ch, 4, false)

	// unless-stopped: a kill is the user's, so it stays down.
	ch = waitEnd(t, e, "rs-keep-1")
	if err := e.Kill(context.Background(), "rs-keep-1", "KILL"); err != nil {
		t.Fatal(err)
	}
	expectEnd(t, ch, 137, false)
	if c := f.container("rs-keep-1"); c.State != "exited" || !c.StoppedByUser {
		t.Errorf("keep after kill: %+v", c)
	}
}

// TestWaitHeldThroughRestarts: before Podman 5.3 (the default version) a
// wait returns only when the container has stopped for good, and WaitEnd
// (from the restart count, as podmanapi reads it) then says restarted
// although it has ended; the next WaitEnd sees the end.
func TestWaitHeldThroughRestarts(t *testing.T) {
	f := newFixture(t, restartStack)
	f.up("", planner.Options{})
	e := f.e

	ch := waitEnd(t, e, "rs-flaky-1")
	for range 3 {
		if err := e.Exit("rs-flaky-1", 1); err != nil {
			t.Fatal(err)
		}
	}
	expectEnd(t, ch, 1, true)
	code, restarted, err := e.WaitEnd(context.Background(), "rs-flaky-1")
	if code != 1 || restarted || err != nil {
		t.Errorf("second WaitEnd = %d, %v, %v; want 1, false", code, restarted, err)
	}

	// WaitExit of a crashing "always" service returns only at the stop.
	exited := make(chan int, 1)
	go func() {
		code, _ := e.WaitExit(context.Background(), "rs-svc-1")
		exited <- code
	}()
	awaitWaiter(t, e, "rs-svc-1")
	e.Exit("rs-svc-1", 3)
	e.StopContainer(context.Background(), "rs-svc-1", 0)
	if code := <-exited; code != 137 {
		t.Errorf("WaitExit = %d, want the stop's 137, not the crash's 3", code)
	}
}

// TestRestartLimitEndsEndlessLoops: a job that always exits under
// "always" restarts up to the limit, then stays exited.
func TestRestartLimitEndsEndlessLoops(t *testing.T) {
	f := newFixture(t, restartStack)
	f.e.SetRestartLimit(3)
	f.e.ScriptService("svc", fakeengine.Script{Exits: []int{0}})
	f.up("", planner.Options{Services: []string{"svc"}})
	if c := f.container("rs-svc-1"); c.RestartCount != 3 || c.State != "exited" {
		t.Errorf("svc: %s after %d restarts", c.State, c.RestartCount)
	}
}

// TestRemovedWhileWaited: a wait on a container removed while running
// reports the kill's exit code, as Podman keeps exit codes of removed
// containers.
func TestRemovedWhileWaited(t *testing.T) {
	f := newFixture(t, restartStack)
	f.up("", planner.Options{})
	ch := waitEnd(t, f.e, "rs-once-1")
	if err := f.e.RemoveContainer(context.Background(), "rs-once-1", false); err != nil {
		t.Fatal(err)
	}
	expectEnd(t, ch, 137, false)
	if _, err := f.e.WaitExit(context.Background(), "rs-once-1"); !errors.Is(err, fakeengine.ErrNotFound) {
		t.Errorf("wait for a removed container: %v", err)
	}
}

// TestStopAndKillSignals: stop ends with the script's SIGTERM code or, when
// SIGTERM is ignored, 137; other fatal signals give 128+n; harmless ones
// and ignored SIGTERM change nothing.
func TestStopAndKillSignals(t *testing.T) {
	f := newFixture(t, restartStack)
	f.e.Script("rs-once-1", fakeengine.Script{HandlesTerm: true, TermExit: 0})
	f.up("", planner.Options{})
	ctx := context.Background()
	e := f.e
	e.StopContainer(ctx, "rs-once-1", 10)
	if c := f.container("rs-once-1"); c.ExitCode != 0 || c.State != "exited" {
		t.Errorf("stop of a TERM handler: %s %d", c.State, c.ExitCode)
	}
	for _, sig := range []string{"TERM", "SIGWINCH", "28"} {
		if err := e.Kill(ctx, "rs-keep-1", sig); err != nil {
			t.Fatal(err)
		}
		if c := f.container("rs-keep-1"); c.State != "running" {
			t.Errorf("%s ended a process that ignores it: %s", sig, c.State)
		}
	}
	// Podman 4.3 restarts a container a signal other than SIGKILL ended;
	// Podman 5 counts every kill as the user's.
	ch := waitEnd(t, e, "rs-keep-1")
	if err := e.Kill(ctx, "rs-keep-1", "SIGHUP"); err != nil {
		t.Fatal(err)
	}
	if c := f.container("rs-keep-1"); c.State != "running" || c.RestartCount != 1 {
		t.Errorf("SIGHUP on 4.3: %s after %d restarts, want restarted", c.State, c.RestartCount)
	}
	e.Kill(ctx, "rs-keep-1", "KILL")
	expectEnd(t, ch, 137, true)
	if c := f.container("rs-keep-1"); c.State != "exited" || c.RestartCount != 1 {
		t.Errorf("SIGKILL: %s after %d restarts, want no restart", c.State, c.RestartCount)
	}
	e.SetServer(ops.ServerInfo{Version: "5.0.0"})
	e.StartContainer(ctx, "rs-keep-1")
	e.Kill(ctx, "rs-keep-1", "HUP")
	if c := f.container("rs-keep-1"); c.State != "exited" || c.ExitCode != 129 || c.RestartCount != 0 {
		t.Errorf("SIGHUP on 5.0: %s %d after %d restarts, want exited 129", c.State, c.ExitCode, c.RestartCount)
	}
	if err := e.Kill(ctx, "rs-keep-1", "KILL"); !errors.Is(err, fakeengine.ErrNotRunning) {
		t.Errorf("kill of an exited container: %v", err)
	}
	if err := e.Kill(ctx, "nope", "KILL"); !errors.Is(err, fakeengine.ErrNotFound) {
		t.Errorf("kill of a missing container: %v", err)
	}
	if err := e.Kill(ctx, "rs-svc-1", "SIGNOPE"); err == nil || !strings.Contains(err.Error(), "invalid signal") {
		t.Errorf("kill with a bad signal: %v", err)
	}
	if err := e.KillAll(ctx, []string{"rs-svc-1", "rs-keep-1", "gone"}); err != nil {
		t.Errorf("KillAll: %v", err)
	}
	if c := f.container("rs-svc-1"); c.State != "exited" || c.ExitCode != 137 || c.RestartCount != 0 {
		t.Errorf("svc after KillAll: %s %d, %d restarts (a kill is the user's)", c.State, c.ExitCode, c.RestartCount)
	}
}

// TestPausedContainer: what Podman 4.3 refuses of a paused container.
func TestPausedContainer(t *testing.T) {
	f := newFixture(t, restartStack)
	f.up("", planner.Options{})
	ctx := context.Background()
	e := f.e
	if err := e.Unpause(ctx, "rs-svc-1"); !errors.Is(err, fakeengine.ErrNotRunning) {
		t.Errorf("unpause of a running container: %v", err)
	}
	if err := e.Pause(ctx, "rs-svc-1"); err != nil {
		t.Fatal(err)
	}
	if o := f.observe("rs"); o.Containers[indexOf(o.Containers, "rs-svc-1")].State != "paused" {
		t.Error("not paused")
	}
	for op, err := range map[string]error{
		"pause":    e.Pause(ctx, "rs-svc-1"),
		"start":    e.StartContainer(ctx, "rs-svc-1"),
		"exec":     func() error { _, err := e.Exec(ctx, "rs-svc-1", execOpts("true")); return err }(),
		"probe":    func() error { _, err := e.RunHealthCheck(ctx, "rs-svc-1"); return err }(),
		"pauseOff": e.Pause(ctx, "rs-once-1-nope"),
	} {
		want := fakeengine.ErrNotRunning
		if op == "pauseOff" {
			want = fakeengine.ErrNotFound
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", op, err, want)
		}
	}
	// podmanapi stops a paused container as docker does: thawed, then
	// stopped (Podman alone refuses).
	if err := e.StopContainer(ctx, "rs-svc-1", 0); err != nil {
		t.Errorf("stop of a paused container: %v", err)
	}
	if o := f.observe("rs"); o.Containers[indexOf(o.Containers, "rs-svc-1")].State != "exited" {
		t.Error("a paused container is not stopped")
	}
	if err := e.RemoveContainer(ctx, "rs-svc-1", false); err != nil {
		t.Errorf("a forced remove takes a stopped container: %v", err)
	}
}

// TestHealthchecks: probes need a running container with a healthcheck;
// FreshHealth probes only when the last probe is older than the interval.
func TestHealthchecks(t *testing.T) {
	f := newFixture(t, shopStack)
	f.up("", planner.Options{})
	ctx := context.Background()
	e := f.e
	if _, err := e.RunHealthCheck(ctx, "shop-web-1"); !errors.Is(err, fakeengine.ErrConflict) || !strings.Contains(err.Error(), "no defined healthcheck") {
		t.Errorf("probe without a healthcheck: %v", err)
	}
	if h, err := e.FreshHealth(ctx, "shop-web-1", f.clock.Now()); h != "" || err != nil {
		t.Errorf("FreshHealth without a healthcheck: %q, %v", h, err)
	}
	if _, err := e.RunHealthCheck(ctx, "shop-migrate-1"); err == nil {
		t.Error("probe of an exited container without a healthcheck passed")
	}
	probes := e.Probes("shop-db-1")
	if h, _ := e.FreshHealth(ctx, "shop-db-1", f.clock.Now()); h != "healthy" || e.Probes("shop-db-1") != probes {
		t.Errorf("a fresh status was probed again: %q, %d probes", h, e.Probes("shop-db-1"))
	}
	e.Script("shop-db-1", fakeengine.Script{Health: []string{"unhealthy"}})
	f.clock.Sleep(3 * time.Second) // past the 2s interval
	if h, _ := e.FreshHealth(ctx, "shop-db-1", f.clock.Now()); h != "unhealthy" || e.Probes("shop-db-1") != probes+1 {
		t.Errorf("a stale status was not probed: %q, %d probes", h, e.Probes("shop-db-1"))
	}
	e.StopContainer(ctx, "shop-db-1", 0)
	if _, err := e.RunHealthCheck(ctx, "shop-db-1"); !errors.Is(err, planner.ErrNotRunning) || !strings.Contains(err.Error(), "state exited, exit code 137") {
		t.Errorf("probe of a stopped container: %v", err)
	}
	if h, _ := e.FreshHealth(ctx, "shop-db-1", f.clock.Now()); h != "unhealthy" {
		t.Errorf("a stopped container keeps its last status, got %q", h)
	}
	e.StartContainer(ctx, "shop-db-1")
	if c := f.container("shop-db-1"); c.Health != "starting" {
		t.Errorf("after a start: health %q, want starting", c.Health)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func indexOf(cs []planner.ObservedContainer, name string) int {
	for i, c := range cs {
		if c.Name == name {
			return i
		}
	}
	return -1
}
