package ops_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// shop has a health-gated database with a volume and a secret, an API that
// waits for it, a one-shot job others await, and a two-service pod.
const shop = `name: shop
services:
  db:
    image: postgres:16
    healthcheck: {test: ["CMD", "pg_isready"], interval: 2s}
    volumes: [data:/data]
    secrets: [pw]
  migrate:
    image: shop/migrate:1
    depends_on: {db: {condition: service_healthy}}
  api:
    image: shop/api:1
    ports: ["8080:80"]
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
  web:
    image: nginx
    x-pod: front
  proxy:
    image: nginx
    x-pod: front
volumes:
  data: {}
secrets:
  pw: {file: ./pw.txt}
`

// clock advances only when the executor sleeps.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// fixture is a project on a fake engine with the shop stack loaded.
type fixture struct {
	t      *testing.T
	e      *fakeengine.Engine
	p      *ops.Project
	clk    *clock
	exec   planner.ExecOptions
	status *bytes.Buffer
	locks  []string
	dir    string // the stack file's directory
}

func newFixture(t *testing.T, content string) *fixture {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("hunter2"), 0o600)
	path := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{path}, Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := fakeengine.New()
	e.SetClock(clk.Now)
	e.AddImages("postgres:16", "shop/migrate:1", "shop/api:1", "nginx")
	e.ScriptService("migrate", fakeengine.Script{Exits: []int{0}})
	f := &fixture{t: t, e: e, clk: clk, status: &bytes.Buffer{}, exec: planner.ExecOptions{Now: clk.Now, Sleep: clk.Sleep}, dir: dir}
	f.p = ops.New(s, e)
	f.p.Status = f.status
	f.p.Now = clk.Now
	f.p.Lock = func(ctx context.Context, command string) (func(), error) {
		f.locks = append(f.locks, command)
		return func() { f.locks = append(f.locks, "release "+command) }, nil
	}
	return f
}

func (f *fixture) up(opts planner.Options) *planner.Plan {
	f.t.Helper()
	plan, err := f.p.Up(context.Background(), ops.UpOptions{Plan: opts, Exec: f.exec})
	if err != nil {
		f.t.Fatalf("up: %v", err)
	}
	return plan
}

func (f *fixture) states() map[string]string {
	out := map[string]string{}
	for _, c := range f.e.Containers() {
		out[c.Name] = c.State
	}
	return out
}

func TestUpThenNothingToDo(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	st := f.states()
	for _, n := range []string{"shop-db-1", "shop-api-1", "shop-web-1", "shop-proxy-1"} {
		if st[n] != "running" {
			t.Errorf("%s is %q after up", n, st[n])
		}
	}
	if st["shop-migrate-1"] != "exited" {
		t.Errorf("migrate is %q, want exited (a one-shot job)", st["shop-migrate-1"])
	}
	if strings.Join(f.locks, ",") != "up,release up" {
		t.Errorf("locks %v: up holds the project lock for its run", f.locks)
	}
	f.e.ResetCalls()
	plan := f.up(planner.Options{})
	if n := plan.Mutating(); n != 0 || len(f.e.Mutations()) != 0 {
		t.Errorf("second up: %d mutating steps, calls %v", n, f.e.Mutations())
	}
}

func TestUpFailureSaysWhatIsLeft(t *testing.T) {
	f := newFixture(t, shop)
	f.e.Fail("StartContainer", "shop-web-1", errors.New("boom"))
	_, err := f.p.Up(context.Background(), ops.UpOptions{Exec: f.exec})
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "run 'stack up' again") {
		t.Fatalf("up: %v", err)
	}
	f.e.Fail("StartContainer", "shop-web-1", nil)
	if _, err := f.p.Up(context.Background(), ops.UpOptions{Exec: f.exec}); err != nil {
		t.Fatalf("the next up does not repair: %v", err)
	}
}

func TestUpDryRunChangesNothing(t *testing.T) {
	f := newFixture(t, shop)
	plan, err := f.p.Up(context.Background(), ops.UpOptions{DryRun: true})
	if err != nil || plan.Mutating() == 0 {
		t.Fatalf("dry run: %v, %d steps", err, plan.Mutating())
	}
	if len(f.e.Mutations()) != 0 || len(f.locks) != 0 {
		t.Errorf("dry run changed %v, locked %v", f.e.Mutations(), f.locks)
	}
}

