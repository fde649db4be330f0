package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
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
		pf             planFlags
		ef             execFlags
		detach, dryRun bool
		rollback       bool
		format         string
		abort          ops.Abort
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
(a second Ctrl-C kills it).`,
		Example: `  stack up -d
  stack up -d --wait --wait-timeout 2m
  stack up --env prod -d
  stack up --dry-run
  stack up -d web --no-deps --force-recreate
  stack up -d --scale worker=4
  stack up --exit-code-from tests`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := pf.options(g, args)
			if err != nil {
				return err
			}
			if dryRun {
				if err := oneOf("format", format, "table", "json", "text"); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			s, err := g.load(ctx)
			if err != nil {
				return err
			}
			if err := abort.Check(s, opts.Services, detach || dryRun || opts.NoStart); err != nil {
				return err
			}
			c, err := g.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			p := g.project(s, c)
			up := ops.UpOptions{Plan: opts, Exec: ef.options(), Rollback: rollback, DryRun: dryRun}
			if dryRun {
				plan, err := p.Up(ctx, up)
				if err != nil {
					return err
				}
				return writePlan(g, plan, format)
			}
			var plan *planner.Plan
			err = g.withProgress(p, func() (err error) {
				plan, err = p.Up(ctx, up)
				return err
			})
			if plan != nil {
				for _, w := range plan.Warnings {
					fmt.Fprintf(g.streams.err, "WARN %s\n", w)
				}
			}
			if err != nil || detach || opts.NoStart {
				return err
			}
			printer := newLogPrinter(g, s.Name, nil, false, false)
			var code int
			err = g.withProgress(p, func() (err error) {
				code, err = p.Attach(ctx, ops.AttachOptions{Services: opts.Services, Abort: abort,
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
	f.BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	f.StringVar(&format, "format", "table", "plan format for --dry-run: table, text or json")
	f.BoolVar(&rollback, "rollback", false, "when up fails part-way, remove what this run created")
	f.BoolVar(&abort.OnExit, "abort-on-container-exit", false, "stop the stack when any attached container exits; exit with its code")
	f.BoolVar(&abort.OnFailure, "abort-on-container-failure", false, "stop the stack when any attached container exits non-zero; exit with its code")
	f.StringVar(&abort.ExitCodeFrom, "exit-code-from", "", "exit with this service's exit code (implies --abort-on-container-exit)")
	f.IntVar(&ef.parallel, "parallel", 0, "how many steps may run at once (0: no limit)")
	f.DurationVar(&ef.waitTimeout, "wait-timeout", 0, "give up waiting for a dependency or --wait after this long (0: no limit)")
	return cmd
}
