package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/podstack/podstack/internal/display"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/podmanapi"
	"github.com/podstack/podstack/stack"
)

// configFileName is the per-project settings file read from beside the
// (first) stack file: every flag can be set there by its long name.
const configFileName = "stack.config.yaml"

// envPrefix prefixes the environment variable of every flag (--project-name
// is STACK_PROJECT_NAME).
const envPrefix = "STACK"

// globalOptions are the flags every command shares.
type globalOptions struct {
	files       []string
	projectName string
	projectDir  string
	env         string
	envFiles    []string
	profiles    []string
	url         string
	progress    string
	pods        string
	pod         string
	noWaitLock  bool
	lockTimeout time.Duration
	dryRun      bool
	ansi        string

	streams streams
	force   <-chan struct{}
	// getenv reads the process environment; a field so tests can replace it.
	getenv func(string) string
}

func newRootCommand(s streams, force <-chan struct{}) *cobra.Command {
	g := &globalOptions{streams: s, force: force, getenv: os.Getenv}
	cmd := &cobra.Command{
		Use:   "stack",
		Short: "Run compose-style multi-pod stacks on Podman",
		Long: `stack loads a Compose file or Kubernetes Pod YAML, groups services into Podman
pods, orders startup by health-checked dependencies and runs the plan through
Podman's REST API. It exports each environment to Kubernetes YAML or Quadlet.

Every flag can also be set as a STACK_* environment variable (--project-name is
STACK_PROJECT_NAME) or by its long name in stack.config.yaml beside the stack
file. Flags win over variables, which win over the file.`,
		Example: `  stack up -d -f dev.yaml
  stack up --env prod
  stack plan --offline
  stack export kube --env prod
  stack convert -f compose.yaml -o pods.yaml`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error { return g.resolve(cmd) },
	}
	cmd.SetIn(s.in)
	cmd.SetOut(s.out)
	cmd.SetErr(s.err)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nSee '%s --help'.", err, c.CommandPath())}
	})

	f := cmd.PersistentFlags()
	f.StringArrayVarP(&g.files, "file", "f", nil, "stack file (Compose or Kubernetes YAML); repeat to merge; - reads stdin")
	f.StringVarP(&g.projectName, "project-name", "p", "", "project name (default: from the file, else the directory name)")
	f.StringVar(&g.projectDir, "project-directory", "", "project directory: where .env, .env.<env> and relative paths start, and where the stack file is looked for (default: the first stack file's directory)")
	f.StringVar(&g.env, "env", "", "environment: merges <file>.<env>.yaml overrides and .env.<env>")
	f.StringArrayVar(&g.envFiles, "env-file", nil, "extra environment file for interpolation; repeatable, later wins")
	f.StringArrayVar(&g.profiles, "profile", nil, "enable a profile; repeatable (default: COMPOSE_PROFILES)")
	f.StringVar(&g.url, "url", "", "Podman service URI: unix://, tcp:// or ssh:// (default: CONTAINER_HOST, containers.conf, then the local socket)")
	f.StringVar(&g.progress, "progress", "auto", "progress output: auto, tty, plain, json or quiet")
	f.StringVar(&g.ansi, "ansi", "auto", "ANSI control characters (colours, live progress): never, always or auto (on a terminal, unless NO_COLOR or TERM=dumb)")
	f.StringVar(&g.pods, "pods", "", "pod grouping: auto, service or project (default: x-podstack.pods, else auto)")
	f.StringVar(&g.pod, "pod", "", "limit start/stop/restart/kill/pause/unpause/rm/logs/stats/top/wait to the services of this pod")
	f.BoolVar(&g.dryRun, "dry-run", false, "show what the command would do and change nothing: steps are marked DRY-RUN, up prints its plan")
	f.BoolVar(&g.noWaitLock, "no-wait-lock", false, "fail at once when another stack command is changing the same project, instead of waiting for it")
	f.DurationVar(&g.lockTimeout, "lock-timeout", 0, "give up waiting for another stack command on the same project after this long (0: wait)")

	cmd.AddCommand(
		newVersionCommand(g),
		newConfigCommand(g),
		newValidateCommand(g),
		newPlanCommand(g),
		newGraphCommand(g),
		newCompletionCommand(g),
		newWatchCommand(g),
	)
	addRuntimeCommands(cmd, g)
	addDay2Commands(cmd, g)
	cmd.AddCommand(newExportCommand(g), newConvertCommand(g))
	addKubeTarget(cmd, g)
	for _, c := range cmd.Commands() {
		wrapArgs(c)
	}
	addCompletions(cmd, g)
	return cmd
}

