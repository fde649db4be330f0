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
