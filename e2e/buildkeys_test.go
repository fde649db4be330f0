package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// contextChainStack builds app from lib's image and lib from base's, each
// through a service: additional context, with base's and app's Dockerfiles
// inline. The names sort app, base, lib: only the contexts order the
// builds. The markers are computed by the shell ($((1+1)) is 2), so they
// are the builds' output or the images' files, never a Dockerfile's text.
const contextChainStack = `services:
  app:
    build:
      context: ./app
      dockerfile_inline: |
        FROM lib
        COPY --from=extra note.txt /note.txt
        RUN echo app-$((1+1)) > /app-marker
      additional_contexts:
        lib: service:lib
        extra: ./extra
    command: ["/bin/sh", "-c", "cat /base-marker /lib-marker /app-marker /note.txt; exec sleep 3600"]
  lib:
    build:
      context: ./lib
      additional_contexts:
        root: service:base
    command: ["/bin/sleep", "3600"]
  base:
    build:
      context: ./base
      dockerfile_inline: |
        FROM localhost/busybox:test
        RUN echo base-$((1+1))-BASEVERSION > /base-marker
    command: ["/bin/sleep", "3600"]
`

// TestBuildInlineAndServiceContexts: dockerfile_inline builds without a
// Dockerfile on disk, and a chain of service: contexts builds base, then
// lib from it, then app from lib (with a local additional context); a
// change to base's inline Dockerfile rebuilds all three, a change in app's
// local context only app.
func TestBuildInlineAndServiceContexts(t *testing.T) {
	parallel(t)
	p := project(t, "bctx")
	refs := []string{"localhost/" + p + "-app:latest", "localhost/" + p + "-lib:latest", "localhost/" + p + "-base:latest"}
	seen := removeImages(t, refs...)
	compose := func(version string) string { return strings.ReplaceAll(contextChainStack, "BASEVERSION", version) }
	dir := writeStack(t, map[string]string{
		"compose.yaml":    compose("v1"),
		"app/.keep":       "",
		"base/.keep":      "",
		"lib/Dockerfile":  "FROM root\nRUN echo lib-$((1+1)) > /lib-marker\n",
		"extra/note.txt":  "note-one\n",
		"extra/other.txt": "x\n",
	})

	mustStack(t, dir, "-p", p, "up", "-d")
	seen()
	logs := func() string {
		t.Helper()
		return waitLogs(t, dir, p, "app", "note-")
	}
	if got := logs(); !strings.Contains(got, "base-2-v1") || !strings.Contains(got, "lib-2") || !strings.Contains(got, "app-2") || !strings.Contains(got, "note-one") {
		t.Fatalf("app was not built from lib's image built from base's, with the extra context:\n%s", got)
	}

	t.Run("base's inline Dockerfile changed rebuilds the chain", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose("v2")), 0o644)
		plan := mustStack(t, dir, "-p", p, "plan")
		for _, svc := range []string{"app", "lib", "base"} {
			if !strings.Contains(plan.stdout, "BuildImage       "+p+"-"+svc) {
				t.Errorf("plan does not rebuild %s:\n%s", svc, plan.stdout)
			}
		}
		mustStack(t, dir, "-p", p, "up", "-d")
		seen()
		if got := logs(); !strings.Contains(got, "base-2-v2") {
			t.Errorf("app does not run on the rebuilt base:\n%s", got)
		}
	})

	t.Run("a local additional context changed rebuilds only its user", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "extra/other.txt"), []byte("y\n"), 0o644)
		plan := mustStack(t, dir, "-p", p, "plan")
		if !strings.Contains(plan.stdout, "BuildImage       "+p+"-app") || strings.Contains(plan.stdout, p+"-lib ") ||
			strings.Contains(plan.stdout, "BuildImage       "+p+"-base") {
			t.Errorf("plan after editing app's extra context: want app rebuilt alone:\n%s", plan.stdout)
		}
	})

	mustStack(t, dir, "-p", p, "down", "--rmi", "local")
	for _, ref := range refs {
		if imageExists(t, ref) {
			t.Errorf("down --rmi local left %s", ref)
		}
	}
}

