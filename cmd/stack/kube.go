package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/podstack/podstack/cluster"
	"github.com/podstack/podstack/export"
	"github.com/podstack/podstack/internal/lock"
	"github.com/podstack/podstack/planner"
)

// kubeFlags choose where up, plan, down and ps act: Podman (the default)
// or a Kubernetes cluster, found as kubectl finds it.
type kubeFlags struct {
	target     string
	kubeconfig string
	context    string
	namespace  string
}

func (k *kubeFlags) register(f *pflag.FlagSet) {
	f.StringVar(&k.target, "target", "podman", "where the stack runs: podman, or kube for the Kubernetes cluster of your kubeconfig")
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "with --target kube: kubeconfig file (default: KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&k.context, "context", "", "with --target kube: kubeconfig context (default: the current context)")
	f.StringVar(&k.namespace, "namespace", "", "with --target kube: namespace (default: the context's, else default)")
}

// kubeOnly are the flags that mean something only with --target kube.
var kubeOnly = []string{"kubeconfig", "context", "namespace"}

// kubeAllowed are each command's own flags that apply to --target kube;
// any other flag of the command is a usage error there, not ignored.
var kubeAllowed = map[string][]string{
	"up":   {"remove-orphans", "wait", "wait-timeout", "format", "detach"},
	"plan": {"remove-orphans", "wait", "format", "offline"},
	"down": {"volumes", "remove-orphans"},
	"ps":   {"format"},
}

var kubeExamples = map[string]string{
	"up":   "\n  stack up --target kube --env prod --namespace shop --wait\n  stack up --target kube --env prod --remove-orphans --dry-run",
	"plan": "\n  stack plan --target kube --env prod --namespace shop",
	"down": "\n  stack down --target kube --env prod --namespace shop --volumes",
	"ps":   "\n  stack ps --target kube --env prod --namespace shop",
}

// addKubeTarget gives up, plan, down and ps a --target flag. With
// --target kube they deploy the environment to a namespace of a cluster,
// plan it, remove it and list it (see package cluster); without it they
// are unchanged. One flag, not a command group, because the verbs and
// their flags (--env, --remove-orphans, --wait, --dry-run) mean the same
// on both, and STACK_TARGET or `target: kube` in stack.config.yaml can
// point a whole project at its cluster.
func addKubeTarget(root *cobra.Command, g *globalOptions) {
	for _, c := range root.Commands() {
		allowed, ok := kubeAllowed[c.Name()]
		if !ok {
			continue
		}
		k := &kubeFlags{}
		k.register(c.Flags())
		c.Example += kubeExamples[c.Name()]
		podman := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := k.check(cmd, allowed); err != nil {
				return err
			}
			if k.target == "podman" {
				return podman(cmd, args)
			}
			if len(args) > 0 {
				return usagef("%s --target kube acts on the whole environment; SERVICE arguments are not supported", cmd.Name())
			}
			run := map[string]func(*cobra.Command, *kubeFlags, *globalOptions) error{
				"up": kubeUp, "plan": kubePlan, "down": kubeDown, "ps": kubePs,
			}[cmd.Name()]
			return run(cmd, k, g)
		}
	}
}

// check refuses flags that do not apply to the chosen target.
func (k *kubeFlags) check(cmd *cobra.Command, allowed []string) error {
	if err := oneOf("target", k.target, "podman", "kube"); err != nil {
		return err
	}
	if k.target == "podman" {
		for _, name := range kubeOnly {
			if cmd.Flags().Changed(name) {
				return usagef("--%s needs --target kube", name)
			}
		}
		return nil
	}
	ok := map[string]bool{"target": true, "help": true}
	for _, name := range append(allowed, kubeOnly...) {
		ok[name] = true
	}
	var bad []string
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Changed && !ok[f.Name] {
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		return usagef("%s does not apply to %s --target kube", strings.Join(bad, ", "), cmd.Name())
	}
	return nil
}

