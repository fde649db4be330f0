package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

func addDay2Commands(root *cobra.Command, g *globalOptions) {
	root.AddCommand(
		newStartCommand(g), newStopCommand(g), newRestartCommand(g),
		newEachCommand(g, "kill", "Send a signal to the services' containers (default KILL)"),
		newEachCommand(g, "pause", "Pause the services' containers"),
		newEachCommand(g, "unpause", "Unpause the services' containers"),
		newRmCommand(g), newStatsCommand(g), newTopCommand(g), newPortCommand(g),
		newImagesCommand(g), newBuildCommand(g), newPullCommand(g), newPushCommand(g),
		newExecCommand(g), newRunCommand(g), newEventsCommand(g), newInspectCommand(g),
	)
}

func newStartCommand(g *globalOptions) *cobra.Command {
	var ef execFlags
	cmd := &cobra.Command{
		Use:   "start [SERVICE...]",
		Short: "Start the services' existing containers, in dependency order, health-gated",
		Example: `  stack start
  stack start api --wait-timeout 1m`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			return g.withProgress(p, func() error { return p.Start(ctx, args, ef.options()) })
		}),
	}
	cmd.Flags().DurationVar(&ef.waitTimeout, "wait-timeout", 0, "give up waiting for a dependency after this long")
	return cmd
}

func newStopCommand(g *globalOptions) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [SERVICE...]",
		Short: "Stop the services' containers in reverse dependency order",
		Example: `  stack stop
  stack stop -t 2 web`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			return g.withProgress(p, func() error {
				return p.Stop(ctx, planner.DownOptions{Services: args, Timeout: stopTimeout(timeout)})
			})
		}),
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", -1, "seconds to wait before killing (default: each service's stop_grace_period)")
	return cmd
}

func newRestartCommand(g *globalOptions) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:     "restart [SERVICE...]",
		Short:   "Stop then start the services, in dependency order",
		Example: `  stack restart api`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			return g.withProgress(p, func() error {
				return p.Restart(ctx, planner.DownOptions{Services: args, Timeout: stopTimeout(timeout)}, planner.ExecOptions{})
			})
		}),
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", -1, "seconds to wait before killing")
	return cmd
}

// newEachCommand builds kill, pause and unpause: one call per container,
// going on past failures and reporting all of them.
func newEachCommand(g *globalOptions, verb, short string) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:     verb + " [SERVICE...]",
		Short:   short,
		Example: fmt.Sprintf("  stack %s\n  stack %s db", verb, verb),
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			return p.Each(ctx, verb, args, signal)
		}),
	}
	if verb == "kill" {
		cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send")
	}
	return cmd
}

func newRmCommand(g *globalOptions) *cobra.Command {
	var stop, volumes, force bool
	cmd := &cobra.Command{
		Use:   "rm [SERVICE...]",
		Short: "Remove the services' stopped containers (and pods left empty)",
		Example: `  stack rm
  stack rm -s -v worker`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			_ = force // stack never prompts; --force (-f after rm) is accepted as docker compose users type it
			var n int
			err := g.withProgress(p, func() (err error) {
				n, err = p.Rm(ctx, ops.RmOptions{Services: args, Stop: stop, Volumes: volumes})
				return err
			})
			if err == nil && n == 0 {
				fmt.Fprintln(g.streams.err, "No stopped containers")
			}
			return err
		}),
	}
	cmd.Flags().BoolVarP(&stop, "stop", "s", false, "stop running containers first")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove anonymous volumes too")
	cmd.Flags().BoolVar(&force, "force", false, "do not ask for confirmation (stack never asks); -f after rm")
	return cmd
}

func newStatsCommand(g *globalOptions) *cobra.Command {
	var noStream bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [SERVICE...]",
		Short: "Show CPU, memory, network and block I/O and PIDs per container, with pod totals",
		Example: `  stack stats --no-stream
  stack stats --no-stream --format json`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			stream := !noStream && format == "table"
			return p.Stats(ctx, args, stream, func(stats []ops.PodStat) {
				if stream {
					fmt.Fprint(g.streams.out, "\x1b[H\x1b[2J")
				}
				writeStats(g, format, stats)
			})
		}),
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	cmd.Flags().StringVar(&format, "format", "table", "table, json, or a Go template")
	return cmd
}

