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
		all, servicesOnly, quiet bool
		orphans                  bool
		format                   string
		status, filters          []string
	)
	cmd := &cobra.Command{
		Use:   "ps [SERVICE...]",
		Short: "List the stack's containers with pod, state, health, ports and image",
		Long: `List the stack's containers with pod, state, health, ports and image.

Health is current: where a running container's last healthcheck ended longer
ago than its interval (nothing runs checks on a machine without systemd),
ps runs the check once before reporting. A container that does not run has
no health.

--format json prints docker compose's records (ID, Name, Project, Service,
State, Health, ExitCode, Publishers) plus Pod and Image.`,
		Example: `  stack ps
  stack ps -a --format json
  stack ps --status exited
  stack ps -q web
  stack ps --format '{{.Service}} {{.Health}} {{.Ports}}'`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			for _, f := range filters {
				key, value, ok := strings.Cut(f, "=")
				if !ok || key != "status" {
					return usagef("--filter %q: the one filter is status=STATUS, as in docker compose", f)
				}
				status = append(status, value)
			}
			for _, st := range status {
				if err := oneOf("status", st, ops.PsStatuses...); err != nil {
					return err
				}
			}
			rows, err := p.Ps(ctx, ops.PsOptions{Services: args, All: all, Status: status, HideOrphans: !orphans})
			if err != nil {
				return err
			}
			switch {
			case quiet:
				for _, r := range rows {
					fmt.Fprintln(g.streams.out, r.ID)
				}
				return nil
			case servicesOnly:
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
					return []string{r.Name, r.Service, r.Pod, r.Status(), r.Health, r.Ports(), r.Image}
				})
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "also list stopped and exited containers")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the container IDs")
	f.BoolVar(&servicesOnly, "services", false, "print only the service names")
	f.StringArrayVar(&status, "status", nil, "only containers in this state: "+strings.Join(ops.PsStatuses, ", ")+"; repeatable")
	f.StringArrayVar(&filters, "filter", nil, "filter as docker compose does: status=STATUS")
	f.BoolVar(&orphans, "orphans", true, "also list containers of services the stack no longer declares")
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
	var (
		format     string
		all, quiet bool
		filters    []string
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the stacks running on the Podman service, with their status",
		Long: `List the stacks on the Podman service that have a running (or paused)
container; with -a, every stack that has a container. --format json prints
docker compose's keys (Name, Status) plus Environment and Containers.`,
		Example: `  stack ls
  stack ls -a --filter name=shop
  stack ls -q
  stack ls --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range filters {
				if key, _, _ := strings.Cut(f, "="); key != "name" || !strings.Contains(f, "=") {
					return usagef("--filter %q: the one filter is name=TEXT, as in docker compose ls", f)
				}
			}
			c, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			projects, err := ops.Ls(cmd.Context(), c, ops.LsOptions{All: all, Filter: filters})
			if err != nil {
				return err
			}
			if quiet {
				for _, p := range projects {
					fmt.Fprintln(g.streams.out, p.Name)
				}
				return nil
			}
			return writeRows(g, format, projects, []string{"NAME", "ENVIRONMENT", "CONTAINERS", "STATUS"},
				func(p ops.ProjectSummary) []string {
					return []string{p.Name, p.Environment, fmt.Sprint(p.Containers), p.Status}
				})
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "table", "table, json, or a Go template")
	f.BoolVarP(&all, "all", "a", false, "also list stacks with nothing running")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the stack names")
	f.StringArrayVar(&filters, "filter", nil, "filter as docker compose does: name=TEXT (the name contains TEXT)")
	return cmd
}