func (k *kubeFlags) connect(g *globalOptions) (*cluster.Client, error) {
	return cluster.Connect(cluster.ConnectOptions{Kubeconfig: k.kubeconfig, Context: k.context, Namespace: k.namespace, Warnings: g.streams.err})
}

// desired loads the stack and builds what it wants in the namespace: the
// objects `export kube` writes, checked as export checks them (no host
// port is bound, so clashes only `up` on Podman would hit do not matter).
func (k *kubeFlags) desired(cmd *cobra.Command, g *globalOptions, namespace string) (*cluster.Desired, error) {
	s, err := g.load(cmd.Context())
	if err != nil {
		return nil, err
	}
	pods, _, err := definitionPods(s, g.policy(s))
	if err != nil {
		return nil, err
	}
	images := g.localImages(cmd.Context())
	defer images.close()
	// Its warnings come with the plan.
	return cluster.FromStack(s, pods, export.KubeOptions{Namespace: namespace, ImagePorts: images.exposedPorts})
}

// lock keeps two stack commands on this machine from changing the same
// namespace's project at once.
func (k *kubeFlags) lock(ctx context.Context, g *globalOptions, api *cluster.Client, t cluster.Target, command string) (*lock.Lock, error) {
	return lock.Acquire(ctx, lock.Options{
		Service: "kube " + api.Server() + " " + t.Namespace, Project: t.Project, Command: command,
		NoWait: g.noWaitLock, Timeout: g.lockTimeout,
		OnWait: func(h lock.Holder) {
			fmt.Fprintf(g.streams.err, "Waiting for %s to finish with project %q...\n", h, t.Project)
		},
	})
}

func flagBool(cmd *cobra.Command, name string) bool {
	v, _ := cmd.Flags().GetBool(name)
	return v
}

func flagString(cmd *cobra.Command, name string) string {
	v, _ := cmd.Flags().GetString(name)
	return v
}

func kubeOptions(cmd *cobra.Command) cluster.Options {
	return cluster.Options{RemoveOrphans: flagBool(cmd, "remove-orphans"), Wait: flagBool(cmd, "wait")}
}

func writeKubePlan(g *globalOptions, plan *cluster.Plan, format string) error {
	for _, w := range plan.Warnings {
		fmt.Fprintf(g.streams.err, "WARN %s\n", w)
	}
	switch format {
	case "json":
		data, err := plan.JSON()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(g.streams.out, "%s\n", data)
		return err
	case "text":
		_, err := fmt.Fprint(g.streams.out, plan.String())
		return err
	}
	return plan.WriteTable(g.streams.out)
}

// kubePlan prints what up --target kube would do; the whole plan is sent
// as a server-side dry run, so what the cluster would reject is shown too.
func kubePlan(cmd *cobra.Command, k *kubeFlags, g *globalOptions) error {
	format := flagString(cmd, "format")
	if err := oneOf("format", format, "table", "json", "text"); err != nil {
		return err
	}
	if flagBool(cmd, "offline") {
		// Reading the kubeconfig asks nothing of the cluster; without one
		// the plan is for the namespace given, else "default".
		namespace := k.namespace
		if api, err := k.connect(g); err == nil {
			namespace = api.Namespace()
		} else if namespace == "" {
			namespace = "default"
		}
		d, err := k.desired(cmd, g, namespace)
		if err != nil {
			return err
		}
		plan, err := cluster.Up(d, &cluster.Observed{}, kubeOptions(cmd))
		if err != nil {
			return err
		}
		return writeKubePlan(g, plan, format)
	}
	api, err := k.connect(g)
	if err != nil {
		return fmt.Errorf("%w (use --offline to plan without the cluster)", err)
	}
	d, err := k.desired(cmd, g, api.Namespace())
	if err != nil {
		return err
	}
	plan, err := cluster.PlanUp(cmd.Context(), api, d, kubeOptions(cmd), true)
	if plan != nil {
		if werr := writeKubePlan(g, plan, format); werr != nil {
			return werr
		}
	}
	return err
}

