package ops_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

// psServices runs Ps and returns the services of its rows, in order.
func psServices(t *testing.T, p *ops.Project, o ops.PsOptions) string {
	t.Helper()
	rows, err := p.Ps(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Service)
	}
	return strings.Join(out, ",")
}

// TestPsHealthOnlyWhileRunning: Podman keeps an exited container's last
// health status; ps showed "exited (0)" and "healthy" side by side.
func TestPsHealthOnlyWhileRunning(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	f.e.SetState("shop-db-1", "exited", 0)
	f.e.SetHealth("shop-db-1", "healthy")
	rows, err := f.p.Ps(context.Background(), ops.PsOptions{All: true, Services: []string{"db"}})
	if err != nil || len(rows) != 1 {
		t.Fatalf("%v %v", rows, err)
	}
	if rows[0].Health != "" || rows[0].Status() != "exited (0)" {
		t.Errorf("exited db: health %q, status %q; want no health", rows[0].Health, rows[0].Status())
	}
}

// TestPsStatusFilter: --status shows containers in that state even
// without -a, as docker compose's does; Podman's "stopped" is exited.
func TestPsStatusFilter(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	f.e.SetState("shop-web-1", "stopped", 0)
	for _, tc := range []struct {
		opts ops.PsOptions
		want string
	}{
		{ops.PsOptions{}, "api,db,proxy"},
		{ops.PsOptions{All: true}, "api,db,migrate,proxy,web"},
		{ops.PsOptions{Status: []string{"exited"}}, "migrate,web"},
		{ops.PsOptions{Status: []string{"exited"}, Services: []string{"web"}}, "web"},
		{ops.PsOptions{Status: []string{"paused"}}, ""},
	} {
		if got := psServices(t, f.p, tc.opts); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.opts, got, tc.want)
		}
	}
	if _, err := f.p.Ps(context.Background(), ops.PsOptions{Status: []string{"up"}}); err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("unknown status: err = %v, want the valid ones named", err)
	}
}

// TestPsJSONIsComposes: `ps --format json` has docker compose's keys and
// its ports as data, so scripts written for compose read it.
func TestPsJSONIsComposes(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	rows, err := f.p.Ps(context.Background(), ops.PsOptions{All: true, Services: []string{"api", "migrate"}})
	if err != nil || len(rows) != 2 {
		t.Fatalf("%v %v", rows, err)
	}
	data, _ := json.Marshal(rows)
	var m []map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ID", "Name", "Project", "Service", "State", "Health", "ExitCode", "Publishers"} {
		if _, ok := m[0][key]; !ok {
			t.Errorf("no %q in %s", key, data)
		}
	}
	api, migrate := rows[0], rows[1]
	if migrate.State != "exited" || migrate.ExitCode != 0 || migrate.Project != "shop" || len(migrate.Publishers) != 0 {
		t.Errorf("migrate %+v", migrate)
	}
	if pub, _ := json.Marshal(api.Publishers); string(pub) != `[{"URL":"0.0.0.0","TargetPort":80,"PublishedPort":8080,"Protocol":"tcp"}]` {
		t.Errorf("api Publishers %s", pub)
	}
	if api.Ports() != "0.0.0.0:8080->80/tcp" {
		t.Errorf("api ports cell %q", api.Ports())
	}
}

