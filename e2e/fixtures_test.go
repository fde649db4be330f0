package e2e

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/podstack/podstack/internal/testcorpus"
)

// copyFixture copies a podman-compose fixture directory to a writable temp
// dir (the corpus is read-only; bind sources may need creating).
func copyFixture(t *testing.T, dir string) string {
	t.Helper()
	src := testcorpus.Peer(t, dir)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// psRecord is one of a project's containers as podman ps reports it.
type psRecord struct {
	Labels   map[string]string
	State    string
	ExitCode int
}

// byService maps a project's service names to their containers.
func byService(t *testing.T, p string) map[string]psRecord {
	t.Helper()
	var list []psRecord
	if err := json.Unmarshal([]byte(podman(t, "ps", "-a", "--filter", "label=io.podstack.project="+p, "--format", "json")), &list); err != nil {
		t.Fatal(err)
	}
	m := map[string]psRecord{}
	for _, c := range list {
		m[c.Labels["io.podstack.service"]] = c
	}
	return m
}

// states maps a project's service names to their containers' states.
func states(t *testing.T, p string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for svc, c := range byService(t, p) {
		m[svc] = c.State
	}
	return m
}

func upDown(t *testing.T, dir, file, p string, extra ...string) result {
	t.Helper()
	r := runStack(t, dir, append([]string{"-p", p, "-f", file, "up", "-d"}, extra...)...)
	t.Cleanup(func() {
		if d := runStack(t, dir, "-p", p, "-f", file, "down", "-v", "-t", "1"); d.code != 0 {
			t.Errorf("down: %s", d)
		}
		if ids := containerIDs(t, p); len(ids) != 0 {
			t.Errorf("down left containers %v", ids)
		}
	})
	return r
}

// TestPodmanComposeFixtures runs a peer's integration fixtures. The images
// they name are the local busybox image, tagged by scripts/test-image.sh.
func TestPodmanComposeFixtures(t *testing.T) {
	parallel(t)

	t.Run("deps", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "deps")
		p := project(t, "deps")
		if r := upDown(t, dir, "docker-compose.yaml", p); r.code != 0 {
			t.Fatal(r)
		}
		for svc, st := range states(t, p) {
			if st != "running" {
				t.Errorf("%s is %s", svc, st)
			}
		}
	})
	t.Run("deps-completed", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "deps")
		p := project(t, "depsc")
		if r := upDown(t, dir, "docker-compose-conditional-completed.yaml", p); r.code != 0 {
			t.Fatal(r)
		}
		if st := states(t, p); st["oneshot"] != "exited" || st["longrunning"] != "running" {
			t.Errorf("states %v", st)
		}
	})
	t.Run("deps-completed-failed", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "deps")
		p := project(t, "depsf")
		r := upDown(t, dir, "docker-compose-conditional-completed-failed.yaml", p)
		if r.code != 1 || !strings.Contains(r.stderr, `service "failing_oneshot" exited with code 1`) || !strings.Contains(r.stderr, "Task failed!") {
			t.Errorf("want a failure naming failing_oneshot with its log: %s", r)
		}
		if st := states(t, p); st["should_not_start"] == "running" {
			t.Errorf("should_not_start started: %v", st)
		}
	})
	t.Run("deps-unhealthy", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "deps")
		p := project(t, "depsu")
		r := upDown(t, dir, "docker-compose-conditional-fails.yaml", p)
		if r.code != 1 || !strings.Contains(r.stderr, `service "web" is unhealthy`) {
			t.Errorf("want web unhealthy: %s", r)
		}
		if st := states(t, p); st["sleep"] == "running" {
			t.Errorf("sleep started although web is unhealthy: %v", st)
		}
	})
	t.Run("healthcheck", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "healthcheck")
		p := project(t, "hc")
		os.MkdirAll(filepath.Join(dir, "health-trigger"), 0o755)
		os.WriteFile(filepath.Join(dir, "health-trigger", "healthy"), nil, 0o644)
		if r := upDown(t, dir, "docker-compose.yml", p, "--wait", "--wait-timeout", "30s"); r.code != 0 {
			t.Fatal(r)
		}
		if h := inspect(t, p+"-app-1").State.Health.Status; h != "healthy" {
			t.Errorf("health %q", h)
		}
	})
	for _, variant := range []string{"custom_x-podman_true", "custom_x-podman_false", "custom_x-podman_not_exists", "custom_x-podman_custom_name"} {
		t.Run("in_pod/"+variant, func(t *testing.T) {
			t.Parallel()
			dir := copyFixture(t, "in_pod/"+variant)
			p := project(t, "inpod")
			file := filepath.Join(dir, "docker-compose.yml")
			data, _ := os.ReadFile(file)
			if k := serverCaps(t); strings.Contains(string(data), "userns_mode: keep-id") && !k.Rootless && !k.KeepIDAsRoot() {
				// keep-id as root needs Podman 4.5: before, Podman's
				// refusal must reach the user as it is. (Elsewhere the
				// fixture runs as it is written.)
				if r := runStack(t, dir, "-p", p, "up", "-d", "--rollback"); r.code != 1 || !strings.Contains(r.stderr, "keep-id is only supported in rootless mode") {
					t.Errorf("keep-id as root on %s: %s", k.Mode(), r)
				}
				var kept []string
				for _, line := range strings.Split(string(data), "\n") {
					if !strings.Contains(line, "userns_mode") {
						kept = append(kept, line)
					}
				}
				os.WriteFile(file, []byte(strings.Join(kept, "\n")), 0o644)
			}
			r := upDown(t, dir, "docker-compose.yml", p)
			if r.code != 0 {
				t.Fatal(r)
			}
			if st := states(t, p); st["cont"] != "running" {
				t.Errorf("states %v", st)
			}
		})
	}
	t.Run("up_down", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "up_down")
		p := project(t, "updown")
		if r := upDown(t, dir, "docker-compose.yml", p); r.code != 0 {
			t.Fatal(r)
		}
		if st := states(t, p); st["web1"] != "running" || st["web2"] != "running" {
			t.Errorf("states %v", st)
		}
		// The orphans file drops web2: kept without --remove-orphans, removed with it.
		r := mustStack(t, dir, "-p", p, "-f", "docker-compose-orphans.yml", "up", "-d")
		if !strings.Contains(r.stderr, "--remove-orphans") || states(t, p)["web2"] != "running" {
			t.Errorf("orphan handling without the flag: %s %v", r, states(t, p))
		}
		mustStack(t, dir, "-p", p, "-f", "docker-compose-orphans.yml", "up", "-d", "--remove-orphans")
		if _, ok := states(t, p)["web2"]; ok {
			t.Errorf("--remove-orphans kept web2")
		}
	})
	t.Run("vol", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "vol")
		p := project(t, "vol")
		for _, v := range []string{"my-app-data", "actual-name-of-volume"} {
			podman(t, "volume", "create", v)
			t.Cleanup(func() { podman(t, "volume", "rm", "-f", v) })
		}
		if r := upDown(t, dir, "docker-compose.yaml", p); r.code != 0 {
			t.Fatal(r)
		}
		st := states(t, p)
		for _, svc := range []string{"web", "web1", "web2", "web3"} {
			if st[svc] != "running" {
				t.Errorf("%s: %s", svc, st[svc])
			}
		}
		mounts := podman(t, "inspect", p+"-web3-1", "--format", "{{range .Mounts}}{{.Name}} {{end}}")
		for _, v := range []string{p + "_myvol2", "my-app-data", "actual-name-of-volume", "my-app-data3"} {
			if !strings.Contains(mounts, v) {
				t.Errorf("web3 does not mount %s: %s", v, mounts)
			}
		}
	})
	t.Run("env_file_tests", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "env_file_tests")
		project := filepath.Join(dir, "project")
		cases := map[string]string{
			"container-compose.env-file-flat.yaml":                 "ZZVAR1=podman-rocks-123",
			"container-compose.env-file-obj.yaml":                  "ZZVAR3=podman-rocks-125",
			"container-compose.env-file-obj-optional-exists.yaml":  "ZZVAR1=podman-rocks-223",
			"container-compose.env-file-obj-optional-missing.yaml": "ZZVAR2=podman-rocks-124",
			"container-compose.yaml":                               "ZZVAR1=This value is loaded but should be overwritten",
		}
		for file, want := range cases {
			p := projectName(t, "env")
			r := upDown(t, project, file, p)
			if r.code != 0 {
				t.Errorf("%s: %s", file, r)
				continue
			}
			mustStack(t, project, "-p", p, "-f", file, "wait")
			logs := mustStack(t, project, "-p", p, "-f", file, "logs", "--no-log-prefix")
			if !strings.Contains(logs.stdout, want) {
				t.Errorf("%s: logs lack %q:\n%s", file, want, logs.stdout)
			}
		}
	})
	t.Run("profile", func(t *testing.T) {
		t.Parallel()
		dir := copyFixture(t, "profile")
		p := project(t, "prof")
		if r := upDown(t, dir, "docker-compose.yml", p); r.code != 0 {
			t.Fatal(r)
		}
		if st := states(t, p); len(st) != 1 || st["default-service"] != "running" {
			t.Errorf("without a profile: %v", st)
		}
		mustStack(t, dir, "-p", p, "-f", "docker-compose.yml", "--profile", "profile-1", "up", "-d")
		if st := states(t, p); len(st) != 2 || st["service-1"] != "running" {
			t.Errorf("with profile-1: %v", st)
		}
	})
}

