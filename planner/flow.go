package planner

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/podstack/podstack/stack"
)

// Backend is a Runtime that can also snapshot a project's state; podmanapi's
// Client is one. Up and Down need both halves.
type Backend interface {
	Runtime
	// Observe snapshots every object labelled with project, and reports which
	// of images exist locally.
	Observe(ctx context.Context, project string, images []string) (*ObservedState, error)
}

// ImageRef is the image a service runs: its image, or for a build-only
// service the name podstack builds it under.
func ImageRef(s *stack.Stack, svc *stack.Service) string {
	if svc.Image != "" {
		return svc.Image
	}
	return s.Name + "-" + svc.Name
}

// Images lists the distinct image references of the stack's services, sorted.
func Images(s *stack.Stack) []string {
	seen := map[string]bool{}
	var out []string
	for _, name := range s.ServiceNames() {
		ref := ImageRef(s, s.Services[name])
		if !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	sort.Strings(out)
	return out
}

// UpOptions are Up's options beyond planning and execution.
type UpOptions struct {
	// Rollback removes what this run created when it fails part-way.
	Rollback bool
	// DryRun plans but executes nothing.
	DryRun bool
}

// Up observes the project, plans the way to the desired stack and executes
// the plan. It returns the plan, also on failure, so callers can say what was
// attempted. On failure without Rollback the state stays consistent (every
// created object is labelled and a later up or down reconciles it); with
// Rollback the objects this run created are removed.
func Up(ctx context.Context, b Backend, s *stack.Stack, opts Options, up UpOptions, exec ExecOptions, events Events) (*Plan, error) {
	before, err := b.Observe(ctx, s.Name, Images(s))
	if err != nil {
		return nil, fmt.Errorf("observe project %s: %w", s.Name, err)
	}
	if err := observeHost(ctx, b, s, before); err != nil {
		return nil, err
	}
	plan, err := Reconcile(s, before, opts)
	if err != nil {
		return nil, err
	}
	if up.DryRun {
		return plan, nil
	}
	err = Execute(ctx, plan, b, events, exec)
	if err == nil || !up.Rollback {
		return plan, err
	}
	// Roll back with a fresh context: the run's may be what was cancelled.
	rbErr := rollback(context.WithoutCancel(ctx), b, s, before, exec, events)
	if rbErr != nil {
		return plan, errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
	}
	return plan, fmt.Errorf("%w (rolled back: removed what this run created)", err)
}

// rollback removes the project's objects that exist now but did not before.
func rollback(ctx context.Context, b Backend, s *stack.Stack, before *ObservedState, exec ExecOptions, events Events) error {
	after, err := b.Observe(ctx, s.Name, nil)
	if err != nil {
		return err
	}
	created := newObjects(before, after)
	plan, err := PlanDown(s.Name, s, created, DownOptions{Volumes: true, RemoveOrphans: true})
	if err != nil {
		return err
	}
	exec.WaitTimeout = 0
	return Execute(ctx, plan, b, events, exec)
}

// newObjects is the part of after that before did not have (by name).
func newObjects(before, after *ObservedState) *ObservedState {
	had := map[string]bool{}
	for _, p := range before.Pods {
		had["pod/"+p.Name] = true
	}
	for _, c := range before.Containers {
		had["container/"+c.Name] = true
	}
	for _, v := range before.Volumes {
		had["volume/"+v.Name] = true
	}
	for _, n := range before.Networks {
		had["network/"+n.Name] = true
	}
	out := &ObservedState{}
	for _, p := range after.Pods {
		if !had["pod/"+p.Name] {
			out.Pods = append(out.Pods, p)
		}
	}
	for _, c := range after.Containers {
		if !had["container/"+c.Name] {
			out.Containers = append(out.Containers, c)
		}
	}
	for _, v := range after.Volumes {
		if !had["volume/"+v.Name] {
			out.Volumes = append(out.Volumes, v)
		}
	}
	for _, n := range after.Networks {
		if !had["network/"+n.Name] {
			out.Networks = append(out.Networks, n)
		}
	}
	return out
}

// Down observes the project and tears it down. s may be nil when only the
// project name is known.
func Down(ctx context.Context, b Backend, project string, s *stack.Stack, opts DownOptions, exec ExecOptions, events Events) (*Plan, error) {
	observed, err := b.Observe(ctx, project, nil)
	if err != nil {
		return nil, fmt.Errorf("observe project %s: %w", project, err)
	}
	plan, err := PlanDown(project, s, observed, opts)
	if err != nil {
		return nil, err
	}
	return plan, Execute(ctx, plan, b, events, exec)
}
