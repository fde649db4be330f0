package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/internal/display"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

// terminal reports whether stdin and stdout are both a terminal: then exec
// and run allocate one, as docker compose does.
func (g *globalOptions) terminal() bool {
	in, ok := g.streams.in.(*os.File)
	if !ok || !display.IsTerminal(in) {
		return false
	}
	out, ok := g.streams.out.(*os.File)
	return ok && display.IsTerminal(out)
}

func newCreateCommand(g *globalOptions) *cobra.Command {
	var pf planFlags
	cmd := &cobra.Command{
		Use:   "create [SERVICE...]",
		Short: "Create the services' pods and containers without starting them",
		Long: `Create what 'stack up' would, without starting any container: images,
networks, volumes, pods and containers. 'stack start' starts them later.`,
		Example: `  stack create
  stack create --force-recreate web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := pf.options(g, args)
			if err != nil {
				return err
			}
			return g.upLike(cmd, args, func(ctx context.Context, p *ops.Project) (*planner.Plan, error) {
				return p.Create(ctx, ops.UpOptions{Plan: opts})
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&pf.forceRecreate, "force-recreate", false, "recreate the named services' containers even if their configuration did not change")
	f.BoolVar(&pf.noRecreate, "no-recreate", false, "keep existing containers even if their configuration changed")
	f.BoolVar(&pf.removeOrphans, "remove-orphans", false, "remove this project's containers and pods the stack no longer declares")
	f.StringVar(&pf.pull, "pull", "missing", "pull images: missing, always or never")
	f.StringArrayVar(&pf.scale, "scale", nil, "create NUM replicas of SERVICE (SERVICE=NUM); repeatable")
	return cmd
}

// upLike loads the stack with the named services' profiles enabled,
// connects, runs fn (an up-like use case) with progress, and prints the
// plan's warnings.
func (g *globalOptions) upLike(cmd *cobra.Command, services []string, fn func(ctx context.Context, p *ops.Project) (*planner.Plan, error)) error {
	ctx := cmd.Context()
	s, err := g.load(ctx, naming(services))
	if err != nil {
		return err
	}
	c, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	p := g.project(s, c)
	var plan *planner.Plan
	err = g.withProgress(p, func() (err error) {
		plan, err = fn(ctx, p)
		return err
	})
	if plan != nil {
		for _, w := range plan.Warnings {
			fmt.Fprintf(g.streams.err, "WARN %s\n", w)
		}
	}
	return err
}

func newScaleCommand(g *globalOptions) *cobra.Command {
	var (
		noDeps      bool
		waitTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "scale SERVICE=REPLICAS...",
		Short: "Run that many containers of the services (until the next up)",
		Long: `Create and start, or stop and remove, containers of the named services until
each runs the number of replicas asked for, as docker compose scale does; new
ones start after their dependencies, health-gated. The next 'stack up' without
--scale goes back to the stack's count (scale: or deploy.replicas).`,
		Example: `  stack scale worker=4
  stack scale web=2 worker=0`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			replicas := map[string]int{}
			for _, a := range args {
				name, num, ok := strings.Cut(a, "=")
				n, err := strconv.Atoi(num)
				if !ok || name == "" || err != nil || n < 0 {
					return usagef("%q: want SERVICE=REPLICAS, as in worker=4", a)
				}
				replicas[name] = n
			}
			return g.upLike(cmd, slices.Sorted(maps.Keys(replicas)), func(ctx context.Context, p *ops.Project) (*planner.Plan, error) {
				return p.Scale(ctx, ops.ScaleOptions{Replicas: replicas, NoDeps: noDeps, Exec: planner.ExecOptions{WaitTimeout: waitTimeout}})
			})
		},
	}
	cmd.Flags().BoolVar(&noDeps, "no-deps", false, "do not start the services' dependencies")
	cmd.Flags().DurationVar(&waitTimeout, "wait-timeout", 0, "give up waiting for a dependency after this long (0: no limit)")
	return cmd
}

func newCpCommand(g *globalOptions) *cobra.Command {
	var (
		archive, followLink, all bool
		index                    int
	)
	cmd := &cobra.Command{
		Use:   "cp [flags] SERVICE:SRC_PATH DEST_PATH|-\n  stack cp [flags] SRC_PATH|- SERVICE:DEST_PATH",
		Short: "Copy files between a service's containers and the host",
		Long: `Copy files or directories between a service's containers (running or not) and
the host, as docker compose cp does: into every replica (--index: one), out of
the first. A file or directory goes into an existing directory under its own
name, or becomes the destination when that does not exist; DIR/. copies a
directory's contents. - reads a tar archive from stdin or writes one to stdout.`,
		Example: `  stack cp ./seed.sql db:/docker-entrypoint-initdb.d/
  stack cp web:/var/log/app.log ./app.log
  stack cp ./site/. web:/usr/share/nginx/html
  stack cp db:/var/lib/data - > data.tar`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_ = all // every replica is the default when copying in; accepted as compose scripts pass it
			p, _, closeFn, err := g.open(cmd, nil)
			if err != nil {
				return err
			}
			defer closeFn()
			return p.Copy(cmd.Context(), ops.CopyRequest{Src: args[0], Dst: args[1], Index: index, Archive: archive,
				FollowLink: followLink, Stdin: g.streams.in, Stdout: g.streams.out})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&archive, "archive", "a", false, "keep the files' owners (uid and gid)")
	f.BoolVarP(&followLink, "follow-link", "L", false, "copy what a source symlink points to")
	f.IntVar(&index, "index", 0, "which replica (default: every one when copying in, the first when copying out)")
	f.BoolVar(&all, "all", false, "copy into every replica (the default; deprecated in docker compose too)")
	return cmd
}

func newAttachCommand(g *globalOptions) *cobra.Command {
	var (
		noStdin, sigProxy bool
		detachKeys        string
		index             int
	)
	cmd := &cobra.Command{
		Use:   "attach [flags] SERVICE",
		Short: "Attach the terminal to a service's running container",
		Long: `Attach stdin, stdout and stderr to a service's running container, as docker
compose attach does, until it exits (its exit code is stack's). With a
terminal container, the detach keys (ctrl-p,ctrl-q) leave it running; Ctrl-C
is passed on to it as SIGINT unless --sig-proxy=false.`,
		Example: `  stack attach web
  stack attach --index 2 --no-stdin worker`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, _, closeFn, err := g.open(cmd, args)
			if err != nil {
				return err
			}
			defer closeFn()
			code, err := p.AttachService(cmd.Context(), ops.AttachRequest{Service: args[0], Index: index,
				NoStdin: noStdin, SigProxy: sigProxy, DetachKeys: detachKeys,
				Stdin: g.streams.in, Stdout: g.streams.out, Stderr: g.streams.err})
			if err != nil {
				return err
			}
			return exitCode(code)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noStdin, "no-stdin", false, "do not forward stdin")
	f.BoolVar(&sigProxy, "sig-proxy", true, "pass Ctrl-C on to the container as SIGINT")
	f.StringVar(&detachKeys, "detach-keys", "ctrl-p,ctrl-q", "keys that detach and leave the container running")
	f.IntVar(&index, "index", 1, "which replica")
	return cmd
}
