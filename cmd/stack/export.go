package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/export"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/podmanapi"
	"github.com/podstack/podstack/stack"
)

func newExportCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the stack to Kubernetes YAML or systemd Quadlet units",
	}
	cmd.AddCommand(newExportKubeCommand(g), newExportQuadletCommand(g))
	return cmd
}

func newExportKubeCommand(g *globalOptions) *cobra.Command {
	var (
		output, typ, namespace, check string
		allEnvs, fromRunning          bool
	)
	cmd := &cobra.Command{
		Use:   "kube",
		Short: "Export the stack (per environment) to Kubernetes YAML",
		Long: `Export the stack to Kubernetes objects: a Deployment (or, with --type pod, a
Pod) per pod, grouped as 'stack up' groups them; a ClusterIP Service for every
pod that publishes or exposes ports or that others depend on; a
PersistentVolumeClaim per named volume; a ConfigMap for plain environment values
and configs; and Secrets for secrets and credential-like values. Every document
is checked strictly against the Kubernetes API types before it is written.
Anything that cannot be exported is named in a warning.`,
		Example: `  stack export kube --env prod -o k8s/
  stack export kube --type deployment --namespace shop > shop.yaml
  stack export kube --all-envs -o k8s/
  stack export kube --check k8s/stack-prod.yaml
  stack export kube --from-running`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if check != "" {
				data, err := os.ReadFile(check)
				if err != nil {
					return err
				}
				if ps := export.Check(data); len(ps) > 0 {
					return stack.Problems{{Position: stack.Position{File: check}, Message: "invalid Kubernetes YAML:\n  " + strings.Join(ps, "\n  ")}}
				}
				fmt.Fprintf(g.streams.err, "%s is valid\n", check)
				return nil
			}
			if fromRunning {
				return exportRunning(ctx, g, cmd)
			}
			images := g.localImages(ctx)
			defer images.close()
			envs := []string{g.env}
			if allEnvs {
				found, err := stack.Environments(ctx, g.loadOptions())
				if err != nil {
					return err
				}
				envs = append([]string{""}, found...) // the default environment too
			}
			for _, env := range envs {
				s, err := g.load(ctx, func(o *stack.LoadOptions) { o.Environment = env })
				if err != nil {
					return err
				}
				// Kubernetes publishes through Services: no host port is
				// bound, so clashes that only `up` would hit do not matter.
				pods, _, err := definitionPods(s, g.policy(s))
				if err != nil {
					return err
				}
				res, err := export.Kube(s, pods, export.KubeOptions{Type: typ, Namespace: namespace, ImagePorts: images.exposedPorts})
				if err != nil {
					return err
				}
				if err := writeKube(g, res, s, output, allEnvs); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "file or directory to write (default: standard output; with --all-envs: .)")
	f.StringVar(&typ, "type", "deployment", "deployment (replicas, rolling updates) or pod")
	f.StringVar(&namespace, "namespace", "", "namespace for every object")
	f.BoolVar(&allEnvs, "all-envs", false, "write stack.yaml for the default environment and stack-<env>.yaml for each one found (override files and .env.<env>)")
	f.StringVar(&check, "check", "", "only validate this Kubernetes YAML file strictly")
	f.BoolVar(&fromRunning, "from-running", false, "ask Podman for the YAML of what actually runs (podman kube generate)")
	return cmd
}

// writeKube checks the objects and writes them to stdout, a file or a
// directory (as stack[-<env>].yaml).
func writeKube(g *globalOptions, res *export.Result, s *stack.Stack, output string, toDir bool) error {
	for _, w := range res.Warnings {
		fmt.Fprintf(g.streams.err, "WARN %s\n", w)
	}
	var b bytes.Buffer
	if err := res.WriteYAML(&b); err != nil {
		return err
	}
	if ps := export.Check(b.Bytes()); len(ps) > 0 {
		return fmt.Errorf("the export does not validate (a podstack bug, please report it):\n  %s", strings.Join(ps, "\n  "))
	}
	name := "stack.yaml"
	if s.Environment != "" {
		name = "stack-" + s.Environment + ".yaml"
	}
	if output == "" && !toDir {
		_, err := g.streams.out.Write(b.Bytes())
		return err
	}
	if output == "" {
		output = "."
	}
	if st, err := os.Stat(output); (err == nil && st.IsDir()) || toDir || strings.HasSuffix(output, "/") {
		if err := os.MkdirAll(output, 0o755); err != nil {
			return err
		}
		output = filepath.Join(output, name)
	}
	if err := os.WriteFile(output, b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(g.streams.err, "Wrote %s (%d objects)\n", output, len(res.Objects))
	return nil
}

func exportRunning(ctx context.Context, g *globalOptions, cmd *cobra.Command) error {
	p, _, closeFn, err := g.open(cmd, nil)
	if err != nil {
		return err
	}
	defer closeFn()
	data, err := p.Running(ctx)
	if err != nil {
		return err
	}
	_, err = g.streams.out.Write(data)
	return err
}

func newExportQuadletCommand(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "quadlet -o DIR",
		Short: "Export the stack to systemd Quadlet units (.pod, .container, .volume, .network)",
		Example: `  stack export quadlet --env prod -o ~/.config/containers/systemd/
  systemctl --user daemon-reload && systemctl --user start webstack-web.service`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return usagef("-o DIR is required")
			}
			s, err := g.load(cmd.Context())
			if err != nil {
				return err
			}
			pods, host, err := definitionPods(s, g.policy(s))
			if err != nil {
				return err
			}
			files, warnings, err := export.Quadlet(s, pods)
			if err != nil {
				return err
			}
			warnHostPorts(g, host, "the units")
			for _, w := range warnings {
				fmt.Fprintf(g.streams.err, "WARN %s\n", w)
			}
			if err := os.MkdirAll(output, 0o755); err != nil {
				return err
			}
			for _, name := range sortedKeys(files) {
				f := files[name]
				path := filepath.Join(output, name)
				if err := os.WriteFile(path, f.Data, f.Mode); err != nil {
					return err
				}
				// WriteFile keeps the mode of a file that exists: a
				// credentials file must not stay readable from an older run.
				if err := os.Chmod(path, f.Mode); err != nil {
					return err
				}
			}
			fmt.Fprintf(g.streams.err, "Wrote %d units to %s\n", len(files), output)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "directory for the unit files")
	return cmd
}

