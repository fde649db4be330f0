package planner

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// levelStack: web -> api1 (2 replicas) -> db1; api2 -> db1, db2; solo alone.
// Stopping it takes three levels: {web, api2, solo}, {api1 x2, db2}, {db1}.
const levelStack = `name: lv
services:
  db1: {image: busybox}
  db2: {image: busybox}
  api1: {image: busybox, depends_on: [db1], deploy: {replicas: 2}}
  api2: {image: busybox, depends_on: [db1, db2]}
  web: {image: busybox, depends_on: [api1]}
  solo: {image: busybox}
`

var stopLevels = map[string]int{
	"lv-web-1": 0, "lv-api2-1": 0, "lv-solo-1": 0,
	"lv-api1-1": 1, "lv-api1-2": 1, "lv-db2-1": 1,
	"lv-db1-1": 2,
}

// levelRuntime lets each stop finish only once every other stop of its
// level has begun: stops of one level that ran one after another would
// never all begin, and the first would fail after the patience below.
type levelRuntime struct {
	*fakeRuntime
	level    map[string]int
	mu       sync.Mutex
	begun    map[int]int
	released map[int]chan struct{}
	size     map[int]int
}

func newLevelRuntime(level map[string]int) *levelRuntime {
	r := &levelRuntime{fakeRuntime: newFake(), level: level, begun: map[int]int{}, released: map[int]chan struct{}{}, size: map[int]int{}}
	for _, l := range level {
		r.size[l]++
		if r.released[l] == nil {
			r.released[l] = make(chan struct{})
		}
	}
	return r
}

func (r *levelRuntime) StopContainer(ctx context.Context, name string, timeout time.Duration) error {
	l, ok := r.level[name]
	if !ok {
		return fmt.Errorf("stop of unexpected container %s", name)
	}
	r.mu.Lock()
	r.begun[l]++
	if r.begun[l] == r.size[l] {
		close(r.released[l])
	}
	r.mu.Unlock()
	select {
	case <-r.released[l]:
	case <-time.After(5 * time.Second):
		r.mu.Lock()
		defer r.mu.Unlock()
		return fmt.Errorf("stop %s: only %d of the %d stops of level %d began together", name, r.begun[l], r.size[l], l)
	}
	return r.fakeRuntime.StopContainer(ctx, name, timeout)
}

// TestDownStopsOneLevelAtATime: services that do not depend on each other
// stop together, so a stack whose containers ignore SIGTERM stops in one
// grace period per dependency level, not one per container.
func TestDownStopsOneLevelAtATime(t *testing.T) {
	s := load(t, writeCompose(t, levelStack))
	o := applied(reconcile(t, s, nil, Options{}))
	for _, stopOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("stop-only=%v", stopOnly), func(t *testing.T) {
			p, err := PlanDown("lv", s, o, DownOptions{StopOnly: stopOnly})
			if err != nil {
				t.Fatal(err)
			}
			// The plan: the longest run of stops one after another is the
			// number of levels.
			if got := longestStopChain(p); got != 3 {
				t.Errorf("longest chain of stops = %d, want 3 (the levels):\n%s", got, p)
			}
			rt := newLevelRuntime(stopLevels)
			clock := newClock()
			if err := Execute(context.Background(), p, rt, nil, ExecOptions{Now: clock.Now, Sleep: clock.Sleep}); err != nil {
				t.Fatal(err)
			}
			// No container begins to stop before those that depend on it
			// have stopped.
			service := map[string]string{}
			for _, st := range p.Steps {
				if st.Kind == StepStopContainer {
					service[st.Target] = st.Service
				}
			}
			for name := range stopLevels {
				c, ok := rt.find("stop", name)
				if !ok {
					t.Errorf("%s was not stopped", name)
					continue
				}
				for other := range stopLevels {
					if _, dep := s.Services[service[other]].DependsOn[service[name]]; !dep {
						continue
					}
					if oc, _ := rt.find("stop", other); c.start.Before(oc.end) {
						t.Errorf("%s began to stop before %s, which depends on it, had stopped", name, other)
					}
				}
			}
		})
	}
}

// longestStopChain is the most StopContainer steps any path through the
// plan's DAG passes.
func longestStopChain(p *Plan) int {
	byID := map[int]*Step{}
	for _, st := range p.Steps {
		byID[st.ID] = st
	}
	memo := map[int]int{}
	var depth func(st *Step) int
	depth = func(st *Step) int {
		if d, ok := memo[st.ID]; ok {
			return d
		}
		best := 0
		for _, d := range st.Deps {
			best = max(best, depth(byID[d]))
		}
		if st.Kind == StepStopContainer {
			best++
		}
		memo[st.ID] = best
		return best
	}
	most := 0
	for _, st := range p.Steps {
		most = max(most, depth(st))
	}
	return most
}

// TestStopCatchesARestartBetweenRuns: a container its restart policy is
// about to start again is stopped too, though it shows exited at the moment
// it is observed: leaving it alone let the policy bring it back after
// `stop` (or an aborted attached `up`) had reported every service stopped.
// One that will stay down (no policy, or on-failure after a clean exit) is
// left alone, and one Podman is stopping is stopped.
func TestStopCatchesARestartBetweenRuns(t *testing.T) {
	s := load(t, writeCompose(t, `name: rs
services:
  flappy: {image: busybox, restart: always}
  keeper: {image: busybox, restart: unless-stopped}
  failing: {image: busybox, restart: "on-failure:3"}
  done: {image: busybox, restart: on-failure}
  plain: {image: busybox}
  going: {image: busybox}
`))
	o := applied(reconcile(t, s, nil, Options{}))
	state := map[string]struct {
		state string
		code  int
	}{
		"rs-flappy-1": {"exited", 3}, "rs-keeper-1": {"stopped", 0}, "rs-failing-1": {"exited", 1},
		"rs-done-1": {"exited", 0}, "rs-plain-1": {"exited", 3}, "rs-going-1": {"stopping", 0},
	}
	for i, c := range o.Containers {
		o.Containers[i].State, o.Containers[i].ExitCode = state[c.Name].state, state[c.Name].code
	}
	p, err := PlanDown("rs", s, o, DownOptions{StopOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range p.Steps {
		if st.Kind == StepStopContainer {
			got = append(got, st.Target)
		}
	}
	slices.Sort(got)
	if want := []string{"rs-failing-1", "rs-flappy-1", "rs-going-1", "rs-keeper-1"}; !slices.Equal(got, want) {
		t.Errorf("stopped %v, want %v", got, want)
	}
}
