package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/internal/lock"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/podmanapi"
	"github.com/podstack/podstack/stack"
)

// withProject makes the RunE of a command that works on a project's
// objects: it opens the project for the service arguments (see open),
// runs fn and closes the connection.
func (g *globalOptions) withProject(fn func(ctx context.Context, p *ops.Project, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		p, args, closeFn, err := g.open(cmd, args)
		if err != nil {
			return err
		}
		defer closeFn()
		return fn(cmd.Context(), p, args)
	}
}

// open loads the stack once (or, with -p and no stack file, takes the
// project name alone), resolves --pod into services, checks the named
// services exist (touching nothing when one does not) and connects once.
// It returns the project, the services to act on and a function that
// closes the connection.
func (g *globalOptions) open(cmd *cobra.Command, args []string) (*ops.Project, []string, func(), error) {
	if g.pod != "" && len(args) > 0 {
		return nil, nil, nil, usagef("--pod and service names cannot be combined")
	}
	s, name, err := loadForTeardown(g, cmd, naming(args))
	if err != nil {
		return nil, nil, nil, err
	}
	p := &ops.Project{Name: name, Stack: s}
	if s != nil {
		p.Policy = g.policy(s)
		if g.pod != "" {
			if args, err = p.PodServices(cmd.Context(), g.pod); err != nil {
				return nil, nil, nil, err
			}
		}
		if err := p.CheckServices(args); err != nil {
			return nil, nil, nil, err
		}
	}
	c, err := g.connect(cmd.Context())
	if err != nil {
		return nil, nil, nil, err
	}
	g.attachEngine(p, c)
	if s == nil && g.pod != "" {
		if args, err = p.PodServices(cmd.Context(), g.pod); err != nil {
			c.Close()
			return nil, nil, nil, err
		}
	}
	return p, args, func() { c.Close() }, nil
}

// project is a Project for a loaded stack on connection c.
func (g *globalOptions) project(s *stack.Stack, c *podmanapi.Client) *ops.Project {
	p := &ops.Project{Name: s.Name, Stack: s, Policy: g.policy(s)}
	g.attachEngine(p, c)
	return p
}

// attachEngine gives p the connection, status output on stderr and the
// project lock. With --dry-run the connection is wrapped so nothing can
// change (ops.DryRun), every status line says DRY-RUN, and no lock is
// taken: the one mechanism behind --dry-run for every command.
func (g *globalOptions) attachEngine(p *ops.Project, c *podmanapi.Client) {
	if g.dryRun {
		p.Status = &prefixWriter{w: g.streams.err, prefix: "DRY-RUN "}
		p.Engine = ops.DryRun(c, func(s string) { fmt.Fprintln(p.Status, s) })
		return
	}
	p.Engine = c
	p.Status = g.streams.err
	p.Lock = func(ctx context.Context, command string) (func(), error) {
		l, err := lock.Acquire(ctx, g.lockOptions(c, p.Name, command))
		if err != nil {
			return nil, err
		}
		return settled(ctx, p, l, func() { l.Release() })
	}
}

// settled hands over a project lock just taken, with release to give it
// back: where the run before died holding it, what that run asked of
// Podman is settled first, and an error there gives the lock back.
func settled(ctx context.Context, p *ops.Project, l *lock.Lock, release func()) (func(), error) {
	if h := l.Interrupted(); h != nil {
		if err := p.SettleAfterInterrupted(ctx, h.String()); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// lockOptions are for the lock every command that changes project on
// c's service holds, so that two runs never interleave (they used to both
// fail half-way). A second run waits, saying for whom, unless
// --no-wait-lock or --lock-timeout says otherwise. The kernel drops the
// lock with its process.
func (g *globalOptions) lockOptions(c *podmanapi.Client, project, command string) lock.Options {
	return lock.Options{
		Service: lock.ServiceKey(c.URL()), Project: project, Command: command,
		NoWait: g.noWaitLock, Timeout: g.lockTimeout,
		OnWait: func(h lock.Holder) {
			fmt.Fprintf(g.streams.err, "Waiting for %s to finish with project %q...\n", h, project)
		},
	}
}

// withProgress runs fn with the progress renderer --progress asks for as
// p's Progress, and closes it after.
func (g *globalOptions) withProgress(p *ops.Project, fn func() error) error {
	r, err := g.renderer()
	if err != nil {
		return err
	}
	p.Progress = r
	err = fn()
	r.Close()
	return err
}

// loadForTeardown loads the stack when there is one; with -p and no stack
// file the project name alone is enough to find everything by label.
func loadForTeardown(g *globalOptions, cmd *cobra.Command, adjust ...func(*stack.LoadOptions)) (*stack.Stack, string, error) {
	s, err := g.load(cmd.Context(), adjust...)
	if err == nil {
		return s, s.Name, nil
	}
	if g.projectName != "" && len(g.files) == 0 && errors.Is(err, stack.ErrNoStackFile) {
		return nil, g.projectName, nil
	}
	return nil, "", fmt.Errorf("%w (with no stack file, name the project: stack down -p NAME)", err)
}

// prefixWriter starts every line written to it with prefix.
type prefixWriter struct {
	w       io.Writer
	prefix  string
	midLine bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, c := range b {
		if !p.midLine {
			out = append(out, p.prefix...)
		}
		out = append(out, c)
		p.midLine = c != '\n'
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