// TestLs: as docker compose ls, only projects with something running
// unless All; Filter name=X keeps the names that contain X.
func TestLs(t *testing.T) {
	e := fakeengine.New()
	add := func(name, project, state string) {
		e.AddContainer(fakeengine.Container{Name: name, State: state, Labels: map[string]string{planner.LabelProject: project}})
	}
	add("shop-a-1", "shop", "running")
	add("shop-b-1", "shop", "exited")
	add("shopold-a-1", "shopold", "exited")
	add("blog-a-1", "blog", "paused")
	for _, tc := range []struct {
		opts ops.LsOptions
		want string
	}{
		{ops.LsOptions{}, "blog,shop"},
		{ops.LsOptions{All: true}, "blog,shop,shopold"},
		{ops.LsOptions{All: true, Filter: []string{"name=shop"}}, "shop,shopold"},
		{ops.LsOptions{Filter: []string{"name=shop"}}, "shop"},
	} {
		got, err := ops.Ls(context.Background(), e, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range got {
			names = append(names, p.Name)
		}
		if strings.Join(names, ",") != tc.want {
			t.Errorf("%+v: %v, want %s", tc.opts, names, tc.want)
		}
	}
	if _, err := ops.Ls(context.Background(), e, ops.LsOptions{Filter: []string{"label=x"}}); err == nil {
		t.Error("an unknown filter is no error")
	}
}

// TestJSONKeysAreComposes: ps, ls, images and stats records share one key
// style, docker compose's.
func TestJSONKeysAreComposes(t *testing.T) {
	for _, v := range []any{
		ops.Container{Name: "c"}, ops.ProjectSummary{Name: "p", Environment: "prod"},
		ops.Image{ContainerName: "c", Created: &time.Time{}}, ops.PodStat{Stat: ops.Stat{Name: "n", CPUPercent: 1}, Pod: "p"},
	} {
		data, _ := json.Marshal(v)
		var m map[string]any
		json.Unmarshal(data, &m)
		for k := range m {
			if k[0] < 'A' || k[0] > 'Z' {
				t.Errorf("%T: key %q in %s, want compose's capitalized keys", v, k, data)
			}
		}
	}
	if data, _ := json.Marshal(ops.ProjectSummary{Name: "shop", Status: "running(1)"}); !strings.Contains(string(data), `"Name":"shop"`) || !strings.Contains(string(data), `"Status":"running(1)"`) {
		t.Errorf("ls JSON %s: want compose ls's keys", data)
	}
}

// TestAttachSome: up --attach/--no-attach show and watch only some
// services' containers; Ctrl-C and an abort still stop everything up
// started, as docker compose does.
func TestAttachSome(t *testing.T) {
	const jobs = `name: at
services:
  tests: {image: nginx}
  app: {image: nginx}
`
	t.Run("attach tests only", func(t *testing.T) {
		f := newFixture(t, jobs)
		f.e.ScriptService("tests", fakeengine.Script{Exits: []int{5}, RunFor: 20 * time.Millisecond, Stdout: []string{"ran 3 tests"}})
		f.e.ScriptService("app", fakeengine.Script{Stdout: []string{"app says hi"}})
		f.up(planner.Options{})
		var mu sync.Mutex
		var lines []string
		code, err := f.p.Attach(context.Background(), ops.AttachOptions{Attach: []string{"tests"}, Abort: ops.Abort{OnExit: true},
			Logs: func(l ops.LogLine) { mu.Lock(); lines = append(lines, l.Container+": "+l.Text); mu.Unlock() }})
		if err != nil || code != 5 {
			t.Fatalf("attach: %d, %v", code, err)
		}
		if got := strings.Join(lines, "\n"); strings.Contains(got, "app") || !strings.Contains(got, "ran 3 tests") {
			t.Errorf("logs of the attached service only, got:\n%s", got)
		}
		if st := f.states(); st["at-app-1"] != "exited" {
			t.Errorf("the abort does not stop the unattached app: %v", st)
		}
	})
	t.Run("none attached waits for ctrl-c", func(t *testing.T) {
		f := newFixture(t, jobs)
		f.up(planner.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(50 * time.Millisecond)
			cancel()
		}()
		_, err := f.p.Attach(ctx, ops.AttachOptions{Attach: []string{}})
		if !errors.Is(err, ops.ErrInterrupted) {
			t.Fatalf("attach after Ctrl-C: %v", err)
		}
		if st := f.states(); st["at-app-1"] != "exited" || st["at-tests-1"] != "exited" {
			t.Errorf("Ctrl-C does not stop the stack: %v", st)
		}
	})
}

// TestPsOrphans: ps lists containers of services the stack no longer
// declares unless asked not to (compose's --orphans=false).
func TestPsOrphans(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	f.e.AddContainer(fakeengine.Container{Name: "shop-old-1", State: "running",
		Labels: map[string]string{planner.LabelProject: "shop", planner.LabelService: "old"}})
	if got := psServices(t, f.p, ops.PsOptions{}); got != "api,db,old,proxy,web" {
		t.Errorf("ps: %s", got)
	}
	if got := psServices(t, f.p, ops.PsOptions{HideOrphans: true}); got != "api,db,proxy,web" {
		t.Errorf("ps --orphans=false: %s", got)
	}
}