func TestPlanOnlineAndOffline(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	online, err := f.p.Plan(context.Background(), planner.Options{}, false)
	if err != nil || online.Mutating() != 0 {
		t.Errorf("plan of a stack that is up: %v, %d mutating steps", err, online.Mutating())
	}
	f.p.Engine = nil // offline never asks the engine
	offline, err := f.p.Plan(context.Background(), planner.Options{}, true)
	if err != nil || offline.Mutating() == 0 {
		t.Errorf("offline plan: %v, %d mutating steps", err, offline.Mutating())
	}
}

func TestDownLeavesNothing(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	if _, err := f.p.Down(context.Background(), planner.DownOptions{Volumes: true}, f.exec); err != nil {
		t.Fatal(err)
	}
	if c, p, v, s := f.e.Containers(), f.e.Pods(), f.e.Volumes(), f.e.Secrets(); len(c)+len(p)+len(v)+len(s) != 0 {
		t.Errorf("down -v left containers %v pods %v volumes %v secrets %v", c, p, v, s)
	}
	if !slices.Contains(f.locks, "down") {
		t.Errorf("down takes no lock: %v", f.locks)
	}
}

// TestDownPausedAndSharedNamespaces: down of a stack with a paused
// container (Podman refuses to stop one) and a service that joins another's
// pid namespace (Podman refuses to remove the owner first).
func TestDownPausedAndSharedNamespaces(t *testing.T) {
	f := newFixture(t, `name: ns
services:
  app: {image: nginx}
  debug: {image: nginx, pid: "service:app"}
`)
	f.up(planner.Options{})
	if err := f.p.Each(context.Background(), ops.VerbPause, []string{"app"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.Down(context.Background(), planner.DownOptions{}, f.exec); err != nil {
		t.Fatalf("down: %v", err)
	}
	if c := f.e.Containers(); len(c) != 0 {
		t.Errorf("down left %v", c)
	}
}

func TestStartStopRestart(t *testing.T) {
	f := newFixture(t, shop)
	ctx := context.Background()
	if err := f.p.Start(ctx, nil, f.exec); err == nil || !strings.Contains(err.Error(), "run 'stack up'") {
		t.Errorf("start before up: %v", err)
	}
	f.up(planner.Options{})
	if err := f.p.Stop(ctx, planner.DownOptions{Services: []string{"api"}}); err != nil {
		t.Fatal(err)
	}
	if st := f.states(); st["shop-api-1"] != "exited" || st["shop-db-1"] != "running" {
		t.Errorf("stop api: %v", st)
	}
	if err := f.p.Start(ctx, []string{"api"}, f.exec); err != nil {
		t.Fatal(err)
	}
	if st := f.states(); st["shop-api-1"] != "running" {
		t.Errorf("start api: %v", st)
	}
	f.locks = nil
	if err := f.p.Restart(ctx, planner.DownOptions{}, f.exec); err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.locks, ",") != "restart,release restart" {
		t.Errorf("restart takes the lock once: %v", f.locks)
	}
	if st := f.states(); st["shop-web-1"] != "running" || st["shop-db-1"] != "running" {
		t.Errorf("after restart: %v", st)
	}
	noStack := &ops.Project{Name: "shop", Engine: f.e}
	if err := noStack.Start(ctx, nil, f.exec); !errors.Is(err, ops.ErrNoStack) {
		t.Errorf("start without the stack file: %v", err)
	}
}

func TestRm(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	ctx := context.Background()
	n, err := f.p.Rm(ctx, ops.RmOptions{Services: []string{"web"}})
	if err != nil || n != 0 {
		t.Errorf("rm of a running service without -s: %d steps, %v", n, err)
	}
	n, err = f.p.Rm(ctx, ops.RmOptions{Services: []string{"migrate"}})
	if err != nil || n == 0 {
		t.Errorf("rm of an exited job: %d steps, %v", n, err)
	}
	if _, ok := f.e.Container("shop-migrate-1"); ok {
		t.Error("the exited job is still there")
	}
	if _, err := f.p.Rm(ctx, ops.RmOptions{Services: []string{"web"}, Stop: true}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.e.Container("shop-web-1"); ok {
		t.Error("rm -s left web")
	}
}

func TestEachGoesOnPastFailures(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	ctx := context.Background()
	f.e.Fail("Kill", "shop-db-1", errors.New("refused"))
	err := f.p.Each(ctx, ops.VerbKill, nil, "TERM")
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("kill: %v", err)
	}
	if !strings.Contains(f.status.String(), "shop-web-1 killed") {
		t.Errorf("kill stopped at the first failure:\n%s", f.status)
	}
	if err := f.p.Each(ctx, ops.VerbPause, []string{"nope"}, ""); err == nil || !strings.Contains(err.Error(), "no running containers for nope") {
		t.Errorf("pause of nothing: %v", err)
	}
}

func TestWait(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	code, err := f.p.Wait(context.Background(), []string{"migrate"}, false)
	if err != nil || code != 0 {
		t.Errorf("wait migrate: %d, %v", code, err)
	}
	go func() {
		f.e.AwaitWaiters(context.Background(), "shop-web-1", 1)
		f.e.Exit("shop-web-1", 3)
	}()
	code, err = f.p.Wait(context.Background(), []string{"web"}, true)
	if err != nil || code != 3 {
		t.Errorf("wait web: %d, %v", code, err)
	}
	if len(f.e.Containers()) != 0 {
		t.Errorf("--down-project left %v", f.e.Containers())
	}
}

func TestPsAndQueries(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	ctx := context.Background()
	rows, err := f.p.Ps(ctx, ops.PsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r.Name)
		if r.Name == "shop-api-1" && r.Ports() != "0.0.0.0:8080->80/tcp" {
			t.Errorf("api ports %q", r.Ports())
		}
	}
	if slices.Contains(names, "shop-migrate-1") {
		t.Errorf("ps without -a lists the exited job: %v", names)
	}
	all, _ := f.p.Ps(ctx, ops.PsOptions{All: true, Services: []string{"migrate"}})
	if len(all) != 1 || all[0].State != "exited" || all[0].Status() != "exited (0)" {
		t.Errorf("ps -a migrate: %+v", all)
	}
	if addr, err := f.p.Port(ctx, "api", 80, "tcp", 1); err != nil || addr != "0.0.0.0:8080" {
		t.Errorf("port api 80: %q, %v", addr, err)
	}
	if _, err := f.p.Port(ctx, "web", 80, "tcp", 1); err == nil {
		t.Error("port of an unpublished port")
	}
	imgs, _ := f.p.Images(ctx, []string{"db"})
	if len(imgs) != 1 || imgs[0].Repository != "docker.io/library/postgres" || imgs[0].Tag != "16" ||
		imgs[0].ID != f.e.ImageID("postgres:16") || imgs[0].Size == 0 || imgs[0].ContainerName != "shop-db-1" {
		t.Errorf("images db: %+v", imgs)
	}
	procs, err := f.p.Top(ctx, []string{"web"})
	if err != nil || len(procs) != 1 || len(procs[0].Lines) == 0 {
		t.Errorf("top web: %+v %v", procs, err)
	}
	// db names a container and its (single-service) pod; front a pod.
	data, err := f.p.Inspect(ctx, []string{"db", "front", "nope"})
	if len(data) != 3 || err == nil || !strings.Contains(err.Error(), `no container or pod "nope"`) {
		t.Errorf("inspect: %d results, %v", len(data), err)
	}
	var stats []ops.PodStat
	if err := f.p.Stats(ctx, []string{"web", "proxy"}, false, func(s []ops.PodStat) { stats = s }); err != nil || len(stats) != 2 || stats[0].Pod != "front" {
		t.Errorf("stats: %+v %v", stats, err)
	}
	kube, err := f.p.Running(ctx)
	if err != nil || !strings.Contains(string(kube), "shop-front") {
		t.Errorf("running: %s %v", kube, err)
	}
	list, err := ops.Ls(ctx, f.e, ops.LsOptions{})
	if err != nil || len(list) != 1 || list[0].Name != "shop" {
		t.Errorf("ls: %+v %v", list, err)
	}
	if svcs, err := f.p.PodServices(ctx, "front"); err != nil || strings.Join(svcs, ",") != "proxy,web" {
		t.Errorf("pod front: %v %v", svcs, err)
	}
	byLabels := &ops.Project{Name: "shop", Engine: f.e}
	if svcs, err := byLabels.PodServices(ctx, "front"); err != nil || len(svcs) != 2 {
		t.Errorf("pod front from labels: %v %v", svcs, err)
	}
}

