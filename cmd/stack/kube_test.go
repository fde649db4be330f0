package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

var update = flag.Bool("update", false, "rewrite golden files")

// packageDir is where the test started: runCLI changes directory.
var packageDir, _ = os.Getwd()

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(packageDir, "testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/stack -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./cmd/stack -update rewrites it)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// Flags of one target are refused on the other, by name, as usage errors.
func TestTargetFlags(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), simpleCompose)
	t.Setenv("KUBECONFIG", filepath.Join(dir, "none"))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"up", "--target", "kube", "--scale", "web=2"}, "--scale does not apply to up --target kube"},
		{[]string{"down", "--target", "kube", "-t", "3"}, "--timeout does not apply to down --target kube"},
		{[]string{"ps", "--namespace", "shop"}, "--namespace needs --target kube"},
		{[]string{"plan", "--target", "k8s"}, `invalid --target "k8s": must be one of podman, kube`},
		{[]string{"up", "--target", "kube", "web"}, "SERVICE arguments are not supported"},
	} {
		_, stderr, code := runCLI(t, dir, c.args...)
		if code != exitInvalid || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q (want 2 and %q)", c.args, code, stderr, c.want)
		}
	}
	// STACK_TARGET points every command at the cluster: with no
	// kubeconfig, up says how to configure one.
	t.Setenv("STACK_TARGET", "kube")
	_, stderr, code := runCLI(t, dir, "up")
	if code != exitFailure || !strings.Contains(stderr, "no Kubernetes cluster configured: set KUBECONFIG or pass --kubeconfig") {
		t.Errorf("STACK_TARGET=kube up: exit %d, %q", code, stderr)
	}
}

// The plan for the examples' prod environment, planned offline (no
// cluster: every object is new).
func TestPlanTargetKubeOffline(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	example, err := filepath.Abs(filepath.Join("..", "..", "examples", "webstack", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCLI(t, "", "plan", "-f", example, "--env", "prod", "--target", "kube", "--offline", "--namespace", "shop")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "plan-kube-offline", stdout)
	if !strings.Contains(stderr, "WARN Deployment/app waits for Deployment/migrate to complete") {
		t.Errorf("stderr: %s", stderr)
	}
}

// kubeTestConfig is the test API server's kubeconfig (see `make
// test-kube`); without it the test fails, except under -short.
func kubeTestConfig(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Kubernetes API server (make test-kube runs these tests)")
	}
	path := os.Getenv("PODSTACK_TEST_KUBECONFIG")
	if path == "" {
		t.Fatal("PODSTACK_TEST_KUBECONFIG is not set: run `make test-kube`, which starts a Kubernetes API server and runs the tests that need it (or use go test -short)")
	}
	return path
}

// newNamespace creates a namespace of its own for the test.
func newNamespace(t *testing.T, kubeconfig string) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "cli-" + hex.EncodeToString(b)
	res := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	if _, err := res.Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Without a namespace controller it stays Terminating; harmless.
	t.Cleanup(func() { _ = res.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

const shopCompose = `name: shop
services:
  web:
    image: docker.io/library/nginx:1.27
    ports: ["8080:80"]
    environment:
      MODE: ${MODE:-prod}
  api:
    image: ghcr.io/example/api:1
    expose: ["9000"]
    environment:
      DB_PASSWORD: hunter2-but-longer
`

// What a user types, against a real API server: up, up again (nothing to
// do), ps, a plan after a change (golden: the diff of the fields podstack
// manages), down; and a stack the API server rejects fails up --dry-run
// naming the object and the field.
func TestTargetKubeAgainstAPIServer(t *testing.T) {
	kubeconfig := kubeTestConfig(t)
	ns := newNamespace(t, kubeconfig)
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none")) // --kubeconfig is what counts
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), shopCompose)
	kube := func(args ...string) []string {
		return append(args, "--target", "kube", "--kubeconfig", kubeconfig, "--namespace", ns, "--progress", "plain")
	}
	stdout, stderr, code := runCLI(t, dir, kube("up")...)
	if code != exitOK || !strings.Contains(stderr, "Deployment web Created") || !strings.Contains(stderr, "Secret shop-env Created") {
		t.Fatalf("up: exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stderr, "hunter2") {
		t.Errorf("a secret value reached stderr: %s", stderr)
	}
	_, stderr, code = runCLI(t, dir, kube("up")...)
	if code != exitOK || !strings.Contains(stderr, "Nothing to do: project shop, namespace "+ns+" is up to date.") {
		t.Errorf("second up: exit %d\n%s", code, stderr)
	}

	stdout, stderr, code = runCLI(t, dir, kube("ps", "--format", "json")...)
	var rows []struct{ Kind, Name, Status string }
	if err := json.Unmarshal([]byte(stdout), &rows); code != exitOK || err != nil {
		t.Fatalf("ps: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r.Kind+"/"+r.Name)
	}
	if got, want := strings.Join(names, " "), "ConfigMap/shop-env Secret/shop-env Service/api Service/web Deployment/api Deployment/web"; got != want {
		t.Errorf("ps: %s, want %s", got, want)
	}

	t.Setenv("MODE", "staging")
	stdout, stderr, code = runCLI(t, dir, kube("plan")...)
	if code != exitOK {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	golden(t, "plan-kube-change", stdout)

	_, stderr, code = runCLI(t, dir, kube("down")...)
	if code != exitOK || !strings.Contains(stderr, "Deployment web Deleted") {
		t.Errorf("down: exit %d\n%s", code, stderr)
	}
	stdout, _, _ = runCLI(t, dir, kube("ps")...)
	if strings.TrimSpace(stdout) != "KIND   NAME   STATUS" {
		t.Errorf("ps after down:\n%s", stdout)
	}

	bad := t.TempDir()
	writeFile(t, filepath.Join(bad, "compose.yaml"), "name: greedy\nservices:\n  api:\n    image: busybox\n    deploy:\n      resources:\n        limits: {cpus: \"1\"}\n        reservations: {cpus: \"2\"}\n")
	_, stderr, code = runCLI(t, bad, kube("up", "--dry-run")...)
	if code != exitFailure || !strings.Contains(stderr, `Deployment/api: spec.template.spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`) {
		t.Errorf("up --dry-run of a rejected stack: exit %d\n%s", code, stderr)
	}
}

// Kubernetes binds no host port, so two services publishing the same one
// deploy there, as they export (only `up` on Podman must refuse them).
func TestTargetKubeAllowsHostPortClashes(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KUBECONFIG", filepath.Join(dir, "none"))
	writeFile(t, filepath.Join(dir, "compose.yaml"), "name: twins\nservices:\n  a:\n    image: busybox\n    ports: [\"8080:80\"]\n  b:\n    image: busybox\n    ports: [\"8080:81\"]\n")
	stdout, stderr, code := runCLI(t, dir, "plan", "--target", "kube", "--offline", "--namespace", "shop")
	if code != exitOK || !strings.Contains(stdout, "Apply   Deployment/b") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}
