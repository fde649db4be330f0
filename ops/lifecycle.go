package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/podstack/podstack/planner"
)

// UpOptions tune Up.
type UpOptions struct {
	// Plan shapes the plan (services, recreation, pulls, --wait, ...).
	Plan planner.Options
	// Exec tunes how it runs (parallelism, wait timeout).
	Exec planner.ExecOptions
	// Rollback removes what this run created when it fails part-way.
	Rollback bool
	// DryRun plans and changes nothing (and takes no lock).
	DryRun bool
}

// Up observes the project, plans the way to its stack and carries the plan
// out, holding the project's lock. It returns the plan, also on failure,
// so the caller can say what was attempted.
func (p *Project) Up(ctx context.Context, o UpOptions) (*planner.Plan, error) {
	if err := p.needStack("up"); err != nil {
		return nil, err
	}
	s := p.Stack
	o.Plan.Policy = p.policy(o.Plan.Policy)
	if err := p.resolveBuilds(o.Plan); err != nil {
		return nil, err
	}
	if o.DryRun {
		return planner.Up(ctx, p.Engine, s, o.Plan, planner.UpOptions{DryRun: true, Planned: p.warnPlan}, o.Exec, planner.NoEvents)
	}
	release, err := p.lock(ctx, "up")
	if err != nil {
		return nil, err
	}
	defer release()
	plan, err := planner.Up(ctx, p.Engine, s, o.Plan, planner.UpOptions{Rollback: o.Rollback, Planned: p.warnPlan}, o.Exec, p.events())
	if err != nil && !o.Rollback && plan != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w\nWhat was created is still there and labelled with project %q: run 'stack up' again after fixing the cause, or 'stack down' to remove it (or use --rollback)", err, s.Name)
	}
	return plan, err
}

// warnPlan says the plan's warnings (an environment switch, orphans, a
// foreign volume) before it runs.
func (p *Project) warnPlan(plan *planner.Plan) {
	for _, w := range plan.Warnings {
		p.say("WARN %s", w)
	}
}

// policy is the grouping to plan with: the one asked for, else the
// project's.
func (p *Project) policy(asked planner.Policy) planner.Policy {
	if asked != "" {
		return asked
	}
	return p.Policy
}

// Plan is the plan Up would carry out, against what runs now or, offline,
// against an empty engine (then Engine may be nil).
func (p *Project) Plan(ctx context.Context, opts planner.Options, offline bool) (*planner.Plan, error) {
	if err := p.needStack("plan"); err != nil {
		return nil, err
	}
	opts.Policy = p.policy(opts.Policy)
	if err := p.resolveBuilds(opts); err != nil {
		return nil, err
	}
	observed := &planner.ObservedState{}
	if !offline {
		var err error
		if observed, err = p.Engine.Observe(ctx, p.Name, planner.LookupFor(p.Stack)); err != nil {
			return nil, err
		}
	}
	return planner.Reconcile(p.Stack, observed, opts)
}

// Down stops the project's containers in reverse dependency order and
// removes them, their pods, the project's networks and secrets (and with
// Volumes its volumes), holding the project's lock.
func (p *Project) Down(ctx context.Context, opts planner.DownOptions, exec planner.ExecOptions) (*planner.Plan, error) {
	release, err := p.lock(ctx, "down")
	if err != nil {
		return nil, err
	}
	defer release()
	return planner.Down(ctx, p.Engine, p.Name, p.Stack, opts, exec, p.events())
}

// Start starts the services' existing containers in dependency order,
// health-gated, holding the project's lock. It creates nothing: a missing
// container is an error that says to run up.
func (p *Project) Start(ctx context.Context, services []string, exec planner.ExecOptions) error {
	if err := p.needStack("start"); err != nil {
		return err
	}
	release, err := p.lock(ctx, "start")
	if err != nil {
		return err
	}
	defer release()
	return p.start(ctx, services, exec)
}

