package planner

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/podstack/podstack/stack"
)

// DefaultStopTimeout is the grace period before a stop turns into a kill,
// as in docker compose.
const DefaultStopTimeout = 10 * time.Second

// builder accumulates steps; IDs follow insertion order, and every step is
// added after the steps it depends on, so ID order is a topological order.
type builder struct {
	plan *Plan
	// steps and ids are handed out to the steps added, a chunk allocated
	// at a time rather than one allocation per step and per Deps.
	steps []Step
	ids   []int
}

// add adds a copy of st with the next ID and the IDs of deps (nil ones are
// left out) as its dependencies, sorted and without repeats, and returns
// the copy.
func (b *builder) add(st *Step, deps ...*Step) *Step {
	if len(b.steps) == 0 {
		// As many as plan.Steps has room for, when it was sized for
		// what is to come, else a growing number.
		n := cap(b.plan.Steps) - len(b.plan.Steps)
		if n < 16 {
			n = len(b.plan.Steps) + 16
		}
		b.steps = make([]Step, min(n, 512))
	}
	out := &b.steps[0]
	b.steps = b.steps[1:]
	*out = *st
	out.ID = len(b.plan.Steps) + 1
	n := 0
	for _, d := range deps {
		if d != nil {
			n++
		}
	}
	if n > 0 {
		if len(b.ids) < n {
			b.ids = make([]int, max(n, 1024))
		}
		ids := b.ids[:0:n]
		for _, d := range deps {
			if d != nil {
				ids = append(ids, d.ID)
			}
		}
		slices.Sort(ids)
		out.Deps = slices.Compact(ids)
		b.ids = b.ids[n:]
	}
	b.plan.Steps = append(b.plan.Steps, out)
	return out
}

// decision is what Reconcile does with one desired container.
type decision struct {
	c        *Container
	existing *ObservedContainer
	create   bool // (re)create
	start    bool
	cause    string
}

func normalizePull(p string) string {
	switch p {
	case "if_not_present", "missing", "":
		return "missing"
	case "always", "never", "build":
		return p
	}
	if strings.HasPrefix(p, "daily") || strings.HasPrefix(p, "weekly") || strings.HasPrefix(p, "every_") {
		return "missing"
	}
	return "missing"
}

func podCause(recreate bool) string {
	if recreate {
		return "pod configuration changed"
	}
	return "no existing pod"
}

// removeContainer adds stop (when running) and remove steps for ex.
// after are steps that must succeed first (the new image's pull or build:
// a replacement that cannot be made must not cost the running container).
func removeContainer(b *builder, ex ObservedContainer, timeout time.Duration, cause string, after ...*Step) []*Step {
	var steps []*Step
	var stop *Step
	if ex.State == "running" || ex.State == "paused" {
		stop = b.add(&Step{Kind: StepStopContainer, Target: ex.Name, Service: ex.Labels[LabelService], Pod: ex.Pod, StopTimeout: timeout, Cause: cause},
			after...)
		steps = append(steps, stop)
	}
	deps := append([]*Step{stop}, after...)
	steps = append(steps, b.add(&Step{Kind: StepRemoveContainer, Target: ex.Name, Service: ex.Labels[LabelService], Pod: ex.Pod, Cause: cause}, deps...))
	return steps
}

// StopTimeout is the grace period a stop of svc's containers gives them
// before it kills: override (-t) when set, else the service's
// stop_grace_period, else DefaultStopTimeout.
func StopTimeout(svc *stack.Service, override time.Duration) time.Duration {
	if override > 0 {
		return override
	}
	if svc != nil && svc.StopGracePeriod != nil {
		return *svc.StopGracePeriod
	}
	return DefaultStopTimeout
}

// scaled returns s with the replica counts of scale, leaving s as it was.
func scaled(s *stack.Stack, scale map[string]int) (*stack.Stack, error) {
	if len(scale) == 0 {
		return s, nil
	}
	out := *s
	out.Services = maps.Clone(s.Services)
	var problems stack.Problems
	for _, name := range sortedKeys(scale) {
		svc, ok := s.Services[name]
		switch {
		case !ok:
			p := noSuchService(s, name)
			p.Message = fmt.Sprintf("--scale %s: no such service in stack %q", name, s.Name)
			problems = append(problems, p)
		case scale[name] < 0:
			problems = append(problems, stack.Problem{Service: name, Message: fmt.Sprintf("--scale %s=%d: a replica count cannot be negative", name, scale[name])})
		default:
			c := *svc
			c.Replicas = scale[name]
			out.Services[name] = &c
		}
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return &out, nil
}

// oneOffServices selects what a one-off container of service needs running:
// its dependencies and theirs (none with noDeps), not the service itself.
func oneOffServices(s *stack.Stack, service string, noDeps bool) (map[string]bool, error) {
	svc, ok := s.Services[service]
	if !ok {
		return nil, stack.Problems{noSuchService(s, service)}
	}
	var deps []string
	for dep := range svc.DependsOn {
		if _, ok := s.Services[dep]; ok && !noDeps {
			deps = append(deps, dep)
		}
	}
	if len(deps) == 0 {
		return map[string]bool{}, nil
	}
	return selectServices(s, deps, false)
}

func noSuchService(s *stack.Stack, name string) stack.Problem {
	return stack.Problem{Message: fmt.Sprintf("no such service %q in stack %q", name, s.Name),
		Fix: "stack config --services lists them"}
}

// selectServices expands the requested services with their dependencies
// (unless noDeps); empty means every enabled service.
func selectServices(s *stack.Stack, names []string, noDeps bool) (map[string]bool, error) {
	if len(names) == 0 {
		out := make(map[string]bool, len(s.Services))
		for n := range s.Services {
			out[n] = true
		}
		return out, nil
	}
	out := map[string]bool{}
	var problems stack.Problems
	var add func(n string)
	add = func(n string) {
		if out[n] {
			return
		}
		out[n] = true
		if noDeps {
			return
		}
		for dep := range s.Services[n].DependsOn {
			if _, ok := s.Services[dep]; ok {
				add(dep)
			}
		}
	}
	for _, n := range names {
		if _, ok := s.Services[n]; !ok {
			problems = append(problems, noSuchService(s, n))
			continue
		}
		add(n)
	}
	return out, problems.Err()
}

// topoOrder lists the positions of the selected services so that
// dependencies come first, ties broken by name (deterministic).
func topoOrder(ix *index, selected []bool) []int {
	order := make([]int, 0, len(ix.names))
	done := make([]bool, len(ix.names))
	var visit func(n int)
	visit = func(n int) {
		if done[n] {
			return
		}
		done[n] = true
		for _, d := range ix.info[n].deps {
			if d.pos >= 0 && selected[d.pos] {
				visit(d.pos)
			}
		}
		order = append(order, n)
	}
	for n := range ix.names {
		if selected[n] {
			visit(n)
		}
	}
	return order
}
