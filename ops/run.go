package ops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// ExecRequest is a command to run in a service's running container.
type ExecRequest struct {
	Service string
	// Index is the replica (1 for the first).
	Index int
	ExecOptions
}

// Exec runs a command in a running replica of a service and returns its
// exit code.
func (p *Project) Exec(ctx context.Context, r ExecRequest) (int, error) {
	if err := p.CheckServices([]string{r.Service}); err != nil {
		return -1, err
	}
	running, err := p.Containers(ctx, []string{r.Service}, "running")
	if err != nil {
		return -1, err
	}
	target, err := replica(running, r.Service, r.Index)
	if err != nil {
		return -1, err
	}
	return p.Engine.Exec(ctx, target, r.ExecOptions)
}

// replica picks a service's replica by its number (0 means 1) among
// containers, by the number label stack gives every replica.
func replica(containers []planner.ObservedContainer, service string, index int) (string, error) {
	if index == 0 {
		index = 1
	}
	var numbers []string
	for _, c := range containers {
		n := c.Labels[planner.LabelNumber]
		if n == strconv.Itoa(index) {
			return c.Name, nil
		}
		numbers = append(numbers, n)
	}
	return "", fmt.Errorf("service %q has no running replica %d (running: %s; --index picks one)", service, index, strings.Join(numbers, ", "))
}

// RunRequest is a one-off container of a service (`stack run`).
type RunRequest struct {
	Service string
	// Name names the container; "" is <project>-<service>-run-<random>.
	Name string
	// Cmd replaces the service's command when set; Env adds to its
	// environment.
	Cmd []string
	Env map[string]string
	// Entrypoint replaces the service's entrypoint when not nil (empty
	// clears it); User and WorkDir replace the service's when set; Labels
	// add to its labels.
	Entrypoint    []string
	User, WorkDir string
	Labels        map[string]string
	// Mounts add to the service's mounts, replacing one at the same
	// target (`run -v`).
	Mounts []stack.Mount
	// Publish publishes these ports instead of none (`run -p`);
	// ServicePorts publishes the service's own (`--service-ports`).
	Publish      []stack.Port
	ServicePorts bool
	// UseAliases makes the one-off answer to the service's name and
	// aliases on its networks.
	UseAliases bool
	// NoDeps starts none of the service's dependencies.
	NoDeps bool
	// Exec tunes the plan that prepares the run (its wait timeout).
	Exec planner.ExecOptions
	RunIO
}

// RunResult is how a one-off went: its container's name, and its exit
// code (0 when detached).
type RunResult struct {
	Container string
	ExitCode  int
}

// Run runs a one-off container of a service and returns its exit code. As
// docker compose run, it first creates what the container needs (image,
// networks, volumes, secrets) and starts the service's dependencies,
// health-gated, holding the project's lock; the one-off itself, which may
// run for long, holds none. The run's overrides of the container (-v, -u,
// -w, --entrypoint, -l) are applied to the service's definition before the
// plan, as compose does, so the plan creates the volumes they name too.
func (p *Project) Run(ctx context.Context, r RunRequest) (RunResult, error) {
	if err := p.needStack("run"); err != nil {
		return RunResult{ExitCode: -1}, err
	}
	if err := p.CheckServices([]string{r.Service}); err != nil {
		return RunResult{ExitCode: -1}, err
	}
	s := r.apply(p.Stack)
	release, err := p.lock(ctx, "run")
	if err != nil {
		return RunResult{ExitCode: -1}, err
	}
	plan, err := planner.Up(ctx, p.Engine, s, planner.Options{Policy: p.Policy, OneOff: r.Service, NoDeps: r.NoDeps},
		planner.UpOptions{}, r.Exec, p.events())
	release()
	if err != nil {
		return RunResult{ExitCode: -1}, err
	}
	name := r.Name
	if name == "" {
		b := make([]byte, 3)
		rand.Read(b)
		name = planner.Name(p.Name, r.Service+"-run-"+hex.EncodeToString(b))
	}
	ct, pod := plan.OneOff(planner.OneOffRequest{Service: r.Service, Name: name, Cmd: r.Cmd, Env: r.Env,
		TTY: r.TTY, Interactive: r.Interactive && !r.Detach,
		ServicePorts: r.ServicePorts, Ports: r.Publish, UseAliases: r.UseAliases})
	code, err := p.Engine.RunContainer(ctx, ct, pod, s, r.RunIO)
	return RunResult{Container: name, ExitCode: code}, err
}

// apply returns s with the run's overrides of the service's definition,
// leaving s as it was.
func (r RunRequest) apply(s *stack.Stack) *stack.Stack {
	svc := *s.Services[r.Service]
	if r.Entrypoint != nil {
		svc.Entrypoint = r.Entrypoint
	}
	if r.User != "" {
		svc.User = r.User
	}
	if r.WorkDir != "" {
		svc.WorkingDir = r.WorkDir
	}
	if len(r.Labels) > 0 {
		svc.Labels = maps.Clone(svc.Labels)
		if svc.Labels == nil {
			svc.Labels = map[string]string{}
		}
		maps.Copy(svc.Labels, r.Labels)
	}
	if len(r.Mounts) > 0 {
		var mounts []stack.Mount
		for _, m := range svc.Mounts {
			if !slices.ContainsFunc(r.Mounts, func(o stack.Mount) bool { return o.Target == m.Target }) {
				mounts = append(mounts, m)
			}
		}
		svc.Mounts = append(mounts, r.Mounts...)
	}
	out := *s
	out.Services = maps.Clone(s.Services)
	out.Services[r.Service] = &svc
	return &out
}
