package planner

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"

	"github.com/podstack/podstack/stack"
)

// Host is what the planner knows about the runtime's host: limits a stack
// can run into that Podman would only report half-way through an up, after
// other objects were made. The zero value has no limits.
type Host struct {
	// Mode names the runtime in messages, e.g. "rootless Podman 4.3.1".
	Mode string `json:"mode,omitempty"`
	// UnprivilegedPortStart is the lowest host port that can be published
	// (a rootless runtime's net.ipv4.ip_unprivileged_port_start); 0 means
	// any port can.
	UnprivilegedPortStart int `json:"unprivilegedPortStart,omitempty"`
	// NoLocalBuildContexts, when set, is what the runtime lacks to read a
	// build's local additional contexts (directories), e.g. "Podman 5.6
	// or later"; "" when it reads them.
	NoLocalBuildContexts string `json:"noLocalBuildContexts,omitempty"`
}

// localBuildContexts names svc's additional build contexts that are local
// directories, sorted.
func localBuildContexts(svc *stack.Service) []string {
	var out []string
	if svc.Build != nil {
		for name, v := range svc.Build.AdditionalContexts {
			if filepath.IsAbs(v) {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// HostInspector is a Backend that can describe its host. Up asks it only
// when the stack asks for something a host may refuse (a published port
// below 1024), so other runs cost nothing.
type HostInspector interface {
	// Host describes the runtime's host (see Host).
	Host(ctx context.Context) (Host, error)
}

// privilegedPorts reports whether any service publishes a host port below
// 1024, the lowest ip_unprivileged_port_start default.
func privilegedPorts(s *stack.Stack) bool {
	for _, svc := range s.Services {
		for _, pt := range svc.Ports {
			if pt.Published != 0 && pt.Published < 1024 {
				return true
			}
		}
	}
	return false
}

// anyLocalBuildContexts reports whether any service's build reads a local
// additional context.
func anyLocalBuildContexts(s *stack.Stack) bool {
	return slices.ContainsFunc(s.ServiceNames(), func(n string) bool { return len(localBuildContexts(s.Services[n])) > 0 })
}

// BuildHost describes b's host for PlanBuild (BuildOptions.Host) where the
// stack's builds need it (a local additional context, which a host may
// not read); the zero Host otherwise, at no cost.
func BuildHost(ctx context.Context, b Backend, s *stack.Stack) (Host, error) {
	hi, ok := b.(HostInspector)
	if !ok || !anyLocalBuildContexts(s) {
		return Host{}, nil
	}
	return hi.Host(ctx)
}

// observeHost fills observed.Host when the backend can describe its host
// and the stack needs it.
func observeHost(ctx context.Context, b Backend, s *stack.Stack, observed *ObservedState) error {
	hi, ok := b.(HostInspector)
	if !ok || !(privilegedPorts(s) || anyLocalBuildContexts(s)) {
		return nil
	}
	h, err := hi.Host(ctx)
	if err != nil {
		return err
	}
	observed.Host = h
	return nil
}

// unreadableContexts adds to v the local additional contexts of svc's
// build that h cannot read.
func unreadableContexts(v *validator, name string, svc *stack.Service, h Host) {
	if h.NoLocalBuildContexts == "" {
		return
	}
	for _, key := range localBuildContexts(svc) {
		v.add(name, fmt.Sprintf("build.additional_contexts %s is a local directory, which %s cannot read: "+
			"before Podman 5.6 a build's local contexts reach the service as paths on its own host", key, h.Mode),
			"use "+h.NoLocalBuildContexts+", or a docker-image:// or https:// context")
	}
}

// checkBuildHost reports, before any build runs, the local additional
// contexts of plan's builds that h cannot read.
func checkBuildHost(s *stack.Stack, plan *Plan, h Host) error {
	if h.NoLocalBuildContexts == "" {
		return nil
	}
	v := &validator{s: s}
	for _, st := range plan.Steps {
		if st.Kind == StepBuildImage && s.Services[st.Service] != nil {
			unreadableContexts(v, st.Service, s.Services[st.Service], h)
		}
	}
	return v.problems.Err()
}

// checkHost reports what the selected services ask of the host that it
// refuses, all at once, before anything is created.
func checkHost(s *stack.Stack, ix *index, selected []bool, h Host) error {
	if h.UnprivilegedPortStart == 0 && h.NoLocalBuildContexts == "" {
		return nil
	}
	v := &validator{s: s}
	for i, name := range ix.names {
		if !selected[i] {
			continue
		}
		unreadableContexts(v, name, ix.svcs[i], h)
		if h.UnprivilegedPortStart == 0 {
			continue
		}
		for _, pt := range ix.svcs[i].Ports {
			if pt.Published == 0 || int(pt.Published) >= h.UnprivilegedPortStart {
				continue
			}
			v.add(name, fmt.Sprintf("publishes host port %d, which %s cannot bind: ports below %d are privileged",
				pt.Published, h.Mode, h.UnprivilegedPortStart),
				fmt.Sprintf("publish a port of %d or above (\"%d:%d\"), or let users bind lower ports: sysctl net.ipv4.ip_unprivileged_port_start=%d",
					h.UnprivilegedPortStart, 8000+int(pt.Published), pt.Target, pt.Published))
		}
	}
	return v.problems.Err()
}
