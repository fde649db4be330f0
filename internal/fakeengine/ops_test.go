package fakeengine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

func execOpts(cmd ...string) ops.ExecOptions { return ops.ExecOptions{Cmd: cmd} }

// TestLogs: the scripted output of each run and lines added later, tail,
// timestamps and since; following goes on until the context ends.
func TestLogs(t *testing.T) {
	f := newFixture(t, shopStack)
	f.e.Script("shop-web-1", fakeengine.Script{Stdout: []string{"listening"}, Stderr: []string{"warn: no tls"}})
	f.up("", planner.Options{})
	ctx := context.Background()
	e := f.e
	f.clock.Sleep(time.Minute)
	e.Log("shop-web-1", "GET /", false)

	var buf bytes.Buffer
	if err := e.Logs(ctx, "shop-web-1", 2, &buf); err != nil || buf.String() != "warn: no tls\nGET /\n" {
		t.Errorf("Logs tail 2: %q, %v", buf.String(), err)
	}
	collect := func(names []string, o ops.LogOptions) ([]string, error) {
		var out []string
		err := e.StreamLogs(ctx, names, o, func(l ops.LogLine) {
			out = append(out, fmt.Sprintf("%s %v %s", l.Container, l.Stderr, l.Text))
		})
		return out, err
	}
	got, err := collect([]string{"shop-web-1"}, ops.LogOptions{Tail: -1})
	if want := []string{"shop-web-1 false listening", "shop-web-1 true warn: no tls", "shop-web-1 false GET /"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("all logs: %v, %v", got, err)
	}
	got, _ = collect([]string{"shop-web-1"}, ops.LogOptions{Tail: -1, Since: "30s", Timestamps: true})
	if want := []string{"shop-web-1 false 2026-01-01T00:01:00Z GET /"}; !slices.Equal(got, want) {
		t.Errorf("since 30s ago, with timestamps: %v", got)
	}
	got, err = collect([]string{"nope", "shop-web-1"}, ops.LogOptions{Tail: 0})
	if !errors.Is(err, fakeengine.ErrNotFound) || len(got) != 0 {
		t.Errorf("a missing container among others: %v, %v", got, err)
	}

	fctx, cancel := context.WithCancel(ctx)
	lines := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- e.StreamLogs(fctx, []string{"shop-web-1"}, ops.LogOptions{Tail: 1, Follow: true}, func(l ops.LogLine) { lines <- l.Text })
	}()
	if l := <-lines; l != "GET /" {
		t.Errorf("first followed line %q", l)
	}
	e.StopContainer(ctx, "shop-web-1", 0)
	e.StartContainer(ctx, "shop-web-1") // a restart: following goes on
	if l := <-lines; l != "listening" {
		t.Errorf("line after the restart %q", l)
	}
	<-lines // warn: no tls
	cancel()
	if err := <-done; err != nil {
		t.Errorf("followed logs end with %v", err)
	}
}