func newConvertCommand(g *globalOptions) *cobra.Command {
	var (
		output   string
		keepVars bool
	)
	cmd := &cobra.Command{
		Use:   "convert",
		Short: "Convert a compose project to Kubernetes Pod YAML that stack and podman kube play both run",
		Example: `  stack convert -f compose.yaml -o pods.yaml
  stack convert --keep-vars -o pods.tmpl.yaml   # keeps ${VAR} placeholders`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.load(cmd.Context(), func(o *stack.LoadOptions) { o.KeepVars = keepVars })
			if err != nil {
				return err
			}
			pods, err := planner.Group(s, g.policy(s))
			if err != nil {
				return err
			}
			if !keepVars {
				host, err := planner.ValidateDefinition(s, pods)
				if err != nil {
					return err
				}
				warnHostPorts(g, host, "the pods")
			}
			res, err := export.Convert(s, pods)
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(g.streams.err, "WARN %s\n", w)
			}
			var b bytes.Buffer
			if err := res.WriteYAML(&b); err != nil {
				return err
			}
			data := s.Placeholders.Restore(b.Bytes())
			if output == "" {
				_, err = g.streams.out.Write(data)
				return err
			}
			if err := os.WriteFile(output, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(g.streams.err, "Wrote %s (%d objects)\n", output, len(res.Objects))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write (default: standard output)")
	cmd.Flags().BoolVar(&keepVars, "keep-vars", false, "keep ${VAR} placeholders, so the output stays a per-environment template")
	return cmd
}

// warnHostPorts prints the host-port clashes of an export whose output binds
// host ports where it runs: writing it is fine, running it there will fail.
func warnHostPorts(g *globalOptions, host stack.Problems, what string) {
	for _, p := range host {
		p.Message += " (writing " + what + " is fine; running them on one host will fail)"
		fmt.Fprintf(g.streams.err, "WARN %s\n", p.Error())
	}
}

// localImages answers which ports a local image exposes, asking the Podman
// service only when an export needs it (a service others reach declares no
// port) and only if one already answers: an export never starts one.
type localImages struct {
	ctx    context.Context
	g      *globalOptions
	client *podmanapi.Client
	tried  bool
	cache  map[string][]string
}

func (g *globalOptions) localImages(ctx context.Context) *localImages {
	return &localImages{ctx: ctx, g: g, cache: map[string][]string{}}
}

func (l *localImages) exposedPorts(image string) ([]string, bool) {
	if ports, ok := l.cache[image]; ok {
		return ports, ports != nil
	}
	if !l.tried {
		l.tried = true
		c, err := podmanapi.Connect(l.ctx, podmanapi.ConnectOptions{URL: l.g.url, Getenv: l.g.getenv, NoEmbedded: true, Timeout: 2 * time.Second})
		if err == nil {
			l.client = c
		}
	}
	if l.client == nil {
		return nil, false
	}
	ports, found, err := l.client.ImageExposedPorts(l.ctx, image)
	if err != nil || !found {
		l.cache[image] = nil
		return nil, false
	}
	if ports == nil {
		ports = []string{}
	}
	l.cache[image] = ports
	return ports, true
}

func (l *localImages) close() {
	if l.client != nil {
		l.client.Close()
	}
}
