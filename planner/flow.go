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
	// Observe snapshots every object labelled with project, and what look
	// names (nil: nothing more): which images exist locally, and volumes,
	// networks and secrets of those names, labelled or not.
	Observe(ctx context.Context, project string, look *Lookup) (*ObservedState, error)
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

// LookupFor names what observing for s needs beyond the project's labelled
// objects: its images, and the volumes, networks and secrets it would
// create, so that ones of the same name it did not create are seen.
func LookupFor(s *stack.Stack) *Lookup {
	l := &Lookup{Images: Images(s), Containers: []string{}}
	seen := map[string]bool{}
	for _, name := range s.ServiceNames() {
		for i := 1; i <= s.Services[name].Replicas; i++ {
			l.Containers = append(l.Containers, ContainerName(s, s.Services[name], i))
		}
		if svc := s.Services[name]; svc.Build != nil && !seen[ImageRef(s, svc)] {
			seen[ImageRef(s, svc)] = true
			l.Builds = append(l.Builds, ImageRef(s, svc))
		}
	}
	sort.Strings(l.Builds)
	for _, key := range sortedKeys(s.Volumes) {
		l.Volumes = append(l.Volumes, s.Volumes[key].Name)
	}
	for _, key := range sortedKeys(s.Networks) {
		l.Networks = append(l.Networks, s.Networks[key].Name)
	}
	for _, key := range sortedKeys(s.Secrets) {
		l.Secrets = append(l.Secrets, SecretName(s, "secret", key))
	}
	for _, key := range sortedKeys(s.Configs) {
		if s.Configs[key].File == "" {
			l.Secrets = append(l.Secrets, SecretName(s, "config", key))
		}
	}
	seen = map[string]bool{}
	for _, name := range s.ServiceNames() {
		for _, m := range s.Services[name].Mounts {
			if m.Type == stack.MountBind && m.Source != "" && !seen[m.Source] {
				seen[m.Source] = true
				l.Directories = append(l.Directories, m.Source)
			}
		}
	}
	sort.Strings(l.Directories)
	return l
}

// UpOptions are Up's options beyond planning and execution.
type UpOptions struct {
	// Rollback removes what this run created when it fails part-way.
	Rollback bool
	// DryRun plans but executes nothing.
	DryRun bool
	// Planned, when set, sees the plan before anything runs (to show its
	// warnings while they can still change the user's mind).
	Planned func(*Plan)
}

// Up observes the project, plans the way to the desired stack and executes
// the plan. It returns the plan, also on failure, so callers can say what was
// attempted. On failure without Rollback the state stays consistent (every
// created object is labelled and a later up or down reconciles it); with
// Rollback the objects this run created are removed.
func Up(ctx context.Context, b Backend, s *stack.Stack, opts Options, up UpOptions, exec ExecOptions, events Events) (*Plan, error) {
	look := LookupFor(s)
	if !up.Rollback && !opts.RemoveOrphans {
		// Working the pods out from the containers misses pods that hold
		// none (PodExpectation.FromContainers): --remove-orphans removes
		// those, and a rollback tells what the run made by what it sees
		// before and after. Both list the pods.
		look.Pods = ExpectPods(s, opts.Policy)
	}
	before, err := b.Observe(ctx, s.Name, look)
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
	if up.Planned != nil {
		up.Planned(plan)
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
	for _, sec := range before.Secrets {
		had["secret/"+sec.Name] = true
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
	for _, sec := range after.Secrets {
		if !had["secret/"+sec.Name] {
			out.Secrets = append(out.Secrets, sec)
		}
	}
	return out
}

// Down observes the project and tears it down. s may be nil when only the
// project name is known.
func Down(ctx context.Context, b Backend, project string, s *stack.Stack, opts DownOptions, exec ExecOptions, events Events) (*Plan, error) {
	var look *Lookup
	if opts.RemoveImages != "" && s != nil {
		look = &Lookup{Images: Images(s)} // which of them --rmi finds
	}
	observed, err := b.Observe(ctx, project, look)
	if err != nil {
		return nil, fmt.Errorf("observe project %s: %w", project, err)
	}
	plan, err := PlanDown(project, s, observed, opts)
	if err != nil {
		return nil, err
	}
	return plan, Execute(ctx, plan, b, events, exec)
}
