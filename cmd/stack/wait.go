package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/planner"
)

func newWaitCommand(g *globalOptions) *cobra.Command {
	var downProject bool
	cmd := &cobra.Command{
		Use:   "wait [SERVICE...]",
		Short: "Block until the services' containers exit; exit with the first failure's code",
		Example: `  stack wait migrate
  stack wait --down-project`,
		RunE: g.withSession(func(ctx context.Context, ss *session, args []string) error {
			names, err := ss.containers(ctx, args)
			if err != nil {
				return err
			}
			c, project, s := ss.c, ss.project, ss.s
			type exit struct {
				name string
				code int
				err  error
			}
			exits := make(chan exit, len(names))
			var wg sync.WaitGroup
			for _, n := range names {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, err := c.WaitExit(ctx, n)
					exits <- exit{n, code, err}
				}()
			}
			go func() { wg.Wait(); close(exits) }()
			first := 0
			for e := range exits {
				if e.err != nil {
					return e.err
				}
				fmt.Fprintf(g.streams.err, "%s exited with code %d\n", e.name, e.code)
				if e.code != 0 && first == 0 {
					first = e.code
				}
			}
			if downProject {
				r, err := g.renderer()
				if err != nil {
					return err
				}
				_, err = planner.Down(context.WithoutCancel(ctx), c, project, s, planner.DownOptions{}, planner.ExecOptions{}, r)
				r.Close()
				if err != nil {
					return err
				}
			}
			return exitCode(first)
		}),
	}
	cmd.Flags().BoolVar(&downProject, "down-project", false, "tear the project down once they have exited")
	return cmd
}