// TestEventsReachTheProjectsSubscribers: container events of the project
// (its infra containers' too: they carry its labels), none of another
// project's, and no pod events (Podman's label filter drops them).
func TestEventsReachTheProjectsSubscribers(t *testing.T) {
	f := newFixture(t, shopStack)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []ops.Event
	done := make(chan error, 1)
	go func() {
		done <- f.e.Events(ctx, "shop", func(ev ops.Event) {
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
		})
	}()
	if err := f.e.WaitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	f.up("", planner.Options{})
	f.rewrite(`ports: ["8080:80"]`, `expose: ["80"]`)
	f.rewrite(`ports: ["8081:80"]`, `expose: ["80"]`)
	f.up("other", planner.Options{})
	// One more event after everything, to know all before it arrived.
	f.e.StopContainer(context.Background(), "shop-web-1", 0)
	for {
		mu.Lock()
		n := len(got)
		last := ops.Event{}
		if n > 0 {
			last = got[n-1]
		}
		mu.Unlock()
		if last.Name == "shop-web-1" && last.Action == "stop" {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range got {
		if ev.Type != "container" || ev.Labels[planner.LabelProject] != "shop" {
			t.Errorf("event of another project or kind: %+v", ev)
		}
		seen[ev.Action+" "+ev.Service] = true
		if ev.Action == "health_status" && (ev.Name != "shop-db-1" || ev.Health != "healthy") {
			t.Errorf("health event %+v", ev)
		}
	}
	for _, want := range []string{"create db", "start db", "health_status db", "start migrate", "died migrate", "start web", "create ", "start "} {
		if !seen[want] {
			t.Errorf("no %q event (infra containers have no service)", want)
		}
	}
	pods := 0
	for _, ev := range f.e.EventLog() {
		pods += btoi(ev.Type == "pod")
	}
	if pods == 0 {
		t.Error("pod events are not even recorded")
	}
}

// TestStats: SetStats's numbers for running containers, zeros for stopped
// ones, sampled again at each interval while streaming.
func TestStats(t *testing.T) {
	f := newFixture(t, shopStack)
	f.up("", planner.Options{})
	e := f.e
	e.SetStats("shop-web-1", ops.Stat{CPUPercent: 12.5, MemUsage: 1 << 20, PIDs: 3})
	e.SetStatsInterval(time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	var samples [][]ops.Stat
	err := e.Stats(ctx, []string{"shop-web-1", "shop-migrate-1"}, true, func(s []ops.Stat) {
		samples = append(samples, s)
		if len(samples) == 1 {
			e.SetStats("shop-web-1", ops.Stat{CPUPercent: 50})
		}
		if len(samples) == 3 {
			cancel()
		}
	})
	if err != nil || len(samples) != 3 {
		t.Fatalf("stream: %d samples, %v", len(samples), err)
	}
	first, last := samples[0], samples[2]
	if first[0] != (ops.Stat{Name: "shop-web-1", CPUPercent: 12.5, MemUsage: 1 << 20, PIDs: 3}) || first[1] != (ops.Stat{Name: "shop-migrate-1"}) {
		t.Errorf("first sample %+v", first)
	}
	if last[0].CPUPercent != 50 {
		t.Errorf("a later sample did not see the new numbers: %+v", last)
	}
	if err := e.Stats(context.Background(), []string{"nope"}, false, func([]ops.Stat) {}); !errors.Is(err, fakeengine.ErrNotFound) {
		t.Errorf("stats of a missing container: %v", err)
	}
}

// TestExecAndTop: exec is recorded and answered from the script, on a
// running container only.
func TestExecAndTop(t *testing.T) {
	f := newFixture(t, shopStack)
	f.e.Script("shop-db-1", fakeengine.Script{ExecCode: 2, ExecStdout: "out\n", ExecStderr: "err\n",
		Top: []string{"PID\tCOMMAND", "1\tpostgres"}})
	f.up("", planner.Options{})
	ctx := context.Background()
	e := f.e
	var out, errOut bytes.Buffer
	code, err := e.Exec(ctx, "shop-db-1", ops.ExecOptions{Cmd: []string{"psql", "-c", "select 1"}, Env: []string{"A=1"}, User: "postgres",
		Interactive: true, Stdin: strings.NewReader("\\q\n"), Stdout: &out, Stderr: &errOut})
	if code != 2 || err != nil || out.String() != "out\n" || errOut.String() != "err\n" {
		t.Errorf("exec: %d, %v, %q, %q", code, err, out.String(), errOut.String())
	}
	out.Reset()
	e.Exec(ctx, "shop-db-1", ops.ExecOptions{Cmd: []string{"sh"}, TTY: true, Stdout: &out})
	if out.String() != "out\nerr\n" {
		t.Errorf("with a TTY both streams are one: %q", out.String())
	}
	reqs := e.Execs()
	if len(reqs) != 2 || !slices.Equal(reqs[0].Cmd, []string{"psql", "-c", "select 1"}) || reqs[0].User != "postgres" || reqs[0].Stdin != "\\q\n" {
		t.Errorf("recorded %+v", reqs)
	}
	if _, err := e.Exec(ctx, "shop-migrate-1", execOpts("true")); !errors.Is(err, fakeengine.ErrNotRunning) {
		t.Errorf("exec in an exited container: %v", err)
	}
	if top, err := e.Top(ctx, "shop-db-1"); err != nil || !slices.Equal(top, []string{"PID\tCOMMAND", "1\tpostgres"}) {
		t.Errorf("top: %v, %v", top, err)
	}
	if top, _ := e.Top(ctx, "shop-web-1"); len(top) != 2 || !strings.HasPrefix(top[0], "USER\tPID") {
		t.Errorf("default top: %q", top)
	}
	if _, err := e.Top(ctx, "shop-migrate-1"); !errors.Is(err, fakeengine.ErrNotRunning) {
		t.Errorf("top of an exited container: %v", err)
	}
}

// TestRunContainer: a one-off made from the plan runs once, its output
// goes to the given writers, its exit code comes back, and with Remove it
// is gone afterwards.
func TestRunContainer(t *testing.T) {
	f := newFixture(t, shopStack)
	f.up("", planner.Options{})
	s := f.load("")
	p, err := planner.Reconcile(s, f.observe("shop"), planner.Options{OneOff: "migrate"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e := f.e

	c, pod := p.OneOff(planner.OneOffRequest{Service: "migrate", Name: "shop-migrate-run-1", Cmd: []string{"migrate", "up"}})
	var out bytes.Buffer
	code, err := e.RunContainer(ctx, c, pod, s, ops.RunIO{Stdout: &out, Stderr: &out, Remove: true})
	if code != 0 || err != nil || out.String() != "migrated\n" {
		t.Errorf("run: %d, %v, %q", code, err, out.String())
	}
	if _, ok := e.Container("shop-migrate-run-1"); ok {
		t.Error("--rm left the one-off")
	}

	e.ScriptService("migrate", fakeengine.Script{Exits: []int{5}, Stderr: []string{"locked"}})
	c, pod = p.OneOff(planner.OneOffRequest{Service: "migrate", Name: "shop-migrate-run-2", Interactive: true})
	var stdout, stderr bytes.Buffer
	code, err = e.RunContainer(ctx, c, pod, s, ops.RunIO{Interactive: true, Stdin: strings.NewReader("yes\n"), Stdout: &stdout, Stderr: &stderr})
	if code != 5 || err != nil || stderr.String() != "locked\n" || stdout.Len() != 0 {
		t.Errorf("failing run: %d, %v, out %q, err %q", code, err, stdout.String(), stderr.String())
	}
	kept := f.container("shop-migrate-run-2")
	if kept.State != "exited" || kept.Labels[planner.LabelOneOff] != "true" || !slices.Equal(kept.Networks, []string{"shop_default"}) {
		t.Errorf("one-off %+v", kept)
	}
	runs := e.Runs()
	if len(runs) != 2 || !slices.Equal(runs[0].Command, []string{"migrate", "up"}) || runs[1].Stdin != "yes\n" || !runs[0].Remove {
		t.Errorf("runs %+v", runs)
	}
	// One-offs are no service containers: the next up leaves them be.
	e.ResetCalls()
	if pl := f.up("", planner.Options{}); pl.Mutating() != 0 {
		t.Errorf("up after a run:\n%s", pl)
	}

	// A run that takes a while: the call waits for its exit.
	e.ScriptService("migrate", fakeengine.Script{Exits: []int{7}, RunFor: 20 * time.Millisecond, Stdout: []string{"working"}})
	c, pod = p.OneOff(planner.OneOffRequest{Service: "migrate", Name: "shop-migrate-run-4"})
	out.Reset()
	code, err = e.RunContainer(ctx, c, pod, s, ops.RunIO{Stdout: &out, Remove: true})
	if code != 7 || err != nil || out.String() != "working\n" {
		t.Errorf("slow run: %d, %v, %q", code, err, out.String())
	}

	e.Fail("StartContainer", "shop-migrate-run-3", errors.New("runc: boom"))
	c, pod = p.OneOff(planner.OneOffRequest{Service: "migrate", Name: "shop-migrate-run-3"})
	if _, err := e.RunContainer(ctx, c, pod, s, ops.RunIO{Remove: true}); err == nil || !strings.Contains(err.Error(), "start container shop-migrate-run-3: runc: boom") {
		t.Errorf("run with a failing start: %v", err)
	}
	if _, ok := e.Container("shop-migrate-run-3"); ok {
		t.Error("--rm left a one-off that failed to start")
	}
}

// TestGenerateKubeAndImages: the engine's own kube YAML names the pods and
// their containers; image ports come from SetExposedPorts.
func TestGenerateKubeAndImages(t *testing.T) {
	f := newFixture(t, shopStack)
	f.up("", planner.Options{})
	ctx := context.Background()
	e := f.e
	out, err := e.GenerateKube(ctx, []string{"shop-app", "shop-web"})
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(out), "---\n")
	if len(docs) != 2 {
		t.Fatalf("%d documents:\n%s", len(docs), out)
	}
	var pod struct {
		Kind     string
		Metadata struct{ Name string }
		Spec     struct {
			Containers []struct{ Name, Image string }
		}
	}
	if err := yaml.Unmarshal([]byte(docs[0]), &pod); err != nil {
		t.Fatal(err)
	}
	if pod.Kind != "Pod" || pod.Metadata.Name != "shop-app" || len(pod.Spec.Containers) != 2 || pod.Spec.Containers[0].Name != "shop-api-1" ||
		pod.Spec.Containers[0].Image != "shop/api:1" {
		t.Errorf("pod %+v", pod)
	}
	if _, err := e.GenerateKube(ctx, []string{"nope"}); !errors.Is(err, fakeengine.ErrNotFound) {
		t.Errorf("kube of a missing pod: %v", err)
	}

	e.SetExposedPorts("redis:7", "6379/tcp", "16379/tcp")
	for ref, want := range map[string]bool{"redis:7": true, "docker.io/library/redis:7": true, "redis:6": false, "nginx": true} {
		ports, ok, err := e.ImageExposedPorts(ctx, ref)
		if ok != want || err != nil {
			t.Errorf("%s: present %v, %v", ref, ok, err)
		}
		if ref == "redis:7" && !slices.Equal(ports, []string{"16379/tcp", "6379/tcp"}) {
			t.Errorf("ports %v", ports)
		}
	}
	e.SetServer(ops.ServerInfo{Version: "5.4.0", URL: "ssh://core@vm/run/podman.sock"})
	if v, err := e.Version(ctx); v.Version != "5.4.0" || err != nil || e.URL() != "ssh://core@vm/run/podman.sock" {
		t.Errorf("version %+v %v, url %s", v, err, e.URL())
	}
}

// TestDelaysAndCancellation: a delayed call gives way to its context, and
// a wait ends with it.
func TestDelaysAndCancellation(t *testing.T) {
	f := newFixture(t, shopStack)
	f.up("", planner.Options{})
	e := f.e
	e.Delay("StopContainer", "shop-web-1", time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.StopContainer(ctx, "shop-web-1", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("delayed stop under a cancelled context: %v", err)
	}
	if c := f.container("shop-web-1"); c.State != "running" {
		t.Errorf("a cancelled stop stopped: %s", c.State)
	}
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := e.WaitExit(ctx, "shop-web-1"); done <- err }()
	awaitWaiter(t, e, "shop-web-1")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("wait under a cancelled context: %v", err)
	}
}

// TestConcurrentUse: the executor's parallel steps, waits and observers
// at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: many\nservices:\n")
	for i := range 30 {
		fmt.Fprintf(&b, "  s%d:\n    image: busybox\n    healthcheck: {test: [\"CMD\", \"true\"], interval: 1s}\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "    depends_on: {s%d: {condition: service_healthy}}\n", i/2)
		}
	}
	f := newFixture(t, b.String())
	f.e.ScriptService("s7", fakeengine.Script{Health: []string{"starting", "healthy"}})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			f.e.Observe(ctx, "many", nil)
			time.Sleep(time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		f.e.Events(ctx, "many", func(ops.Event) {})
	}()
	f.up("", planner.Options{})
	f.down("", planner.DownOptions{Volumes: true})
	cancel()
	wg.Wait()
	if left := f.e.Containers(); len(left) != 0 {
		t.Errorf("left: %d containers", len(left))
	}
}
