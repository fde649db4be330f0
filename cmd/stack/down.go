package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

func newDownCommand(g *globalOptions) *cobra.Command {
	var (
		volumes, removeOrphans bool
		timeout                int
		rmi                    string
		ef                     execFlags
	)
	cmd := &cobra.Command{
		Use:   "down [SERVICE...]",
		Short: "Stop and remove the stack's containers, pods and networks",
		Long: `Stop the stack's containers in reverse dependency order, then remove them, their
pods and the project networks. Named volumes stay unless -v is given. Only
objects labelled with this project are ever touched. Works with just
-p NAME when the stack file is gone.`,
		Example: `  stack down
  stack down -v
  stack down --rmi local
  stack down -p myproject
  stack down web -t 2`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			if err := oneOf("rmi", rmi, "", "local", "all"); err != nil {
				return err
			}
			opts := planner.DownOptions{Services: args, Volumes: volumes, RemoveOrphans: removeOrphans, Timeout: stopTimeout(timeout),
				RemoveImages: rmi}
			return g.withProgress(p, func() error {
				_, err := p.Down(ctx, opts, ef.options())
				return err
			})
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&volumes, "volumes", "v", false, "also remove the project's named volumes")
	f.BoolVar(&removeOrphans, "remove-orphans", false, "also remove project containers the stack no longer declares")
	f.StringVar(&rmi, "rmi", "", "also remove images: local (the ones built under the project's names), or all (every service's)")
	f.IntVarP(&timeout, "timeout", "t", -1, "seconds to wait for a container to stop before killing it (default: each service's stop_grace_period)")
	f.IntVar(&ef.parallel, "parallel", 0, "how many steps may run at once (0: no limit)")
	return cmd
}

// stopTimeout turns -t SECONDS into a grace period: -1 (unset) leaves each
// service's own, and 0 must mean "kill at once", so it becomes the smallest
// non-zero duration (zero means "unset" to the planner).
func stopTimeout(seconds int) time.Duration {
	if seconds < 0 {
		return 0
	}
	return time.Duration(seconds)*time.Second + time.Nanosecond
}
