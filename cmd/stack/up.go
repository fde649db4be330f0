package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

func addRuntimeCommands(root *cobra.Command, g *globalOptions) {
	root.AddCommand(
		newUpCommand(g),
		newDownCommand(g),
		newPsCommand(g),
		newLsCommand(g),
		newLogsCommand(g),
		newWaitCommand(g),
	)
}

// execFlags tune how a plan runs.
type execFlags struct {
	parallel    int
	waitTimeout time.Duration
}

func (e *execFlags) options() planner.ExecOptions {
	return planner.ExecOptions{Parallel: e.parallel, WaitTimeout: e.waitTimeout}
}

func newUpCommand(g *globalOptions) *cobra.Command {
	var (
		pf       planFlags
		ef       execFlags
		detach   bool
		rollback bool
		format   string
		abort    ops.Abort
		af       attachFlags
		timeout  int
		renew    bool
		yes      bool
	)
	cmd := &cobra.Command{
		Use:   "up [SERVICE...]",
		Short: "Create and start the stack's pods and containers",
		Long: `Load the stack, compare it with what runs on the Podman service, and create,
recreate and start only what differs, in dependency order. A service that
depends on another with condition service_healthy starts only once that one's
healthcheck passes: stack runs the healthchecks itself, so this works without
systemd (in containers, CI and WSL too).

Without -d, up follows the services' logs until Ctrl-C, then stops the stack
(a second Ctrl-C kills it). --wait implies -d, as in docker compose.`,
		Example: `  stack up -d
  stack up -d --wait --wait-timeout 2m
  stack up --env prod -d
  stack up --dry-run
  stack up -d web --no-deps --force-recreate
  stack up -d --scale worker=4
  stack up --exit-code-from tests
  stack up --attach api --timestamps -t 5`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := pf.options(g, args)
			if err != nil {
				return err
			}
			opts.Timeout = stopTimeout(timeout)
			if opts.Wait {
				detach = true // compose: --wait implies --detach
			}
			_, _ = renew, yes // what podstack always does; see their help
			dryRun := g.dryRun
			if dryRun {
				if err := oneOf("format", format, "table", "json", "text"); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			a := g.startAhead(ctx, !dryRun)
			defer a.close()
			s, err := g.load(ctx, naming(args), a.loadOption)
			if err != nil {
				return err
			}
			if err := abort.Check(s, opts.Services, detach || dryRun || opts.NoStart); err != nil {
				return err
			}
			attach, err := af.services(s, opts.Services, detach || dryRun || opts.NoStart)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			p := g.project(s, c)
			a.adopt(p, c)
			up := ops.UpOptions{Plan: opts, Exec: ef.options(), Rollback: rollback, DryRun: dryRun}
			if dryRun {
				plan, err := p.Up(ctx, up)
				if err != nil {
					return err
				}
				return writePlan(g, plan, format)
			}
			err = g.withProgress(p, func() (err error) {
				_, err = p.Up(ctx, up)
				return err
			})
			if err != nil || detach || opts.NoStart {
				return err
			}
			printer := newLogPrinter(g, s.Name, nil, af.noColor, af.noPrefix)
			var code int
			err = g.withProgress(p, func() (err error) {
				code, err = p.Attach(ctx, ops.AttachOptions{Services: opts.Services, Attach: attach, Abort: abort,
					Timestamps: af.timestamps, StopTimeout: opts.Timeout,
					Attached: printer.size, Logs: printer.print, Force: g.force})
				return err
			})
			if errors.Is(err, ops.ErrInterrupted) {
				return silentExit{exitInterrupted}
			}
			if err != nil {
				return err
			}
			return exitCode(code)
		},
	}
	f := cmd.Flags()
	pf.register(f)
	f.BoolVarP(&detach, "detach", "d", false, "run in the background: return once the stack is up")
	f.StringVar(&format, "format", "table", "plan format for --dry-run: table, text or json")
	f.BoolVar(&rollback, "rollback", false, "when up fails part-way, remove what this run created")
	f.BoolVar(&abort.OnExit, "abort-on-container-exit", false, "stop the stack when any attached container exits; exit with its code")
	f.BoolVar(&abort.OnFailure, "abort-on-container-failure", false, "stop the stack when any attached container exits non-zero; exit with its code")
	f.StringVar(&abort.ExitCodeFrom, "exit-code-from", "", "exit with this service's exit code (implies --abort-on-container-exit)")
	f.IntVar(&ef.parallel, "parallel", 0, "how many steps may run at once (0: no limit)")
	f.Var((*seconds)(&ef.waitTimeout), "wait-timeout", "give up waiting for a dependency or --wait after this long: 90 (seconds, as compose) or 2m (0: no limit)")
	f.IntVarP(&timeout, "timeout", "t", -1, "seconds to wait for a container to stop (what up recreates, and the stop that ends an attached up) before killing it (default: each service's stop_grace_period)")
	af.register(f)
	f.BoolVarP(&renew, "renew-anon-volumes", "V", false, "give recreated containers new anonymous volumes: what podstack always does (it never carries them over from the old container)")
	f.BoolVarP(&yes, "yes", "y", false, "assume yes to every prompt: stack never prompts")
	return cmd
}