// projectName is project() for use inside loops.
func projectName(t *testing.T, name string) string { return project(t, name) }

// exitCodes maps a project's service names to their containers' exit codes.
func exitCodes(t *testing.T, p string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for svc, c := range byService(t, p) {
		m[svc] = c.ExitCode
	}
	return m
}

// TestPodmanComposeAbort runs podman-compose's abort fixtures through an
// attached up. Exit codes follow docker compose v2: the code of the
// container whose exit ended the run (podman-compose returns 0 for every
// --abort-on-container-exit case; docker compose returns 1 for fail-first).
// Whenever an exit aborts the run, the others are stopped, not left running.
func TestPodmanComposeAbort(t *testing.T) {
	parallel(t)
	dir := copyFixture(t, "abort")
	for _, c := range []struct {
		file, flag string
		want       int
		aborted    bool
	}{
		{"fail-first", "--abort-on-container-failure", 1, true},
		{"fail-second", "--abort-on-container-failure", 1, true},
		{"fail-simultaneous", "--abort-on-container-failure", 1, true},
		{"fail-none", "--abort-on-container-failure", 0, false},
		{"fail-first", "--abort-on-container-exit", 1, true},
		{"fail-second", "--abort-on-container-exit", 0, true},
		{"fail-none", "--abort-on-container-exit", 0, true},
	} {
		t.Run(c.file+c.flag, func(t *testing.T) {
			t.Parallel()
			p := project(t, "abort")
			r := runStack(t, dir, "-p", p, "-f", "docker-compose-"+c.file+".yaml", "up", c.flag)
			if r.code != c.want {
				t.Errorf("exit %d, want %d: %s", r.code, c.want, r)
			}
			for svc, state := range states(t, p) {
				if state == "running" {
					t.Errorf("%s still running after up returned", svc)
				}
			}
			if aborted := strings.Contains(r.stderr, "Aborting on container exit"); aborted != c.aborted {
				t.Errorf("aborted=%v, want %v: %s", aborted, c.aborted, r)
			}
		})
	}
}

