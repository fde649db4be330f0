package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/ops"
)

func newPsCommand(g *globalOptions) *cobra.Command {
	var (
		all, servicesOnly bool
		format            string
	)
	cmd := &cobra.Command{
		Use:   "ps [SERVICE...]",
		Short: "List the stack's containers with pod, state, health, ports and image",
		Long: `List the stack's containers with pod, state, health, ports and image.

Health is current: where a running container's last healthcheck ended longer
ago than its interval (nothing runs checks on a machine without systemd),
ps runs the check once before reporting.`,
		Example: `  stack ps
  stack ps -a --format json
  stack ps --format '{{.Service}} {{.Health}}'`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			rows, err := p.Ps(ctx, ops.PsOptions{Services: args, All: all})
			if err != nil {
				return err
			}
			if servicesOnly {
				seen := map[string]bool{}
				for _, r := range rows {
					if !seen[r.Service] {
						seen[r.Service] = true
						fmt.Fprintln(g.streams.out, r.Service)
					}
				}
				return nil
			}
			return writeRows(g, format, rows, []string{"NAME", "SERVICE", "POD", "STATE", "HEALTH", "PORTS", "IMAGE"},
				func(r ops.Container) []string {
					return []string{r.Name, r.Service, r.Pod, r.State, r.Health, r.Ports, r.Image}
				})
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "also list stopped and exited containers")
	f.BoolVar(&servicesOnly, "services", false, "print only the service names")
	f.StringVar(&format, "format", "table", "table, json, or a Go template such as '{{.Name}} {{.State}}'")
	return cmd
}

// writeRows prints rows as a table, JSON (one array), or through a Go template.
func writeRows[T any](g *globalOptions, format string, rows []T, header []string, cells func(T) []string) error {
	out := g.streams.out
	switch format {
	case "table", "":
		tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(cells(r), "\t"))
		}
		return tw.Flush()
	case "json":
		if rows == nil {
			rows = []T{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	default:
		tmpl, err := template.New("format").Parse(format)
		if err != nil {
			return usagef("invalid --format template: %v", err)
		}
		for _, r := range rows {
			if err := tmpl.Execute(out, r); err != nil {
				return fmt.Errorf("--format template: %w", err)
			}
			fmt.Fprintln(out)
		}
		return nil
	}
}

func newLsCommand(g *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List every stack on the Podman service with its status",
		Example: `  stack ls
  stack ls --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			projects, err := ops.Ls(cmd.Context(), c)
			if err != nil {
				return err
			}
			return writeRows(g, format, projects, []string{"NAME", "ENVIRONMENT", "CONTAINERS", "STATUS"},
				func(p ops.ProjectSummary) []string {
					return []string{p.Name, p.Environment, fmt.Sprint(p.Containers), p.Status}
				})
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table, json, or a Go template")
	return cmd
}
