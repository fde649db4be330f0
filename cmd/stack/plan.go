package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

// planFlags are the flags that shape a plan; `up` and `plan` share them so a
// plan printed by `stack plan` is exactly what `stack up` would run.
type planFlags struct {
	noDeps, forceRecreate, noRecreate, removeOrphans, noStart, wait bool
	build, noBuild                                                  bool
	alwaysRecreateDeps                                              bool
	pull                                                            string
	scale                                                           []string
}

func (p *planFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&p.noDeps, "no-deps", false, "do not include the named services' dependencies")
	f.BoolVar(&p.forceRecreate, "force-recreate", false, "recreate the named services' containers (all when none is named) even if their configuration did not change")
	f.BoolVar(&p.alwaysRecreateDeps, "always-recreate-deps", false, "recreate the named services' dependencies too")
	f.BoolVar(&p.noRecreate, "no-recreate", false, "keep existing containers even if their configuration changed")
	f.BoolVar(&p.removeOrphans, "remove-orphans", false, "remove this project's containers and pods the stack no longer declares")
	f.BoolVar(&p.noStart, "no-start", false, "create but do not start")
	f.BoolVar(&p.wait, "wait", false, "wait until every service is running, or healthy when it has a healthcheck")
	f.StringVar(&p.pull, "pull", "missing", "pull images: missing, always or never")
	f.BoolVar(&p.build, "build", false, "build the images of services with a build section, even when current")
	f.BoolVar(&p.noBuild, "no-build", false, "build no image, even one that is missing or whose build inputs changed")
	f.StringArrayVar(&p.scale, "scale", nil, "run NUM replicas of SERVICE (SERVICE=NUM), overriding the stack; repeatable")
}

func (p *planFlags) options(g *globalOptions, services []string) (planner.Options, error) {
	if err := oneOf("pull", p.pull, "missing", "always", "never"); err != nil {
		return planner.Options{}, err
	}
	if (p.forceRecreate || p.alwaysRecreateDeps) && p.noRecreate {
		return planner.Options{}, usagef("--force-recreate and --always-recreate-deps cannot be used with --no-recreate")
	}
	if p.build && p.noBuild {
		return planner.Options{}, usagef("--build and --no-build cannot be used together")
	}
	scale := map[string]int{}
	for _, kv := range p.scale {
		name, num, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(num)
		if !ok || name == "" || err != nil {
			return planner.Options{}, usagef("--scale %q: want SERVICE=NUM, as in --scale web=3", kv)
		}
		scale[name] = n
	}
	return planner.Options{
		Scale:    scale,
		Services: services, NoDeps: p.noDeps,
		ForceRecreate: p.forceRecreate, AlwaysRecreateDeps: p.alwaysRecreateDeps, NoRecreate: p.noRecreate,
		RemoveOrphans: p.removeOrphans, NoStart: p.noStart, Pull: p.pull, Wait: p.wait,
		Build: p.build, NoBuild: p.noBuild,
	}, nil
}

func newPlanCommand(g *globalOptions) *cobra.Command {
	var (
		pf      planFlags
		offline bool
		format  string
	)
	cmd := &cobra.Command{
		Use:   "plan [SERVICE...]",
		Short: "Show the steps 'stack up' would take, without changing anything",
		Long: `Compare the stack with what runs on the Podman service and print the plan:
one step per line with the steps it waits for and why it is needed. With
--offline nothing is asked of Podman and the plan starts from an empty machine.`,
		Example: `  stack plan
  stack plan --offline --format json
  stack plan web --no-deps`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("format", format, "table", "json", "text"); err != nil {
				return err
			}
			opts, err := pf.options(g, args)
			if err != nil {
				return err
			}
			s, err := g.load(cmd.Context(), naming(args))
			if err != nil {
				return err
			}
			p := &ops.Project{Name: s.Name, Stack: s, Policy: g.policy(s)}
			if !offline {
				c, err := g.connect(cmd.Context())
				if err != nil {
					return fmt.Errorf("%w (use --offline to plan without Podman)", err)
				}
				defer c.Close()
				p = g.project(s, c)
			}
			plan, err := p.Plan(cmd.Context(), opts, offline)
			if err != nil {
				return err
			}
			for _, w := range plan.Warnings {
				fmt.Fprintf(g.streams.err, "WARN %s\n", w)
			}
			return writePlan(g, plan, format)
		},
	}
	pf.register(cmd.Flags())
	cmd.Flags().BoolVar(&offline, "offline", false, "plan against an empty machine; do not contact Podman")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, text or json")
	return cmd
}

func writePlan(g *globalOptions, plan *planner.Plan, format string) error {
	out := g.streams.out
	switch format {
	case "json":
		data, err := plan.JSON()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", data)
		return err
	case "text":
		_, err := fmt.Fprint(out, plan.String())
		return err
	default:
		return plan.WriteTable(out)
	}
}

func newGraphCommand(g *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Print the dependency graph of services and pods (Graphviz DOT or Mermaid)",
		Example: `  stack graph | dot -Tsvg > stack.svg
  stack graph --format mermaid`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("format", format, "dot", "mermaid"); err != nil {
				return err
			}
			s, err := g.load(cmd.Context())
			if err != nil {
				return err
			}
			pods, err := validPods(s, g.policy(s))
			if err != nil {
				return err
			}
			return planner.Graph(s, pods, format, g.streams.out)
		},
	}
	cmd.Flags().StringVar(&format, "format", "dot", "graph format: dot or mermaid")
	return cmd
}
