package planner

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podstack/podstack/stack"
)

// steps builds a plan from "id kind target [deps...]" specs.
type spec struct {
	kind    StepKind
	target  string
	service string
	deps    []int
	cond    stack.Condition
	health  *stack.HealthCheck
	opt     bool
}

func mkPlan(specs ...spec) *Plan {
	p := &Plan{Project: "t", Stack: &stack.Stack{Name: "t"}}
	for i, s := range specs {
		st := &Step{ID: i + 1, Kind: s.kind, Target: s.target, Service: s.service, Deps: s.deps, Condition: s.cond,
			Health: s.health, Optional: s.opt}
		if s.kind == StepCreateContainer {
			st.Container = &Container{Name: s.target, Service: s.service}
		}
		p.Steps = append(p.Steps, st)
	}
	return p
}

var quickHealth = &stack.HealthCheck{Test: []string{"CMD", "true"}, Interval: time.Second, Timeout: time.Second, Retries: 3}

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Emit(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func exec(t *testing.T, p *Plan, rt *fakeRuntime, opts ExecOptions) (error, *recorder) {
	t.Helper()
	clock := newClock()
	if opts.Now == nil {
		opts.Now, opts.Sleep = clock.Now, clock.Sleep
	}
	r := &recorder{}
	return Execute(context.Background(), p, rt, r, opts), r
}

func TestExecuteRunsIndependentStepsConcurrently(t *testing.T) {
	rt := newFake()
	for _, n := range []string{"a", "b", "c", "d"} {
		rt.delays["start "+n] = 50 * time.Millisecond
	}
	p := mkPlan(spec{kind: StepStartContainer, target: "a"}, spec{kind: StepStartContainer, target: "b"},
		spec{kind: StepStartContainer, target: "c"}, spec{kind: StepStartContainer, target: "d"})
	if err, _ := exec(t, p, rt, ExecOptions{Parallel: 4}); err != nil {
		t.Fatal(err)
	}
	a, _ := rt.find("start", "a")
	b, _ := rt.find("start", "b")
	if !(a.start.Before(b.end) && b.start.Before(a.end)) {
		t.Errorf("independent starts did not overlap: a %v-%v, b %v-%v", a.start, a.end, b.start, b.end)
	}
	if rt.maxRun < 2 {
		t.Errorf("max concurrency %d", rt.maxRun)
	}

	rt = newFake()
	for _, n := range []string{"a", "b", "c"} {
		rt.delays["start "+n] = 10 * time.Millisecond
	}
	p = mkPlan(spec{kind: StepStartContainer, target: "a"}, spec{kind: StepStartContainer, target: "b"},
		spec{kind: StepStartContainer, target: "c"})
	if err, _ := exec(t, p, rt, ExecOptions{Parallel: 1}); err != nil {
		t.Fatal(err)
	}
	if rt.maxRun != 1 {
		t.Errorf("--parallel 1 ran %d at once", rt.maxRun)
	}
}

func TestExecuteHealthGating(t *testing.T) {
	rt := newFake()
	rt.health["db"] = []string{"starting", "starting", "healthy"}
	p := mkPlan(
		spec{kind: StepStartContainer, target: "db", service: "db"},
		spec{kind: StepWait, target: "db", service: "db", deps: []int{1}, cond: stack.ConditionHealthy, health: quickHealth},
		spec{kind: StepStartContainer, target: "api", service: "api", deps: []int{2}},
	)
	err, r := exec(t, p, rt, ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ops := strings.Join(rt.ops(), ", ")
	if ops != "start db, probe db, probe db, probe db, start api" {
		t.Errorf("calls: %s", ops)
	}
	var healthy bool
	for _, e := range r.events {
		if e.Resource == "db" && e.Kind == StepWait && e.Status == StatusDone && e.Text == "Healthy" {
			healthy = true
		}
	}
	if !healthy {
		t.Errorf("no Healthy event: %+v", r.events)
	}
}

func TestExecuteUnhealthyStopsDependents(t *testing.T) {
	rt := newFake()
	rt.health["db"] = []string{"starting", "unhealthy"}
	rt.logs["db"] = "line 1\nFATAL: password authentication failed\n"
	p := mkPlan(
		spec{kind: StepStartContainer, target: "db", service: "db"},
		spec{kind: StepWait, target: "db", service: "db", deps: []int{1}, cond: stack.ConditionHealthy, health: quickHealth},
		spec{kind: StepStartContainer, target: "api", service: "api", deps: []int{2}},
	)
	err, _ := exec(t, p, rt, ExecOptions{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"Wait db (service db)", `service "db" is unhealthy after 2 probes`, "FATAL: password authentication failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, started := rt.find("start", "api"); started {
		t.Error("api started although db is unhealthy")
	}
}

func TestExecuteExitedContainerFailsWaitAtOnce(t *testing.T) {
	rt := newFake()
	rt.health["db"] = []string{"exited"}
	p := mkPlan(spec{kind: StepWait, target: "db", service: "db", cond: stack.ConditionHealthy, health: quickHealth})
	err, _ := exec(t, p, rt, ExecOptions{WaitTimeout: time.Hour})
	if err == nil || !strings.Contains(err.Error(), "stopped before it became healthy") {
		t.Errorf("err = %v", err)
	}
}

func TestExecuteWaitTimeout(t *testing.T) {
	rt := newFake()
	rt.health["db"] = []string{"starting"}
	p := mkPlan(spec{kind: StepWait, target: "db", service: "db", cond: stack.ConditionHealthy, health: quickHealth})
	clock := newClock()
	start := clock.Now()
	err := Execute(context.Background(), p, rt, nil, ExecOptions{WaitTimeout: 10 * time.Second, Now: clock.Now, Sleep: clock.Sleep})
	if err == nil || !strings.Contains(err.Error(), "did not become healthy within 10s") {
		t.Fatalf("err = %v", err)
	}
	if waited := clock.Now().Sub(start); waited != 10*time.Second {
		t.Errorf("waited %s of fake time, want exactly the 10s timeout", waited)
	}
}

func TestExecuteCompletedWait(t *testing.T) {
	rt := newFake()
	rt.exit["ok"], rt.exit["bad"] = 0, 3
	p := mkPlan(spec{kind: StepWait, target: "ok", service: "ok", cond: stack.ConditionCompleted})
	if err, _ := exec(t, p, rt, ExecOptions{}); err != nil {
		t.Errorf("exit 0: %v", err)
	}
	p = mkPlan(spec{kind: StepWait, target: "bad", service: "bad", cond: stack.ConditionCompleted})
	if err, _ := exec(t, p, rt, ExecOptions{}); err == nil || !strings.Contains(err.Error(), "exited with code 3") {
		t.Errorf("exit 3: %v", err)
	}
}

func TestExecuteFailureStopsNewWork(t *testing.T) {
	rt := newFake()
	rt.errs["create x"] = errors.New("image not known")
	rt.delays["create slow"] = 100 * time.Millisecond
	p := mkPlan(
		spec{kind: StepCreateContainer, target: "x", service: "x"},
		spec{kind: StepCreateContainer, target: "slow", service: "slow"},
		spec{kind: StepStartContainer, target: "x", service: "x", deps: []int{1}},
		spec{kind: StepStartContainer, target: "slow", service: "slow", deps: []int{2}},
		spec{kind: StepCreateContainer, target: "later", service: "later", deps: []int{2}},
	)
	err, r := exec(t, p, rt, ExecOptions{Parallel: 2})
	if err == nil || !strings.Contains(err.Error(), "CreateContainer x (service x): image not known") {
		t.Fatalf("err = %v", err)
	}
	if _, ok := rt.find("create", "slow"); !ok {
		t.Error("the running step was not allowed to finish")
	}
	for _, op := range []string{"start x", "start slow", "create later"} {
		for _, got := range rt.ops() {
			if got == op {
				t.Errorf("%s ran after the failure", op)
			}
		}
	}
	var failed bool
	for _, e := range r.events {
		failed = failed || (e.Status == StatusFailed && e.Resource == "x")
	}
	if !failed {
		t.Error("no failure event")
	}
}

func TestExecuteOptionalFailureIsAWarning(t *testing.T) {
	rt := newFake()
	rt.exit["cache"] = 1
	p := mkPlan(
		spec{kind: StepWait, target: "cache", service: "cache", cond: stack.ConditionCompleted, opt: true},
		spec{kind: StepStartContainer, target: "app", service: "app", deps: []int{1}},
	)
	err, r := exec(t, p, rt, ExecOptions{})
	if err != nil {
		t.Fatalf("optional dependency failed the run: %v", err)
	}
	if _, ok := rt.find("start", "app"); !ok {
		t.Error("app did not start")
	}
	var warned bool
	for _, e := range r.events {
		warned = warned || e.Status == StatusWarning
	}
	if !warned {
		t.Error("no warning event")
	}
}

func TestExecuteCancel(t *testing.T) {
	rt := newFake()
	rt.delays["start a"] = 5 * time.Second
	p := mkPlan(spec{kind: StepStartContainer, target: "a"}, spec{kind: StepStartContainer, target: "b", deps: []int{1}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Execute(ctx, p, rt, nil, ExecOptions{})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("err %v after %s", err, time.Since(start))
	}
	if _, ok := rt.find("start", "b"); ok {
		t.Error("b started after cancel")
	}
}
