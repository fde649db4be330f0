package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type podInfo struct {
	Name       string
	Containers []struct{ Names string }
}

// TestConvertRoundTrip: the demo stack converted to Pod YAML and played by
// Podman's kube play brings up the same pods and containers, with the same
// published ports and healthchecks as stack up, answers on its port, and
// its services reach each other by service name.
//
// Serial: kube play names the pods after the file (web.demo-web), and the
// demo publishes the fixed host port 8088 (TestDemo too).
func TestConvertRoundTrip(t *testing.T) {
	requirePodman(t)
	demo, _ := filepath.Abs("../examples/demo")
	dir := t.TempDir()
	pods := filepath.Join(dir, "pods.yaml")
	mustStack(t, demo, "convert", "-o", pods)
	r := mustStack(t, dir, "export", "kube", "--check", pods)
	if !strings.Contains(r.stderr, "is valid") {
		t.Errorf("check: %s", r)
	}

	// What stack up creates, for comparison.
	p := project(t, "rt")
	mustStack(t, demo, "-p", p, "up", "-d", "--wait", "--wait-timeout", "60s")
	want := map[string]string{} // service -> healthcheck test
	for _, svc := range []string{"db", "cache", "api", "web"} {
		want[svc] = healthTest(t, p+"-"+svc+"-1")
	}
	mustStack(t, demo, "-p", p, "down", "-v", "-t", "1")

	// kube down keeps volumes; the claim's volume is named after it.
	// kube down stops at the first missing pod: remove them one by one.
	clean := func() {
		for _, svc := range []string{"db", "cache", "api", "web", "migrate"} {
			exec.Command("podman", "--url", podURL, "pod", "rm", "-f", "-t", "0", svc+".demo").Run()
		}
		exec.Command("podman", "--url", podURL, "volume", "rm", "-f", "demo-shared").Run()
	}
	clean()
	t.Cleanup(clean)
	out := podman(t, "kube", "play", pods)
	if strings.Contains(out, "rror") {
		t.Fatalf("kube play: %s", out)
	}
	var played []podInfo
	json.Unmarshal([]byte(podman(t, "pod", "ps", "--format", "json")), &played)
	got := map[string]bool{}
	for _, pod := range played {
		got[pod.Name] = true
	}
	// Pods are <service>.<project>: kube play resolves a pod by its name.
	for _, name := range []string{"db.demo", "cache.demo", "api.demo", "web.demo", "migrate.demo"} {
		if !got[name] {
			t.Errorf("kube play did not create pod %s (got %v)", name, got)
		}
	}
	for svc, test := range want {
		if h := healthTest(t, svc+".demo-"+svc); h != test {
			t.Errorf("%s healthcheck: kube play %q, stack up %q", svc, h, test)
		}
	}
	if ports := podman(t, "port", "web.demo-web"); !strings.Contains(ports, "8088") {
		t.Errorf("web does not publish 8088: %q", ports)
	}
	if body := httpGet(t, "http://127.0.0.1:8088/"); !strings.Contains(body, "Hello from podstack") {
		t.Errorf("page: %q", body)
	}
	// Compose's contract holds under kube play: web reaches api by its
	// service name (and reads what the one-shot migration wrote).
	if out := execUntil(t, "web.demo-web", "schema v3 applied", getByName("api", 9000, "/migrated")...); !strings.Contains(out, "schema v3 applied") {
		t.Errorf("web reached api by name but got %q", out)
	}
}

// healthTest is a container's healthcheck command as Podman stores it.
func healthTest(t *testing.T, name string) string {
	t.Helper()
	var out []struct {
		Config struct {
			Healthcheck *struct{ Test []string }
		}
	}
	json.Unmarshal([]byte(podman(t, "container", "inspect", name)), &out)
	if len(out) == 0 || out[0].Config.Healthcheck == nil {
		return ""
	}
	// Compare what runs: kube play stores an exec probe as the shell command
	// "<argv joined> || exit 1"; stack stores CMD argv or a CMD-SHELL script.
	test := out[0].Config.Healthcheck.Test
	cmd := strings.Join(test[1:], " ")
	return strings.TrimSuffix(cmd, " || exit 1")
}

// TestExportEnvironments: --all-envs writes one file per environment, with
// the environment in the name, and each passes the check.
func TestExportEnvironments(t *testing.T) {
	parallel(t)
	web, _ := filepath.Abs("../examples/webstack")
	out := t.TempDir()
	mustStack(t, web, "export", "kube", "--all-envs", "--type", "deployment", "-o", out)
	if _, err := os.Stat(filepath.Join(out, "stack-prod.yaml")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(out, "stack-prod.yaml"))
	if !strings.Contains(string(data), "replicas: 3") || !strings.Contains(string(data), "podstack.io/environment: prod") {
		t.Errorf("prod export lacks the prod values:\n%s", data)
	}
	mustStack(t, out, "export", "kube", "--check", "stack-prod.yaml")
	bad := filepath.Join(out, "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\nspec:\n  containers: [{name: c, image: x, bogus: 1}]\n"), 0o644)
	r := runStack(t, out, "export", "kube", "--check", bad)
	if r.code != 2 || !strings.Contains(r.stderr, "bogus") {
		t.Errorf("check of an invalid file: %s", r)
	}
}

// TestExportServiceFromLocalImage: a service others depend on that declares
// no port gets its Service from the ports its local image exposes, which
// export kube asks the running Podman service about.
func TestExportServiceFromLocalImage(t *testing.T) {
	parallel(t)
	image := "localhost/" + project(t, "expose") + ":1"
	build := writeStack(t, map[string]string{"Containerfile": "FROM localhost/busybox:test\nEXPOSE 6379\n"})
	podman(t, "build", "-q", "-t", image, build)
	t.Cleanup(func() { exec.Command("podman", "--url", podURL, "rmi", image).Run() })
	dir := writeStack(t, map[string]string{"compose.yaml": `name: exposed
services:
  web: {image: localhost/busybox:test, depends_on: [cache, other]}
  cache: {image: ` + image + `}
  other: {image: localhost/busybox:test}
`})
	r := mustStack(t, dir, "export", "kube")
	if !strings.Contains(r.stdout, "kind: Service") || !strings.Contains(r.stdout, "name: tcp-6379") {
		t.Errorf("no Service for cache from its image's EXPOSE:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "service other: web depends on it, but no port is known") {
		t.Errorf("no warning for other, whose image exposes nothing:\n%s", r.stderr)
	}
}
