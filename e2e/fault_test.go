package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The fault suite: stack under kill -9, a dying Podman service, concurrent
// runs and objects it did not make. Kill points and race offsets are drawn
// from a seed that is logged (set PODSTACK_FAULT_SEED to replay a run);
// PODSTACK_FAULT_TRIALS sets the number of trials (default 3).

// faultRand returns the suite's random source, logging its seed.
func faultRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv("PODSTACK_FAULT_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("PODSTACK_FAULT_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("fault seed %d (PODSTACK_FAULT_SEED=%d replays it)", seed, seed)
	return rand.New(rand.NewSource(seed))
}

func faultTrials() int {
	if n, err := strconv.Atoi(os.Getenv("PODSTACK_FAULT_TRIALS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// faultStack has a health-gated dependency, replicas, a shared pod and a
// volume: every kind of object an interrupted run can leave half-made.
const faultStack = `services:
  db:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 3600"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 30
    volumes: [data:/data]
  api:
    image: localhost/busybox:test
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    depends_on:
      db: {condition: service_healthy}
    deploy: {replicas: 2}
  web:
    image: localhost/busybox:test
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    x-pod: front
  proxy:
    image: localhost/busybox:test
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    x-pod: front
volumes:
  data: {}
`

// projectState is what exists of a project: container names with their
// states, and pod names, by label, plus containers named like the project
// that lack its label (a create cut short).
type projectState struct {
	containers map[string]string
	pods       []string
	unlabelled []string
}

func stateOf(t *testing.T, url, p string) projectState {
	t.Helper()
	pc := func(args ...string) string {
		out, err := exec.Command("podman", append([]string{"--url", url}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	st := projectState{containers: map[string]string{}}
	label := "label=io.podstack.project=" + p
	var all []struct {
		Names   []string          `json:"Names"`
		State   string            `json:"State"`
		IsInfra bool              `json:"IsInfra"`
		Labels  map[string]string `json:"Labels"`
	}
	// Podman 4.3's ps --format {{.State}} is the human status: read JSON.
	if err := json.Unmarshal([]byte(pc("ps", "-a", "--format", "json")), &all); err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if len(c.Names) == 0 || c.IsInfra {
			continue
		}
		switch {
		case c.Labels["io.podstack.project"] == p:
			st.containers[c.Names[0]] = c.State
		case strings.HasPrefix(c.Names[0], p+"-"):
			st.unlabelled = append(st.unlabelled, c.Names[0])
		}
	}
	st.pods = strings.Fields(pc("pod", "ps", "--filter", label, "--format", "{{.Name}}"))
	sort.Strings(st.pods)
	return st
}

// wantConverged checks the project runs exactly the containers and pods of
// want: one container per replica, each running, and nothing stray.
func wantConverged(t *testing.T, url, p string, want projectState, what string) {
	t.Helper()
	got := stateOf(t, url, p)
	var names []string
	for n := range want.containers {
		names = append(names, n)
	}
	sort.Strings(names)
	var gotNames []string
	for n, state := range got.containers {
		gotNames = append(gotNames, n)
		if state != "running" {
			t.Errorf("%s: container %s is %s, want running", what, n, state)
		}
	}
	sort.Strings(gotNames)
	if strings.Join(gotNames, " ") != strings.Join(names, " ") {
		t.Errorf("%s: containers %v, want exactly %v", what, gotNames, names)
	}
	if strings.Join(got.pods, " ") != strings.Join(want.pods, " ") {
		t.Errorf("%s: pods %v, want exactly %v", what, got.pods, want.pods)
	}
	if len(got.unlabelled) > 0 {
		t.Errorf("%s: stray containers without the project's label: %v", what, got.unlabelled)
	}
}

// stackCmd prepares the binary with the test's environment.
func stackCmd(dir, url string, args ...string) (*exec.Cmd, *syncBuffer) {
	cmd := exec.Command(stackBin, args...)
	cmd.Dir = dir
	cmd.Env = stackEnv(url)
	// Read while the command runs (TestConcurrentRuns waits for a line).
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

// reference brings the stack up once and down again, to learn the state it
// converges to.
func reference(t *testing.T, dir, url, p string) projectState {
	t.Helper()
	up := runStackAt(t, dir, url, "-p", p, "up", "-d", "--wait")
	if up.code != 0 {
		t.Fatalf("reference up: %s", up)
	}
	want := stateOf(t, url, p)
	if len(want.containers) != 5 {
		t.Fatalf("reference state %+v: want 5 containers", want)
	}
	if down := runStackAt(t, dir, url, "-p", p, "down", "-v"); down.code != 0 {
		t.Fatalf("reference down: %s", down)
	}
	return want
}

// TestKillDashNineConverges: `stack up` killed with SIGKILL at a random
// point (from a clean machine, and part-way through a recreate) leaves a
// state the next `up` repairs: exactly one container per replica, all
// running, nothing stray.
func TestKillDashNineConverges(t *testing.T) {
	parallel(t)
	rng := faultRand(t)
	p := project(t, "kill9")
	dir := writeStack(t, map[string]string{"compose.yaml": faultStack})
	want := reference(t, dir, podURL, p)
	for i := 0; i < faultTrials(); i++ {
		args := []string{"-p", p, "up", "-d", "--wait"}
		if i%2 == 1 {
			args = append(args, "--force-recreate")
		}
		delay := time.Duration(rng.Int63n(int64(3 * time.Second)))
		t.Logf("trial %d: kill -9 `stack %s` after %s", i, strings.Join(args[2:], " "), delay.Round(time.Millisecond))
		cmd, out := stackCmd(dir, podURL, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		rerun := runStackAt(t, dir, podURL, "-p", p, "up", "-d", "--wait")
		if rerun.code != 0 {
			t.Fatalf("trial %d: the first up after kill -9 at %s failed: %s\nkilled run's output:\n%s", i, delay, rerun, out)
		}
		wantConverged(t, podURL, p, want, fmt.Sprintf("trial %d (kill at %s)", i, delay.Round(time.Millisecond)))
	}
}

// privateService runs a Podman API service of the test's own, so the test
// can kill it; it shares the machine's storage with the suite's service.
type privateService struct {
	t    *testing.T
	sock string
	url  string
	cmd  *exec.Cmd
}

func startPrivateService(t *testing.T) *privateService {
	t.Helper()
	dir, err := os.MkdirTemp("", "podstack-svc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &privateService{t: t, sock: filepath.Join(dir, "podman.sock")}
	s.url = "unix://" + s.sock
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *privateService) start() {
	s.t.Helper()
	os.Remove(s.sock)
	s.cmd = exec.Command("podman", "system", "service", "--time=0", s.url)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	if !eventually(10*time.Second, 100*time.Millisecond, func() bool { return exec.Command("podman", "--url", s.url, "version").Run() == nil }) {
		s.t.Fatalf("private Podman service at %s did not answer", s.url)
	}
}

// kill SIGKILLs the service, as a crash would.
func (s *privateService) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
		s.cmd = nil
	}
}

// TestServiceCrashConverges: the Podman service dies mid-`up` and is
// restarted; the FIRST rerun converges (it used to fail in 5 of 8 trials
// with "container with given ID already exists" or "runc start failed").
//
// Serial: it kills a Podman service that shares storage and networks with
// the suite's own; what the crash leaves (locks, aardvark-dns entries) must
// not meet another test's run.
func TestServiceCrashConverges(t *testing.T) {
	requirePodman(t)
	rng := faultRand(t)
	p := project(t, "svccrash")
	// Registered after project()'s cleanup, so it runs before it.
	t.Cleanup(func() { removeStorageLeftovers(p) })
	dir := writeStack(t, map[string]string{"compose.yaml": faultStack})
	svc := startPrivateService(t)
	want := reference(t, dir, svc.url, p)
	for i := 0; i < faultTrials(); i++ {
		delay := time.Duration(200+rng.Int63n(2300)) * time.Millisecond
		t.Logf("trial %d: kill -9 the Podman service after %s of `stack up`", i, delay)
		cmd, out := stackCmd(dir, svc.url, "-p", p, "up", "-d", "--wait")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		svc.kill()
		cmd.Wait()
		svc.start()
		rerun := runStackAt(t, dir, svc.url, "-p", p, "up", "-d", "--wait")
		if rerun.code != 0 {
			t.Fatalf("trial %d: the first up after the service died at %s failed: %s\ninterrupted run's output:\n%s", i, delay, rerun, out)
		}
		wantConverged(t, svc.url, p, want, fmt.Sprintf("trial %d (service killed at %s)", i, delay))
		if down := runStackAt(t, dir, svc.url, "-p", p, "down", "-v"); down.code != 0 {
			t.Fatalf("trial %d: down: %s", i, down)
		}
	}
}

// TestConcurrentRuns: two runs of one project at once never both fail and
// never leave a half-made stack: the second waits for the first's lock
// (saying so), or with --no-wait-lock fails naming the holder.
func TestConcurrentRuns(t *testing.T) {
	parallel(t)
	rng := faultRand(t)
	p := project(t, "concurrent")
	dir := writeStack(t, map[string]string{"compose.yaml": faultStack})
	want := reference(t, dir, podURL, p)
	empty := projectState{containers: map[string]string{}}

	start := func(args ...string) (*exec.Cmd, *syncBuffer) {
		cmd, out := stackCmd(dir, podURL, append([]string{"-p", p}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, out
	}
	for i := 0; i < faultTrials(); i++ {
		offset := time.Duration(rng.Int63n(int64(300 * time.Millisecond)))
		t.Logf("trial %d: up and up, %s apart", i, offset.Round(time.Millisecond))
		a, aout := start("up", "-d", "--wait")
		time.Sleep(offset)
		b, bout := start("up", "-d", "--wait")
		errA, errB := a.Wait(), b.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("trial %d: concurrent ups: %v / %v\n--- first:\n%s\n--- second:\n%s", i, errA, errB, aout, bout)
		}
		wantConverged(t, podURL, p, want, fmt.Sprintf("up/up trial %d", i))

		offset = time.Duration(rng.Int63n(int64(300 * time.Millisecond)))
		t.Logf("trial %d: up --force-recreate and down, %s apart", i, offset.Round(time.Millisecond))
		a, aout = start("up", "-d", "--wait", "--force-recreate")
		time.Sleep(offset)
		b, bout = start("down")
		errA, errB = a.Wait(), b.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("trial %d: concurrent up and down: %v / %v\n--- up:\n%s\n--- down:\n%s", i, errA, errB, aout, bout)
		}
		// Whichever ran second decided: all up, or all gone; never half.
		if got := stateOf(t, podURL, p); len(got.containers) == 0 {
			wantConverged(t, podURL, p, empty, fmt.Sprintf("up/down trial %d (down last)", i))
		} else {
			wantConverged(t, podURL, p, want, fmt.Sprintf("up/down trial %d (up last)", i))
		}
		if r := runStackAt(t, dir, podURL, "-p", p, "up", "-d", "--wait"); r.code != 0 {
			t.Fatalf("trial %d: up after the race: %s", i, r)
		}
	}

	// The second run says whom it waits for; --no-wait-lock names the holder.
	runStackAt(t, dir, podURL, "-p", p, "down")
	a, aout := start("up", "-d", "--wait")
	eventually(10*time.Second, 20*time.Millisecond, func() bool { return strings.Contains(aout.String(), "Creat") })
	r := runStackAt(t, dir, podURL, "-p", p, "up", "-d", "--no-wait-lock")
	if r.code != 1 || !strings.Contains(r.stderr, "locked by `stack up` (pid "+strconv.Itoa(a.Process.Pid)) {
		t.Errorf("--no-wait-lock while another up runs: want exit 1 naming pid %d: %s", a.Process.Pid, r)
	}
	b, bout := start("up", "-d", "--wait")
	if err := a.Wait(); err != nil {
		t.Fatalf("first up: %v\n%s", err, aout)
	}
	if err := b.Wait(); err != nil {
		t.Fatalf("waiting up: %v\n%s", err, bout)
	}
	if !strings.Contains(bout.String(), "Waiting for `stack up` (pid "+strconv.Itoa(a.Process.Pid)) {
		t.Errorf("the second up did not say whom it waited for:\n%s", bout)
	}
	wantConverged(t, podURL, p, want, "after a waited run")
}

// TestForeignObjectsNeverTaken: a volume or network made by hand with a
// name the stack uses is never silently used or removed: a volume is
// mounted with a warning that names the fix, a network is refused, and
// down -v leaves both.
func TestForeignObjectsNeverTaken(t *testing.T) {
	parallel(t)
	p := project(t, "foreign")
	dir := writeStack(t, map[string]string{"compose.yaml": `services:
  app:
    image: localhost/busybox:test
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    volumes: [data:/data]
volumes:
  data: {}
`})
	vol, netName := p+"_data", p+"_default"
	podman(t, "volume", "create", vol)
	t.Cleanup(func() { exec.Command("podman", "--url", podURL, "volume", "rm", "-f", vol).Run() })
	podman(t, "run", "--rm", "-v", vol+":/data", "localhost/busybox:test", "sh", "-c", "echo precious > /data/keep")

	plan := mustStack(t, dir, "-p", p, "plan")
	if !strings.Contains(plan.stdout, "UseVolume") || strings.Contains(plan.stdout, "CreateVolume") {
		t.Errorf("plan does not show the foreign volume as used:\n%s", plan.stdout)
	}
	up := mustStack(t, dir, "-p", p, "up", "-d")
	if !strings.Contains(up.stderr, "external: true") {
		t.Errorf("up does not warn about the foreign volume:\n%s", up.stderr)
	}
	mustStack(t, dir, "-p", p, "down", "-v")
	if out := podman(t, "run", "--rm", "-v", vol+":/data", "localhost/busybox:test", "cat", "/data/keep"); strings.TrimSpace(out) != "precious" {
		t.Errorf("down -v touched the foreign volume's data: %q", out)
	}

	podman(t, "network", "create", netName)
	t.Cleanup(func() { exec.Command("podman", "--url", podURL, "network", "rm", "-f", netName).Run() })
	r := runStack(t, dir, "-p", p, "up", "-d")
	if r.code != 1 || !strings.Contains(r.stderr, "external: true") {
		t.Errorf("up with a foreign network of the stack's name: want exit 1 with the fix: %s", r)
	}
	if st := stateOf(t, podURL, p); len(st.containers)+len(st.pods) > 0 {
		t.Errorf("a refused up left objects: %+v", st)
	}
	mustStack(t, dir, "-p", p, "down", "-v")
	podman(t, "network", "exists", netName)
	podman(t, "volume", "exists", vol)
}

// TestSecretsNeverShown: a password (in an environment variable and a
// secret file) never appears in plan, progress (plain and json), ps, ls,
// events, errors or an exported ConfigMap.
func TestSecretsNeverShown(t *testing.T) {
	parallel(t)
	p := project(t, "noshow")
	const pw, filePW, url = "s3cr3t-Pa55w0rd", "file-pa55phrase", "postgres://app:url-pa55@db/app"
	dir := writeStack(t, map[string]string{
		"compose.yaml": `services:
  db:
    image: localhost/busybox:test
    command: ["/bin/sh", "-c", "echo starting with $$DB_PASSWORD; exit 3"]
    environment:
      DB_PASSWORD: ` + pw + `
      DATABASE_URL: ` + url + `
      PORT: "5432"
    secrets: [key]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1
  app:
    image: localhost/busybox:test
    command: ["sleep", "3600"]
    depends_on:
      db: {condition: service_healthy}
secrets:
  key:
    file: ./key.txt
`,
		"key.txt": filePW,
	})
	leaks := func(what, text string) {
		t.Helper()
		for _, s := range []string{pw, filePW, "url-pa55"} {
			if strings.Contains(text, s) {
				t.Errorf("%s shows a secret (%q):\n%s", what, s, text)
			}
		}
	}
	for _, f := range []string{"table", "json", "text"} {
		r := mustStack(t, dir, "-p", p, "plan", "--format", f)
		leaks("plan --format "+f, r.stdout+r.stderr)
	}
	events, evOut := stackCmd(dir, podURL, "-p", p, "events", "--json")
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"plain", "json"} {
		r := runStack(t, dir, "-p", p, "--progress", mode, "up", "-d")
		if r.code == 0 {
			t.Fatalf("up of a stack whose dependency fails its healthcheck succeeded: %s", r)
		}
		if !strings.Contains(r.stderr, "starting with") {
			t.Errorf("the failure does not show the container's last log lines: %s", r.stderr)
		}
		leaks("up --progress "+mode+" (a failure quoting the logs)", r.stdout+r.stderr)
	}
	for _, args := range [][]string{{"ps", "-a"}, {"ps", "-a", "--format", "json"}, {"ls"}, {"ls", "--format", "json"}} {
		r := mustStack(t, dir, append([]string{"-p", p}, args...)...)
		leaks(strings.Join(args, " "), r.stdout+r.stderr)
	}
	events.Process.Signal(syscall.SIGINT)
	events.Wait()
	if !strings.Contains(evOut.String(), p) {
		t.Errorf("events saw nothing of the project:\n%s", evOut)
	}
	leaks("events --json", evOut.String())
	out := filepath.Join(t.TempDir(), "k8s")
	r := mustStack(t, dir, "-p", p, "export", "kube", "-o", out)
	leaks("export kube messages", r.stdout+r.stderr)
	files, _ := filepath.Glob(filepath.Join(out, "*.yaml"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, doc := range strings.Split(string(data), "\n---") {
			if strings.Contains(doc, "kind: ConfigMap") {
				leaks("an exported ConfigMap", doc)
			}
		}
	}
	mustStack(t, dir, "-p", p, "down", "-v")
}