// wrapArgs turns cobra's argument errors into usage errors (exit code 2).
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// resolve fills every flag the user did not set from STACK_* variables, then
// from stack.config.yaml, and checks the values that have a fixed set.
func (g *globalOptions) resolve(cmd *cobra.Command) error {
	v := viper.New()
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))

	files := g.files
	if len(files) == 0 {
		if env := g.getenv(envPrefix + "_FILE"); env != "" {
			files = splitList(env)
		} else {
			files = composeFiles(g.getenv)
		}
	}
	projectDir := g.projectDir
	if projectDir == "" {
		projectDir = g.getenv(envName("project-directory"))
	}
	if path := configPath(files, projectDir); path != "" {
		if err := readConfigFile(v, path, cmd.Root()); err != nil {
			return err
		}
	}

	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" {
			return
		}
		key := f.Name
		var values []string
		if env := g.getenv(envName(key)); env != "" {
			values = []string{env}
			if isList(f) {
				values = splitList(env)
			}
		} else if v.IsSet(key) {
			if isList(f) {
				values = v.GetStringSlice(key)
			} else {
				values = []string{v.GetString(key)}
			}
		}
		for _, val := range values {
			if err := f.Value.Set(val); err != nil {
				errs = append(errs, usagef("%s: invalid value %q for %s: %v", g.sourceOf(key), val, key, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if len(g.files) == 0 {
		g.files = composeFiles(g.getenv)
	}
	if g.dryRun {
		if f := cmd.Flags().Lookup("output"); f != nil && f.Changed {
			return usagef("--dry-run changes nothing on Podman; %s -o writes files, so leave out -o to see the output", cmd.Name())
		}
	}
	if err := oneOf("progress", g.progress, "auto", "tty", "plain", "json", "quiet"); err != nil {
		return err
	}
	if err := oneOf("ansi", g.ansi, "never", "always", "auto"); err != nil {
		return err
	}
	if g.ansi == "never" && g.progress == "tty" {
		return usagef("--progress tty draws with ANSI control characters, which --ansi never turns off: choose one")
	}
	if g.pods != "" {
		if err := oneOf("pods", g.pods, stack.PodPolicies...); err != nil {
			return err
		}
	}
	return nil
}

func (g *globalOptions) sourceOf(key string) string {
	if g.getenv(envName(key)) != "" {
		return envName(key)
	}
	return configFileName
}

func envName(flag string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func isList(f *pflag.Flag) bool {
	t := f.Value.Type()
	return strings.HasSuffix(t, "Slice") || strings.HasSuffix(t, "Array")
}

// splitList splits a list variable on the path list separator or commas, as
// COMPOSE_FILE does.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == os.PathListSeparator || r == ',' }) {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func oneOf(flag, value string, valid ...string) error {
	for _, v := range valid {
		if value == v {
			return nil
		}
	}
	return usagef("invalid --%s %q: must be one of %s", flag, value, strings.Join(valid, ", "))
}

// composeFiles are the stack files COMPOSE_FILE names, split on
// COMPOSE_PATH_SEPARATOR (default ':'), as docker compose reads them: the
// last fallback after -f and STACK_FILE.
func composeFiles(getenv func(string) string) []string {
	v := getenv("COMPOSE_FILE")
	if v == "" {
		return nil
	}
	sep := getenv("COMPOSE_PATH_SEPARATOR")
	if sep == "" {
		sep = string(os.PathListSeparator)
	}
	var out []string
	for _, f := range strings.Split(v, sep) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// configPath finds stack.config.yaml beside the first stack file: the one
// named, else the one discovery finds from the project directory (or the
// working directory).
func configPath(files []string, projectDir string) string {
	dir := projectDir
	if dir == "" {
		dir = "."
	}
	if len(files) > 0 && files[0] != "-" {
		dir = filepath.Dir(files[0])
	} else if len(files) == 0 {
		if found, err := stack.Discover(dir); err == nil {
			dir = filepath.Dir(found[0])
		}
	}
	path := filepath.Join(dir, configFileName)
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

// readConfigFile loads stack.config.yaml strictly: a key that is no flag of
// any command is an error, since a typo there would be silently ignored.
func readConfigFile(v *viper.Viper, path string, root *cobra.Command) error {
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return stack.Problem{Position: stack.Position{File: path}, Message: fmt.Sprintf("cannot read settings: %v", err)}
	}
	known := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	var problems stack.Problems
	for _, key := range v.AllKeys() {
		top := strings.SplitN(key, ".", 2)[0]
		if !known[top] {
			problems = append(problems, stack.Problem{
				Position: stack.Position{File: path},
				Message:  fmt.Sprintf("unknown setting %q", top),
				Fix:      "use a flag's long name, e.g. project-name, env, pods, progress, parallel",
			})
		}
	}
	return problems.Err()
}

// loadOptions turns the global flags into stack.LoadOptions.
func (g *globalOptions) loadOptions() stack.LoadOptions {
	return stack.LoadOptions{
		Files:       g.files,
		WorkingDir:  g.projectDir,
		ProjectName: g.projectName,
		Environment: g.env,
		EnvFiles:    g.envFiles,
		Profiles:    g.profiles,
		Stdin:       g.streams.in,
		// Loading the same inputs again skips compose-go's validation,
		// most of a short command's CPU time.
		ValidatedCache: stack.ValidatedCacheDir(),
	}
}

// load reads the stack and prints its warnings on stderr: every command
// loads through here, so warnings read the same everywhere and the stack's
// credentials are hidden in all that follows. adjust changes the options
// the flags gave (an export's environment, say).
func (g *globalOptions) load(ctx context.Context, adjust ...func(*stack.LoadOptions)) (*stack.Stack, error) {
	opts := g.loadOptions()
	for _, a := range adjust {
		a(&opts)
	}
	s, err := stack.Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	if r, ok := g.streams.err.(*redactingWriter); ok {
		r.hide(s.CredentialValues())
	}
	g.warn(s.Warnings)
	return s, nil
}

// naming is the load adjustment for a command's service arguments: their
// profiles are enabled, as docker compose does for services named on the
// command line.
func naming(services []string) func(*stack.LoadOptions) {
	return func(o *stack.LoadOptions) { o.Services = services }
}

func (g *globalOptions) warn(ws []stack.Warning) {
	sort.SliceStable(ws, func(i, j int) bool {
		return ws[i].File < ws[j].File || (ws[i].File == ws[j].File && ws[i].Line < ws[j].Line)
	})
	for _, w := range ws {
		p := stack.Problem{Position: w.Position, Service: w.Service, Message: w.Message}
		fmt.Fprintf(g.streams.err, "WARN %s\n", p.Error())
	}
}

// policy is the pod grouping --pods asks for; "" leaves the default (the
// stack's x-podstack.pods, else auto) to the planner, the one place that
// applies it.
func (g *globalOptions) policy(*stack.Stack) planner.Policy {
	return planner.Policy(g.pods)
}

// connect opens the Podman service connection (or starts a temporary one).
func (g *globalOptions) connect(ctx context.Context) (*podmanapi.Client, error) {
	return g.dial(ctx, false)
}

// dial is connect; with noEmbedded it fails where no service answers
// instead of starting one.
func (g *globalOptions) dial(ctx context.Context, noEmbedded bool) (*podmanapi.Client, error) {
	c, err := podmanapi.Connect(ctx, podmanapi.ConnectOptions{URL: g.url, Stderr: g.streams.err, Getenv: g.getenv, NoEmbedded: noEmbedded})
	if err != nil {
		return nil, err
	}
	c.SetWarnFunc(func(service, msg string) {
		if service != "" {
			fmt.Fprintf(g.streams.err, "WARN service %q: %s\n", service, msg)
		} else {
			fmt.Fprintf(g.streams.err, "WARN %s\n", msg)
		}
	})
	return c, nil
}

// ansiOn says whether output to w may carry ANSI control characters
// (colours, cursor moves): --ansi always or never decides; auto means on
// a terminal, unless NO_COLOR is set or TERM is dumb.
func (g *globalOptions) ansiOn(w io.Writer) bool {
	switch g.ansi {
	case "always":
		return true
	case "never":
		return false
	}
	if r, ok := w.(*redactingWriter); ok {
		w = r.w
	}
	f, ok := w.(*os.File)
	return ok && display.IsTerminal(f) && g.getenv("NO_COLOR") == "" && g.getenv("TERM") != "dumb"
}

// renderer opens the progress renderer --progress asks for on stderr;
// auto is the live tty renderer where --ansi allows it, else plain.
func (g *globalOptions) renderer() (display.Renderer, error) {
	mode := g.progress
	if mode == "" || mode == "auto" {
		mode = "plain"
		if g.ansiOn(g.streams.err) {
			mode = "tty"
		}
	}
	r, err := display.New(mode, g.streams.err, false, g.getenv)
	if err != nil {
		return nil, usageError{err}
	}
	if g.dryRun {
		r = display.DryRun(r)
	}
	return r, nil
}
