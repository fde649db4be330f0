package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// configFormats are config's output formats: compose's own (what docker
// compose and stack both read back), then podstack's model.
var configFormats = []string{"yaml", "json", "podstack", "podstack-json"}

func newConfigCommand(g *globalOptions) *cobra.Command {
	var (
		format, output, hash        string
		services, volumes, profiles bool
		images, noInterpolate       bool
		quiet                       bool
	)
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the stack as one resolved compose file",
		Long: `Load the stack files (Compose or Kubernetes YAML), apply the environment,
profiles and interpolation, and print the result as one compose file that
docker compose and stack both read back to the same stack: overrides merged,
variables and env_file resolved, defaults (such as healthcheck timings) filled
in, relative paths made absolute, a literal $ written $$. Services a profile
switches off are kept with their profiles. Keys podstack does not carry (load
warns about them) are left out. --format json writes the same as JSON;
--format podstack (or podstack-json) prints podstack's own model instead.

With --quiet it only validates, like 'stack validate'.`,
		Example: `  stack config -f compose.yaml
  stack config --env prod -o prod.compose.yaml
  stack config --no-interpolate
  stack config --format podstack-json
  stack config --services
  stack config --images
  stack config --hash "*"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("format", format, configFormats...); err != nil {
				return err
			}
			if noInterpolate && cmd.Flags().Changed("hash") {
				return usagef("--hash hashes the resolved values: it cannot be used with --no-interpolate")
			}
			s, err := g.load(cmd.Context(), func(o *stack.LoadOptions) { o.KeepVars = noInterpolate })
			if err != nil {
				return err
			}
			// config prints the model: it binds no host port, so a port
			// clash that only `up` would hit is no reason to refuse it.
			pods, _, err := definitionPods(s, g.policy(s))
			if err != nil {
				return err
			}
			var data []byte
			switch {
			case quiet:
				return nil
			case services:
				data = lines(s.ServiceNames())
			case volumes:
				data = lines(sortedKeys(s.Volumes))
			case profiles:
				data = lines(s.Profiles)
			case images:
				var refs []string
				for _, n := range s.ServiceNames() {
					refs = append(refs, planner.ImageRef(s, s.Services[n]))
				}
				data = lines(refs)
			case cmd.Flags().Changed("hash"):
				if data, err = configHashes(s, pods, hash); err != nil {
					return err
				}
			default:
				if data, err = renderConfig(s, format); err != nil {
					return err
				}
			}
			data = s.Placeholders.Restore(data)
			if output != "" {
				if err := os.WriteFile(output, data, 0o644); err != nil {
					return fmt.Errorf("write %s: %w", output, err)
				}
				return nil
			}
			_, err = g.streams.out.Write(data)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "yaml", "output format: yaml or json (compose), podstack or podstack-json (podstack's model)")
	f.StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	f.BoolVar(&services, "services", false, "print the service names, one per line")
	f.BoolVar(&volumes, "volumes", false, "print the volume names, one per line")
	f.BoolVar(&profiles, "profiles", false, "print the profile names, one per line")
	f.BoolVar(&images, "images", false, "print the image each service runs, one per line")
	f.StringVar(&hash, "hash", "", `print "SERVICE HASH" for these services (comma-separated, "*" for all): the config hash up compares to decide what to recreate`)
	f.BoolVar(&noInterpolate, "no-interpolate", false, "keep ${VAR} expressions as written instead of their values")
	f.BoolVarP(&quiet, "quiet", "q", false, "only validate; print nothing")
	return cmd
}

// lines is one item per line.
func lines(items []string) []byte {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it + "\n")
	}
	return []byte(b.String())
}

// renderConfig writes the stack in a config format.
func renderConfig(s *stack.Stack, format string) ([]byte, error) {
	switch format {
	case "yaml", "json":
		return s.MarshalCompose(format)
	}
	var data []byte
	var err error
	if format == "podstack-json" {
		data, err = json.MarshalIndent(s, "", "  ")
		data = append(data, '\n')
	} else {
		data, err = yaml.Marshal(s)
	}
	if err != nil {
		return nil, fmt.Errorf("render the model: %w", err)
	}
	return s.Placeholders.Restore(data), nil
}

// configHashes prints "SERVICE HASH" lines for the services which names
// (comma-separated; "*" is all), in name order.
func configHashes(s *stack.Stack, pods []*planner.Pod, which string) ([]byte, error) {
	hashes := planner.ConfigHashes(s, pods)
	names := s.ServiceNames()
	if which != "*" {
		names = splitComma(which)
		if len(names) == 0 {
			return nil, usagef(`--hash needs service names or "*"`)
		}
		var unknown []string
		for _, n := range names {
			if _, ok := hashes[n]; !ok {
				unknown = append(unknown, n)
			}
		}
		if len(unknown) > 0 {
			return nil, usagef("--hash: no such service %s in stack %q (stack config --services lists them)", strings.Join(unknown, ", "), s.Name)
		}
	}
	var out []string
	for _, n := range names {
		out = append(out, n+" "+hashes[n])
	}
	return lines(out), nil
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
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
