package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/podstack/podstack/internal/testcorpus"
)

// fixpoint runs `stack config` on args, feeds its output back to `stack
// config` and fails unless the second output equals the first: the
// rendering reads back to the same stack.
func fixpoint(t *testing.T, args ...string) string {
	t.Helper()
	first, stderr, code := runCLI(t, "", append([]string{"config"}, args...)...)
	if code != 0 {
		t.Fatalf("stack config %v: exit %d: %s", args, code, stderr)
	}
	path := filepath.Join(t.TempDir(), "rendered.yaml")
	writeFile(t, path, first)
	second, stderr, code := runCLI(t, "", "config", "-f", path)
	if code != 0 {
		t.Fatalf("stack config does not read its own output back: exit %d: %s\n%s", code, stderr, first)
	}
	if first != second {
		t.Fatalf("read back differently:\nfirst:\n%s\nsecond:\n%s", first, second)
	}
	return first
}

// TestConfigReadsBack: `stack config` output, over the examples and every
// awesome-compose project, loads again in stack to the same stack.
func TestConfigReadsBack(t *testing.T) {
	root := testcorpus.Root()
	for _, args := range [][]string{
		{"-f", filepath.Join(root, "examples/demo/compose.yaml")},
		{"-f", filepath.Join(root, "examples/webstack/compose.yaml")},
		{"-f", filepath.Join(root, "examples/webstack/compose.yaml"), "--env", "prod"},
		{"-f", filepath.Join(root, "examples/kube-pod/pod.yaml")},
	} {
		t.Run(strings.Join(args[1:], " "), func(t *testing.T) { fixpoint(t, args...) })
	}
	for _, f := range testcorpus.AwesomeCompose(t) {
		t.Run(testcorpus.Project(f), func(t *testing.T) { fixpoint(t, "-f", f) })
	}
}

func TestConfigOutputs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `name: demo
services:
  web:
    image: docker.io/library/nginx:${TAG:-1.27}
    environment:
      PRICE: "$$5"
  api:
    build: ./api
  db:
    image: postgres
    profiles: [db]
`)
	t.Setenv("TAG", "")

	out, stderr, code := runCLI(t, dir, "config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"name: demo", "image: docker.io/library/nginx:1.27", "PRICE: $$5", "context: " + dir + "/api", "profiles:\n      - db"} {
		if !strings.Contains(out, want) {
			t.Errorf("compose output lacks %q:\n%s", want, out)
		}
	}

	out, _, _ = runCLI(t, dir, "config", "--no-interpolate")
	if !strings.Contains(out, "image: docker.io/library/nginx:${TAG:-1.27}") {
		t.Errorf("--no-interpolate resolved the variable:\n%s", out)
	}

	out, _, _ = runCLI(t, dir, "config", "--format", "json")
	if !strings.Contains(out, `"image": "docker.io/library/nginx:1.27"`) || !strings.Contains(out, `"PRICE": "$$5"`) {
		t.Errorf("--format json:\n%s", out)
	}
	out, _, _ = runCLI(t, dir, "config", "--format", "podstack-json")
	if !strings.Contains(out, `"workingDir": "`+dir+`"`) || !strings.Contains(out, `"PRICE": "$5"`) {
		t.Errorf("--format podstack-json is not the model:\n%s", out)
	}

	// One line per enabled service, in service order; a build-only
	// service runs the image podstack builds for it.
	out, _, _ = runCLI(t, dir, "config", "--images")
	if out != "demo-api\ndocker.io/library/nginx:1.27\n" {
		t.Errorf("--images: %q", out)
	}

	all, _, code := runCLI(t, dir, "config", "--hash", "*")
	fields := strings.Fields(all)
	if code != 0 || len(fields) != 4 || fields[0] != "api" || fields[2] != "web" || len(fields[1]) < 12 {
		t.Errorf(`--hash "*": exit %d, %q`, code, all)
	}
	one, _, _ := runCLI(t, dir, "config", "--hash", "web")
	if len(fields) == 4 && one != "web "+fields[3]+"\n" {
		t.Errorf("--hash web: %q, want the line of --hash * (%q)", one, all)
	}
	// A changed service changes its hash, the others keep theirs.
	writeFile(t, filepath.Join(dir, "compose.yaml"), `name: demo
services:
  web:
    image: docker.io/library/nginx:${TAG:-1.27}
    environment:
      PRICE: "$$6"
  api:
    build: ./api
`)
	again, _, _ := runCLI(t, dir, "config", "--hash", "*")
	if f := strings.Fields(again); len(f) != 4 || len(fields) != 4 || f[1] != fields[1] || f[3] == fields[3] {
		t.Errorf("after changing web: %q, before %q", again, all)
	}

	_, stderr, code = runCLI(t, dir, "config", "--hash", "nope")
	if code != exitInvalid || !strings.Contains(stderr, "no such service nope") {
		t.Errorf("--hash nope: exit %d: %s", code, stderr)
	}

	path := filepath.Join(dir, "out.yaml")
	if out, _, code := runCLI(t, dir, "config", "-o", path); code != 0 || out != "" {
		t.Errorf("-o: exit %d, stdout %q", code, out)
	}
	if out, _, code := runCLI(t, dir, "config", "-f", path, "--services"); code != 0 || out != "api\nweb\n" {
		t.Errorf("the -o file does not load: exit %d, %q", code, out)
	}
}