func kubeUp(cmd *cobra.Command, k *kubeFlags, g *globalOptions) error {
	ctx := cmd.Context()
	dryRun := flagBool(cmd, "dry-run")
	format := flagString(cmd, "format")
	if dryRun {
		if err := oneOf("format", format, "table", "json", "text"); err != nil {
			return err
		}
	}
	api, err := k.connect(g)
	if err != nil {
		return err
	}
	d, err := k.desired(cmd, g, api.Namespace())
	if err != nil {
		return err
	}
	if dryRun {
		plan, err := cluster.PlanUp(ctx, api, d, kubeOptions(cmd), true)
		if plan != nil {
			if werr := writeKubePlan(g, plan, format); werr != nil {
				return werr
			}
		}
		return err
	}
	l, err := k.lock(ctx, g, api, d.Target, "up")
	if err != nil {
		return err
	}
	defer l.Release()
	r, err := g.renderer()
	if err != nil {
		return err
	}
	waitTimeout, _ := cmd.Flags().GetDuration("wait-timeout")
	plan, err := cluster.Deploy(ctx, api, d, kubeOptions(cmd), cluster.ExecOptions{WaitTimeout: waitTimeout}, r)
	r.Close()
	if plan != nil {
		for _, w := range plan.Warnings {
			fmt.Fprintf(g.streams.err, "WARN %s\n", w)
		}
	}
	if err != nil {
		if plan != nil && plan.Writes() {
			err = fmt.Errorf("%w\nWhat was applied stays, labelled with project %q: run 'stack up --target kube' again after fixing the cause, or 'stack down --target kube' to remove it", err, d.Target.Project)
		}
		return err
	}
	if !plan.Writes() && len(plan.Steps) == 0 {
		fmt.Fprintf(g.streams.err, "Nothing to do: %s is up to date.\n", d.Target)
	}
	return nil
}

func kubeDown(cmd *cobra.Command, k *kubeFlags, g *globalOptions) error {
	ctx := cmd.Context()
	_, project, err := loadForTeardown(g, cmd)
	if err != nil {
		return err
	}
	api, err := k.connect(g)
	if err != nil {
		return err
	}
	t := cluster.Target{Project: project, Environment: g.env, Namespace: api.Namespace()}
	if g.dryRun {
		// The removal plan, checked by the API server as a dry run.
		plan, err := cluster.Remove(ctx, api, t, cluster.DownOptions{Volumes: flagBool(cmd, "volumes")}, cluster.ExecOptions{DryRun: true}, planner.NoEvents)
		if plan != nil {
			if werr := writeKubePlan(g, plan, "table"); werr != nil {
				return werr
			}
		}
		return err
	}
	l, err := k.lock(ctx, g, api, t, "down")
	if err != nil {
		return err
	}
	defer l.Release()
	r, err := g.renderer()
	if err != nil {
		return err
	}
	plan, err := cluster.Remove(ctx, api, t, cluster.DownOptions{Volumes: flagBool(cmd, "volumes")}, cluster.ExecOptions{}, r)
	r.Close()
	if plan != nil {
		for _, w := range plan.Warnings {
			fmt.Fprintf(g.streams.err, "WARN %s\n", w)
		}
		if err == nil && len(plan.Steps) == 0 {
			fmt.Fprintf(g.streams.err, "Nothing to remove: %s has no objects.\n", t)
		}
	}
	return err
}

func kubePs(cmd *cobra.Command, k *kubeFlags, g *globalOptions) error {
	_, project, err := loadForTeardown(g, cmd)
	if err != nil {
		return err
	}
	api, err := k.connect(g)
	if err != nil {
		return err
	}
	rows, err := cluster.List(cmd.Context(), api, cluster.Target{Project: project, Environment: g.env, Namespace: api.Namespace()})
	if err != nil {
		return err
	}
	return writeRows(g, flagString(cmd, "format"), rows, []string{"KIND", "NAME", "STATUS"},
		func(r cluster.Row) []string { return []string{r.Kind, r.Name, r.Status} })
}
