package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
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
		newCreateCommand(g), newScaleCommand(g), newCpCommand(g), newAttachCommand(g),
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
		Use:   "top [SERVICE...]",
		Short: "Show the processes running in the services' containers (all when none is named)",
		Example: `  stack top
  stack top web
  stack -p shop top db`,
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
		tf                 ttyFlags
		detach, privileged bool
		env                []string
		user, workdir      string
		index              int
	)
	cmd := &cobra.Command{
		Use:   "exec [flags] SERVICE COMMAND [ARG...]",
		Short: "Run a command in a service's running container; its exit code is ours",
		Long: `Run a command in a service's running container, as docker compose exec does:
stdin is forwarded to it, and it gets a terminal when stdin and stdout are
one (-T: none, for scripts and pipes). Its exit code is stack's.`,
		Example: `  stack exec db psql -U postgres
  stack exec web sh
  stack exec -T db psql -U postgres < dump.sql
  stack exec -d worker /app/reindex
  stack exec --index 2 -e DEBUG=1 -u nobody api env`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, _, closeFn, err := g.open(cmd, args[:1])
			if err != nil {
				return err
			}
			defer closeFn()
			tty, interactive := tf.resolve(g)
			code, err := p.Exec(cmd.Context(), ops.ExecRequest{Service: args[0], Index: index, ExecOptions: ops.ExecOptions{
				Cmd: args[1:], Env: env, User: user, WorkDir: workdir, TTY: tty && !detach, Interactive: interactive && !detach,
				Detach: detach, Privileged: privileged,
				Stdin: g.streams.in, Stdout: g.streams.out, Stderr: g.streams.err}})
			if err != nil {
				return err
			}
			return exitCode(code)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	tf.register(f)
	f.BoolVarP(&detach, "detach", "d", false, "run the command in the background")
	f.BoolVar(&privileged, "privileged", false, "give the command extended privileges")
	f.StringArrayVarP(&env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	f.StringVarP(&user, "user", "u", "", "run as this user")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory")
	f.IntVar(&index, "index", 1, "which replica")
	return cmd
}

// ttyFlags are docker compose's stdin and terminal flags of exec and run:
// stdin is forwarded unless -i=false, and a terminal is allocated when
// stdin and stdout are one, unless -T (-t asks for one anyway).
type ttyFlags struct {
	interactive, tty, noTTY bool
}

func (t *ttyFlags) register(f *pflag.FlagSet) {
	f.BoolVarP(&t.interactive, "interactive", "i", true, "forward stdin (the default; -i=false closes it)")
	f.BoolVarP(&t.tty, "tty", "t", false, "allocate a terminal (the default when stdin and stdout are one)")
	f.BoolVarP(&t.noTTY, "no-TTY", "T", false, "allocate no terminal (for scripts and pipes)")
}

// resolve says whether to allocate a terminal and forward stdin.
func (t *ttyFlags) resolve(g *globalOptions) (tty, interactive bool) {
	switch {
	case t.noTTY:
		tty = false
	case t.tty:
		tty = true
	default:
		tty = g.terminal()
	}
	return tty, t.interactive
}

func newRunCommand(g *globalOptions) *cobra.Command {
	var (
		tf                                           ttyFlags
		rm, noDeps, detach, servicePorts, useAliases bool
		env, labels, volumes, publish                []string
		name, user, workdir, entrypoint              string
		waitTimeout                                  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run [flags] SERVICE [COMMAND...]",
		Short: "Run a one-off container from a service's definition",
		Long: `Run a one-off container from a service's definition, as docker compose run
does: with no published ports (unless -p or --service-ports), its own network
namespace on the project's networks, and never restarted by the service's
restart policy. It first creates what the container needs (image, networks,
volumes) and starts the service's dependencies, health-gated (skip that with
--no-deps). stdin is forwarded, and a terminal allocated when stdin and stdout
are one (-T: none). Its exit code is stack's; -d prints the container's name.`,
		Example: `  stack run --rm migrate
  stack run --rm api /app/manage check
  stack run --rm api sh
  stack run --rm -p 18199:80 web
  stack run -d --name nightly -e FULL=1 worker /app/reindex
  stack run --rm -v ./fixtures:/fixtures:ro -u 1000 -w /fixtures api ls`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if servicePorts && len(publish) > 0 {
				return usagef("--service-ports and --publish cannot be used together")
			}
			ctx := cmd.Context()
			s, err := g.load(ctx, naming(args[:1]))
			if err != nil {
				return err
			}
			req := ops.RunRequest{Service: args[0], Cmd: args[1:], Name: name, User: user, WorkDir: workdir,
				NoDeps: noDeps, ServicePorts: servicePorts, UseAliases: useAliases,
				Exec: planner.ExecOptions{WaitTimeout: waitTimeout}}
			if req.Env, err = g.keyValues("env", env); err != nil {
				return err
			}
			if req.Labels, err = g.keyValues("label", labels); err != nil {
				return err
			}
			if cmd.Flags().Changed("entrypoint") {
				if req.Entrypoint, err = stack.SplitCommand(entrypoint); err != nil {
					return usagef("--entrypoint %v", err)
				}
				if req.Entrypoint == nil {
					req.Entrypoint = []string{}
				}
			}
			for _, v := range volumes {
				m, err := stack.ParseMount(v, s.WorkingDir)
				if err != nil {
					return usagef("--volume %v", err)
				}
				req.Mounts = append(req.Mounts, m)
			}
			for _, pt := range publish {
				ports, err := stack.ParsePorts(pt)
				if err != nil {
					return usagef("--publish %v", err)
				}
				req.Publish = append(req.Publish, ports...)
			}
			tty, interactive := tf.resolve(g)
			req.RunIO = ops.RunIO{Remove: rm, Detach: detach, TTY: tty, Interactive: interactive && !detach,
				Stdin: g.streams.in, Stdout: g.streams.out, Stderr: g.streams.err}
			c, err := g.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			p := g.project(s, c)
			var res ops.RunResult
			err = g.withProgress(p, func() (err error) {
				res, err = p.Run(ctx, req)
				return err
			})
			if err != nil {
				return err
			}
			if detach {
				fmt.Fprintln(g.streams.out, res.Container)
			}
			return exitCode(res.ExitCode)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	tf.register(f)
	f.BoolVarP(&detach, "detach", "d", false, "run in the background and print the container's name")
	f.BoolVar(&rm, "rm", false, "remove the container when it exits")
	f.StringVar(&name, "name", "", "name the container (default: <project>-<service>-run-<random>)")
	f.StringArrayVarP(&env, "env", "e", nil, "set an environment variable (KEY=VALUE); repeatable")
	f.StringArrayVarP(&labels, "label", "l", nil, "add or override a label (KEY=VALUE); repeatable")
	f.StringVarP(&user, "user", "u", "", "run as this user (name or uid[:gid])")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory in the container")
	f.StringVar(&entrypoint, "entrypoint", "", "replace the image's entrypoint (\"\" clears it)")
	f.StringArrayVarP(&volumes, "volume", "v", nil, "mount a volume or host path (SOURCE:TARGET[:ro]); repeatable")
	f.StringArrayVar(&publish, "publish", nil, "publish a port (HOST:CONTAINER); repeatable; -p after run")
	f.BoolVar(&servicePorts, "service-ports", false, "publish the service's own ports")
	f.BoolVar(&useAliases, "use-aliases", false, "answer to the service's name and network aliases")
	f.BoolVar(&noDeps, "no-deps", false, "do not start the service's dependencies")
	f.DurationVar(&waitTimeout, "wait-timeout", 0, "give up waiting for a dependency after this long (0: no limit)")
	return cmd
}

// keyValues reads KEY=VALUE flags; a bare -e KEY takes its value from the
// environment, as in docker compose.
func (g *globalOptions) keyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" || (!ok && flag != "env") {
			return nil, usagef("--%s %q: want KEY=VALUE", flag, kv)
		}
		if !ok {
			v = g.getenv(k)
		}
		out[k] = v
	}
	return out, nil
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
