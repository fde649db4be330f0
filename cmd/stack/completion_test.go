package main

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// complete asks for completions as the shell does, through cobra's
// __complete command, and returns the offered words (descriptions cut).
func complete(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	out, stderr, code := runCLI(t, dir, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d: %s", args, code, stderr)
	}
	var words []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" || strings.HasPrefix(line, ":") {
			continue // the directive
		}
		word, _, _ := strings.Cut(line, "\t")
		words = append(words, word)
	}
	return words
}

func completionStack(t *testing.T) string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `name: shop
services:
  web:
    image: busybox
    x-pod: front
  api:
    image: busybox
    x-pod: front
  db:
    image: busybox
  debug:
    image: busybox
    profiles: [tools]
  trace:
    image: busybox
    profiles: [tools, obs]
`)
	writeFile(t, filepath.Join(dir, "compose.prod.yaml"), "services: {}\n")
	writeFile(t, filepath.Join(dir, ".env.staging"), "X=1\n")
	return dir
}

// TestCompletion: services, environments, profiles, pods and flag values
// come from the stack file, as a shell would be offered them.
func TestCompletion(t *testing.T) {
	dir := completionStack(t)
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"logs", ""}, []string{"api", "db", "web", "debug", "trace"}},
		{[]string{"logs", "web", ""}, []string{"api", "db", "debug", "trace"}},
		{[]string{"up", "d"}, []string{"db", "debug"}},
		{[]string{"exec", ""}, []string{"api", "db", "web", "debug", "trace"}},
		{[]string{"exec", "web", ""}, nil}, // the command: not a service
		{[]string{"run", "--rm", "a"}, []string{"api"}},
		{[]string{"port", "w"}, []string{"web"}},
		{[]string{"inspect", "f"}, []string{"front"}},
		{[]string{"watch", "-f", filepath.Join(dir, "compose.yaml"), "t"}, []string{"trace"}},
		{[]string{"up", "--env", ""}, []string{"prod", "staging"}},
		{[]string{"--env", "p"}, []string{"prod"}},
		{[]string{"ps", "--profile", ""}, []string{"obs", "tools"}},
		{[]string{"logs", "--pod", ""}, []string{"db", "front"}},
		{[]string{"config", "--format", ""}, []string{"yaml", "json", "podstack", "podstack-json"}},
		{[]string{"plan", "--format", ""}, []string{"table", "json", "text"}},
		{[]string{"graph", "--format", ""}, []string{"dot", "mermaid"}},
		{[]string{"ps", "--format", ""}, []string{"table", "json"}},
		{[]string{"up", "--pods", ""}, []string{"auto", "service", "project"}},
		{[]string{"--progress", ""}, []string{"auto", "tty", "plain", "json", "quiet"}},
		{[]string{"up", "--pull", ""}, []string{"missing", "always", "never"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			if got := complete(t, dir, tc.args...); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCompletionWithoutStack: with no stack file there is nothing to
// offer, and no error either: a Tab must never print one.
func TestCompletionWithoutStack(t *testing.T) {
	if got := complete(t, t.TempDir(), "logs", ""); len(got) != 0 {
		t.Errorf("offered %q with no stack file", got)
	}
}

// TestCompletionValuesAreAccepted: every value offered for a flag is one
// the command takes (checked where the command runs without Podman).
func TestCompletionValuesAreAccepted(t *testing.T) {
	dir := completionStack(t)
	for _, c := range [][]string{
		{"config", "--format"}, {"graph", "--format"}, {"plan", "--offline", "--format"},
		{"config", "--progress"}, {"config", "--pods"}, {"plan", "--offline", "--pull"},
		{"config", "--env"}, {"config", "--profile"},
	} {
		flag := c[len(c)-1]
		values := complete(t, dir, append(append([]string{}, c...), "")...)
		if len(values) == 0 {
			t.Errorf("%v: nothing offered", c)
		}
		for _, v := range values {
			args := append(append([]string{}, c...), v)
			// The command may fail for its own reasons (plan --pull never
			// with no images here), never for the value.
			if _, stderr, _ := runCLI(t, dir, args...); strings.Contains(stderr, "invalid "+flag) || strings.Contains(stderr, "invalid value") {
				t.Errorf("%v offered, but stack %s refuses it: %s", v, strings.Join(args, " "), stderr)
			}
		}
	}
}