func TestLogsAndEvents(t *testing.T) {
	f := newFixture(t, shop)
	f.e.ScriptService("web", fakeengine.Script{Stdout: []string{"hello from web"}})
	f.up(planner.Options{})
	ctx := context.Background()
	var lines []string
	if err := f.p.Logs(ctx, []string{"web"}, ops.LogOptions{Tail: -1}, func(l ops.LogLine) { lines = append(lines, l.Container+": "+l.Text) }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(lines, "\n") != "shop-web-1: hello from web" {
		t.Errorf("logs: %q", lines)
	}
	evCtx, cancel := context.WithCancel(ctx)
	var events []ops.Event
	done := make(chan error, 1)
	go func() { done <- f.p.Events(evCtx, func(e ops.Event) { events = append(events, e) }) }()
	f.e.WaitSubscribers(ctx, 1)
	if err := f.p.Each(ctx, ops.VerbPause, []string{"web"}, ""); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("events ended with %v", err)
	}
	if len(events) == 0 || events[len(events)-1].Action != "pause" {
		t.Errorf("events %+v", events)
	}
}

func TestExecAndRun(t *testing.T) {
	f := newFixture(t, `name: shop
services:
  db:
    image: postgres:16
    healthcheck: {test: ["CMD", "pg_isready"], interval: 2s}
  api:
    image: shop/api:1
    restart: always
    deploy: {replicas: 2}
    depends_on: {db: {condition: service_healthy}}
`)
	ctx := context.Background()
	f.e.ScriptService("api", fakeengine.Script{ExecCode: 4})
	f.up(planner.Options{})
	code, err := f.p.Exec(ctx, ops.ExecRequest{Service: "api", Index: 2, ExecOptions: ops.ExecOptions{Cmd: []string{"true"}}})
	if err != nil || code != 4 {
		t.Errorf("exec: %d, %v", code, err)
	}
	if ex := f.e.Execs(); len(ex) != 1 || ex[0].Container != "shop-api-2" {
		t.Errorf("exec ran in %+v, want replica 2", ex)
	}
	if _, err := f.p.Exec(ctx, ops.ExecRequest{Service: "nope"}); err == nil || !stack.IsInvalid(err) {
		t.Errorf("exec in an unknown service: %v", err)
	}
	if _, err := f.p.Exec(ctx, ops.ExecRequest{Service: "api", Index: 3}); err == nil {
		t.Error("exec in replica 3 of 2")
	}

	if _, err := f.p.Down(ctx, planner.DownOptions{}, f.exec); err != nil {
		t.Fatal(err)
	}
	f.locks = nil
	if _, err := f.p.Run(ctx, ops.RunRequest{Service: "api", Cmd: []string{"migrate"}, Exec: f.exec}); err != nil {
		t.Fatal(err)
	}
	if st := f.states(); st["shop-db-1"] != "running" || st["shop-api-1"] != "" {
		t.Errorf("run starts the dependencies, not the service: %v", st)
	}
	if strings.Join(f.locks, ",") != "run,release run" {
		t.Errorf("run's locks %v", f.locks)
	}
	runs := f.e.Runs()
	if len(runs) != 1 || runs[0].Labels[planner.LabelOneOff] != "true" || strings.Join(runs[0].Command, " ") != "migrate" {
		t.Fatalf("one-off %+v", runs)
	}
	if c, ok := f.e.Container(runs[0].Container); !ok || c.Restart != "" {
		t.Errorf("the one-off %+v keeps a restart policy (it would run again and again)", c)
	}
}

