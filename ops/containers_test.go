package ops_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// dayStack: a database, a web service that depends on it, runs two
// replicas and restarts unless stopped, and a volume web does not mount.
const dayStack = `name: day
services:
  db:
    image: localhost/busybox:test
  web:
    image: localhost/busybox:test
    restart: unless-stopped
    scale: 2
    user: www
    ports: ["8080"]
    networks:
      default: {aliases: [www]}
    depends_on: [db]
volumes:
  cache: {}
`

// instant lets the executor's sleeps pass at once.
func instant(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

// upProject loads content, brings it up on a fresh fake engine and
// returns the project.
func upProject(t *testing.T, content string) (*ops.Project, *fakeengine.Engine) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml")}, Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	e := fakeengine.New()
	e.AddImages("localhost/busybox:test")
	p := ops.New(s, e)
	if _, err := p.Up(context.Background(), ops.UpOptions{Exec: planner.ExecOptions{Sleep: instant}}); err != nil {
		t.Fatal(err)
	}
	e.ResetCalls()
	return p, e
}

// TestExecPicksTheReplica: --index picks a replica by its number; a
// replica that is not running is an error naming those that are (with
// one replica running, any index used to pick it). -d and --privileged
// reach the engine.
func TestExecPicksTheReplica(t *testing.T) {
	p, e := upProject(t, dayStack)
	ctx := context.Background()
	if _, err := p.Exec(ctx, ops.ExecRequest{Service: "web", Index: 2, ExecOptions: ops.ExecOptions{Cmd: []string{"id"}, Detach: true, Privileged: true}}); err != nil {
		t.Fatal(err)
	}
	execs := e.Execs()
	if len(execs) != 1 || execs[0].Container != "day-web-2" || !execs[0].Detach || !execs[0].Privileged {
		t.Errorf("exec --index 2 -d --privileged: %+v", execs)
	}
	if _, err := p.Exec(ctx, ops.ExecRequest{Service: "db", Index: 2, ExecOptions: ops.ExecOptions{Cmd: []string{"id"}}}); err == nil || !strings.Contains(err.Error(), "no running replica 2 (running: 1") {
		t.Errorf("exec --index 2 on a one-replica service: %v", err)
	}
}

// TestRunOverrides: run's flags shape the one-off, as in docker compose,
// and never the service: -u, -w, --entrypoint, -l, -v (a stack volume the
// service does not mount is created by the plan), -p, --use-aliases,
// --name; the one-off never inherits the restart policy; -d returns at
// once with its name.
func TestRunOverrides(t *testing.T) {
	p, e := upProject(t, dayStack)
	ctx := context.Background()
	res, err := p.Run(ctx, ops.RunRequest{Service: "web", Name: "day-nightly", Cmd: []string{"reindex"},
		User: "0", WorkDir: "/srv", Entrypoint: []string{}, Labels: map[string]string{"team": "db"},
		Mounts:  []stack.Mount{{Type: stack.MountVolume, Source: "cache", Target: "/cache"}},
		Publish: []stack.Port{{Target: 80, Published: 18199, Protocol: "tcp"}}, UseAliases: true,
		RunIO: ops.RunIO{Detach: true, Remove: true}})
	if err != nil || res.Container != "day-nightly" || res.ExitCode != 0 {
		t.Fatalf("run -d --name day-nightly: %+v, %v", res, err)
	}
	runs := e.Runs()
	if len(runs) != 1 {
		t.Fatalf("runs %+v", runs)
	}
	r := runs[0]
	spec := r.Spec
	if spec.User != "0" || spec.WorkingDir != "/srv" || spec.Entrypoint == nil || len(spec.Entrypoint) != 0 || spec.Labels["team"] != "db" ||
		spec.Restart != "" || !slices.Equal(spec.Command, []string{"reindex"}) {
		t.Errorf("one-off definition %+v", spec)
	}
	if !slices.ContainsFunc(spec.Mounts, func(m stack.Mount) bool { return m.Source == "cache" && m.Target == "/cache" }) {
		t.Errorf("-v cache:/cache: mounts %+v", spec.Mounts)
	}
	if e.Called("CreateVolume", "day_cache") != 1 {
		t.Errorf("the plan did not create the volume -v names: %v", e.Mutations())
	}
	if len(r.PodSpec.Ports) != 1 || r.PodSpec.Ports[0].Published != 18199 {
		t.Errorf("-p 18199:80: pod ports %+v", r.PodSpec.Ports)
	}
	if got := r.PodSpec.Networks["day_default"]; !slices.Equal(got, []string{"web", "www"}) {
		t.Errorf("--use-aliases: %v", r.PodSpec.Networks)
	}
	if !r.Detach || !r.Remove {
		t.Errorf("-d --rm: %+v", r)
	}
	web := p.Stack.Services["web"]
	if web.User != "www" || web.Restart != "unless-stopped" || len(web.Mounts) != 0 || web.Labels["team"] != "" {
		t.Errorf("run changed the service's own definition: %+v", web)
	}
	// A plain run: the service's definition, no ports, no aliases, its
	// own name.
	res, err = p.Run(ctx, ops.RunRequest{Service: "web", RunIO: ops.RunIO{Remove: true}})
	if err != nil || !strings.HasPrefix(res.Container, "day-web-run-") {
		t.Fatalf("plain run: %+v, %v", res, err)
	}
	r = e.Runs()[1]
	if r.Spec.User != "www" || len(r.PodSpec.Ports) != 0 || len(r.PodSpec.Networks["day_default"]) != 0 || r.Spec.Restart != "" {
		t.Errorf("plain one-off: spec %+v pod %+v", r.Spec, r.PodSpec)
	}
}

