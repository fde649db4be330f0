package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEnvironmentSwitch: `up --env prod` on a project running dev warns
// before it runs and leaves every container and pod labelled prod, so
// `stack ls` tells the truth. It used to recreate only what differed,
// silently, leaving the rest labelled dev.
func TestEnvironmentSwitch(t *testing.T) {
	parallel(t)
	p := project(t, "envswitch")
	dir := writeStack(t, map[string]string{
		"compose.yaml": `services:
  web:
    image: localhost/busybox:test
    command: sleep 3600
    environment: {LEVEL: "${LEVEL}"}
  db:
    image: localhost/busybox:test
    command: sleep 3600
`,
		".env.dev":  "LEVEL=debug\n",
		".env.prod": "LEVEL=debug\n", // the same values: only the environment changes
	})
	mustStack(t, dir, "-p", p, "--env", "dev", "up", "-d")
	r := mustStack(t, dir, "-p", p, "--env", "prod", "up", "-d")
	if !strings.Contains(r.stderr, `WARN project "`+p+`" runs environment "dev"; switching it to "prod"`) {
		t.Errorf("no warning of the switch:\n%s", r.stderr)
	}
	if warn, started := strings.Index(r.stderr, "WARN"), strings.Index(r.stderr, "Started"); warn < 0 || started < warn {
		t.Errorf("the warning comes after the work:\n%s", r.stderr)
	}
	labels := podman(t, "ps", "-a", "--filter", "label=io.podstack.project="+p,
		"--format", `{{.Names}}={{index .Labels "io.podstack.environment"}}`)
	for _, line := range strings.Fields(labels) {
		if !strings.HasSuffix(line, "=prod") {
			t.Errorf("%s: want every container labelled prod", line)
		}
	}
	pods := podman(t, "pod", "ps", "--filter", "label=io.podstack.project="+p, "--format", `{{.Name}}={{index .Labels "io.podstack.environment"}}`)
	for _, line := range strings.Fields(pods) {
		if !strings.HasSuffix(line, "=prod") {
			t.Errorf("pod %s: want labelled prod", line)
		}
	}
	var rows []struct{ Name, Environment string }
	if err := json.Unmarshal([]byte(mustStack(t, dir, "ls", "--format", "json", "--filter", "name="+p).stdout), &rows); err != nil || len(rows) != 1 || rows[0].Environment != "prod" {
		t.Errorf("ls: %+v (%v), want %s in prod", rows, err, p)
	}
	if r := mustStack(t, dir, "-p", p, "--env", "prod", "up", "-d"); strings.Contains(r.stderr, "WARN") {
		t.Errorf("the same environment again warns:\n%s", r.stderr)
	}
}

