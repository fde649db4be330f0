package podmanapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/podstack/podstack/internal/notrun"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// testClient connects to the service `make test` started, or (outside make)
// to whatever Connect finds, starting a temporary service if need be.
// TestMain lists, after the tests, the checks this Podman service could
// not run (see package notrun).
func TestMain(m *testing.M) {
	code := m.Run()
	notrun.Report(os.Stderr)
	os.Exit(code)
}

func testClient(t *testing.T) *Client {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs Podman")
	}
	c, err := Connect(context.Background(), ConnectOptions{URL: os.Getenv("STACK_TEST_URL")})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func freePort(t *testing.T) uint16 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// TestRuntimeAgainstPodman drives the Runtime methods on a real service:
// create, start, healthchecks run by hand, exit codes, logs, published
// ports of an infra-less pod, observation scoped by label, removal.
func TestRuntimeAgainstPodman(t *testing.T) {
	c := testClient(t)
	ctx := context.Background()
	project := fmt.Sprintf("it%d", time.Now().UnixNano()%1000000)
	port := freePort(t)
	s := &stack.Stack{Name: project,
		Networks: map[string]*stack.Network{"default": {Key: "default", Name: project + "_default"}},
		Volumes:  map[string]*stack.Volume{"data": {Key: "data", Name: project + "_data"}},
		Services: map[string]*stack.Service{
			"web": {Name: "web", Image: "localhost/busybox:test", Replicas: 1,
				Command: []string{"/bin/sh", "-c", "echo hello from web; sleep 1; touch /tmp/ok; exec httpd -f -p 8080 -h /var/www"},
				Ports:   []stack.Port{{Target: 8080, Published: port, HostIP: "127.0.0.1", Protocol: "tcp"}},
				Health:  &stack.HealthCheck{Test: []string{"CMD", "test", "-f", "/tmp/ok"}, Interval: time.Second, Timeout: 2 * time.Second, Retries: 5},
				Mounts:  []stack.Mount{{Type: stack.MountVolume, Source: "data", Target: "/data"}}},
			"job": {Name: "job", Image: "localhost/busybox:test", Replicas: 1, Command: []string{"/bin/sh", "-c", "exit 3"}},
		},
	}
	pods, err := planner.Group(s, planner.PolicyAuto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range []string{project + "-web-1", project + "-job-1", project + "-web-1-lookalike"} {
			c.RemoveContainer(ctx, n, true)
		}
		for _, p := range pods {
			c.RemovePod(ctx, p.Name)
		}
		c.RemoveVolume(ctx, project+"_data")
		c.RemoveNetwork(ctx, project+"_default")
	})
	labels := map[string]string{planner.LabelProject: project}
	if err := c.CreateNetwork(ctx, s.Networks["default"], labels); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateVolume(ctx, s.Volumes["data"], labels); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateVolume(ctx, s.Volumes["data"], labels); err != nil {
		t.Errorf("creating an existing volume again must succeed: %v", err)
	}
	containers := planner.Containers(s, pods)
	for _, p := range pods {
		if err := c.CreatePod(ctx, p, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, ct := range containers {
		var pod *planner.Pod
		for _, p := range pods {
			if p.Name == ct.Pod {
				pod = p
			}
		}
		if err := c.CreateContainer(ctx, ct, pod, s); err != nil {
			t.Fatal(err)
		}
		if err := c.StartContainer(ctx, ct.Name); err != nil {
			t.Fatal(err)
		}
	}
	web, job := project+"-web-1", project+"-job-1"

	status := ""
	for i := 0; i < 20 && status != "healthy"; i++ {
		if status, err = c.RunHealthCheck(ctx, web); err != nil {
			t.Fatal(err)
		}
		if status != "healthy" {
			time.Sleep(500 * time.Millisecond)
		}
	}
	if status != "healthy" {
		t.Fatalf("web never became healthy: %q", status)
	}
	if code, err := c.WaitExit(ctx, job); err != nil || code != 3 {
		t.Errorf("job exit %d, %v; want 3", code, err)
	}
	if _, err := c.RunHealthCheck(ctx, job); !errors.Is(err, planner.ErrNotRunning) {
		t.Errorf("healthcheck of an exited container: %v, want ErrNotRunning", err)
	}
	var logs bytes.Buffer
	if err := c.Logs(ctx, web, 5, &logs); err != nil || !strings.Contains(logs.String(), "hello from web") {
		t.Errorf("logs %q, %v", logs.String(), err)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("published port of an infra-less pod: %v", err)
	}
	resp.Body.Close()

	// A look-alike without labels is never observed.
	if out, err := exec.Command("podman", "--url", c.URL(), "run", "-d", "--name", web+"-lookalike", "localhost/busybox:test", "sleep", "60").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	o, err := c.Observe(ctx, project, &planner.Lookup{Images: []string{"localhost/busybox:test", "localhost/not-there:1"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, oc := range o.Containers {
		names = append(names, oc.Name)
	}
	if strings.Join(names, ",") != job+","+web {
		t.Errorf("observed containers %v", names)
	}
	if len(o.Pods) != 2 || len(o.Volumes) != 1 || len(o.Networks) != 1 || strings.Join(o.Images, ",") != "localhost/busybox:test" {
		t.Errorf("observed %+v", o)
	}
	// Exit times, which order an attached up's exits: whole seconds of
	// inspect's time; none for a container that never exited.
	var jobState struct {
		State struct{ FinishedAt time.Time }
	}
	if raw, err := c.InspectContainer(ctx, job); err != nil || json.Unmarshal(raw, &jobState) != nil {
		t.Fatalf("inspect %s: %v", job, err)
	}
	for _, oc := range o.Containers {
		if oc.Name == job && (oc.FinishedAt.IsZero() || oc.FinishedAt.Unix() != jobState.State.FinishedAt.Unix()) {
			t.Errorf("job's exit time %v, inspect says %v", oc.FinishedAt, jobState.State.FinishedAt)
		}
		if oc.Name == web && !oc.FinishedAt.IsZero() {
			t.Errorf("web never exited, its exit time is %v", oc.FinishedAt)
		}
	}
	if err := c.StopContainer(ctx, web, time.Second); err != nil {
		t.Error(err)
	}
	if err := c.RemoveContainer(ctx, web, false); err != nil {
		t.Error(err)
	}
	if err := c.RemoveContainer(ctx, web, false); err != nil {
		t.Errorf("removing a missing container must succeed: %v", err)
	}
	if err := c.StartContainer(ctx, web); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), web) {
		t.Errorf("start of a missing container: %v", err)
	}
}

func TestVersionAgainstPodman(t *testing.T) {
	c := testClient(t)
	info, err := c.Version(context.Background())
	if err != nil || info.Version == "" || info.URL != c.URL() {
		t.Errorf("%+v %v", info, err)
	}
}

// TestEmbeddedService: with no service to find, Connect starts a temporary
// one on a private socket, says so, and Close stops it.
func TestEmbeddedService(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs Podman")
	}
	var notice bytes.Buffer
	dir := t.TempDir()
	c, err := Connect(context.Background(), ConnectOptions{Stderr: &notice, Getenv: func(k string) string {
		if k == "XDG_RUNTIME_DIR" {
			return dir
		}
		return ""
	}, ConfigPaths: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if c.embedded == nil {
		c.Close()
		t.Skip("a Podman service already answers at the default socket; nothing to embed")
	}
	sock := strings.TrimPrefix(c.URL(), "unix://")
	if !strings.Contains(notice.String(), "started a temporary one") {
		t.Errorf("no notice on stderr: %q", notice.String())
	}
	if _, err := c.Version(context.Background()); err != nil {
		t.Errorf("version through the temporary service: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket %s still there after Close", sock)
	}
}

// TestRefusedPodLeavesNothing: when Podman refuses a pod (here, a network
// that does not exist), no half-made pod is left under its name (Podman
// 4.3 leaves one behind its 500), so a later up starts clean.
func TestRefusedPodLeavesNothing(t *testing.T) {
	c := testClient(t)
	ctx := context.Background()
	name := fmt.Sprintf("it%d-refused", time.Now().UnixNano()%1000000)
	p := &planner.Pod{Key: "refused", Name: name, Infra: true, Services: []string{"web"},
		Networks: map[string][]string{name + "-no-such-network": {"web"}}}
	s := &stack.Stack{Name: name, Services: map[string]*stack.Service{"web": {Name: "web", Image: "localhost/busybox:test", Replicas: 1}}}
	t.Cleanup(func() { c.RemovePod(context.Background(), name) })
	if err := c.CreatePod(ctx, p, s); err == nil {
		t.Fatal("Podman created a pod on a network that does not exist")
	}
	if _, err := c.InspectPod(ctx, name); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused pod was left behind: inspect says %v", err)
	}
}

// TestAttachEndsWithTheExit: an attach returns once the container has
// exited, so what Podman then reports of it is that exit and its code, on
// which `stack attach` exits (Podman 5 ends the attach stream before it
// records the exit).
func TestAttachEndsWithTheExit(t *testing.T) {
	c := testClient(t)
	ctx := context.Background()
	project := fmt.Sprintf("it%d-attach", time.Now().UnixNano()%1000000)
	s := &stack.Stack{Name: project,
		Networks: map[string]*stack.Network{"default": {Key: "default", Name: project + "_default"}},
		Services: map[string]*stack.Service{
			"ticker": {Name: "ticker", Image: "localhost/busybox:test", Replicas: 1,
				Command: []string{"/bin/sh", "-c", "sleep 1; echo tick; exit 7"}},
		}}
	pods, err := planner.Group(s, planner.PolicyAuto)
	if err != nil {
		t.Fatal(err)
	}
	cts := planner.Containers(s, pods)
	t.Cleanup(func() {
		for _, ct := range cts {
			c.RemoveContainer(ctx, ct.Name, true)
		}
		for _, p := range pods {
			c.RemovePod(ctx, p.Name)
		}
		c.RemoveNetwork(ctx, project+"_default")
	})
	if err := c.CreateNetwork(ctx, s.Networks["default"], map[string]string{planner.LabelProject: project}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if err := c.CreatePod(ctx, p, s); err != nil {
			t.Fatal(err)
		}
	}
	ct := cts[0]
	var pod *planner.Pod
	for _, p := range pods {
		if p.Name == ct.Pod {
			pod = p
		}
	}
	if err := c.CreateContainer(ctx, ct, pod, s); err != nil {
		t.Fatal(err)
	}
	if err := c.StartContainer(ctx, ct.Name); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if detached, err := c.AttachContainer(ctx, ct.Name, ops.AttachIO{Stdout: &out, Stderr: &out}); detached || err != nil {
		t.Fatalf("attach: detached %v, %v", detached, err)
	}
	if out.String() != "tick\n" {
		t.Errorf("attach output %q, want the container's", out.String())
	}
	data, err := containers.Inspect(c.ctx(ctx), ct.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if data.State.Running || data.State.ExitCode != 7 {
		t.Errorf("once the attach has returned, Podman reports %s %s with code %d; want it exited with 7", ct.Name, data.State.Status, data.State.ExitCode)
	}
}
