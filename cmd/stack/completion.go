package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

func newCompletionCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a completion script for your shell. Besides commands and flags it
completes, from the stack file in the current directory (or -f): service
names, environments (--env), profiles (--profile), pods (--pod) and the
values of flags that take a fixed set (--pods, --progress, --pull, --format).`,
		Example: `  source <(stack completion bash)
  stack completion zsh > "${fpath[1]}/_stack"
  stack completion fish > ~/.config/fish/completions/stack.fish`,
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

// flagValues are the values of flags that take a fixed set, by flag name
// and, where commands differ, by command ("" is any command). The values
// must be the ones the commands accept (TestCompletionValuesAreAccepted).
var flagValues = map[string]map[string][]string{
	"progress": {"": {"auto", "tty", "plain", "json", "quiet"}},
	"pods":     {"": stack.PodPolicies},
	"pull":     {"": {"missing", "always", "never"}},
	"target":   {"": {"podman", "kube"}},
	"format": {
		"config":  configFormats,
		"graph":   {"dot", "mermaid"},
		"version": {"text", "json"},
		// plan, up --dry-run, down --dry-run; ps, images, ls take a Go
		// template as well.
		"": {"table", "json", "text"},
	},
}

// templateFormats are the commands whose --format is table, json or a Go
// template.
var templateFormats = []string{"ps", "ls", "images", "port", "stats", "events", "top", "inspect"}

// addCompletions makes every command complete what the stack file holds:
// the services where it takes services (per its Use line), and the values
// of flags that name a stack's environment, profile or pod, or take a
// fixed set. It reads the stack quietly (no warnings), as the shell asks
// on every Tab.
func addCompletions(root *cobra.Command, g *globalOptions) {
	c := completer{g: g}
	_ = root.MarkPersistentFlagFilename("file", "yaml", "yml")
	_ = root.MarkPersistentFlagFilename("env-file")
	_ = root.RegisterFlagCompletionFunc("env", c.environments)
	_ = root.RegisterFlagCompletionFunc("profile", c.profiles)
	_ = root.RegisterFlagCompletionFunc("pod", c.pods)
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if cmd.ValidArgsFunction == nil && len(cmd.ValidArgs) == 0 {
			if pos, variadic, kinds := serviceArgs(cmd.Use); pos >= 0 {
				cmd.ValidArgsFunction = c.services(pos, variadic, kinds)
			}
		}
		// The command's own flags: nothing has merged its parents'
		// persistent flags in yet (LocalNonPersistentFlags would, building
		// new sets, at a cost every run paid).
		own := cmd.Flags()
		if cmd == root {
			own = cmd.PersistentFlags()
		}
		for name, byCommand := range flagValues {
			f := own.Lookup(name)
			if f == nil {
				continue
			}
			values, ok := byCommand[cmd.Name()]
			if !ok {
				values = byCommand[""]
			}
			if name == "format" && slices.Contains(templateFormats, cmd.Name()) {
				values = []string{"table", "json"}
			}
			_ = cmd.RegisterFlagCompletionFunc(f.Name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// serviceArgs reads a Use line ("exec [flags] SERVICE COMMAND [ARG...]",
// "logs [SERVICE...]", "inspect SERVICE|POD...") for the position of the
// service argument, whether it repeats, and whether pods count too; -1
// when the command takes no service.
func serviceArgs(use string) (pos int, variadic bool, pods bool) {
	words := strings.Fields(use)
	if len(words) > 0 {
		words = words[1:]
	}
	pos = 0
	for _, w := range words {
		if w == "[flags]" {
			continue
		}
		bare := strings.Trim(w, "[]")
		switch strings.TrimSuffix(bare, "...") {
		case "SERVICE":
			return pos, strings.HasSuffix(bare, "..."), false
		case "SERVICE|POD":
			return pos, strings.HasSuffix(bare, "..."), true
		}
		pos++
	}
	return -1, false, false
}

// completer completes from the stack the global flags name.
type completer struct{ g *globalOptions }

// load reads the stack the command line names, without warnings; nil
// when there is none (the shell then offers nothing).
func (c completer) load(cmd *cobra.Command) *stack.Stack {
	_ = c.g.resolve(cmd) // STACK_* and stack.config.yaml, as the command would
	s, err := stack.Load(cmd.Context(), c.g.loadOptions())
	if err != nil {
		return nil
	}
	return s
}

func (c completer) services(pos int, variadic, pods bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) < pos || (!variadic && len(args) > pos) {
			return nil, cobra.ShellCompDirectiveDefault // a command's own words: files
		}
		s := c.load(cmd)
		if s == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		add := func(name, what string) {
			if !slices.Contains(args[pos:], name) && strings.HasPrefix(name, toComplete) {
				out = append(out, cobra.CompletionWithDesc(name, what))
			}
		}
		for _, n := range s.ServiceNames() {
			add(n, "service")
		}
		for _, n := range sortedKeys(s.Disabled) {
			add(n, "service (profile "+strings.Join(s.Disabled[n].Profiles, ", ")+")")
		}
		if pods {
			if groups, err := planner.Group(s, c.g.policy(s)); err == nil {
				for _, p := range groups {
					add(p.Key, "pod")
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func (c completer) environments(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	_ = c.g.resolve(cmd)
	envs, err := stack.Environments(cmd.Context(), c.g.loadOptions())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return prefixed(envs, toComplete), cobra.ShellCompDirectiveNoFileComp
}

func (c completer) profiles(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	s := c.load(cmd)
	if s == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return prefixed(s.Profiles, toComplete), cobra.ShellCompDirectiveNoFileComp
}

func (c completer) pods(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	s := c.load(cmd)
	if s == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	groups, err := planner.Group(s, c.g.policy(s))
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var keys []string
	for _, p := range groups {
		keys = append(keys, p.Key)
	}
	return prefixed(keys, toComplete), cobra.ShellCompDirectiveNoFileComp
}

func prefixed(values []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, v := range values {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}
