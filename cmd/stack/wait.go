package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/ops"
)

func newWaitCommand(g *globalOptions) *cobra.Command {
	var downProject bool
	cmd := &cobra.Command{
		Use:   "wait [SERVICE...]",
		Short: "Block until the services' containers exit; exit with the first failure's code",
		Example: `  stack wait migrate
  stack wait --down-project`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			var code int
			err := g.withProgress(p, func() (err error) {
				code, err = p.Wait(ctx, args, downProject)
				return err
			})
			if err != nil {
				return err
			}
			return exitCode(code)
		}),
	}
	cmd.Flags().BoolVar(&downProject, "down-project", false, "tear the project down once they have exited")
	return cmd
}