// TestExitCodeFrom: up --exit-code-from returns that service's code, also
// when another container's exit stopped it first (as docker compose does).
func TestExitCodeFrom(t *testing.T) {
	parallel(t)
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  init:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "exit 0"]
  tests:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "sleep 1; echo ran the tests; exit 3"]
    depends_on: {init: {condition: service_completed_successfully}}
  server:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'exit 143' TERM; sleep 3600 & wait"]
  short:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "sleep 1; exit 0"]
`})
	p := project(t, "exitfrom")
	// init exits at once but others await it: it must not end the run.
	r := runStack(t, dir, "-p", p, "up", "--exit-code-from", "tests", "tests", "server", "init")
	if r.code != 3 || !strings.Contains(r.stdout, "ran the tests") {
		t.Errorf("want exit 3 from tests and its output: %s", r)
	}
	if st := states(t, p); st["server"] == "running" {
		t.Errorf("server still running: %v", st)
	}
	// short exits first; server is stopped; up returns server's code.
	r = runStack(t, dir, "-p", p, "up", "--exit-code-from", "server", "server", "short")
	if codes := exitCodes(t, p); r.code == 0 || r.code != codes["server"] {
		t.Errorf("exit %d, want server's own non-zero stop code %d: %s", r.code, codes["server"], r)
	}
	for _, bad := range [][]string{{"up", "-d", "--exit-code-from", "tests"}, {"up", "--exit-code-from", "nope"}, {"up", "--exit-code-from", "tests", "server"}} {
		if r := runStack(t, dir, append([]string{"-p", p}, bad...)...); r.code != 2 {
			t.Errorf("%v: want usage error (exit 2): %s", bad, r)
		}
	}
}

// TestPodmanComposeServiceScale: podman-compose's service_scale fixtures:
// scale:, deploy.replicas and --scale set how many containers run, and
// --scale changes a running service's count both ways.
func TestPodmanComposeServiceScale(t *testing.T) {
	parallel(t)
	count := func(p string) int {
		t.Helper()
		n := 0
		for _, line := range strings.Fields(podman(t, "ps", "--filter", "label=io.podstack.project="+p, "--format", "{{.Names}}")) {
			if strings.HasPrefix(line, p+"-service1-") {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		dir  string
		args []string
		want int
	}{
		{"scaleup_scale_parameter", nil, 2},
		{"scaleup_deploy_replicas_parameter", nil, 3},
		{"scaleup_cli", []string{"--scale", "service1=4"}, 4},
	} {
		t.Run(c.dir, func(t *testing.T) {
			dir := copyFixture(t, "service_scale/"+c.dir)
			p := project(t, "scale")
			mustStack(t, dir, append([]string{"-p", p, "up", "-d"}, c.args...)...)
			if n := count(p); n != c.want {
				t.Errorf("%d containers of service1 running, want %d", n, c.want)
			}
		})
	}
	dir := copyFixture(t, "service_scale/scaleup_scale_parameter")
	p := project(t, "rescale")
	mustStack(t, dir, "-p", p, "up", "-d")
	ids := containerIDs(t, p)
	mustStack(t, dir, "-p", p, "up", "-d", "--scale", "service1=3")
	if n := count(p); n != 3 {
		t.Errorf("after --scale service1=3: %d running", n)
	}
	for name, id := range ids {
		if containerIDs(t, p)[name] != id {
			t.Errorf("%s was recreated by scaling up", name)
		}
	}
	mustStack(t, dir, "-p", p, "up", "-d", "--scale", "service1=1")
	if n := count(p); n != 1 {
		t.Errorf("after --scale service1=1: %d running", n)
	}
	if r := runStack(t, dir, "-p", p, "up", "-d", "--scale", "service1"); r.code != 2 || !strings.Contains(r.stderr, "SERVICE=NUM") {
		t.Errorf("--scale without a count: %s", r)
	}
}

// lookup runs busybox nslookup for name in a service's container and returns
// the addresses it answered with (the static busybox wget cannot resolve).
func lookup(t *testing.T, dir, p, service, name string) []string {
	t.Helper()
	r := runStack(t, dir, "-p", p, "exec", service, "nslookup", name)
	var addrs []string
	answer := false
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "Name:") {
			answer = true
		}
		if f := strings.Fields(line); answer && len(f) == 2 && f[0] == "Address:" {
			addrs = append(addrs, f[1])
		}
	}
	return addrs
}

// lookupSettled is lookup, given up to 15 s for a name that must answer:
// aardvark-dns learns a new container when netavark signals it to reload,
// a moment after the container starts (Podman 5, and 4.x whenever the
// server was already running for another network).
func lookupSettled(t *testing.T, dir, p, service, name string, mustAnswer bool) []string {
	t.Helper()
	var got []string
	eventually(15*time.Second, 500*time.Millisecond, func() bool {
		got = lookup(t, dir, p, service, name)
		return !mustAnswer || len(got) > 0
	})
	return got
}

// TestPodmanComposeNetworkAliases: podman-compose's nets_test3 and
// network_scoped_aliases fixtures: an alias answers only on the network it
// is declared for, with the static address given there.
//
// Serial: the fixtures fix their subnets (172.19.3.0/24, 172.19.4.0/24) and
// host ports (8001, 8002, which the ports fixture uses too).
func TestPodmanComposeNetworkAliases(t *testing.T) {
	requirePodman(t)
	t.Run("network_scoped_aliases", func(t *testing.T) {
		dir := copyFixture(t, "network_scoped_aliases")
		p := project(t, "aliases")
		mustStack(t, dir, "-p", p, "up", "-d")
		for _, c := range []struct {
			from, name string
			want       []string
		}{
			// The names that must answer first, each given a few seconds
			// (lookupSettled); the ones that must not, once DNS has them all.
			{"utils-net0", "secure-web", []string{"172.19.3.11"}},
			{"utils-net1", "insecure-web", []string{"172.19.4.11"}},
			{"utils-net0", "insecure-web", nil},
			{"utils-net1", "secure-web", nil},
		} {
			if got := lookupSettled(t, dir, p, c.from, c.name, c.want != nil); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("%s: nslookup %s = %v, want %v", c.from, c.name, got, c.want)
			}
		}
	})
	t.Run("nets_test3", func(t *testing.T) {
		dir := copyFixture(t, "nets_test3")
		p := project(t, "nets3")
		mustStack(t, dir, "-p", p, "up", "-d")
		// web1 is on net1 only. (web2, on both networks, gets one DNS
		// server per network; busybox nslookup asks only the first.)
		for _, c := range []struct {
			from, name string
			found      bool
		}{
			{"web1", "alias11", true}, {"web1", "alias12", true}, {"web1", "web3", true}, {"web1", "web2", true},
			{"web1", "alias21", false},
		} {
			// The names that must not answer come last, once DNS has them all.
			got := lookupSettled(t, dir, p, c.from, c.name, c.found)
			if (len(got) > 0) != c.found {
				t.Errorf("%s: nslookup %s = %v, want found=%v", c.from, c.name, got, c.found)
			}
		}
		var nets map[string]struct{ Aliases []string }
		if err := json.Unmarshal([]byte(podman(t, "inspect", p+"-web3-1", "--format", "{{json .NetworkSettings.Networks}}")), &nets); err != nil {
			t.Fatal(err)
		}
		for net, want := range map[string]string{p + "_net1": "alias11 alias12 web3", p + "_net2": "alias21 web3"} {
			// A set: Podman 5 adds the container's short id and hostname
			// (here web3 again) to the aliases given.
			seen := map[string]bool{}
			var got []string
			for _, a := range nets[net].Aliases {
				if (strings.HasPrefix(a, "alias") || a == "web3") && !seen[a] {
					seen[a] = true
					got = append(got, a)
				}
			}
			sort.Strings(got)
			if strings.Join(got, " ") != want {
				t.Errorf("web3's aliases on %s: %v, want %s", net, got, want)
			}
		}
		if r := mustStack(t, dir, "-p", p, "exec", "web1", "hostname"); strings.TrimSpace(r.stdout) != "web1" {
			t.Errorf("web1's hostname is %q", r.stdout)
		}
	})
}

// TestPodmanComposeStaticAddresses: podman-compose's nets_test_ip and
// network_interface_name fixtures: ipam subnets, static IPv4 and MAC
// addresses (spec and x-podman spellings, per network and service-wide),
// and a custom interface name.
//
// Serial: the fixtures fix their subnets and addresses (172.19.1.0/24,
// 172.19.2.0/24).
func TestPodmanComposeStaticAddresses(t *testing.T) {
	requirePodman(t)
	dir := copyFixture(t, "nets_test_ip")
	p := project(t, "netsip")
	mustStack(t, dir, "-p", p, "up", "-d")
	for svc, wants := range map[string][]string{
		"web1": {"inet 172.19.1.10/24 ", "link/ether 02:01:01:00:01:01 ", "inet 172.19.2.10/24 ", "link/ether 02:01:01:00:02:01 "},
		"web2": {"inet 172.19.2.11/24 ", "link/ether 02:01:01:00:02:02 "},
		"web3": {"inet 172.19.2."},
		"web4": {"inet 172.19.1.13/24 ", "inet 172.19.2."},
	} {
		out := mustStack(t, dir, "-p", p, "exec", svc, "ip", "a").stdout
		for _, want := range wants {
			if !strings.Contains(out, want) {
				t.Errorf("%s: ip a lacks %q:\n%s", svc, want, out)
			}
		}
	}

	dir = copyFixture(t, "network_interface_name")
	p = project(t, "ifname")
	mustStack(t, dir, "-p", p, "up", "-d")
	if out := strings.Fields(mustStack(t, dir, "-p", p, "exec", "web", "ls", "/sys/class/net").stdout); strings.Join(out, " ") != "customName0 lo" {
		t.Errorf("interfaces %v, want customName0 lo", out)
	}
}

// TestPodmanComposePortsAndDown: podman-compose's ports fixture (port
// prints where each container port is published, fixed or ephemeral, tcp or
// udp) and compose_down_behavior (down SERVICE removes only that service,
// as docker compose does).
//
// Serial: the fixture publishes fixed host ports (8000 to 8002).
func TestPodmanComposePortsAndDown(t *testing.T) {
	requirePodman(t)
	t.Run("ports", func(t *testing.T) {
		dir := copyFixture(t, "ports")
		p := project(t, "ports")
		mustStack(t, dir, "-p", p, "up", "-d")
		for _, c := range []struct {
			args []string
			want string // a fixed port, or "" for any ephemeral one
		}{
			{[]string{"web1", "8000"}, "0.0.0.0:8000"},
			{[]string{"web2", "8002"}, "0.0.0.0:8002"},
			{[]string{"--protocol", "udp", "web2", "8003"}, "127.0.0.1:8003"},
			{[]string{"web2", "8004"}, "127.0.0.1:8004"},
			{[]string{"web1", "8001"}, ""},
			{[]string{"--protocol", "udp", "web2", "8006"}, ""},
			{[]string{"web2", "8007"}, ""},
		} {
			got := strings.TrimSpace(mustStack(t, dir, append([]string{"-p", p, "port"}, c.args...)...).stdout)
			if c.want != "" && got != c.want {
				t.Errorf("port %v = %q, want %q", c.args, got, c.want)
			}
			if _, port, ok := strings.Cut(got, ":"); c.want == "" && (!ok || port == "" || port == "0") {
				t.Errorf("port %v = %q, want an ephemeral host port", c.args, got)
			}
		}
	})
	t.Run("compose_down_behavior", func(t *testing.T) {
		dir := copyFixture(t, "compose_down_behavior")
		p := project(t, "downsvc")
		f := []string{"-p", p, "-f", "docker-compose_default.yaml"}
		running := func() string {
			var out []string
			for svc, st := range states(t, p) {
				if st == "running" {
					out = append(out, svc)
				}
			}
			sort.Strings(out)
			return strings.Join(out, " ")
		}
		mustStack(t, dir, append(f, "up", "-d")...)
		// -t 1: the fixture's httpd runs as PID 1, which ignores SIGTERM.
		mustStack(t, dir, append(f, "down", "-t", "1", "app")...)
		if got := running(); got != "db no_deps" {
			t.Errorf("after down app: %q running, want db no_deps", got)
		}
		mustStack(t, dir, append(f, "down", "-t", "1", "db")...)
		if got := running(); got != "no_deps" {
			t.Errorf("after down db: %q running, want no_deps", got)
		}
		mustStack(t, dir, append(f, "down", "-t", "1")...)
		if got := podman(t, "ps", "-a", "--filter", "label=io.podstack.project="+p, "--format", "{{.Names}}"); strings.TrimSpace(got) != "" {
			t.Errorf("after down: %s", got)
		}
	})
}

// TestServiceProcessSettings: podman-compose's ipc fixture (one service
// joins another's shareable IPC namespace), and the other process settings
// compose users write: pid host, security_opt, shm_size, group_add,
// oom_score_adj and dns_search, each seen from inside the container.
func TestServiceProcessSettings(t *testing.T) {
	parallel(t)
	t.Run("ipc", func(t *testing.T) {
		dir := copyFixture(t, "ipc")
		p := project(t, "ipc")
		f := []string{"-p", p, "-f", "docker-compose-service.yaml"}
		mustStack(t, dir, append(f, "up", "-d")...)
		ns := func(svc string) string {
			return strings.TrimSpace(mustStack(t, dir, append(f, "exec", svc, "readlink", "/proc/self/ns/ipc")...).stdout)
		}
		if a, b := ns("ipc_test0"), ns("ipc_test"); a == "" || a != b {
			t.Errorf("ipc namespaces %q and %q, want the same", a, b)
		}
		mustStack(t, dir, append(f, "down", "-t", "1")...)
	})
	t.Run("settings", func(t *testing.T) {
		hostPID, err := os.Readlink("/proc/self/ns/pid")
		if err != nil {
			t.Fatal(err)
		}
		dir := writeStack(t, map[string]string{"compose.yaml": `services:
  svc:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    pid: host
    security_opt: ["no-new-privileges:true"]
    shm_size: 96m
    group_add: ["1234"]
    oom_score_adj: 123
    dns_search: [example.internal]
