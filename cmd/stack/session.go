package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/podmanapi"
	"github.com/podstack/podstack/stack"
)

// session is what the commands that act on a running stack start from: the
// stack (when there is a file), the project name, and a connection.
type session struct {
	s       *stack.Stack
	project string
	c       *podmanapi.Client
}

// session loads the stack once (or takes the project from -p alone),
// resolves --pod into services, checks that the named services exist
// (touching nothing when one does not) and connects once. It returns the
// services to act on.
// withSession makes the RunE of a command that works on the stack's objects:
// it opens a session for the service arguments, runs fn and closes it.
func (g *globalOptions) withSession(fn func(ctx context.Context, ss *session, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ss, args, err := g.session(cmd, args)
		if err != nil {
			return err
		}
		defer ss.c.Close()
		return fn(cmd.Context(), ss, args)
	}
}

// withLockedSession is withSession for a command that changes the stack:
// fn runs holding the project's lock (see lockProject).
func (g *globalOptions) withLockedSession(command string, fn func(ctx context.Context, ss *session, args []string) error) func(*cobra.Command, []string) error {
	return g.withSession(func(ctx context.Context, ss *session, args []string) error {
		l, err := g.lockProject(ctx, ss.c, ss.project, command)
		if err != nil {
			return err
		}
		defer l.Release()
		return fn(ctx, ss, args)
	})
}

func (g *globalOptions) session(cmd *cobra.Command, args []string) (*session, []string, error) {
	if g.pod != "" && len(args) > 0 {
		return nil, nil, usagef("--pod and service names cannot be combined")
	}
	s, project, err := loadForTeardown(g, cmd)
	if err != nil {
		return nil, nil, err
	}
	if s != nil {
		if g.pod != "" {
			if args, err = g.podServices(s); err != nil {
				return nil, nil, err
			}
		}
		if _, err := selected(s, args); err != nil {
			return nil, nil, err
		}
	}
	c, err := g.connect(cmd.Context())
	if err != nil {
		return nil, nil, err
	}
	ss := &session{s: s, project: project, c: c}
	if s == nil && g.pod != "" {
		if args, err = ss.podServicesFromLabels(cmd.Context(), g.pod); err != nil {
			c.Close()
			return nil, nil, err
		}
	}
	return ss, args, nil
}

// containers resolves services to the names of their containers in one of
// states (any state when none is given), failing when there is none.
func (ss *session) containers(ctx context.Context, services []string, states ...string) ([]string, error) {
	found, err := ss.observed(ctx, services, states...)
	return namesOf(found), err
}

// observed is containers with what Podman reports about each.
func (ss *session) observed(ctx context.Context, services []string, states ...string) ([]planner.ObservedContainer, error) {
	o, err := ss.c.Observe(ctx, ss.project, nil)
	if err != nil {
		return nil, err
	}
	found := matchContainers(o, services, states)
	if len(found) == 0 {
		what := "the project"
		if len(services) > 0 {
			what = strings.Join(services, ", ")
		}
		state := ""
		if len(states) > 0 {
			state = strings.Join(states, " or ") + " "
		}
		return nil, fmt.Errorf("no %scontainers for %s in project %q (is it up?)", state, what, ss.project)
	}
	return found, nil
}

// serviceContainers lists the names of the project's containers of the
// given services (all when empty) in one of states (any when none).
func serviceContainers(ctx context.Context, c *podmanapi.Client, project string, services []string, states ...string) ([]string, error) {
	o, err := c.Observe(ctx, project, nil)
	if err != nil {
		return nil, err
	}
	return namesOf(matchContainers(o, services, states)), nil
}

// matchContainers filters observed containers by service and state, in name
// order; one-off containers are left out.
func matchContainers(o *planner.ObservedState, services, states []string) []planner.ObservedContainer {
	var out []planner.ObservedContainer
	for _, ct := range o.Containers {
		if ct.Labels[planner.LabelOneOff] == "true" || (len(services) > 0 && !contains(services, ct.Labels[planner.LabelService])) {
			continue
		}
		if len(states) > 0 && !contains(states, ct.State) {
			continue
		}
		out = append(out, ct)
	}
	return out
}

func namesOf(cs []planner.ObservedContainer) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// podServices resolves --pod (a pod key or Podman name) through the
// stack's grouping.
func (g *globalOptions) podServices(s *stack.Stack) ([]string, error) {
	pods, err := planner.Group(s, g.policy(s))
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, p := range pods {
		keys = append(keys, p.Key)
		if p.Key == g.pod || p.Name == g.pod {
			return p.Services, nil
		}
	}
	return nil, stack.Problems{{Message: fmt.Sprintf("no pod %q in stack %q", g.pod, s.Name), Fix: "pods: " + strings.Join(keys, ", ")}}
}

// podServicesFromLabels resolves --pod from the labels of what runs, when
// there is no stack file.
func (ss *session) podServicesFromLabels(ctx context.Context, pod string) ([]string, error) {
	o, err := ss.c.Observe(ctx, ss.project, nil)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var services []string
	for _, ct := range o.Containers {
		svc := ct.Labels[planner.LabelService]
		if (ct.Labels[planner.LabelPod] == pod || ct.Pod == pod) && !seen[svc] {
			seen[svc] = true
			services = append(services, svc)
		}
	}
	if len(services) == 0 {
		return nil, stack.Problems{{Message: fmt.Sprintf("no pod %q in project %q", pod, ss.project)}}
	}
	return services, nil
}