func writeStats(g *globalOptions, format string, rows []ops.PodStat) {
	totals := map[string]*ops.Stat{}
	for _, s := range rows {
		t := totals[s.Pod]
		if t == nil {
			t = &ops.Stat{Name: "pod " + s.Pod}
			totals[s.Pod] = t
		}
		t.CPUPercent += s.CPUPercent
		t.MemUsage += s.MemUsage
		t.NetInput += s.NetInput
		t.NetOutput += s.NetOutput
		t.BlockInput += s.BlockInput
		t.BlockOutput += s.BlockOutput
		t.PIDs += s.PIDs
	}
	if format != "table" {
		_ = writeRows(g, format, rows, nil, nil)
		return
	}
	for _, pod := range sortedKeys(totals) {
		if n := countPod(rows, pod); n > 1 {
			rows = append(rows, ops.PodStat{Stat: *totals[pod], Pod: pod})
		}
	}
	_ = writeRows(g, "table", rows, []string{"NAME", "POD", "CPU %", "MEM USAGE / LIMIT", "NET I/O", "BLOCK I/O", "PIDS"},
		func(r ops.PodStat) []string {
			return []string{r.Name, r.Pod, fmt.Sprintf("%.2f%%", r.CPUPercent), bytesPair(r.MemUsage, r.MemLimit),
				bytesPair(r.NetInput, r.NetOutput), bytesPair(r.BlockInput, r.BlockOutput), strconv.FormatUint(r.PIDs, 10)}
		})
}

func countPod(rows []ops.PodStat, pod string) int {
	n := 0
	for _, r := range rows {
		if r.Pod == pod {
			n++
		}
	}
	return n
}

func bytesPair(a, b uint64) string { return humanBytes(a) + " / " + humanBytes(b) }

func humanBytes(n uint64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%cB", float64(n)/float64(div), "kMGTPE"[exp])
}

func newTopCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "top SERVICE...",
		Short: "Show the processes running in the services' containers",
		Example: `  stack top web
  stack -p shop top db`,
		Args: cobra.MinimumNArgs(1),
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			procs, err := p.Top(ctx, args)
			for _, pr := range procs {
				fmt.Fprintf(g.streams.out, "%s\n%s\n\n", pr.Container, strings.Join(pr.Lines, "\n"))
			}
			return err
		}),
	}
}

func newPortCommand(g *globalOptions) *cobra.Command {
	var protocol string
	var index int
	cmd := &cobra.Command{
		Use:     "port SERVICE PRIVATE_PORT",
		Short:   "Print the host address a service's container port is published on",
		Example: `  stack port web 80`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			private, err := strconv.Atoi(args[1])
			if err != nil {
				return usagef("invalid port %q", args[1])
			}
			p, _, closeFn, err := g.open(cmd, args[:1])
			if err != nil {
				return err
			}
			defer closeFn()
			addr, err := p.Port(cmd.Context(), args[0], private, protocol, index)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.streams.out, addr)
			return nil
		},
	}
	cmd.Flags().StringVar(&protocol, "protocol", "tcp", "tcp or udp")
	cmd.Flags().IntVar(&index, "index", 1, "which replica")
	return cmd
}

