package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podstack/podstack/internal/notrun"
)

// TestFileSecretLifecycle: a stack with a file secret survives every
// lifecycle command. Before secrets were plan steps, --force-recreate
// failed with "secret name in use" after removing the old container (the
// secret-exists endpoint answers 404 on Podman 4.3), and down -v left the
// secret holding the file's contents.
func TestFileSecretLifecycle(t *testing.T) {
	parallel(t)
	p := project(t, "filesecret")
	dir := writeStack(t, map[string]string{
		"compose.yaml": `services:
  app:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "cat /run/secrets/token > /tmp/seen; exec sleep 3600"]
    secrets: [token]
    healthcheck:
      test: ["CMD", "test", "-s", "/tmp/seen"]
      interval: 1s
      retries: 10
secrets:
  token:
    file: ./token.txt
`,
		"token.txt": "first-secret-value",
	})
	seen := func() string {
		return podman(t, "exec", p+"-app-1", "cat", "/run/secrets/token")
	}
	mustStack(t, dir, "-p", p, "up", "-d", "--wait")
	if got := seen(); got != "first-secret-value" {
		t.Fatalf("secret content %q", got)
	}
	plan := mustStack(t, dir, "-p", p, "plan", "--force-recreate")
	if strings.Contains(plan.stdout, "Secret") {
		t.Errorf("an unchanged secret is in the --force-recreate plan:\n%s", plan.stdout)
	}
	mustStack(t, dir, "-p", p, "up", "-d", "--wait", "--force-recreate")
	if got := seen(); got != "first-secret-value" {
		t.Errorf("after --force-recreate: %q", got)
	}

	// A changed file replaces the secret, visibly, and recreates its user.
	if err := os.WriteFile(filepath.Join(dir, "token.txt"), []byte("second-secret-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	plan = mustStack(t, dir, "-p", p, "plan")
	for _, want := range []string{"RemoveSecret", "CreateSecret", p + "_token"} {
		if !strings.Contains(plan.stdout, want) {
			t.Errorf("plan after the file changed lacks %q:\n%s", want, plan.stdout)
		}
	}
	if strings.Contains(plan.stdout+plan.stderr, "second-secret-value") || strings.Contains(plan.stdout+plan.stderr, "first-secret-value") {
		t.Errorf("the plan shows the secret's content:\n%s", plan)
	}
	up := mustStack(t, dir, "-p", p, "up", "-d", "--wait")
	if strings.Contains(up.stdout+up.stderr, "second-secret-value") {
		t.Errorf("progress shows the secret's content:\n%s", up)
	}
	if got := seen(); got != "second-secret-value" {
		t.Errorf("after the file changed: %q", got)
	}

	mustStack(t, dir, "-p", p, "down", "-v")
	if left := projectSecrets(t, p); len(left) > 0 {
		t.Errorf("down -v left secrets %v", left)
	}
	mustStack(t, dir, "-p", p, "up", "-d", "--wait")
	if got := seen(); got != "second-secret-value" {
		t.Errorf("up after down -v: %q", got)
	}
	mustStack(t, dir, "-p", p, "down")
	if left := projectSecrets(t, p); len(left) > 0 {
		t.Errorf("down left secrets %v", left)
	}
}

// TestDownPausedAndSharedNamespace: down takes a paused container (Podman
// alone refuses to stop one) and removes a service whose pid namespace
// another joins only after that one. Where the service cannot pause
// (rootless on cgroup v1), the refusal must explain that limit, and down is
// tested on the running containers sharing the namespace.
func TestDownPausedAndSharedNamespace(t *testing.T) {
	parallel(t)
	p := project(t, "pausedown")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  app:
    image: localhost/busybox:test
    command: ["sleep", "3600"]
    stop_grace_period: 1s
  debug:
    image: localhost/busybox:test
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    pid: "service:app"
`})
	mustStack(t, dir, "-p", p, "up", "-d")
	if k := serverCaps(t); k.Freezer() != nil {
		r := runStack(t, dir, "-p", p, "pause", "app")
		if r.code != 1 || !strings.Contains(r.stderr, "cgroup v1") || !strings.Contains(r.stderr, "cgroup v2") {
			t.Errorf("pause on %s: want the limit explained, with the fix: %s", k.Mode(), r)
		}
		if st := inspect(t, p+"-app-1").State.Status; st != "running" {
			t.Errorf("app is %s after a refused pause", st)
		}
		notrun.Record(t, "down of a paused container (down of the shared pid namespace still runs)", k.Freezer())
	} else {
		mustStack(t, dir, "-p", p, "pause", "app")
	}
	mustStack(t, dir, "-p", p, "down")
	if st := stateOf(t, podURL, p); len(st.containers)+len(st.pods) > 0 {
		t.Errorf("down left %+v", st)
	}
}
