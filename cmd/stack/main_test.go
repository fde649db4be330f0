package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/internal/testcorpus"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

// runCLI runs the command line in dir and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	if dir != "" {
		t.Chdir(dir)
	}
	var out, errb bytes.Buffer
	code := run(args, streams{in: strings.NewReader(""), out: &out, err: &errb})
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const simpleCompose = `name: demo
services:
  web:
    image: localhost/busybox:test
    environment:
      GREETING: ${GREETING:-hello}
`

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), simpleCompose)
	writeFile(t, filepath.Join(dir, "bad.yaml"), "services:\n  web:\n    image: x\n    depends_on: [nope]\n")
	writeFile(t, filepath.Join(dir, "secret.yaml"), "services:\n  web:\n    image: x\n    secrets: [pw]\nsecrets:\n  pw:\n    file: ./pw.txt\n")
	empty := t.TempDir() // not under dir: discovery looks in parent directories
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"ok", []string{"config", "-q"}, exitOK, ""},
		{"unknown flag", []string{"config", "--bogus"}, exitInvalid, "unknown flag: --bogus"},
		{"unknown command", []string{"bogus"}, exitInvalid, "unknown command"},
		{"bad progress", []string{"config", "--progress", "fancy"}, exitInvalid, "invalid --progress"},
		{"bad pods", []string{"config", "--pods", "all"}, exitInvalid, "invalid --pods"},
		{"too many args", []string{"version", "extra"}, exitInvalid, "unknown command"},
		{"invalid stack", []string{"config", "-f", "bad.yaml"}, exitInvalid, "nope"},
		{"missing file", []string{"config", "-f", "missing.yaml"}, exitInvalid, "missing.yaml"},
		{"missing secret file", []string{"validate", "-f", "secret.yaml"}, exitInvalid, `secret.yaml:7: secret "pw": cannot read its file`},
		// No stack file is a usage error, as docker compose's is.
		{"no stack file", []string{"config", "--project-directory", empty}, exitInvalid, "no stack file found"},
		{"no stack file, ps", []string{"ps", "--project-directory", empty}, exitInvalid, "no stack file found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, dir, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tc.want)
			}
		})
	}
}

// configEnv runs `stack config --format podstack-json` in dir and returns the
// environment name and project name of the loaded model.
func configEnv(t *testing.T, dir string, args ...string) (env, name string) {
	t.Helper()
	stdout, stderr, code := runCLI(t, dir, append([]string{"config", "--format", "podstack-json"}, args...)...)
	if code != 0 {
		t.Fatalf("stack config: exit %d: %s", code, stderr)
	}
	var m struct {
		Name        string `json:"name"`
		Environment string `json:"environment"`
	}
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("config output is not JSON: %v\n%s", err, stdout)
	}
	return m.Environment, m.Name
}

func TestSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), simpleCompose)
	for _, env := range []string{"staging", "prod", "dev"} {
		writeFile(t, filepath.Join(dir, ".env."+env), "GREETING="+env+"\n")
	}

	if env, _ := configEnv(t, dir); env != "" {
		t.Errorf("no setting: environment %q, want none", env)
	}
	writeFile(t, filepath.Join(dir, "stack.config.yaml"), "env: staging\nproject-name: fromfile\n")
	if env, name := configEnv(t, dir); env != "staging" || name != "fromfile" {
		t.Errorf("config file: got env %q name %q, want staging/fromfile", env, name)
	}
	t.Setenv("STACK_ENV", "prod")
	if env, name := configEnv(t, dir); env != "prod" || name != "fromfile" {
		t.Errorf("STACK_ENV over config file: got env %q name %q, want prod/fromfile", env, name)
	}
	if env, _ := configEnv(t, dir, "--env", "dev"); env != "dev" {
		t.Errorf("flag over STACK_ENV: got %q, want dev", env)
	}
}

