package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/ops"
)

func newWatchCommand(g *globalOptions) *cobra.Command {
	var (
		noUp bool
		ef   execFlags
	)
	cmd := &cobra.Command{
		Use:   "watch [SERVICE...]",
		Short: "Bring services up, then update them as their files change (compose's develop.watch)",
		Long: `Bring the services up (unless --no-up), then watch the host paths of their
develop.watch rules and act on each batch of changes, as docker compose watch
does:

  sync          copy the changed files into the running containers at target
                (and remove there the ones deleted)
  sync+restart  sync, then restart the service
  sync+exec     sync, then run exec.command in each container
  restart       restart the service
  rebuild       build the service's image again and recreate it

Paths are watched recursively. Changes are batched until the files are quiet
for half a second. The rule's ignore patterns (.dockerignore syntax, relative
to its path), the build context's .dockerignore, .git and editors' temporary
files are left out. initial_sync: true copies the whole path in first. A path
a bind mount already shares is not watched. Ctrl-C stops watching and leaves
the services running.`,
		Example: `  stack watch
  stack watch web
  stack watch --no-up`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, services []string) error {
			err := g.withProgress(p, func() error {
				return p.Watch(ctx, ops.WatchOptions{Services: services, NoUp: noUp, Up: ops.UpOptions{Exec: ef.options()}})
			})
			if err == nil && ctx.Err() != nil {
				return silentExit{exitInterrupted}
			}
			return err
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&noUp, "no-up", false, "watch what runs: do not bring the services up first")
	f.IntVar(&ef.parallel, "parallel", 0, "how many steps may run at once in an up, rebuild or restart (0: no limit)")
	f.DurationVar(&ef.waitTimeout, "wait-timeout", 0, "give up waiting for a dependency after this long (0: no limit)")
	return cmd
}