// attachFlags choose which services an attached up shows and watches,
// and how their lines look; docker compose's flags.
type attachFlags struct {
	attach, noAttach              []string
	attachDeps                    bool
	timestamps, noColor, noPrefix bool
}

func (a *attachFlags) register(f *pflag.FlagSet) {
	f.StringArrayVar(&a.attach, "attach", nil, "show and watch only these services' output; repeatable")
	f.StringArrayVar(&a.noAttach, "no-attach", nil, "do not show or watch these services' output; repeatable")
	f.BoolVar(&a.attachDeps, "attach-dependencies", false, "also show and watch the output of the named services' dependencies")
	f.BoolVar(&a.timestamps, "timestamps", false, "show timestamps in the output")
	f.BoolVar(&a.noColor, "no-color", false, "no colours in the output's prefixes")
	f.BoolVar(&a.noPrefix, "no-log-prefix", false, "print the output without the service prefix")
}

// services are the services an attached up shows and watches: nil for
// all it started. Detached, asking for some is a usage error.
func (a *attachFlags) services(s *stack.Stack, started []string, detached bool) ([]string, error) {
	if len(a.attach) == 0 && len(a.noAttach) == 0 && !a.attachDeps {
		return nil, nil
	}
	if detached {
		return nil, usagef("--attach, --no-attach and --attach-dependencies need an attached up: drop -d, --wait, --dry-run or --no-start")
	}
	p := &ops.Project{Name: s.Name, Stack: s}
	if err := p.CheckServices(append(append([]string(nil), a.attach...), a.noAttach...)); err != nil {
		return nil, err
	}
	out := a.attach
	if len(out) == 0 {
		out = started
		if len(out) == 0 {
			out = s.ServiceNames()
		}
		if a.attachDeps {
			out = withDependencies(s, out)
		}
	}
	var kept []string
	for _, svc := range out {
		if !slices.Contains(a.noAttach, svc) {
			kept = append(kept, svc)
		}
	}
	if kept == nil {
		kept = []string{}
	}
	return kept, nil
}

// withDependencies adds the services' dependencies, transitively, in
// name order.
func withDependencies(s *stack.Stack, services []string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if svc := s.Services[name]; svc != nil {
			for dep := range svc.DependsOn {
				visit(dep)
			}
		}
	}
	for _, svc := range services {
		visit(svc)
	}
	return sortedKeys(seen)
}

// seconds is a duration flag that also takes plain seconds ("90"), as
// docker compose's --wait-timeout does.
type seconds time.Duration

func (d *seconds) String() string { return time.Duration(*d).String() }
func (d *seconds) Type() string   { return "duration" }
func (d *seconds) Set(v string) error {
	if n, err := strconv.Atoi(v); err == nil {
		*d = seconds(time.Duration(n) * time.Second)
		return nil
	}
	t, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want seconds (90) or a duration (2m)")
	}
	*d = seconds(t)
	return nil
}
