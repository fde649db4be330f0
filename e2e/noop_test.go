package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// podIDs maps the project's pod names to IDs.
func podIDs(t *testing.T, p string) map[string]string {
	t.Helper()
	out := podman(t, "pod", "ps", "--filter", "label=io.podstack.project="+p, "--format", "{{.Name}} {{.ID}}")
	ids := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if name, id, ok := strings.Cut(line, " "); ok {
			ids[name] = id
		}
	}
	return ids
}

// stepKinds are the kinds of the steps a --progress json run reported,
// by resource: "CreatePod p-api".
func stepKinds(stderr string) []string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(stderr, "\n") {
		var e struct{ Kind, Resource string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Kind != "" && !seen[e.Kind+" "+e.Resource] {
			seen[e.Kind+" "+e.Resource] = true
			out = append(out, e.Kind+" "+e.Resource)
		}
	}
	return out
}

// TestNoopUpPods: a no-op up works the project's pods out from its
// containers instead of listing them (Podman's pods listing costs as much
// as its containers listing), and still plans what the pods are: on real
// Podman, a pod whose container was removed by hand is kept and filled
// again, and a pod `up --no-recreate` kept although its configuration
// changed is recreated by the next up (its container says the pod is
// stale: the pod's own labels are not in any container listing).
func TestNoopUpPods(t *testing.T) {
	parallel(t)
	p := project(t, "nooppods")
	run := `["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]`
	file := func(port int) string {
		return fmt.Sprintf(`services:
  web: {image: localhost/busybox:test, command: %s, x-pod: front}
  proxy: {image: localhost/busybox:test, command: %s, x-pod: front}
  api:
    image: localhost/busybox:test
    command: %s
    ports: ["127.0.0.1:%d:80"]
`, run, run, run, port)
	}
	dir := writeStack(t, map[string]string{"compose.yaml": file(freePort(t))})
	up := func(args ...string) []string {
		t.Helper()
		return stepKinds(mustStack(t, dir, append([]string{"-p", p, "--progress", "json", "up", "-d"}, args...)...).stderr)
	}
	up()
	pods, ctrs := podIDs(t, p), containerIDs(t, p)
	if len(pods) != 2 || len(ctrs) != 4 { // three services and the infra container of the two that share a pod
		t.Fatalf("after up: pods %v, containers %v", pods, ctrs)
	}
	if steps := up(); len(steps) != 0 {
		t.Errorf("a no-op up did %v", steps)
	}

	// A container removed by hand: its pod holds none, and is kept.
	podman(t, "rm", "-f", "-t", "0", p+"-api-1")
	steps := strings.Join(up(), ", ")
	if strings.Contains(steps, "CreatePod") || strings.Contains(steps, "RemovePod") || !strings.Contains(steps, "CreateContainer "+p+"-api-1") {
		t.Errorf("up after the API's container was removed: %s", steps)
	}
	if now := podIDs(t, p); now[p+"-api"] != pods[p+"-api"] || now[p+"-front"] != pods[p+"-front"] {
		t.Errorf("pods %v, were %v", now, pods)
	}

	// Another port (the API's pod's configuration), the container removed
	// by hand, and --no-recreate: the stale pod is kept, its new container
	// marked.
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(file(freePort(t))), 0o644)
	podman(t, "rm", "-f", "-t", "0", p+"-api-1")
	up("--no-recreate")
	if now := podIDs(t, p); now[p+"-api"] != pods[p+"-api"] {
		t.Fatalf("--no-recreate recreated the pod: %v, was %v", now, pods)
	}
	if label := strings.TrimSpace(podman(t, "container", "inspect", "--format", `{{index .Config.Labels "io.podstack.stale-pod"}}`, p+"-api-1")); label != "true" {
		t.Errorf("the container --no-recreate made in a stale pod is not marked: %q", label)
	}
	steps = strings.Join(up(), ", ")
	if !strings.Contains(steps, "RemovePod "+p+"-api") || !strings.Contains(steps, "CreatePod "+p+"-api") {
		t.Errorf("up after --no-recreate kept a stale pod: %s", steps)
	}
	if now := podIDs(t, p); now[p+"-api"] == pods[p+"-api"] || now[p+"-front"] != pods[p+"-front"] {
		t.Errorf("pods %v, were %v: only the API's is made again", now, pods)
	}
	if label := strings.TrimSpace(podman(t, "container", "inspect", "--format", `{{index .Config.Labels "io.podstack.stale-pod"}}`, p+"-api-1")); label != "" {
		t.Errorf("the container of a pod as the plan wants it is marked stale: %q", label)
	}
	if steps := up(); len(steps) != 0 {
		t.Errorf("a no-op up did %v", steps)
	}

	// A pod of the project holding nothing that the stack does not have:
	// plan (which lists the pods) warns of it, up --remove-orphans (which
	// lists them too) removes it.
	podman(t, "pod", "create", "--infra=false", "--label", "io.podstack.project="+p, p+"-gone")
	if r := mustStack(t, dir, "-p", p, "plan"); !strings.Contains(r.stdout+r.stderr, p+"-gone") {
		t.Errorf("plan does not warn of the orphan pod:\n%s", r)
	}
	if steps := strings.Join(up("--remove-orphans"), ", "); !strings.Contains(steps, "RemovePod "+p+"-gone") {
		t.Errorf("up --remove-orphans: %s", steps)
	}
	if _, gone := podIDs(t, p)[p+"-gone"]; gone {
		t.Errorf("up --remove-orphans left the orphan pod")
	}
}

// TestValidatedCache: the CLI remembers in the user's cache directory
// (XDG_CACHE_HOME) the inputs compose-go has validated, one file per
// input, and a file that no longer validates still fails.
func TestValidatedCache(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	cache := t.TempDir()
	dir := writeStack(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: localhost/busybox:test\n"})
	env := append(stackEnv(podURL), "XDG_CACHE_HOME="+cache)
	count := func() int {
		entries, _ := os.ReadDir(filepath.Join(cache, "podstack", "validated"))
		return len(entries)
	}
	for range 2 {
		if r := runStackEnv(t, dir, env, "-p", "cached", "config"); r.code != 0 {
			t.Fatalf("config: %s", r)
		}
	}
	if n := count(); n != 1 {
		t.Errorf("%d inputs remembered after two loads of one, want 1", n)
	}
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  web:\n    image: localhost/busybox:test\n    restart: 5\n"), 0o644)
	if r := runStackEnv(t, dir, env, "-p", "cached", "config"); r.code == 0 || !strings.Contains(r.stderr, "restart") {
		t.Errorf("an invalid file loads: %s", r)
	}
	if n := count(); n != 1 {
		t.Errorf("%d inputs remembered after an invalid one, want 1", n)
	}
}
