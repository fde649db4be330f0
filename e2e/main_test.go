package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podstack/podstack/internal/notrun"
	"github.com/podstack/podstack/internal/testcorpus"
	"github.com/podstack/podstack/podmanapi"
)

var (
	stackBin string
	podURL   string
)

// TestMain builds the binary once (unless STACK_BIN names one or -short
// is set) and reads STACK_TEST_URL, the Podman service `make test` started.
// Tests that need no Podman (loading) run the binary without it.
func TestMain(m *testing.M) {
	os.Exit(func() int {
		flag.Parse()
		podURL = os.Getenv("STACK_TEST_URL")
		stackBin = os.Getenv("STACK_BIN")
		if stackBin == "" && !testing.Short() {
			dir, err := os.MkdirTemp("", "stack-e2e")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			stackBin = filepath.Join(dir, "stack")
			cmd := exec.Command("go", "build", "-tags", "remote containers_image_openpgp", "-o", stackBin, "../cmd/stack")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build stack: %v\n%s", err, out)
				return 1
			}
		}
		if podURL != "" && !testing.Short() {
			release, err := anchorDNS()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer release()
		}
		code := m.Run()
		testcorpus.Report()
		notrun.Report(os.Stderr)
		return code
	}())
}

// anchorDNS keeps one container running on a network with DNS for the
// whole run. aardvark-dns exits when the last container of the last such
// network goes, and netavark before 1.5 races that exit: a container set
// up while it exits is left without a server, and its teardown then fails
// ("aardvark pid not found"). With tests side by side, one test's last
// container and another's first meet all the time; a server that never
// runs out of entries never exits.
func anchorDNS() (release func(), err error) {
	b := make([]byte, 3)
	rand.Read(b)
	name := "e2e-dnsanchor-" + hex.EncodeToString(b)
	pm := func(args ...string) error {
		out, err := exec.Command("podman", append([]string{"--url", podURL}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("e2e: keep aardvark-dns running: podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	label := "io.podstack.project=" + name
	if err := pm("network", "create", "--label", label, name); err != nil {
		return nil, err
	}
	if err := pm("run", "-d", "--name", name, "--label", label, "--network", name, "localhost/busybox:test", "sleep", "86400"); err != nil {
		cleanupProject(name)
		return nil, err
	}
	return func() { cleanupProject(name) }, nil
}

// requirePodman skips under -short and fails without a service: e2e tests
// must not silently pass where they could not run.
func requirePodman(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: needs Podman (run make e2e)")
	}
	if podURL == "" {
		t.Fatal("STACK_TEST_URL is not set: run the end-to-end tests with `make e2e` (or `make test`), which starts a Podman service")
	}
}

// parallel is requirePodman for a test that may run beside others (go
// test -parallel; scripts/leg.sh sets it): the test touches only objects
// named after its own project (project()), host ports freePort found and
// subnets Podman picks, and asserts nothing of the machine as a whole.
// A test that fixes a host port, a subnet or a name outside its project,
// or kills a Podman service, calls requirePodman and stays serial, saying
// why: go test runs every serial test first, one at a time, and only then
// the parallel ones together, so a serial test never meets a neighbour.
func parallel(t *testing.T) {
	t.Helper()
	requirePodman(t)
	t.Parallel()
}

// eventually calls cond until it holds or d has passed, waiting every
// between tries, and says whether it held. Podman and aardvark-dns learn
// some things a moment after the call that made them returns (a --rm
// container's removal, a new name to answer), later still on a loaded
// machine: a test that asks once of such a thing fails for no fault of
// stack's.
func eventually(d, every time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(every) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

var (
	capsOnce sync.Once
	caps     podmanapi.Capabilities
	capsErr  error
)

// serverCaps is the test service's capability set, as `stack version`
// reports it: tests gate what differs between Podman versions and modes on
// it, as podstack itself does.
func serverCaps(t *testing.T) podmanapi.Capabilities {
	t.Helper()
	capsOnce.Do(func() {
		out, err := exec.Command(stackBin, "--url", podURL, "version", "--format", "json").Output()
		if err != nil {
			capsErr = fmt.Errorf("stack version: %w", err)
			return
		}
		var v struct {
			Server *struct{ Capabilities *podmanapi.Capabilities }
		}
		if err := json.Unmarshal(out, &v); err != nil || v.Server == nil || v.Server.Capabilities == nil {
			capsErr = fmt.Errorf("stack version reports no capabilities (%v):\n%s", err, out)
			return
		}
		caps = *v.Server.Capabilities
	})
	if capsErr != nil {
		t.Fatal(capsErr)
	}
	return caps
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runStack runs the binary in dir with the test service's URL.
func runStack(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return runStackAt(t, dir, podURL, args...)
}

// runStackAt runs the binary in dir against the service at url.
func runStackAt(t *testing.T, dir, url string, args ...string) result {
	t.Helper()
	return runStackEnv(t, dir, stackEnv(url), args...)
}

// stackEnv is the environment the tests run the binary with: the
// service's URL and plain progress, nothing of the machine's settings.
func stackEnv(url string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "STACK_URL=" + url, "STACK_PROGRESS=plain"}
}

// runStackEnv runs the binary in dir with exactly the environment env.
func runStackEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(stackBin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run stack %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// mustStack runs the binary and fails the test on a non-zero exit.
func mustStack(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := runStack(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("stack %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// podman runs the podman CLI against the same service, for cross-checks.
func podman(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("podman", append([]string{"--url", podURL}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// project makes a unique project name and removes everything labelled with
// it when the test ends, whatever the test did.
func project(t *testing.T, name string) string {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	p := fmt.Sprintf("e2e-%s-%s", name, hex.EncodeToString(b))
	t.Cleanup(func() { cleanupProject(p) })
	return p
}

func cleanupProject(p string) {
	label := "label=io.podstack.project=" + p
	pc := func(args ...string) []string {
		out, _ := exec.Command("podman", append([]string{"--url", podURL}, args...)...).Output()
		return strings.Fields(string(out))
	}
	if ids := pc("ps", "-aq", "--filter", label); len(ids) > 0 {
		pc(append([]string{"rm", "-f", "-t", "0"}, ids...)...)
	}
	if ids := pc("pod", "ps", "-q", "--filter", label); len(ids) > 0 {
		pc(append([]string{"pod", "rm", "-f", "-t", "0"}, ids...)...)
	}
	if names := pc("volume", "ls", "-q", "--filter", label); len(names) > 0 {
		pc(append([]string{"volume", "rm", "-f"}, names...)...)
	}
	if names := pc("network", "ls", "-q", "--filter", label); len(names) > 0 {
		pc(append([]string{"network", "rm", "-f"}, names...)...)
	}
	// Podman 4.3 cannot filter secrets by label: the project's carry its
	// name as their prefix.
	for _, name := range pc("secret", "ls", "--format", "{{.Name}}") {
		if strings.HasPrefix(name, p+"_") {
			pc("secret", "rm", name)
		}
	}
	// A Podman service killed while it starts a container (the fault
	// tests) leaves that container's aardvark-dns entry behind even after
	// the network is gone (containers/podman#22407), and the next network
	// given the same subnet answers names from it. Forget the project's.
	if dir := aardvarkDir(); dir != "" {
		live := map[string]bool{}
		for _, n := range pc("network", "ls", "--format", "{{.Name}}") {
			live[n] = true
		}
		forgetDeadAardvark(dir)
		files, _ := filepath.Glob(filepath.Join(dir, p+"_*"))
		for _, f := range files {
			if !live[filepath.Base(f)] && os.Remove(f) == nil {
				fmt.Fprintf(os.Stderr, "e2e: %s: removed the aardvark-dns entries Podman left of removed network %s\n", p, filepath.Base(f))
			}
		}
	}
}

// removeStorageLeftovers removes the containers a Podman service that died
// mid-create left only in storage, without labels (the project's carry its
// name as their prefix). Only a test that kills a service needs it: the
// external listing reads every container in storage, which a test of its
// own would make every neighbour wait for.
func removeStorageLeftovers(p string) {
	var external []struct {
		Names []string `json:"Names"`
		State string   `json:"State"`
	}
	if out, err := exec.Command("podman", "--url", podURL, "ps", "-a", "--external", "--format", "json").Output(); err == nil &&
		json.Unmarshal(out, &external) == nil {
		for _, c := range external {
			if c.State == "storage" && len(c.Names) > 0 && strings.HasPrefix(c.Names[0], p+"-") {
				exec.Command("podman", "--url", podURL, "rm", "-f", c.Names[0]).Run()
			}
		}
	}
}

// forgetDeadAardvark removes aardvark-dns's pid file when it names no
// live aardvark-dns: netavark signals that pid instead of starting a new
// aardvark-dns, and a zombie (rootless 4.3.1's service does not reap it) or
// a reused pid answers, so no name resolves until the file goes.
func forgetDeadAardvark(dir string) {
	pidfile := filepath.Join(dir, "aardvark.pid")
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return
	}
	pid := strings.TrimSpace(string(b))
	comm, _ := os.ReadFile(filepath.Join("/proc", pid, "comm"))
	stat, _ := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	// stat: "PID (COMM) STATE ...": a zombie's state is Z.
	_, rest, _ := strings.Cut(string(stat), ") ")
	if strings.TrimSpace(string(comm)) != "aardvark-dns" || strings.HasPrefix(rest, "Z") {
		if os.Remove(pidfile) == nil {
			fmt.Fprintf(os.Stderr, "e2e: removed aardvark-dns's pid file: pid %s is not a live aardvark-dns\n", pid)
		}
	}
}

// aardvarkDir is netavark's aardvark-dns directory of the service under
// test: PODSTACK_AARDVARK_DIR where a leg moved it (scripts/podman5.sh),
// else rootful or rootless Podman's default.
func aardvarkDir() string {
	if d := os.Getenv("PODSTACK_AARDVARK_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/run/containers/networks/aardvark-dns"
	}
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		return filepath.Join(rt, "containers", "networks", "aardvark-dns")
	}
	return ""
}

// projectSecrets lists the Podman secrets whose name starts with the
// project's prefix.
func projectSecrets(t *testing.T, p string) []string {
	t.Helper()
	var out []string
	for _, name := range strings.Fields(podman(t, "secret", "ls", "--format", "{{.Name}}")) {
		if strings.HasPrefix(name, p+"_") {
			out = append(out, name)
		}
	}
	return out
}

// writeStack writes files into a new temp dir and returns it.
func writeStack(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// inspect returns podman's inspect data of a container.
type inspectData struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	Pod   string `json:"Pod"`
	State struct {
		Status     string    `json:"Status"`
		Running    bool      `json:"Running"`
		StartedAt  time.Time `json:"StartedAt"`
		FinishedAt time.Time `json:"FinishedAt"`
		ExitCode   int       `json:"ExitCode"`
		Health     struct {
			Status string `json:"Status"`
		} `json:"Health"`
	} `json:"State"`
}

func inspect(t *testing.T, name string) inspectData {
	t.Helper()
	var out []inspectData
	if err := json.Unmarshal([]byte(podman(t, "container", "inspect", name)), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return out[0]
}

// containerIDs maps the project's container names to IDs.
func containerIDs(t *testing.T, p string) map[string]string {
	t.Helper()
	out := podman(t, "ps", "-a", "--filter", "label=io.podstack.project="+p, "--format", "{{.Names}} {{.ID}}")
	ids := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			ids[f[0]] = f[1]
		}
	}
	return ids
}
