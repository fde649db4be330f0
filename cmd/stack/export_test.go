package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostPortClashOnlyRefusedWhereBound: the same host port published by
// two services, and replicas with a fixed host port, are valid compose that
// only fails where ports are bound. config and export kube accept it;
// convert (whose output kube play binds) accepts it with a warning;
// validate, which runs up's checks, still refuses it.
func TestHostPortClashOnlyRefusedWhereBound(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `name: clash
services:
  a: {image: x, ports: ["8080:80"]}
  b: {image: x, ports: ["8080:81"], deploy: {replicas: 2}}
`)
	for _, args := range [][]string{{"config", "-q"}, {"export", "kube"}, {"export", "kube", "--type", "pod"}} {
		if _, stderr, code := runCLI(t, dir, args...); code != exitOK {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	_, stderr, code := runCLI(t, dir, "convert")
	if code != exitOK || !strings.Contains(stderr, `WARN`) || !strings.Contains(stderr, `publishes host port 8080/tcp, which "a" publishes too`) {
		t.Errorf("convert: exit %d: %s", code, stderr)
	}
	_, stderr, code = runCLI(t, dir, "export", "quadlet", "-o", filepath.Join(dir, "units"))
	if code != exitOK || !strings.Contains(stderr, "has 2 replicas but publishes fixed host port 8080") {
		t.Errorf("quadlet: exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, dir, "validate"); code != exitInvalid || !strings.Contains(stderr, "8080") {
		t.Errorf("validate must keep refusing: exit %d: %s", code, stderr)
	}
}

// TestExportKubeSaysWhyNothing: a project whose services are all behind
// profiles exports no workload; the command says why and how to get them.
func TestExportKubeSaysWhyNothing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `name: prof
services:
  a: {image: x, profiles: [debug]}
  b: {image: x, profiles: [debug, tools]}
`)
	for _, args := range [][]string{{"export", "kube"}, {"convert"}} {
		_, stderr, code := runCLI(t, dir, args...)
		if code != exitOK || !strings.Contains(stderr, "no service is enabled") || !strings.Contains(stderr, "--profile debug") {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	out, stderr, code := runCLI(t, dir, "--profile", "debug", "export", "kube")
	if code != exitOK || !strings.Contains(out, "name: a") || strings.Contains(stderr, "no service is enabled") {
		t.Errorf("with the profile: exit %d: %s\n%s", code, stderr, out)
	}
}

// TestExportKubePrintsLoadWarnings: what the loader warns about is printed
// by export kube as by convert and export quadlet.
func TestExportKubePrintsLoadWarnings(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `name: w
services:
  a: {image: "x:${UNSET_TAG_FOR_TEST}"}
`)
	for _, args := range [][]string{{"export", "kube"}, {"convert"}, {"export", "quadlet", "-o", filepath.Join(dir, "q")}} {
		_, stderr, code := runCLI(t, dir, args...)
		if code != exitOK || !strings.Contains(stderr, "UNSET_TAG_FOR_TEST") {
			t.Errorf("%v: exit %d, no load warning: %s", args, code, stderr)
		}
	}
}

// TestExportAllEnvsIncludesDefault: --all-envs writes the default
// environment (stack.yaml) beside one file per named environment.
func TestExportAllEnvsIncludesDefault(t *testing.T) {
	web, _ := filepath.Abs("../../examples/webstack")
	out := t.TempDir()
	if _, stderr, code := runCLI(t, web, "export", "kube", "--all-envs", "-o", out); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, name := range []string{"stack.yaml", "stack-prod.yaml"} {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		prod := strings.Contains(string(data), "podstack.io/environment: prod")
		if prod != (name == "stack-prod.yaml") {
			t.Errorf("%s: environment label present = %v", name, prod)
		}
	}
}

// TestExportKubeDeploysByDefault: a Kubernetes export deploys: Deployments
// carry the replicas; --type pod still writes Pods (and warns about them).
func TestExportKubeDeploysByDefault(t *testing.T) {
	web, _ := filepath.Abs("../../examples/webstack")
	out, stderr, code := runCLI(t, web, "--env", "prod", "export", "kube")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "kind: Deployment") || strings.Contains(out, "kind: Pod\n") || !strings.Contains(out, "replicas: 3") {
		t.Errorf("default export is not Deployments with the replicas:\n%s", out)
	}
	if strings.Contains(stderr, "replicas need") {
		t.Errorf("Deployments carry replicas, no warning expected: %s", stderr)
	}
	out, stderr, code = runCLI(t, web, "--env", "prod", "export", "kube", "--type", "pod")
	if code != exitOK || !strings.Contains(out, "kind: Pod\n") || strings.Contains(out, "kind: Deployment") {
		t.Errorf("--type pod: exit %d\n%s", code, out)
	}
	if !strings.Contains(stderr, "3 replicas need --type deployment") {
		t.Errorf("--type pod drops replicas without a word: %s", stderr)
	}
}