func (p *Project) start(ctx context.Context, services []string, exec planner.ExecOptions) error {
	observed, err := p.Engine.Observe(ctx, p.Name, planner.LookupFor(p.Stack))
	if err != nil {
		return err
	}
	plan, err := planner.Reconcile(p.Stack, observed, planner.Options{Policy: p.Policy, Services: services, NoRecreate: true})
	if err != nil {
		return err
	}
	var missing []string
	for _, st := range plan.Steps {
		if st.Kind == planner.StepCreateContainer {
			missing = append(missing, st.Target)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no container %s yet: run 'stack up' to create it", strings.Join(missing, ", "))
	}
	return planner.Execute(ctx, plan, p.Engine, p.events(), exec)
}

// Stop stops the services' containers in reverse dependency order (all
// with no service named), holding the project's lock. A zero timeout
// leaves each service's stop_grace_period.
func (p *Project) Stop(ctx context.Context, opts planner.DownOptions) error {
	release, err := p.lock(ctx, "stop")
	if err != nil {
		return err
	}
	defer release()
	return p.stop(ctx, opts)
}

func (p *Project) stop(ctx context.Context, opts planner.DownOptions) error {
	opts.StopOnly = true
	_, err := planner.Down(ctx, p.Engine, p.Name, p.Stack, opts, planner.ExecOptions{}, p.events())
	return err
}

// Restart stops then starts the services, in dependency order, under one
// hold of the project's lock.
func (p *Project) Restart(ctx context.Context, opts planner.DownOptions, exec planner.ExecOptions) error {
	if err := p.needStack("restart"); err != nil {
		return err
	}
	release, err := p.lock(ctx, "restart")
	if err != nil {
		return err
	}
	defer release()
	if err := p.stop(ctx, opts); err != nil {
		return err
	}
	return p.start(ctx, opts.Services, exec)
}

// RmOptions tune Rm.
type RmOptions struct {
	// Services limits it to these services; empty means all.
	Services []string
	// Stop stops running containers first; without it they are left alone.
	Stop bool
	// Volumes removes the containers' anonymous volumes too.
	Volumes bool
}

// Rm removes the services' stopped containers (and pods left empty),
// holding the project's lock. It reports how many steps it ran: none when
// there was nothing to remove.
func (p *Project) Rm(ctx context.Context, o RmOptions) (int, error) {
	release, err := p.lock(ctx, "rm")
	if err != nil {
		return 0, err
	}
	defer release()
	observed, err := p.Engine.Observe(ctx, p.Name, nil)
	if err != nil {
		return 0, err
	}
	if !o.Stop {
		kept := observed.Containers[:0]
		for _, c := range observed.Containers {
			if c.State != "running" && c.State != "paused" {
				kept = append(kept, c)
			}
		}
		observed.Containers = kept
	}
	services := o.Services
	if len(services) == 0 && p.Stack != nil {
		services = p.Stack.ServiceNames()
	}
	plan, err := planner.PlanDown(p.Name, p.Stack, observed, planner.DownOptions{Services: services, Volumes: o.Volumes})
	if err != nil {
		return 0, err
	}
	if len(plan.Steps) == 0 {
		return 0, nil
	}
	return len(plan.Steps), planner.Execute(ctx, plan, p.Engine, p.events(), planner.ExecOptions{})
}

// Signal verbs: what Each does to each container.
const (
	VerbKill    = "kill"
	VerbPause   = "pause"
	VerbUnpause = "unpause"
)

// eachStates are the states a verb applies to.
var eachStates = map[string][]string{VerbKill: {"running", "paused"}, VerbPause: {"running"}, VerbUnpause: {"paused"}}

var eachDone = map[string]string{VerbKill: "killed", VerbPause: "paused", VerbUnpause: "unpaused"}

// Each kills (with signal), pauses or unpauses the services' containers,
// one call per container, going on past failures and returning them all.
func (p *Project) Each(ctx context.Context, verb string, services []string, signal string) error {
	states, ok := eachStates[verb]
	if !ok {
		return fmt.Errorf("unknown verb %q", verb)
	}
	found, err := p.Containers(ctx, services, states...)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range Names(found) {
		var err error
		switch verb {
		case VerbKill:
			err = p.Engine.Kill(ctx, n, signal)
		case VerbPause:
			err = p.Engine.Pause(ctx, n)
		case VerbUnpause:
			err = p.Engine.Unpause(ctx, n)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.say("%s %s", n, eachDone[verb])
	}
	return errors.Join(errs...)
}

// Wait blocks until the services' containers exit and returns the first
// failure's exit code (0 when all succeed); with downProject it then takes
// the project down.
func (p *Project) Wait(ctx context.Context, services []string, downProject bool) (int, error) {
	found, err := p.Containers(ctx, services)
	if err != nil {
		return 0, err
	}
	type exit struct {
		name string
		code int
		err  error
	}
	exits := make(chan exit, len(found))
	for _, n := range Names(found) {
		go func() {
			code, err := p.Engine.WaitExit(ctx, n)
			exits <- exit{n, code, err}
		}()
	}
	first := 0
	for range found {
		e := <-exits
		if e.err != nil {
			return 0, e.err
		}
		p.say("%s exited with code %d", e.name, e.code)
		if e.code != 0 && first == 0 {
			first = e.code
		}
	}
	if downProject {
		if _, err := p.Down(context.WithoutCancel(ctx), planner.DownOptions{}, planner.ExecOptions{}); err != nil {
			return first, err
		}
	}
	return first, nil
}
