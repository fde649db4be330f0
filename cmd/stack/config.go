package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

func newConfigCommand(g *globalOptions) *cobra.Command {
	var (
		format                      string
		services, volumes, profiles bool
		quiet                       bool
	)
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the normalized stack model",
		Long: `Load the stack files (Compose or Kubernetes YAML), apply the environment,
profiles and interpolation, and print the normalized model podstack works from.
With --quiet it only validates, like 'stack validate'.`,
		Example: `  stack config -f compose.yaml
  stack config --env prod --format json
  stack config --services`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("format", format, "yaml", "json"); err != nil {
				return err
			}
			s, err := g.load(cmd.Context())
			if err != nil {
				return err
			}
			// config prints the model: it binds no host port, so a port
			// clash that only `up` would hit is no reason to refuse it.
			if _, _, err := definitionPods(s, g.policy(s)); err != nil {
				return err
			}
			out := g.streams.out
			switch {
			case quiet:
				return nil
			case services:
				for _, n := range s.ServiceNames() {
					fmt.Fprintln(out, n)
				}
				return nil
			case volumes:
				for _, n := range sortedKeys(s.Volumes) {
					fmt.Fprintln(out, n)
				}
				return nil
			case profiles:
				for _, p := range s.Profiles {
					fmt.Fprintln(out, p)
				}
				return nil
			}
			var data []byte
			if format == "json" {
				data, err = json.MarshalIndent(s, "", "  ")
				data = append(data, '\n')
			} else {
				data, err = yaml.Marshal(s)
			}
			if err != nil {
				return fmt.Errorf("render the model: %w", err)
			}
			_, err = out.Write(data)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "yaml", "output format: yaml or json")
	f.BoolVar(&services, "services", false, "print the service names, one per line")
	f.BoolVar(&volumes, "volumes", false, "print the volume names, one per line")
	f.BoolVar(&profiles, "profiles", false, "print the profile names, one per line")
	f.BoolVarP(&quiet, "quiet", "q", false, "only validate; print nothing")
	return cmd
}

func newValidateCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the stack files and report every problem at once",
		Long: `Load the stack and run every check 'stack up' runs before it creates anything:
file syntax, unknown keys, undefined services, volumes and networks, dependency
cycles, port clashes, pod grouping and names. Exits 2 when there are problems.`,
		Example: `  stack validate -f compose.yaml
  stack validate --env prod --pods project`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.load(cmd.Context())
			if err != nil {
				return err
			}
			if _, err := validPods(s, g.policy(s)); err != nil {
				return err
			}
			fmt.Fprintf(g.streams.err, "%s is valid: %d services\n", describe(s), len(s.Services))
			return nil
		},
	}
}

// validPods groups the stack's services into pods and runs the planner's
// checks on them: everything short of observing Podman.
func validPods(s *stack.Stack, policy planner.Policy) ([]*planner.Pod, error) {
	pods, err := planner.Group(s, policy)
	if err != nil {
		return nil, err
	}
	if err := planner.Validate(s, pods); err != nil {
		return nil, err
	}
	return pods, nil
}

// definitionPods is validPods for commands that bind no host port here
// (config, the exports): the host-port findings up would refuse come back
// apart, for the commands whose output binds them elsewhere to warn about.
func definitionPods(s *stack.Stack, policy planner.Policy) ([]*planner.Pod, stack.Problems, error) {
	pods, err := planner.Group(s, policy)
	if err != nil {
		return nil, nil, err
	}
	host, err := planner.ValidateDefinition(s, pods)
	if err != nil {
		return nil, nil, err
	}
	return pods, host, nil
}

func describe(s *stack.Stack) string {
	d := fmt.Sprintf("stack %q", s.Name)
	if s.Environment != "" {
		d += fmt.Sprintf(" (environment %s)", s.Environment)
	}
	return d
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func newCompletionCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Example: `  source <(stack completion bash)
  stack completion zsh > "${fpath[1]}/_stack"`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			out := g.streams.out
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return usagef("unknown shell %q: use bash, zsh, fish or powershell", args[0])
		},
	}
}
