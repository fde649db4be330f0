package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/podmanapi"
	"github.com/podstack/podstack/stack"
)

// projectSummary is one row of `stack ls`.
type projectSummary = ops.ProjectSummary

// psRow is one container in `stack ps`; its JSON form is the --format json
// record and its fields are what a --format template sees.
type psRow struct {
	Name    string `json:"name"`
	Service string `json:"service"`
	Pod     string `json:"pod"`
	State   string `json:"state"`
	Health  string `json:"health,omitempty"`
	Ports   string `json:"ports,omitempty"`
	Image   string `json:"image"`
	ID      string `json:"id"`
}

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
		RunE: g.withSession(func(ctx context.Context, ss *session, args []string) error {
			observed, err := ss.c.Observe(ctx, ss.project, nil)
			if err != nil {
				return err
			}
			refreshHealth(ctx, ss.c, observed)
			rows := psRows(observed, args, all)
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
				func(r psRow) []string { return []string{r.Name, r.Service, r.Pod, r.State, r.Health, r.Ports, r.Image} })
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "also list stopped and exited containers")
	f.BoolVar(&servicesOnly, "services", false, "print only the service names")
	f.StringVar(&format, "format", "table", "table, json, or a Go template such as '{{.Name}} {{.State}}'")
	return cmd
}

// refreshHealth brings stale health states up to date, four checks at a
// time. A check that cannot run leaves the observed state as it was.
func refreshHealth(ctx context.Context, c *podmanapi.Client, o *planner.ObservedState) {
	var g errgroup.Group
	g.SetLimit(4)
	now := time.Now()
	for i := range o.Containers {
		ct := &o.Containers[i]
		if ct.State != "running" || ct.Health == "" {
			continue
		}
		g.Go(func() error {
			if h, err := c.FreshHealth(ctx, ct.Name, now); err == nil && h != "" {
				ct.Health = h
			}
			return nil
		})
	}
	_ = g.Wait()
}

func psRows(o *planner.ObservedState, services []string, all bool) []psRow {
	want := map[string]bool{}
	for _, s := range services {
		want[s] = true
	}
	var rows []psRow
	for _, c := range o.Containers {
		svc := c.Labels[planner.LabelService]
		if len(want) > 0 && !want[svc] {
			continue
		}
		if !all && c.State != "running" && c.State != "paused" {
			continue
		}
		state := c.State
		if c.State == "exited" {
			state = fmt.Sprintf("exited (%d)", c.ExitCode)
		}
		rows = append(rows, psRow{
			Name: c.Name, Service: svc, Pod: c.Labels[planner.LabelPod], State: state,
			Health: c.Health, Ports: formatPorts(c.Ports), Image: c.Image, ID: shortID(c.ID),
		})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}

func formatPorts(ports []stack.Port) string {
	var out []string
	for _, p := range ports {
		if p.Published == 0 {
			out = append(out, fmt.Sprintf("%d/%s", p.Target, p.Protocol))
			continue
		}
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		out = append(out, fmt.Sprintf("%s:%d->%d/%s", ip, p.Published, p.Target, p.Protocol))
	}
	return strings.Join(out, ", ")
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
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
			projects, err := c.Projects(cmd.Context())
			if err != nil {
				return err
			}
			return writeRows(g, format, projects, []string{"NAME", "ENVIRONMENT", "CONTAINERS", "STATUS"},
				func(p projectSummary) []string {
					return []string{p.Name, p.Environment, fmt.Sprint(p.Containers), p.Status}
				})
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table, json, or a Go template")
	return cmd
}