// TestNamesResolve: the names README promises resolve on the project
// network from any container: service names and x-pod names (pod keys),
// which are network aliases. Podman's own names are not promised: a
// container in a pod with an infra container has no DNS name of its own.
func TestNamesResolve(t *testing.T) {
	parallel(t)
	p := project(t, "dns")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  api:
    image: localhost/busybox:test
    command: sleep 3600
    x-pod: app
  side:
    image: localhost/busybox:test
    command: sleep 3600
    x-pod: app
  client:
    image: localhost/busybox:test
    command: sleep 3600
`})
	mustStack(t, dir, "-p", p, "up", "-d")
	for _, name := range []string{"api", "side", "client", "app"} {
		// aardvark-dns learns the containers a moment after they start
		// (see lookupSettled): a few seconds' grace.
		resolved := func(r result) bool {
			return r.code == 0 && strings.Contains(r.stdout, "Address") && !strings.Contains(r.stdout, "NXDOMAIN")
		}
		var r result
		if !eventually(15*time.Second, 500*time.Millisecond, func() bool {
			r = runStack(t, dir, "-p", p, "exec", "client", "nslookup", name)
			return resolved(r)
		}) {
			t.Errorf("%s does not resolve: %s", name, r)
		}
	}
}

// TestDryRunEveryMutatingCommand: --dry-run, before or after the command,
// shows what each command that changes a project would do (its steps
// marked DRY-RUN) and changes nothing on Podman.
func TestDryRunEveryMutatingCommand(t *testing.T) {
	parallel(t)
	p := project(t, "dryrun")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  web:
    image: localhost/busybox:test
    command: sleep 3600
    depends_on: [db]
  db:
    image: localhost/busybox:test
    command: sleep 3600
    volumes: [data:/data]
volumes:
  data: {}
`})
	mustStack(t, dir, "-p", p, "up", "-d")
	snapshot := func() string {
		names := strings.Fields(podman(t, "ps", "-a", "--filter", "label=io.podstack.project="+p, "--format", "{{.Names}}"))
		return podman(t, append([]string{"container", "inspect", "--format", "{{.Name}} {{.Id}} {{.State.Status}} {{.State.StartedAt}}"}, names...)...)
	}
	before := snapshot()
	for _, args := range [][]string{
		{"down", "-v", "--dry-run"},
		{"--dry-run", "stop"},
		{"restart", "web", "--dry-run"},
		{"kill", "--dry-run"},
		{"pause", "--dry-run"},
		{"rm", "-s", "-f", "--dry-run"},
		{"up", "-d", "--force-recreate", "--dry-run"},
		{"exec", "--dry-run", "db", "rm", "-rf", "/data"},
	} {
		r := mustStack(t, dir, append([]string{"-p", p}, args...)...)
		if args[0] != "up" && !strings.Contains(r.stderr, "DRY-RUN") {
			t.Errorf("%v says nothing marked DRY-RUN: %s", args, r)
		}
	}
	after := snapshot()
	if after != before {
		t.Errorf("dry runs changed the project:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if vols := podman(t, "volume", "ls", "-q", "--filter", "label=io.podstack.project="+p); !strings.Contains(vols, p+"_data") {
		t.Errorf("down -v --dry-run removed the volume: %q", vols)
	}
	r := mustStack(t, dir, "-p", p, "down", "--dry-run")
	for _, want := range []string{"DRY-RUN Container " + p + "-web-1 Stopped", "DRY-RUN Container " + p + "-db-1 Removed", "DRY-RUN Network " + p + "_default Removed"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("down --dry-run: no %q in\n%s", want, r.stderr)
		}
	}
	r = mustStack(t, dir, "-p", p, "restart", "--dry-run")
	if !strings.Contains(r.stderr, "DRY-RUN Container "+p+"-db-1 Started") {
		t.Errorf("restart --dry-run shows no starts after its stops:\n%s", r.stderr)
	}
}

// TestUpAttachFlags: up --attach shows and watches only the named service,
// --timestamps dates its lines, -t bounds the stop that ends the up, and
// --wait returns once the stack is up (it implies -d, as in compose).
func TestUpAttachFlags(t *testing.T) {
	parallel(t)
	p := project(t, "upattach")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  job:
    image: localhost/busybox:test
    command: sh -c "sleep 2; echo from-job"
  server:
    image: localhost/busybox:test
    command: sh -c "echo from-server; sleep 3600"
`})
	start := time.Now()
	r := mustStack(t, dir, "-p", p, "up", "--attach", "job", "--abort-on-container-exit", "--timestamps", "--no-log-prefix", "-t", "1")
	if !strings.Contains(r.stdout, "from-job") || strings.Contains(r.stdout, "from-server") {
		t.Errorf("want the job's output only:\n%s", r)
	}
	if line := strings.TrimSpace(r.stdout); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\S+ from-job$`).MatchString(line) {
		t.Errorf("want one timestamped line without a prefix, got %q", line)
	}
	if took := time.Since(start); took > 40*time.Second {
		t.Errorf("up took %s: -t 1 should bound the stop of the server (sleep ignores SIGTERM)", took)
	}
	if st := inspect(t, p+"-server-1").State.Status; st != "exited" {
		t.Errorf("the unattached server is %s after the abort, want exited", st)
	}
	r = mustStack(t, dir, "-p", p, "up", "--wait", "server")
	if st := inspect(t, p+"-server-1").State.Status; st != "running" {
		t.Errorf("up --wait: server is %s: %s", st, r)
	}
}
