package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/podmanapi"
	"github.com/podstack/podstack/stack"
)

func addDay2Commands(root *cobra.Command, g *globalOptions) {
	root.AddCommand(
		newStartCommand(g), newStopCommand(g), newRestartCommand(g),
		newEachCommand(g, "kill", "Send a signal to the services' containers (default KILL)"),
		newEachCommand(g, "pause", "Pause the services' containers"),
		newEachCommand(g, "unpause", "Unpause the services' containers"),
		newRmCommand(g), newStatsCommand(g), newTopCommand(g), newPortCommand(g), newImagesCommand(g),
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
		RunE: g.withLockedSession("start", func(ctx context.Context, ss *session, args []string) error {
			if ss.s == nil {
				return errors.New("start needs the stack file (to start in dependency order)")
			}
			return startStack(ctx, g, ss.c, ss.s, args, ef.options())
		}),
	}
	cmd.Flags().DurationVar(&ef.waitTimeout, "wait-timeout", 0, "give up waiting for a dependency after this long")
	return cmd
}

// startStack starts existing containers: a reconcile that may not create.
func startStack(ctx context.Context, g *globalOptions, c *podmanapi.Client, s *stack.Stack, services []string, exec planner.ExecOptions) error {
	observed, err := c.Observe(ctx, s.Name, planner.LookupFor(s))
	if err != nil {
		return err
	}
	plan, err := planner.Reconcile(s, observed, planner.Options{Policy: g.policy(s), Services: services, NoRecreate: true})
	if err != nil {
		return err
	}
	var missing []string
	for _, st := range plan.Steps {
		if st.Kind == planner.StepCreateContainer {
			missing = append(missing, st.Target)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no container %s yet: run 'stack up' to create it", strings.Join(missing, ", "))
	}
	r, err := g.renderer()
	if err != nil {
		return err
	}
	defer r.Close()
	return planner.Execute(ctx, plan, c, r, exec)
}

func newStopCommand(g *globalOptions) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [SERVICE...]",
		Short: "Stop the services' containers in reverse dependency order",
		Example: `  stack stop
  stack stop -t 2 web`,
		RunE: g.withLockedSession("stop", func(ctx context.Context, ss *session, args []string) error {
			return stopStack(ctx, g, ss, args, timeout)
		}),
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", -1, "seconds to wait before killing (default: each service's stop_grace_period)")
	return cmd
}

func stopStack(ctx context.Context, g *globalOptions, ss *session, services []string, timeout int) error {
	opts := planner.DownOptions{Services: services, StopOnly: true, Timeout: stopTimeout(timeout)}
	r, err := g.renderer()
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = planner.Down(ctx, ss.c, ss.project, ss.s, opts, planner.ExecOptions{}, r)
	return err
}

func newRestartCommand(g *globalOptions) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:     "restart [SERVICE...]",
		Short:   "Stop then start the services, in dependency order",
		Example: `  stack restart api`,
		RunE: g.withLockedSession("restart", func(ctx context.Context, ss *session, args []string) error {
			if ss.s == nil {
				return errors.New("restart needs the stack file (to start in dependency order)")
			}
			if err := stopStack(ctx, g, ss, args, timeout); err != nil {
				return err
			}
			return startStack(ctx, g, ss.c, ss.s, args, planner.ExecOptions{})
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
		RunE: g.withSession(func(ctx context.Context, ss *session, args []string) error {
			names, err := ss.containers(ctx, args, map[string][]string{
				"kill": {"running", "paused"}, "pause": {"running"}, "unpause": {"paused"}}[verb]...)
			if err != nil {
				return err
			}
			var errs []error
			for _, n := range names {
				var err error
				switch verb {
				case "kill":
					err = ss.c.Kill(ctx, n, signal)
				case "pause":
					err = ss.c.Pause(ctx, n)
				case "unpause":
					err = ss.c.Unpause(ctx, n)
				}
				if errors.Is(err, podmanapi.ErrUnsupported) {
					return err // the same for every container: said once
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(g.streams.err, "%s %s\n", n, map[string]string{"kill": "killed", "pause": "paused", "unpause": "unpaused"}[verb])
			}
			return errors.Join(errs...)
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
		RunE: g.withLockedSession("rm", func(ctx context.Context, ss *session, args []string) error {
			observed, err := ss.c.Observe(ctx, ss.project, nil)
			if err != nil {
				return err
			}
			if !stop {
				// Without -s, running containers are left alone.
				kept := observed.Containers[:0]
				for _, c := range observed.Containers {
					if c.State != "running" && c.State != "paused" {
						kept = append(kept, c)
					}
				}
				observed.Containers = kept
			}
			services := args
			if len(services) == 0 && ss.s != nil {
				services = ss.s.ServiceNames()
			}
			plan, err := planner.PlanDown(ss.project, ss.s, observed, planner.DownOptions{Services: services, Volumes: volumes})
			if err != nil {
				return err
			}
			if len(plan.Steps) == 0 {
				fmt.Fprintln(g.streams.err, "No stopped containers")
				return nil
			}
			_ = force // stack never prompts; --force (-f after rm) is accepted as docker compose users type it
			r, err := g.renderer()
			if err != nil {
				return err
			}
			defer r.Close()
			return planner.Execute(ctx, plan, ss.c, r, planner.ExecOptions{})
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
		RunE: g.withSession(func(ctx context.Context, ss *session, args []string) error {
			running, err := ss.observed(ctx, args, "running")
			if err != nil {
				return err
			}
			podOf := map[string]string{}
			for _, c := range running {
				podOf[c.Name] = c.Labels[planner.LabelPod]
			}
			names := namesOf(running)
			stream := !noStream && format == "table"
			return ss.c.Stats(ctx, names, stream, func(stats []ops.Stat) {
				if stream {
					fmt.Fprint(g.streams.out, "\x1b[H\x1b[2J")
				}
				writeStats(g, format, stats, podOf)
			})
		}),
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	cmd.Flags().StringVar(&format, "format", "table", "table, json, or a Go template")
	return cmd
}

type statRow struct {
	ops.Stat
	Pod string `json:"pod"`
}

func writeStats(g *globalOptions, format string, stats []ops.Stat, podOf map[string]string) {
	var rows []statRow
	totals := map[string]*ops.Stat{}
	for _, s := range stats {
		rows = append(rows, statRow{s, podOf[s.Name]})
		t := totals[podOf[s.Name]]
		if t == nil {
			t = &ops.Stat{Name: "pod " + podOf[s.Name]}
			totals[podOf[s.Name]] = t
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
			rows = append(rows, statRow{*totals[pod], pod})
		}
	}
	_ = writeRows(g, "table", rows, []string{"NAME", "POD", "CPU %", "MEM USAGE / LIMIT", "NET I/O", "BLOCK I/O", "PIDS"},
		func(r statRow) []string {
			return []string{r.Name, r.Pod, fmt.Sprintf("%.2f%%", r.CPUPercent), bytesPair(r.MemUsage, r.MemLimit),
				bytesPair(r.NetInput, r.NetOutput), bytesPair(r.BlockInput, r.BlockOutput), strconv.FormatUint(r.PIDs, 10)}
		})
}

func countPod(rows []statRow, pod string) int {
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
		RunE: g.withSession(func(ctx context.Context, ss *session, args []string) error {
			names, err := ss.containers(ctx, args, "running")
			if err != nil {
				return err
			}
			var errs []error
			for _, n := range names {
				lines, err := ss.c.Top(ctx, n)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(g.streams.out, "%s\n%s\n\n", n, strings.Join(lines, "\n"))
			}
			return errors.Join(errs...)
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
			ctx := cmd.Context()
			private, err := strconv.Atoi(args[1])
			if err != nil {
				return usagef("invalid port %q", args[1])
			}
			ss, _, err := g.session(cmd, args[:1])
			if err != nil {
				return err
			}
			defer ss.c.Close()
			o, err := ss.c.Observe(ctx, ss.project, nil)
			if err != nil {
				return err
			}
			for _, c := range o.Containers {
				if c.Labels[planner.LabelService] != args[0] || c.Labels[planner.LabelNumber] != strconv.Itoa(index) {
					continue
				}
				for _, p := range c.Ports {
					if int(p.Target) == private && p.Protocol == protocol && p.Published != 0 {
						ip := p.HostIP
						if ip == "" {
							ip = "0.0.0.0"
						}
						fmt.Fprintf(g.streams.out, "%s:%d\n", ip, p.Published)
						return nil
					}
				}
			}
			return fmt.Errorf("port %d/%s of service %q is not published", private, protocol, args[0])
		},
	}
	cmd.Flags().StringVar(&protocol, "protocol", "tcp", "tcp or udp")
	cmd.Flags().IntVar(&index, "index", 1, "which replica")
	return cmd
}

func newImagesCommand(g *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "images [SERVICE...]",
		Short: "List the images the services' containers use",
		Example: `  stack images
  stack images --format json`,
		RunE: g.withSession(func(ctx context.Context, ss *session, args []string) error {
			o, err := ss.c.Observe(ctx, ss.project, nil)
			if err != nil {
				return err
			}
			type row struct{ Container, Service, Image string }
			var rows []row
			want := map[string]bool{}
			for _, a := range args {
				want[a] = true
			}
			for _, c := range o.Containers {
				if len(want) == 0 || want[c.Labels[planner.LabelService]] {
					rows = append(rows, row{c.Name, c.Labels[planner.LabelService], c.Image})
				}
			}
			return writeRows(g, format, rows, []string{"CONTAINER", "SERVICE", "IMAGE"},
				func(r row) []string { return []string{r.Container, r.Service, r.Image} })
		}),
	}
	cmd.Flags().StringVar(&format, "format", "table", "table, json, or a Go template")
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
			ctx := cmd.Context()
			ss, _, err := g.session(cmd, args[:1])
			if err != nil {
				return err
			}
			defer ss.c.Close()
			names, err := ss.containers(ctx, args[:1], "running")
			if err != nil {
				return err
			}
			target := ""
			for _, n := range names {
				if strings.HasSuffix(n, "-"+strconv.Itoa(index)) || len(names) == 1 {
					target = n
				}
			}
			if target == "" {
				return fmt.Errorf("service %q has no running replica %d", args[0], index)
			}
			code, err := ss.c.Exec(ctx, target, ops.ExecOptions{Cmd: args[1:], Env: env, User: user, WorkDir: workdir,
				TTY: tty && !noTTY, Interactive: interactive, Stdin: g.streams.in, Stdout: g.streams.out, Stderr: g.streams.err})
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
			if _, err := selected(s, args[:1]); err != nil {
				return err
			}
			c, err := g.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			// What the one-off needs first, as docker compose run does: its
			// image, networks and volumes, and its dependencies started.
			l, err := g.lockProject(ctx, c, s.Name, "run")
			if err != nil {
				return err
			}
			r, err := g.renderer()
			if err != nil {
				l.Release()
				return err
			}
			plan, err := planner.Up(ctx, c, s, planner.Options{Policy: g.policy(s), OneOff: args[0], NoDeps: noDeps},
				planner.UpOptions{}, planner.ExecOptions{WaitTimeout: waitTimeout}, r)
			r.Close()
			// The one-off itself may run for long: it holds no lock.
			l.Release()
			if err != nil {
				return err
			}
			b := make([]byte, 3)
			rand.Read(b)
			name := planner.Name(s.Name, args[0]+"-run-"+hex.EncodeToString(b))
			extra := map[string]string{}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				extra[k] = v
			}
			ct, pod := plan.OneOff(planner.OneOffRequest{Service: args[0], Name: name, Cmd: args[1:], Env: extra,
				TTY: tty && !noTTY, Interactive: interactive})
			code, err := c.RunContainer(ctx, ct, pod, s, ops.RunIO{Remove: rm, TTY: tty && !noTTY, Interactive: interactive,
				Stdin: g.streams.in, Stdout: g.streams.out, Stderr: g.streams.err})
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
			ss, _, err := g.session(cmd, nil)
			if err != nil {
				return err
			}
			defer ss.c.Close()
			enc := json.NewEncoder(g.streams.out)
			err = ss.c.Events(cmd.Context(), ss.project, func(e ops.Event) {
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
			if cmd.Context().Err() != nil {
				return nil
			}
			return err
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
			ctx := cmd.Context()
			ss, _, err := g.session(cmd, nil)
			if err != nil {
				return err
			}
			defer ss.c.Close()
			c, project := ss.c, ss.project
			o, err := c.Observe(ctx, project, nil)
			if err != nil {
				return err
			}
			var out []json.RawMessage
			var errs []error
			for _, a := range args {
				found := false
				for _, ct := range o.Containers {
					if ct.Labels[planner.LabelService] == a {
						data, err := c.InspectContainer(ctx, ct.Name)
						if err != nil {
							errs = append(errs, err)
							continue
						}
						out, found = append(out, data), true
					}
				}
				for _, p := range o.Pods {
					if p.Name == a || p.Labels[planner.LabelPod] == a {
						data, err := c.InspectPod(ctx, p.Name)
						if err != nil {
							errs = append(errs, err)
							continue
						}
						out, found = append(out, data), true
					}
				}
				if !found {
					errs = append(errs, fmt.Errorf("no container or pod %q in project %q", a, project))
				}
			}
			if len(out) > 0 {
				data, _ := json.MarshalIndent(out, "", "  ")
				fmt.Fprintf(g.streams.out, "%s\n", data)
			}
			return errors.Join(errs...)
		},
	}
}