func TestSettingsFileUnknownKey(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), simpleCompose)
	writeFile(t, filepath.Join(dir, "stack.config.yaml"), "enviroment: prod\n")
	_, stderr, code := runCLI(t, dir, "config")
	if code != exitInvalid {
		t.Fatalf("exit %d, want %d", code, exitInvalid)
	}
	for _, want := range []string{"stack.config.yaml", `unknown setting "enviroment"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not mention %q", stderr, want)
		}
	}
}

func TestConfigListings(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `name: demo
services:
  web:
    image: localhost/busybox:test
    volumes: [data:/data]
  db:
    image: localhost/busybox:test
    profiles: [debug]
volumes:
  data: {}
`)
	out, stderr, code := runCLI(t, dir, "config", "--services")
	if code != 0 || out != "web\n" {
		t.Errorf("--services: exit %d, out %q, stderr %s", code, out, stderr)
	}
	out, _, _ = runCLI(t, dir, "config", "--services", "--profile", "debug")
	if out != "db\nweb\n" {
		t.Errorf("--services --profile debug: %q", out)
	}
	out, _, _ = runCLI(t, dir, "config", "--volumes")
	if out != "data\n" {
		t.Errorf("--volumes: %q", out)
	}
	out, _, _ = runCLI(t, dir, "config", "--profiles")
	if out != "debug\n" {
		t.Errorf("--profiles: %q", out)
	}
}

// TestConfigCorpus runs `stack config -f F` on every awesome-compose file:
// each must print a normalized model with its services.
func TestConfigCorpus(t *testing.T) {
	for _, f := range testcorpus.AwesomeCompose(t) {
		t.Run(testcorpus.Project(f), func(t *testing.T) {
			stdout, stderr, code := runCLI(t, "", "config", "--format", "podstack-json", "-f", f)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var m struct {
				Name     string                     `json:"name"`
				Services map[string]json.RawMessage `json:"services"`
			}
			if err := json.Unmarshal([]byte(stdout), &m); err != nil || m.Name == "" || len(m.Services) == 0 {
				t.Fatalf("not a normalized model (%v):\n%s", err, stdout)
			}
			if out, _, code := runCLI(t, "", "config", "-f", f); code != 0 || !strings.Contains(out, "services:") {
				t.Errorf("YAML output: exit %d\n%s", code, out)
			}
		})
	}
}

func TestFollowShorthand(t *testing.T) {
	cases := map[string]string{
		"logs -f web":               "logs --follow web",
		"-f a.yaml logs -f":         "-f a.yaml logs --follow",
		"-f logs up -d":             "-f logs up -d",
		"--env prod logs --tail 3":  "--env prod logs --tail 3",
		"up -d -f a.yaml":           "up -d -f a.yaml",
		"-p x logs web -f --tail 1": "-p x logs web --follow --tail 1",
		"rm -f -s web":              "rm --force -s web",
		// --pod takes a value: the words after it are not the command.
		"--pod web logs -f":              "--pod web logs --follow",
		"--lock-timeout 5s -p x logs -f": "--lock-timeout 5s -p x logs --follow",
		"--progress=plain logs -f":       "--progress=plain logs --follow",
		"--no-wait-lock logs -f":         "--no-wait-lock logs --follow",
		"-f a.yaml --pod=web rm -f":      "-f a.yaml --pod=web rm --force",
	}
	root := newRootCommand(streams{in: strings.NewReader(""), out: &bytes.Buffer{}, err: &bytes.Buffer{}}, nil)
	for in, want := range cases {
		if got := strings.Join(followShorthand(root, strings.Fields(in)), " "); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

// TestEveryCommandBuilds walks the command tree: cobra panics at parse time
// when a subcommand's shorthand clashes with a global one.
func TestEveryCommandBuilds(t *testing.T) {
	root := newRootCommand(streams{in: strings.NewReader(""), out: &bytes.Buffer{}, err: &bytes.Buffer{}}, nil)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.InheritedFlags() // merges persistent flags: panics on a clash
		c.LocalFlags()
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, args := range [][]string{{"rm", "--help"}, {"logs", "--help"}, {"export", "kube", "--help"}, {"exec", "--help"}} {
		if _, _, code := runCLI(t, "", args...); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

// TestStackFileLookup: where the stack file comes from, as docker compose
// finds it: -f, else COMPOSE_FILE (split on COMPOSE_PATH_SEPARATOR), else
// the first default name in the project directory or its parents.
func TestStackFileLookup(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), "name: found\nservices:\n  web:\n    image: x\n")
	writeFile(t, filepath.Join(dir, "a.yaml"), "name: fromenv\nservices:\n  a:\n    image: x\n")
	writeFile(t, filepath.Join(dir, "b.yaml"), "services:\n  b:\n    image: x\n")
	writeFile(t, filepath.Join(dir, "other", "compose.yaml"), "name: other\nservices:\n  o:\n    image: x\n")
	sub := filepath.Join(dir, "deep", "er")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	services := func(args ...string) string {
		t.Helper()
		out, stderr, code := runCLI(t, "", append(args, "config", "--services")...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		return strings.Join(strings.Fields(out), ",")
	}
	t.Chdir(sub)
	if got := services(); got != "web" {
		t.Errorf("from a subdirectory: %s, want web (the parent's compose.yaml)", got)
	}
	if _, name := configEnv(t, ""); name != "found" {
		t.Errorf("project name %q, want found", name)
	}
	if got := services("--project-directory", filepath.Join(dir, "other")); got != "o" {
		t.Errorf("--project-directory other: %s, want o", got)
	}
	t.Setenv("COMPOSE_FILE", filepath.Join(dir, "a.yaml")+":"+filepath.Join(dir, "b.yaml"))
	if got := services(); got != "a,b" {
		t.Errorf("COMPOSE_FILE a:b: %s, want a,b", got)
	}
	t.Setenv("COMPOSE_PATH_SEPARATOR", ";")
	t.Setenv("COMPOSE_FILE", filepath.Join(dir, "a.yaml")+";"+filepath.Join(dir, "b.yaml"))
	if got := services(); got != "a,b" {
		t.Errorf("COMPOSE_FILE with COMPOSE_PATH_SEPARATOR=';': %s, want a,b", got)
	}
	if got := services("-f", filepath.Join(dir, "b.yaml")); got != "b" {
		t.Errorf("-f over COMPOSE_FILE: %s, want b", got)
	}
}

// TestUnknownEnvironmentIsAUsageError: `--env prdo` used to run the base
// stack labelled prdo.
func TestUnknownEnvironmentIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), simpleCompose)
	writeFile(t, filepath.Join(dir, "compose.prod.yaml"), "services:\n  web:\n    image: y\n")
	_, stderr, code := runCLI(t, dir, "--env", "prdo", "plan", "--offline")
	if code != exitInvalid || !strings.Contains(stderr, `no environment "prdo"`) || !strings.Contains(stderr, "the environments here are prod") {
		t.Errorf("exit %d, stderr %q: want 2 naming prod", code, stderr)
	}
}

// TestUnsupportedKeysWarnedOnLoad: a key podstack ignores is named by every
// command that loads the stack, once; it used to appear only during up.
func TestUnsupportedKeysWarnedOnLoad(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `name: demo
services:
  web:
    image: localhost/busybox:test
    storage_opt:
      size: 1G
`)
	for _, args := range [][]string{{"validate"}, {"config"}, {"config", "--services"}, {"plan", "--offline"}, {"graph"}} {
		_, stderr, code := runCLI(t, dir, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		want := `WARN ` + filepath.Join(dir, "compose.yaml") + `:5: service "web": storage_opt is not supported by podstack and is ignored`
		if n := strings.Count(stderr, "storage_opt"); n != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%v: stderr %q: want once %q", args, stderr, want)
		}
	}
}

// TestNamedServiceEnablesItsProfile: `stack plan debug` for a service
// behind a profile said "no such service"; compose enables the profile.
func TestNamedServiceEnablesItsProfile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `name: demo
services:
  web:
    image: localhost/busybox:test
  debug:
    image: localhost/busybox:test
    profiles: [debug]
`)
	out, stderr, code := runCLI(t, dir, "plan", "--offline", "--format", "text", "debug")
	if code != 0 || !strings.Contains(out, "demo-debug-1") {
		t.Errorf("plan debug: exit %d, stderr %s\n%s", code, stderr, out)
	}
	if _, stderr, code := runCLI(t, dir, "plan", "--offline", "nope"); code != exitInvalid || !strings.Contains(stderr, `"nope"`) {
		t.Errorf("plan nope: exit %d: %s", code, stderr)
	}
}

// TestDryRunRefusesWritingFiles: --dry-run changes nothing, so a command
// asked to write files with it is a usage error rather than a surprise.
func TestDryRunRefusesWritingFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), simpleCompose)
	_, stderr, code := runCLI(t, dir, "--dry-run", "export", "kube", "-o", "out.yaml")
	if code != exitInvalid || !strings.Contains(stderr, "--dry-run") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.yaml")); err == nil {
		t.Error("export wrote its file under --dry-run")
	}
}

// TestAnsi: --ansi always draws colours and live progress even into a
// pipe, never draws none even on a terminal; auto decides by the output.
func TestAnsi(t *testing.T) {
	for _, tc := range []struct {
		ansi   string
		escape bool
	}{{"always", true}, {"never", false}, {"auto", false}} {
		var errb, out bytes.Buffer
		g := &globalOptions{ansi: tc.ansi, progress: "auto", getenv: func(string) string { return "" },
			streams: streams{err: &errb, out: &out}}
		r, err := g.renderer()
		if err != nil {
			t.Fatal(err)
		}
		r.Emit(planner.Event{Kind: planner.StepStartContainer, Resource: "demo-web-1", Status: planner.StatusDone, Text: "Started"})
		r.Close()
		newLogPrinter(g, "demo", []string{"demo-web-1"}, false, false).print(ops.LogLine{Container: "demo-web-1", Text: "hello"})
		if got := strings.Contains(errb.String(), "\x1b["); got != tc.escape {
			t.Errorf("--ansi %s: progress %q", tc.ansi, errb.String())
		}
		if got := strings.Contains(out.String(), "\x1b["); got != tc.escape {
			t.Errorf("--ansi %s: logs %q", tc.ansi, out.String())
		}
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), simpleCompose)
	for _, args := range [][]string{{"--ansi", "sometimes", "config"}, {"--ansi", "never", "--progress", "tty", "config"}} {
		if _, stderr, code := runCLI(t, dir, args...); code != exitInvalid {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
}