// waitLogs returns the service's logs once they contain want (or after a
// few seconds, whatever they hold).
func waitLogs(t *testing.T, dir, p, svc, want string) string {
	t.Helper()
	var out string
	for range 50 {
		out = mustStack(t, dir, "-p", p, "logs", "--no-log-prefix", svc).stdout
		if strings.Contains(out, want) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out
}

// runStepsStack's RUN steps print what they see of the build's secrets,
// ulimits, hosts and network, transformed by the shell so a marker is the
// output and never the step's echoed text.
const runStepsStack = `services:
  app:
    build:
      context: ./app
      secrets:
        - filesecret
        - source: envsecret
          target: renamed
      ulimits:
        nofile: {soft: 1234, hard: 2345}
      extra_hosts: ["build-host.example:10.9.8.7"]
  offline:
    build:
      context: ./offline
      network: none
secrets:
  filesecret: {file: ./secret.txt}
  envsecret: {environment: BUILD_TOKEN}
`

const runStepsDockerfile = `FROM localhost/busybox:test
RUN --mount=type=secret,id=filesecret echo "secret-file=$(tr a-z A-Z < /run/secrets/filesecret)"
RUN --mount=type=secret,id=renamed echo "secret-env=$(tr a-z A-Z < /run/secrets/renamed)"
RUN echo "nofile=$(ulimit -n)/$(ulimit -Hn)"
RUN echo "hosts=$(grep build-host /etc/hosts | tr -s ' \t' '_')"
`

const offlineDockerfile = `FROM localhost/busybox:test
RUN echo "interfaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ,)"
`

// TestBuildRunSteps: a build's RUN steps read a secret from a file and one
// from an environment variable (set in .env, under its target's id), run
// with the build's ulimits and extra_hosts, and with network: none have
// only the loopback interface. A changed build ulimit makes up rebuild.
func TestBuildRunSteps(t *testing.T) {
	parallel(t)
	p := project(t, "brun")
	refs := []string{"localhost/" + p + "-app:latest", "localhost/" + p + "-offline:latest"}
	seen := removeImages(t, refs...)
	dir := writeStack(t, map[string]string{
		"compose.yaml":       runStepsStack,
		".env":               "BUILD_TOKEN=token-from-dotenv\n",
		"secret.txt":         "file-secret-value",
		"app/Dockerfile":     runStepsDockerfile,
		"offline/Dockerfile": offlineDockerfile,
	})
	r := mustStack(t, dir, "-p", p, "build")
	seen()
	for _, want := range []string{"secret-file=FILE-SECRET-VALUE", "secret-env=TOKEN-FROM-DOTENV", "nofile=1234/2345",
		"hosts=10.9.8.7_build-host.example", "interfaces=lo,\n"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("build output lacks %q:\n%s", want, r.stderr)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "app", "podman-build-secret*")); len(leftovers) > 0 {
		t.Errorf("the build left secret files in the context: %v", leftovers)
	}

	plan := mustStack(t, dir, "-p", p, "plan")
	if strings.Contains(plan.stdout, "BuildImage") {
		t.Errorf("plan after build rebuilds:\n%s", plan.stdout)
	}
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(strings.Replace(runStepsStack, "soft: 1234", "soft: 1000", 1)), 0o644)
	plan = mustStack(t, dir, "-p", p, "plan")
	if !strings.Contains(plan.stdout, "BuildImage       "+p+"-app") || !strings.Contains(plan.stdout, "build context changed") ||
		strings.Contains(plan.stdout, "BuildImage       "+p+"-offline") {
		t.Errorf("plan after changing build.ulimits: want app rebuilt alone:\n%s", plan.stdout)
	}
}
