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
		code := m.Run()
		testcorpus.Report()
		reportNotRun()
		return code
	}())
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

var (
	notRunMu   sync.Mutex
	notRunList []string
)

// notRun records a check this service cannot run (what, and why: a limit of
// the Podman or host under test, never a podstack failure). It is logged in
// the test and listed again, loudly, when the tests end: a gate on a
// capability says what it leaves out, it never skips silently.
func notRun(t *testing.T, what string, why error) {
	t.Helper()
	t.Logf("NOT RUN: %s: %v", what, why)
	notRunMu.Lock()
	defer notRunMu.Unlock()
	notRunList = append(notRunList, fmt.Sprintf("%s: %s: %v", t.Name(), what, why))
}

func reportNotRun() {
	notRunMu.Lock()
	defer notRunMu.Unlock()
	if len(notRunList) == 0 {
		return
	}
	fmt.Fprintf(os.Stderr, "\n*** NOT RUN on this Podman service, %d check(s) (limits of the service, not failures):\n", len(notRunList))
	for _, s := range notRunList {
		fmt.Fprintf(os.Stderr, "***   %s\n", s)
	}
	fmt.Fprintln(os.Stderr)
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
	// A service that died mid-create leaves containers only in storage,
	// without labels: the project's carry its name as their prefix.
	var external []struct {
		Names []string `json:"Names"`
		State string   `json:"State"`
	}
	if out, err := exec.Command("podman", "--url", podURL, "ps", "-a", "--external", "--format", "json").Output(); err == nil &&
		json.Unmarshal(out, &external) == nil {
		for _, c := range external {
			if c.State == "storage" && len(c.Names) > 0 && strings.HasPrefix(c.Names[0], p+"-") {
				pc("rm", "-f", c.Names[0])
			}
		}
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