`})
		p := project(t, "procset")
		mustStack(t, dir, "-p", p, "up", "-d")
		run := func(cmd string) string {
			return mustStack(t, dir, "-p", p, "exec", "svc", "sh", "-c", cmd).stdout
		}
		for _, c := range []struct{ cmd, want string }{
			{"readlink /proc/self/ns/pid", hostPID},
			{"grep NoNewPrivs /proc/self/status", "NoNewPrivs:\t1"},
			{"df -k /dev/shm | tail -1", " 98304 "},
			{"id -G", "1234"},
			{"cat /proc/self/oom_score_adj", "123"},
			{"cat /etc/resolv.conf", "example.internal"},
		} {
			if out := run(c.cmd); !strings.Contains(out, c.want) {
				t.Errorf("%s: %q lacks %q", c.cmd, out, c.want)
			}
		}
	})
}

// TestPodmanComposeInterpolation: podman-compose's interpolation fixture:
// the values containers see come from the environment, defaults, .env and
// $$ escapes, in environment and in labels; ${X:?} stops before anything runs.
func TestPodmanComposeInterpolation(t *testing.T) {
	parallel(t)
	dir := copyFixture(t, "interpolation")
	os.WriteFile(filepath.Join(dir, "user.env"), []byte("EXAMPLE_VARIABLE_USER=test_user\n"), 0o644)
	p := project(t, "interp")
	mustStack(t, dir, "-p", p, "--env-file", "user.env", "up", "-d")
	r := mustStack(t, dir, "-p", p, "wait", "variables")
	logs := mustStack(t, dir, "-p", p, "logs", "--no-log-prefix", "variables").stdout
	for _, want := range []string{
		"EXAMPLE_VARIABLE='Host user: test_user'", "EXAMPLE_BRACES='Host user: test_user'",
		"EXAMPLE_COLON_DASH_DEFAULT='My default'", "EXAMPLE_DASH_DEFAULT='My other default'",
		"EXAMPLE_DOT_ENV='This value is from the .env file'", "EXAMPLE_EMPTY=''", "EXAMPLE_LITERAL='This is a $literal'",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("output lacks %s:\n%s%s", want, logs, r)
		}
	}
	var labels map[string]string
	json.Unmarshal([]byte(podman(t, "inspect", p+"-labels-test-1", "--format", "{{json .Config.Labels}}")), &labels)
	for k, v := range map[string]string{"TEST": "test_labels", "test.TEST": "TEST", "TEST.test2": "test2(`TEST`)"} {
		if labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, labels[k], v)
		}
	}
	r = runStack(t, dir, "-p", p+"-err", "-f", "docker-compose-colon-question-error.yml", "up", "-d")
	if r.code != 2 || !strings.Contains(r.stderr, "required variable NOT_A_VARIABLE is missing a value") {
		t.Errorf("${X:?}: want a load error (exit 2): %s", r)
	}
	if left := podman(t, "ps", "-aq", "--filter", "label=io.podstack.project="+p+"-err"); strings.TrimSpace(left) != "" {
		t.Errorf("a failed load created containers")
	}
}

// TestPodmanComposeEnvTests: podman-compose's env_tests fixture: run -e
// overrides one variable for the one-off; COMPOSE_PROJECT_NAME interpolates
// to the project's name, from the file or -p.
func TestPodmanComposeEnvTests(t *testing.T) {
	parallel(t)
	dir := copyFixture(t, "env_tests")
	f := []string{"-f", "container-compose.yml"}
	t.Cleanup(func() { cleanupProject("my-project-name") })
	r := mustStack(t, dir, append(f, "run", "--rm", "-e", "ZZVAR1=myval2", "env-test")...)
	if !strings.Contains(r.stdout, "ZZVAR1='myval2'") || !strings.Contains(r.stdout, "ZZVAR2='2-'") {
		t.Errorf("run -e: %s", r)
	}
	if r := mustStack(t, dir, append(f, "run", "--rm", "project-name-test")...); strings.TrimSpace(r.stdout) != "my-project-name" {
		t.Errorf("project name from the file: %s", r)
	}
	p := project(t, "envtests")
	if r := mustStack(t, dir, append(f, "-p", p, "run", "--rm", "project-name-test")...); strings.TrimSpace(r.stdout) != p {
		t.Errorf("project name from -p: %s", r)
	}
}

// TestAbortIgnoresRestarts: a container its restart policy brings back has
// not ended: its exits neither abort the run nor count as the end of it.
func TestAbortIgnoresRestarts(t *testing.T) {
	parallel(t)
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  flappy:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "sleep 1; exit 3"]
    restart: always
  job:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "sleep 5; echo job done"]
`})
	p := project(t, "restarts")
	start := time.Now()
	r := runStack(t, dir, "-p", p, "up", "--abort-on-container-exit")
	if r.code != 0 || !strings.Contains(r.stdout, "job done") {
		t.Errorf("want job's exit code 0 after its output: %s", r)
	}
	if took := time.Since(start); took < 5*time.Second {
		t.Errorf("returned after %s: flappy's exit ended the run", took)
	}
	if strings.Contains(r.stderr, "flappy-1 exited with code 3\n") {
		t.Errorf("flappy's exit was taken as its end: %s", r)
	}
	if st := states(t, p); st["flappy"] == "running" {
		t.Errorf("flappy still running after the abort: %v", st)
	}
}