// TestScale: scale creates and removes replicas of the named services
// only.
func TestScale(t *testing.T) {
	p, e := upProject(t, dayStack)
	ctx := context.Background()
	if _, err := p.Scale(ctx, ops.ScaleOptions{Replicas: map[string]int{"web": 3}, Exec: planner.ExecOptions{Sleep: instant}}); err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		var out []string
		for _, c := range e.Containers() {
			if c.State == "running" && !c.Infra {
				out = append(out, c.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	if got := strings.Join(names(), " "); got != "day-db-1 day-web-1 day-web-2 day-web-3" {
		t.Errorf("scale web=3: %s", got)
	}
	for _, m := range e.Mutations() {
		if strings.Contains(m.Name, "db") {
			t.Errorf("scale web touched db: %s", m)
		}
	}
	if _, err := p.Scale(ctx, ops.ScaleOptions{Replicas: map[string]int{"web": 1}, Exec: planner.ExecOptions{Sleep: instant}}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(), " "); got != "day-db-1 day-web-1" {
		t.Errorf("scale web=1: %s", got)
	}
	e.ResetCalls()
	if _, err := p.Scale(ctx, ops.ScaleOptions{Replicas: map[string]int{"nope": 2}}); err == nil || len(e.Mutations()) != 0 {
		t.Errorf("scale of an unknown service: %v, %v", err, e.Mutations())
	}
}

// TestCreate: create makes the containers and starts none.
func TestCreate(t *testing.T) {
	p, e := upProject(t, "name: made\nservices:\n  a: {image: localhost/busybox:test}\n")
	if _, err := p.Down(context.Background(), planner.DownOptions{}, planner.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Create(context.Background(), ops.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	c, ok := e.Container("made-a-1")
	if !ok || c.State != "created" || e.Called("StartContainer", "") != 0 {
		t.Errorf("create: %+v (exists %v), starts %d", c, ok, e.Called("StartContainer", ""))
	}
}

// TestCopy: cp in (into every replica, or --index's), out (from the
// first), with docker cp's naming rules, and its errors.
func TestCopy(t *testing.T) {
	p, e := upProject(t, dayStack)
	ctx := context.Background()
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "dump.sql"), []byte("CREATE"), 0o644)
	os.MkdirAll(filepath.Join(host, "site", "css"), 0o755)
	os.WriteFile(filepath.Join(host, "site", "index.html"), []byte("hi"), 0o644)
	os.WriteFile(filepath.Join(host, "site", "css", "a.css"), []byte("a"), 0o644)
	cp := func(src, dst string, index int) error {
		return p.Copy(ctx, ops.CopyRequest{Src: src, Dst: dst, Index: index})
	}
	if err := cp(filepath.Join(host, "dump.sql"), "web:/tmp", 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"day-web-1", "day-web-2"} {
		if got, _ := e.ReadFile(c, "/tmp/dump.sql"); got != "CREATE" {
			t.Errorf("cp into a directory: %s has %q", c, got)
		}
	}
	if err := cp(filepath.Join(host, "dump.sql"), "web:/tmp/seed.sql", 2); err != nil {
		t.Fatal(err)
	}
	if _, one := e.ReadFile("day-web-1", "/tmp/seed.sql"); one {
		t.Error("cp --index 2 wrote into replica 1")
	}
	if got, _ := e.ReadFile("day-web-2", "/tmp/seed.sql"); got != "CREATE" {
		t.Errorf("cp to a new name: %q", got)
	}
	cp(filepath.Join(host, "site"), "db:/srv", 0)
	cp(filepath.Join(host, "site"), "db:/www", 0)
	cp(filepath.Join(host, "site")+"/.", "db:/tmp", 0)
	if got := strings.Join(e.Files("day-db-1", "/"), " "); !strings.Contains(got, "/srv/site/index.html") ||
		!strings.Contains(got, "/www/css/a.css") || !strings.Contains(got, "/tmp/index.html") || strings.Contains(got, "/tmp/site") {
		t.Errorf("cp of a directory into one, as a new one, and its contents: %s", got)
	}

	e.WriteFile("day-web-1", "/var/log/app.log", "line\n")
	out := t.TempDir()
	if err := cp("web:/var/log/app.log", out, 0); err != nil {
		t.Fatal(err)
	}
	if err := cp("web:/var/log", filepath.Join(out, "logs"), 0); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"app.log", "logs/app.log"} {
		if data, err := os.ReadFile(filepath.Join(out, f)); err != nil || string(data) != "line\n" {
			t.Errorf("cp out to %s: %q, %v", f, data, err)
		}
	}
	var tarball bytes.Buffer
	if err := p.Copy(ctx, ops.CopyRequest{Src: "web:/var/log/app.log", Dst: "-", Stdout: &tarball}); err != nil || tarball.Len() == 0 {
		t.Errorf("cp to -: %v, %d bytes", err, tarball.Len())
	}
	if err := p.Copy(ctx, ops.CopyRequest{Src: "-", Dst: "db:/etc", Stdin: &tarball}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.ReadFile("day-db-1", "/etc/app.log"); got != "line\n" {
		t.Errorf("cp - db:/etc: %q", got)
	}

	e.ResetCalls()
	for _, c := range []struct{ src, dst, want string }{
		{"a", "b", "must be SERVICE:PATH"},
		{"web:/x", "db:/y", "between services"},
		{"web:/nope", out, "no such file or directory in web-1"},
		{filepath.Join(host, "dump.sql"), "web:/nodir/x", "/nodir: no such directory"},
		{filepath.Join(host, "site"), "db:/tmp/dump.sql", "onto the file"},
		{"nope:/x", out, `no such service "nope"`},
	} {
		if c.src == filepath.Join(host, "site") {
			e.WriteFile("day-db-1", "/tmp/dump.sql", "x")
		}
		if err := cp(c.src, c.dst, 0); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("cp %s %s: %v, want %q", c.src, c.dst, err, c.want)
		}
	}
	if m := e.Mutations(); len(m) != 0 {
		t.Errorf("failed copies changed something: %v", m)
	}
}

// TestAttachService: attach follows a running replica until it exits and
// returns its exit code; stdin is forwarded unless --no-stdin.
func TestAttachService(t *testing.T) {
	p, e := upProject(t, dayStack)
	ctx := context.Background()
	var out bytes.Buffer
	done := make(chan error, 1)
	var code int
	go func() {
		var err error
		code, err = p.AttachService(ctx, ops.AttachRequest{Service: "web", Index: 2, Stdin: strings.NewReader("typed"),
			Stdout: &out, Stderr: &out, DetachKeys: "ctrl-p,ctrl-q"})
		done <- err
	}()
	for len(e.Attaches()) == 0 {
		time.Sleep(time.Millisecond)
	}
	e.Log("day-web-2", "hello", false)
	e.SetRestartLimit(0)
	e.Exit("day-web-2", 3)
	if err := <-done; err != nil || code != 3 || out.String() != "hello\n" {
		t.Errorf("attach: code %d, %v, output %q", code, err, out.String())
	}
	a := e.Attaches()[0]
	if a.Container != "day-web-2" || a.Stdin == nil || *a.Stdin != "typed" || a.DetachKeys != "ctrl-p,ctrl-q" {
		t.Errorf("attach request %+v", a)
	}
	if _, err := p.AttachService(ctx, ops.AttachRequest{Service: "web", Index: 2, NoStdin: true}); err == nil {
		t.Error("attach to a replica that is not running")
	}
}
