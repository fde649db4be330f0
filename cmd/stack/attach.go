package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/internal/display"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/podmanapi"
	"github.com/podstack/podstack/stack"
)

// logPrinter writes container log lines with a `service-1 | ` prefix,
// coloured per container when the output is a terminal.
type logPrinter struct {
	w       io.Writer
	width   int
	color   bool
	prefix  bool
	project string
	colors  map[string]string
}

var palette = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

func newLogPrinter(g *globalOptions, project string, names []string, noColor, noPrefix bool) *logPrinter {
	p := &logPrinter{w: g.streams.out, prefix: !noPrefix, project: project, colors: map[string]string{}}
	if f, ok := g.streams.out.(*os.File); ok && display.IsTerminal(f) && !noColor && g.getenv("NO_COLOR") == "" && g.getenv("TERM") != "dumb" {
		p.color = true
	}
	for i, n := range names {
		if l := len(p.short(n)); l > p.width {
			p.width = l
		}
		p.colors[n] = palette[i%len(palette)]
	}
	return p
}

// short drops the project prefix: demo-web-1 -> web-1.
func (p *logPrinter) short(name string) string {
	return strings.TrimPrefix(name, planner.Name(p.project, ""))
}

func (p *logPrinter) print(l ops.LogLine) {
	if !p.prefix {
		fmt.Fprintln(p.w, l.Text)
		return
	}
	prefix := fmt.Sprintf("%-*s |", p.width, p.short(l.Container))
	if p.color {
		prefix = "\x1b[" + p.colors[l.Container] + "m" + prefix + "\x1b[0m"
	}
	fmt.Fprintf(p.w, "%s %s\n", prefix, l.Text)
}

// abortFlags are docker compose's ways to end an attached up.
type abortFlags struct {
	onExit, onFailure bool
	exitCodeFrom      string
}

// check refuses abort flags that cannot apply: without attaching (-d,
// --dry-run, --no-start) nothing watches the containers, and
// --exit-code-from must name an attached service.
func (a abortFlags) check(s *stack.Stack, opts planner.Options, detached bool) error {
	if !a.onExit && !a.onFailure && a.exitCodeFrom == "" {
		return nil
	}
	if detached {
		return usagef("--abort-on-container-exit, --abort-on-container-failure and --exit-code-from need an attached up: drop -d, --dry-run or --no-start")
	}
	if a.exitCodeFrom == "" {
		return nil
	}
	if _, ok := s.Services[a.exitCodeFrom]; !ok {
		return usagef("--exit-code-from %s: no such service in stack %q (stack config --services lists them)", a.exitCodeFrom, s.Name)
	}
	if len(opts.Services) > 0 && !contains(opts.Services, a.exitCodeFrom) {
		return usagef("--exit-code-from %s: the service is not among those named (%s)", a.exitCodeFrom, strings.Join(opts.Services, ", "))
	}
	return nil
}

// containerExit is one attached container's end.
type containerExit struct {
	name, service string
	code          int
	restarted     bool // its restart policy brought it back
}

// attach follows the services' logs until Ctrl-C, then stops the stack in
// reverse dependency order; a second Ctrl-C kills it instead. With abort
// flags, a container's exit (or failure) stops the stack too, and up's exit
// code is that container's, or the --exit-code-from service's.
func attach(ctx context.Context, g *globalOptions, c *podmanapi.Client, s *stack.Stack, opts planner.Options, abort abortFlags) error {
	o, err := c.Observe(ctx, s.Name, nil)
	if err != nil {
		return err
	}
	attached := matchContainers(o, opts.Services, nil)
	names := namesOf(attached)
	fmt.Fprintf(g.streams.err, "Attaching to %s (Ctrl+C stops the stack)\n", strings.Join(names, ", "))
	p := newLogPrinter(g, s.Name, names, false, false)
	logCtx, stopLogs := context.WithCancel(ctx)
	defer stopLogs()
	logDone := make(chan error, 1)
	go func() { logDone <- c.StreamLogs(logCtx, names, ops.LogOptions{Follow: true, Tail: -1}, p.print) }()

	// Every attached container is watched: up returns once all have
	// exited. One-shot jobs that others await (service_completed_successfully)
	// are expected to exit and never trigger an abort.
	exits := make(chan containerExit, len(attached))
	jobs := completionAwaited(s)
	for _, ct := range attached {
		svc := ct.Labels[planner.LabelService]
		go func() {
			for {
				// A container its restart policy brings back has not ended,
				// and is watched again.
				code, restarted, err := c.WaitEnd(logCtx, ct.Name)
				if err != nil {
					exits <- containerExit{ct.Name, svc, -1, false}
					return
				}
				exits <- containerExit{ct.Name, svc, code, restarted}
				if !restarted {
					return
				}
			}
		}()
	}

	code, running := 0, len(attached)
	for running > 0 {
		select {
		case err := <-logDone:
			if ctx.Err() != nil {
				return stopAttached(g, c, s, opts, names, "")
			}
			if err != nil {
				return err
			}
			logDone = nil
		case e := <-exits:
			if ctx.Err() != nil { // Ctrl-C ended the watch
				return stopAttached(g, c, s, opts, names, "")
			}
			if e.restarted {
				fmt.Fprintf(g.streams.err, "%s exited with code %d and was restarted (restart policy)\n", p.short(e.name), e.code)
				continue
			}
			running--
			fmt.Fprintf(g.streams.err, "%s exited with code %d\n", p.short(e.name), e.code)
			if e.service == abort.exitCodeFrom {
				code = e.code
			}
			if jobs[e.service] && e.service != abort.exitCodeFrom {
				continue
			}
			if abort.onExit || abort.exitCodeFrom != "" || (abort.onFailure && e.code != 0) {
				if abort.exitCodeFrom == "" {
					code = e.code
				}
				if err := stopAttached(g, c, s, opts, names, "Aborting on container exit..."); err != nil {
					return err
				}
				stopLogs()
				return exitCode(finalCode(ctx, c, s, abort, code))
			}
		}
	}
	// All exited: let the last lines through, then stop following.
	if logDone != nil {
		select {
		case <-logDone:
		case <-time.After(2 * time.Second):
		}
	}
	return exitCode(finalCode(ctx, c, s, abort, code))
}

