package ops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/podstack/podstack/planner"
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
	// Cmd replaces the service's command when set; Env adds to its
	// environment.
	Cmd []string
	Env map[string]string
	// NoDeps starts none of the service's dependencies.
	NoDeps bool
	// Exec tunes the plan that prepares the run (its wait timeout).
	Exec planner.ExecOptions
	RunIO
}

// Run runs a one-off container of a service and returns its exit code. As
// docker compose run, it first creates what the container needs (image,
// networks, volumes, secrets) and starts the service's dependencies,
// health-gated, holding the project's lock; the one-off itself, which may
// run for long, holds none.
func (p *Project) Run(ctx context.Context, r RunRequest) (int, error) {
	if err := p.needStack("run"); err != nil {
		return -1, err
	}
	if err := p.CheckServices([]string{r.Service}); err != nil {
		return -1, err
	}
	release, err := p.lock(ctx, "run")
	if err != nil {
		return -1, err
	}
	plan, err := planner.Up(ctx, p.Engine, p.Stack, planner.Options{Policy: p.Policy, OneOff: r.Service, NoDeps: r.NoDeps},
		planner.UpOptions{}, r.Exec, p.events())
	release()
	if err != nil {
		return -1, err
	}
	b := make([]byte, 3)
	rand.Read(b)
	ct, pod := plan.OneOff(planner.OneOffRequest{Service: r.Service, Name: planner.Name(p.Name, r.Service+"-run-"+hex.EncodeToString(b)),
		Cmd: r.Cmd, Env: r.Env, TTY: r.TTY, Interactive: r.Interactive})
	return p.Engine.RunContainer(ctx, ct, pod, p.Stack, r.RunIO)
}