func newExecCommand(g *globalOptions) *cobra.Command {
	var (
		interactive, tty, noTTY bool
		env                     []string
		user, workdir           string
		index                   int
	)
	cmd := &cobra.Command{
		Use:   "exec [flags] SERVICE COMMAND [ARG...]",
		Short: "Run a command in a service's running container; its exit code is ours",
		Example: `  stack exec db psql -U postgres
  stack exec -it web sh
  stack exec -e DEBUG=1 -u nobody api env`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, _, closeFn, err := g.open(cmd, args[:1])
			if err != nil {
				return err
			}
			defer closeFn()
			code, err := p.Exec(cmd.Context(), ops.ExecRequest{Service: args[0], Index: index, ExecOptions: ops.ExecOptions{
				Cmd: args[1:], Env: env, User: user, WorkDir: workdir, TTY: tty && !noTTY, Interactive: interactive,
				Stdin: g.streams.in, Stdout: g.streams.out, Stderr: g.streams.err}})
			if err != nil {
				return err
			}
			return exitCode(code)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&interactive, "interactive", "i", false, "keep stdin open")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a terminal")
	f.BoolVarP(&noTTY, "no-TTY", "T", false, "no terminal (the default; accepted as docker compose scripts pass it)")
	f.StringArrayVarP(&env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	f.StringVarP(&user, "user", "u", "", "run as this user")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory")
	f.IntVar(&index, "index", 1, "which replica")
	return cmd
}

func newRunCommand(g *globalOptions) *cobra.Command {
	var (
		rm, tty, noTTY, interactive, noDeps bool
		env                                 []string
		waitTimeout                         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run [flags] SERVICE [COMMAND...]",
		Short: "Run a one-off container from a service's definition",
		Long: `Run a one-off container from a service's definition, with no published ports
and its own network namespace on the project's networks. Like docker compose
run, it first creates what the container needs (image, networks, volumes) and
starts the service's dependencies, health-gated (skip that with --no-deps).`,
		Example: `  stack run --rm migrate
  stack run --rm api /app/manage check
  stack run --rm -it api sh`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := g.load(ctx)
			if err != nil {
				return err
			}
			c, err := g.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			p := g.project(s, c)
			extra := map[string]string{}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				extra[k] = v
			}
			var code int
			err = g.withProgress(p, func() (err error) {
				code, err = p.Run(ctx, ops.RunRequest{Service: args[0], Cmd: args[1:], Env: extra, NoDeps: noDeps,
					Exec: planner.ExecOptions{WaitTimeout: waitTimeout},
					RunIO: ops.RunIO{Remove: rm, TTY: tty && !noTTY, Interactive: interactive,
						Stdin: g.streams.in, Stdout: g.streams.out, Stderr: g.streams.err}})
				return err
			})
			if err != nil {
				return err
			}
			return exitCode(code)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVar(&rm, "rm", false, "remove the container when it exits")
	f.BoolVarP(&interactive, "interactive", "i", false, "keep stdin open and attach to it")
	f.BoolVar(&noDeps, "no-deps", false, "do not start the service's dependencies")
	f.DurationVar(&waitTimeout, "wait-timeout", 0, "give up waiting for a dependency after this long (0: no limit)")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a terminal")
	f.BoolVarP(&noTTY, "no-TTY", "T", false, "no terminal (the default; accepted as docker compose scripts pass it)")
	f.StringArrayVarP(&env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	return cmd
}

func newEventsCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Stream Podman events of this project's containers and pods",
		Example: `  stack events
  stack events --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, _, closeFn, err := g.open(cmd, nil)
			if err != nil {
				return err
			}
			defer closeFn()
			enc := json.NewEncoder(g.streams.out)
			return p.Events(cmd.Context(), func(e ops.Event) {
				if asJSON {
					_ = enc.Encode(e)
					return
				}
				line := fmt.Sprintf("%s %s %s %s", e.Time.Format(time.RFC3339), e.Type, e.Action, e.Name)
				if e.Health != "" {
					line += " (" + e.Health + ")"
				}
				fmt.Fprintln(g.streams.out, line)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per event")
	return cmd
}

func newInspectCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect SERVICE|POD...",
		Short: "Print Podman's inspect data of the project's containers or pods as JSON",
		Example: `  stack inspect db
  stack inspect db | jq '.[0].State.Health'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, _, closeFn, err := g.open(cmd, nil)
			if err != nil {
				return err
			}
			defer closeFn()
			out, err := p.Inspect(cmd.Context(), args)
			if len(out) > 0 {
				data, _ := json.MarshalIndent(out, "", "  ")
				fmt.Fprintf(g.streams.out, "%s\n", data)
			}
			return err
		},
	}
}