// finalCode is up's exit code once the attached containers are down: the
// --exit-code-from service's container's own, else code.
func finalCode(ctx context.Context, c *podmanapi.Client, s *stack.Stack, abort abortFlags, code int) int {
	if abort.exitCodeFrom == "" {
		return code
	}
	names, err := serviceContainers(ctx, c, s.Name, []string{abort.exitCodeFrom})
	if err != nil || len(names) == 0 {
		return code
	}
	if c, err := c.WaitExit(ctx, names[0]); err == nil {
		return c
	}
	return code
}

// completionAwaited lists the services another awaits with
// service_completed_successfully.
func completionAwaited(s *stack.Stack) map[string]bool {
	out := map[string]bool{}
	for _, svc := range s.Services {
		for dep, d := range svc.DependsOn {
			if d.Condition == stack.ConditionCompleted {
				out[dep] = true
			}
		}
	}
	return out
}

// stopAttached stops the attached services in reverse dependency order;
// Ctrl-C during the stop kills them instead. Without a reason it is the
// Ctrl-C path, which ends in exit code 130.
func stopAttached(g *globalOptions, c *podmanapi.Client, s *stack.Stack, opts planner.Options, names []string, reason string) error {
	if reason == "" {
		fmt.Fprintln(g.streams.err, "Gracefully stopping... (press Ctrl+C again to force)")
	} else {
		fmt.Fprintln(g.streams.err, reason)
	}
	stopCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-g.force:
			cancel()
		case <-stopCtx.Done():
		}
	}()
	// A second Ctrl-C cancels the wait for the lock too: a forced stop
	// kills without it.
	if l, err := g.lockProject(stopCtx, c, s.Name, "up"); err == nil {
		defer l.Release()
	}
	r, err := g.renderer()
	if err != nil {
		return err
	}
	_, err = planner.Down(stopCtx, c, s.Name, s, planner.DownOptions{Services: opts.Services, StopOnly: true}, planner.ExecOptions{}, r)
	r.Close()
	if stopCtx.Err() != nil {
		// Forced: kill the containers already known, at once. Nothing is
		// listed first: Podman 5 holds a pod listing while a member is in a
		// long stop, which is exactly when a user forces.
		err = c.KillAll(context.Background(), names)
	}
	if err != nil {
		return err
	}
	if reason == "" {
		return silentExit{exitInterrupted}
	}
	return nil
}

func newLogsCommand(g *globalOptions) *cobra.Command {
	var (
		follow, timestamps, noColor, noPrefix bool
		tail                                  int
		since, until                          string
	)
	cmd := &cobra.Command{
		Use:   "logs [SERVICE...]",
		Short: "Show the services' output, multiplexed with service prefixes",
		Example: `  stack logs -f
  stack -f dev.yaml logs -f web
  stack logs --tail 20 api db
  stack logs --since 10m --timestamps web`,
		RunE: g.withSession(func(ctx context.Context, ss *session, args []string) error {
			names, err := ss.containers(ctx, args)
			if err != nil {
				return err
			}
			project, c := ss.project, ss.c
			p := newLogPrinter(g, project, names, noColor, noPrefix)
			err = c.StreamLogs(ctx, names, ops.LogOptions{Follow: follow, Tail: tail, Since: since, Until: until, Timestamps: timestamps}, p.print)
			if ctx.Err() != nil {
				return nil
			}
			return err
		}),
	}
	f := cmd.Flags()
	// -f after `logs` is rewritten to --follow by followShorthand, since the
	// global -f names the stack file.
	f.BoolVar(&follow, "follow", false, "keep following the output (also across restarts); -f after logs")
	f.IntVar(&tail, "tail", -1, "show only the last N lines of each container (-1: all)")
	f.StringVar(&since, "since", "", "show logs since a timestamp (2026-01-02T15:04:05) or a duration (10m)")
	f.StringVar(&until, "until", "", "show logs before a timestamp or duration")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	f.BoolVar(&noColor, "no-color", false, "no colours in the prefixes")
	f.BoolVar(&noPrefix, "no-log-prefix", false, "print the lines without the service prefix")
	return cmd
}
