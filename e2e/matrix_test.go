package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemo: examples/demo, as `make demo` runs it, comes up healthy and
// answers on its published port, on every Podman the matrix runs.
//
// Serial: the demo publishes the fixed host port 8088 (as the README shows).
func TestDemo(t *testing.T) {
	requirePodman(t)
	demo, _ := filepath.Abs("../examples/demo")
	p := project(t, "demo")
	mustStack(t, demo, "-p", p, "up", "-d", "--wait", "--wait-timeout", "90s")
	var rows []struct{ Service, State, Health string }
	if err := json.Unmarshal([]byte(mustStack(t, demo, "-p", p, "ps", "-a", "--format", "json").stdout), &rows); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.Service] = r.State + "/" + r.Health
	}
	for svc, want := range map[string]string{"db": "running/healthy", "cache": "running/healthy", "api": "running/healthy",
		"web": "running/healthy", "migrate": "exited/"} {
		if got[svc] != want {
			t.Errorf("%s is %q, want %q (all: %v)", svc, got[svc], want, got)
		}
	}
	if body := httpGet(t, "http://127.0.0.1:8088/"); !strings.Contains(body, "Hello from podstack") {
		t.Errorf("the demo's page: %q", body)
	}
	mustStack(t, demo, "-p", p, "down", "-v", "-t", "1")
}

// TestPrivilegedPorts: rootless Podman cannot publish a host port below
// net.ipv4.ip_unprivileged_port_start; up says so, with the fix, before it
// creates anything. Elsewhere such a port is planned as any other.
func TestPrivilegedPorts(t *testing.T) {
	parallel(t)
	p := project(t, "privports")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  db: {image: localhost/busybox:test, command: ["sleep", "3600"]}
  web:
    image: localhost/busybox:test
    command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/var/www"]
    ports: ["80:8080"]
    depends_on: [db]
`})
	k := serverCaps(t)
	if !k.Rootless || k.UnprivilegedPortStart <= 80 {
		mustStack(t, dir, "-p", p, "up", "--dry-run")
		return
	}
	r := runStack(t, dir, "-p", p, "up", "-d")
	for _, want := range []string{`service "web"`, "host port 80", "rootless Podman", "ip_unprivileged_port_start=80", `"8080:8080"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("up lacks %q: %s", want, r)
		}
	}
	if r.code != 2 {
		t.Errorf("exit %d, want 2 (a problem of the stack on this host)", r.code)
	}
	label := "label=io.podstack.project=" + p
	if left := podman(t, "ps", "-aq", "--filter", label) + podman(t, "pod", "ps", "-q", "--filter", label) +
		podman(t, "network", "ls", "-q", "--filter", label); strings.TrimSpace(left) != "" {
		t.Errorf("up created objects before refusing: %q", left)
	}
}

// TestSharedNamespacePod: services sharing a pod (network_mode service:,
// ipc: service:) get a pod with an infra container on the project network,
// which rootless Podman refuses unless bridge mode is asked for.
func TestSharedNamespacePod(t *testing.T) {
	parallel(t)
	p := project(t, "nspod")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  web:
    image: localhost/busybox:test
    command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/var/www"]
  probe:
    image: localhost/busybox:test
    command: ["sleep", "3600"]
    network_mode: service:web
  other:
    image: localhost/busybox:test
    command: ["sleep", "3600"]
`})
	mustStack(t, dir, "-p", p, "up", "-d")
	if out := podman(t, "exec", p+"-probe-1", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/"); !strings.Contains(out, "podstack test image") {
		t.Errorf("probe does not share web's network namespace: %q", out)
	}
	// The pod is on the project network: other services reach it by name.
	// up -d does not wait for httpd or for DNS to learn the pod (Podman 5's
	// aardvark-dns learns it a moment later): a few seconds' grace.
	var out []byte
	var err error
	if !eventually(15*time.Second, 500*time.Millisecond, func() bool {
		out, err = exec.Command("podman", "--url", podURL, "exec", p+"-other-1", "wget", "-q", "-O", "-", "http://web:8080/").CombinedOutput()
		return err == nil && strings.Contains(string(out), "podstack test image")
	}) {
		t.Errorf("other cannot reach web by name: %v: %q", err, out)
	}
	mustStack(t, dir, "-p", p, "down", "-t", "1")
}

// TestVersionFindsTheServiceAsPsDoes: with no service named, `stack version`
// finds (or starts) the Podman service exactly as `stack ps` does.
func TestVersionFindsTheServiceAsPsDoes(t *testing.T) {
	parallel(t)
	want := strings.TrimSpace(podman(t, "version", "--format", "{{.Server.Version}}"))
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "STACK_PROGRESS=plain"}
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		env = append(env, "XDG_RUNTIME_DIR="+rt) // the user's rootless Podman needs its own
	}
	if c := os.Getenv("CONTAINERS_CONF"); c != "" {
		env = append(env, "CONTAINERS_CONF="+c)
	}
	ps := runStackEnv(t, "", env, "-p", "e2e-nothing-here", "ps")
	v := runStackEnv(t, "", env, "version", "--format", "json")
	if ps.code != 0 || v.code != 0 {
		t.Fatalf("without a URL, ps and version must both reach a service:\nps: %s\nversion: %s", ps, v)
	}
	const started = "started a temporary one"
	if strings.Contains(ps.stderr, started) != strings.Contains(v.stderr, started) {
		t.Errorf("ps and version found the service differently:\nps: %s\nversion: %s", ps, v)
	}
	var rep struct {
		Server *struct {
			Version      string
			Capabilities *struct{ Rootless bool }
		}
	}
	if err := json.Unmarshal([]byte(v.stdout), &rep); err != nil || rep.Server == nil || rep.Server.Capabilities == nil {
		t.Fatalf("version reports no server: %v\n%s", err, v)
	}
	if strings.Contains(v.stderr, started) && rep.Server.Version != want {
		t.Errorf("the temporary service is Podman %s, want the leg's %s", rep.Server.Version, want)
	}
}