// TestAttach: an attached up follows the logs; with --exit-code-from it
// ends with that service's code and stops the stack; Ctrl-C stops it and
// says so; a second Ctrl-C kills what it knows without listing.
func TestAttach(t *testing.T) {
	const jobs = `name: at
services:
  tests: {image: nginx}
  app: {image: nginx}
`
	t.Run("exit-code-from", func(t *testing.T) {
		f := newFixture(t, jobs)
		f.e.ScriptService("tests", fakeengine.Script{Exits: []int{5}, RunFor: 20 * time.Millisecond, Stdout: []string{"ran 3 tests"}})
		f.up(planner.Options{})
		var lines []string
		var mu sync.Mutex
		code, err := f.p.Attach(context.Background(), ops.AttachOptions{Abort: ops.Abort{ExitCodeFrom: "tests"},
			Logs: func(l ops.LogLine) { mu.Lock(); lines = append(lines, l.Text); mu.Unlock() }})
		if err != nil || code != 5 {
			t.Fatalf("attach: %d, %v", code, err)
		}
		if st := f.states(); st["at-app-1"] != "exited" {
			t.Errorf("the stack is not stopped after the abort: %v", st)
		}
		if !strings.Contains(f.status.String(), "tests-1 exited with code 5") || !strings.Contains(f.status.String(), "Aborting on container exit") {
			t.Errorf("status:\n%s", f.status)
		}
	})
	t.Run("ctrl-c", func(t *testing.T) {
		f := newFixture(t, jobs)
		f.up(planner.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		attached := make(chan bool, 1)
		go func() {
			<-attached
			cancel()
		}()
		_, err := f.p.Attach(ctx, ops.AttachOptions{Attached: func([]string) { attached <- true }})
		if !errors.Is(err, ops.ErrInterrupted) {
			t.Fatalf("attach after Ctrl-C: %v", err)
		}
		if st := f.states(); st["at-app-1"] != "exited" || st["at-tests-1"] != "exited" {
			t.Errorf("Ctrl-C does not stop the stack: %v", st)
		}
	})
	t.Run("abort flags need an attached up", func(t *testing.T) {
		f := newFixture(t, jobs)
		if err := (ops.Abort{OnExit: true}).Check(f.p.Stack, nil, true); err == nil || !stack.IsInvalid(err) {
			t.Errorf("abort with -d: %v", err)
		}
		if err := (ops.Abort{ExitCodeFrom: "nope"}).Check(f.p.Stack, nil, false); err == nil {
			t.Error("--exit-code-from of an unknown service")
		}
	})
}

func TestContainersSaysWhatIsMissing(t *testing.T) {
	f := newFixture(t, shop)
	_, err := f.p.Containers(context.Background(), []string{"db"}, "running")
	if err == nil || err.Error() != `no running containers for db in project "shop" (is it up?)` {
		t.Errorf("containers of a stack that is not up: %v", err)
	}
}

// TestUpMeetsCreatesThatLandedLate: creates of a killed `stack up` that the
// service finished after this run observed (a pod and a container) are
// met at create and adopted: the first up after the kill converges, with
// one container per replica and nothing removed.
func TestUpMeetsCreatesThatLandedLate(t *testing.T) {
	f := newFixture(t, shop)
	f.e.LandLate("CreatePod", "shop-front")
	f.e.LandLate("CreateContainer", "shop-web-1")
	f.e.LandLate("CreateContainer", "shop-db-1")
	f.up(planner.Options{})
	st := f.states()
	for _, n := range []string{"shop-db-1", "shop-api-1", "shop-web-1", "shop-proxy-1"} {
		if st[n] != "running" {
			t.Errorf("%s is %q after up", n, st[n])
		}
	}
	var names []string
	for _, c := range f.e.Containers() {
		if !c.Infra {
			names = append(names, c.Name)
		}
	}
	if len(names) != 5 {
		t.Errorf("containers %v, want the five of the stack", names)
	}
	for _, c := range f.e.Mutations() {
		if strings.HasPrefix(c.Op, "Remove") {
			t.Errorf("%s: a create that landed late is adopted, not removed", c)
		}
	}
}

// TestSettleWait: after a run died holding the lock, the next waits out
// the longest stop grace period of the stack (a stop that run sent kills
// its container that much later), bounded.
func TestSettleWait(t *testing.T) {
	d := func(s string) *time.Duration { v, _ := time.ParseDuration(s); return &v }
	for _, c := range []struct {
		graces []*time.Duration
		want   time.Duration
	}{
		{[]*time.Duration{d("1s"), d("2s")}, 3 * time.Second},
		{[]*time.Duration{d("1s"), nil}, 11 * time.Second},
		{[]*time.Duration{d("5m")}, 30 * time.Second},
	} {
		s := &stack.Stack{Name: "x", Services: map[string]*stack.Service{}}
		for i, g := range c.graces {
			s.Services[fmt.Sprint("s", i)] = &stack.Service{Name: fmt.Sprint("s", i), StopGracePeriod: g}
		}
		if got := (&ops.Project{Stack: s}).SettleWait(); got != c.want {
			t.Errorf("graces %v: wait %v, want %v", c.graces, got, c.want)
		}
	}
	if got := (&ops.Project{Name: "x"}).SettleWait(); got != 11*time.Second {
		t.Errorf("without the stack file: %v", got)
	}
}
