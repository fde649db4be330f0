package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// Project is one project on an engine: what every use case starts from.
type Project struct {
	// Name is the project's name. Stack is its stack, or nil when only the
	// name is known (`stack down -p NAME` without a stack file): the
	// project's objects are then found by their labels alone.
	Name  string
	Stack *stack.Stack
	// Engine runs everything.
	Engine Engine
	// Policy groups the services into pods; "" means the stack's
	// x-podstack.pods, else auto.
	Policy planner.Policy
	// Progress receives the progress of plan steps; nil discards it.
	Progress planner.Events
	// Status receives short human lines about what happens beside the
	// steps ("web-1 exited with code 0"); nil discards them.
	Status io.Writer
	// Lock takes the project's lock for a command that changes it (see
	// internal/lock); nil takes none. The release function undoes it.
	Lock func(ctx context.Context, command string) (release func(), err error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New is a Project for the stack s on e.
func New(s *stack.Stack, e Engine) *Project {
	return &Project{Name: s.Name, Stack: s, Engine: e}
}

// ErrNoStack is returned by the use cases that need the stack file (to go
// in dependency order) when the project was opened by name alone.
var ErrNoStack = errors.New("this needs the stack file")

func (p *Project) events() planner.Events {
	if p.Progress == nil {
		return planner.NoEvents
	}
	return p.Progress
}

func (p *Project) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// say writes a status line.
func (p *Project) say(format string, args ...any) {
	if p.Status != nil {
		fmt.Fprintf(p.Status, format+"\n", args...)
	}
}

// lock takes the project's lock for command.
func (p *Project) lock(ctx context.Context, command string) (func(), error) {
	if p.Lock == nil {
		return func() {}, nil
	}
	return p.Lock(ctx, command)
}

// needStack fails when the project has no stack file.
func (p *Project) needStack(what string) error {
	if p.Stack == nil {
		return fmt.Errorf("%s %w (to go in dependency order): run it beside the stack file or name it with -f", what, ErrNoStack)
	}
	return nil
}

// Short is a container's name without the project prefix: demo-web-1 is
// web-1.
func (p *Project) Short(name string) string {
	return strings.TrimPrefix(name, planner.Name(p.Name, ""))
}

// CheckServices fails, touching nothing, when a name is no service of the
// stack; with no stack file every name is taken as given.
func (p *Project) CheckServices(names []string) error {
	if p.Stack == nil {
		return nil
	}
	var problems stack.Problems
	for _, a := range names {
		if _, ok := p.Stack.Services[a]; !ok {
			problems = append(problems, stack.Problem{Message: fmt.Sprintf("no such service %q in stack %q", a, p.Name),
				Fix: "stack config --services lists them"})
		}
	}
	return problems.Err()
}

// PodServices resolves a pod (its key or Podman name) to its services:
// through the stack's grouping when there is a stack file, else through
// the labels of what runs.
func (p *Project) PodServices(ctx context.Context, pod string) ([]string, error) {
	if p.Stack != nil {
		pods, err := planner.Group(p.Stack, p.Policy)
		if err != nil {
			return nil, err
		}
		var keys []string
		for _, g := range pods {
			keys = append(keys, g.Key)
			if g.Key == pod || g.Name == pod {
				return g.Services, nil
			}
		}
		return nil, stack.Problems{{Message: fmt.Sprintf("no pod %q in stack %q", pod, p.Name), Fix: "pods: " + strings.Join(keys, ", ")}}
	}
	o, err := p.Engine.Observe(ctx, p.Name, nil)
	if err != nil {
		return nil, err
	}
	var services []string
	for _, ct := range o.Containers {
		svc := ct.Labels[planner.LabelService]
		if (ct.Labels[planner.LabelPod] == pod || ct.Pod == pod) && !slices.Contains(services, svc) {
			services = append(services, svc)
		}
	}
	if len(services) == 0 {
		return nil, stack.Problems{{Message: fmt.Sprintf("no pod %q in project %q", pod, p.Name)}}
	}
	return services, nil
}

// Containers returns the project's containers of services (all when none
// is named) in one of states (any when none), in name order, one-offs left
// out. None at all is an error that says so.
func (p *Project) Containers(ctx context.Context, services []string, states ...string) ([]planner.ObservedContainer, error) {
	o, err := p.Engine.Observe(ctx, p.Name, nil)
	if err != nil {
		return nil, err
	}
	found := match(o, services, states)
	if len(found) == 0 {
		what := "the project"
		if len(services) > 0 {
			what = strings.Join(services, ", ")
		}
		state := ""
		if len(states) > 0 {
			state = strings.Join(states, " or ") + " "
		}
		return nil, fmt.Errorf("no %scontainers for %s in project %q (is it up?)", state, what, p.Name)
	}
	return found, nil
}

// match filters observed containers by service and state, in name order;
// one-off containers are left out.
func match(o *planner.ObservedState, services, states []string) []planner.ObservedContainer {
	var out []planner.ObservedContainer
	for _, ct := range o.Containers {
		if ct.State == planner.StateStorage || ct.Labels[planner.LabelOneOff] == "true" {
			continue
		}
		if len(services) > 0 && !slices.Contains(services, ct.Labels[planner.LabelService]) {
			continue
		}
		if len(states) > 0 && !slices.Contains(states, ct.State) {
			continue
		}
		out = append(out, ct)
	}
	return out
}

// Names are the names of containers.
func Names(cs []planner.ObservedContainer) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}
