package ops

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// observedEngine is an Engine that has only what it observes: enough for
// the read-only use cases. Any other call panics (the embedded nil Engine),
// so a test that reaches one says so.
type observedEngine struct {
	Engine
	state planner.ObservedState
	// health is what FreshHealth reports, by container.
	health map[string]string
}

func (e *observedEngine) Observe(context.Context, string, *planner.Lookup) (*planner.ObservedState, error) {
	o := e.state
	o.Containers = append([]planner.ObservedContainer(nil), e.state.Containers...)
	return &o, nil
}

func (e *observedEngine) FreshHealth(_ context.Context, name string, _ time.Time) (string, error) {
	return e.health[name], nil
}

func container(name, service, state, health string, exit int) planner.ObservedContainer {
	return planner.ObservedContainer{ID: name + "-id", Name: name, State: state, Health: health, ExitCode: exit,
		Image: "localhost/busybox:test", Labels: map[string]string{planner.LabelService: service, planner.LabelPod: service}}
}

// TestPsHealthOnlyWhileRunning: Podman keeps an exited container's last
// health status; ps showed "exited (0)" and "healthy" side by side.
func TestPsHealthOnlyWhileRunning(t *testing.T) {
	e := &observedEngine{state: planner.ObservedState{Containers: []planner.ObservedContainer{
		container("demo-db-1", "db", "exited", "healthy", 0),
		container("demo-web-1", "web", "running", "starting", 0),
	}}, health: map[string]string{"demo-web-1": "healthy"}}
	p := &Project{Name: "demo", Engine: e}
	rows, err := p.Ps(context.Background(), PsOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.Service] = r.Health
	}
	if got["db"] != "" || got["web"] != "healthy" {
		t.Errorf("health db=%q web=%q, want none for the exited db and a fresh healthy for web", got["db"], got["web"])
	}
}

// TestPsStatusFilter: --status shows containers in that state even
// without -a, as docker compose's does; "stopped" is Podman's exited.
func TestPsStatusFilter(t *testing.T) {
	e := &observedEngine{state: planner.ObservedState{Containers: []planner.ObservedContainer{
		container("demo-a-1", "a", "exited", "", 1),
		container("demo-b-1", "b", "running", "", 0),
		container("demo-c-1", "c", "stopped", "", 0),
		container("demo-d-1", "d", "created", "", 0),
	}}}
	p := &Project{Name: "demo", Engine: e}
	for _, tc := range []struct {
		opts PsOptions
		want string
	}{
		{PsOptions{}, "b"},
		{PsOptions{All: true}, "a,b,c,d"},
		{PsOptions{Status: []string{"exited"}}, "a,c"},
		{PsOptions{Status: []string{"created", "running"}}, "b,d"},
		{PsOptions{Status: []string{"exited"}, Services: []string{"a"}}, "a"},
	} {
		rows, err := p.Ps(context.Background(), tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.Service)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%+v: %v, want %s", tc.opts, got, tc.want)
		}
	}
	if _, err := p.Ps(context.Background(), PsOptions{Status: []string{"up"}}); err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("unknown status: err = %v, want the valid ones named", err)
	}
}

// TestPsJSONIsComposes: `ps --format json` has docker compose's keys and
// its ports as data, so scripts written for compose read it.
func TestPsJSONIsComposes(t *testing.T) {
	web := container("demo-web-1", "web", "exited", "", 3)
	web.Ports = []stack.Port{{Target: 80, Published: 8080, Protocol: "tcp"}, {Target: 53, Protocol: "udp"}}
	p := &Project{Name: "demo", Engine: &observedEngine{state: planner.ObservedState{Containers: []planner.ObservedContainer{web}}}}
	rows, err := p.Ps(context.Background(), PsOptions{All: true})
	if err != nil || len(rows) != 1 {
		t.Fatalf("%v %v", rows, err)
	}
	data, _ := json.Marshal(rows[0])
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ID", "Name", "Project", "Service", "State", "Health", "ExitCode", "Publishers"} {
		if _, ok := m[key]; !ok {
			t.Errorf("no %q in %s", key, data)
		}
	}
	if m["State"] != "exited" || m["ExitCode"] != 3.0 || m["Project"] != "demo" {
		t.Errorf("state %v exit %v project %v", m["State"], m["ExitCode"], m["Project"])
	}
	want := `[{"URL":"0.0.0.0","TargetPort":80,"PublishedPort":8080,"Protocol":"tcp"},{"URL":"","TargetPort":53,"PublishedPort":0,"Protocol":"udp"}]`
	if got, _ := json.Marshal(rows[0].Publishers); string(got) != want {
		t.Errorf("Publishers %s, want %s", got, want)
	}
	if rows[0].Status() != "exited (3)" || rows[0].Ports() != "0.0.0.0:8080->80/tcp, 53/udp" {
		t.Errorf("table cells %q %q", rows[0].Status(), rows[0].Ports())
	}
}

type projectsEngine struct {
	Engine
	projects []ProjectSummary
}

func (e *projectsEngine) Projects(context.Context) ([]ProjectSummary, error) { return e.projects, nil }

// TestLs: as docker compose ls, only projects with something running
// unless All; Filter name=X keeps the names that contain X.
func TestLs(t *testing.T) {
	e := &projectsEngine{projects: []ProjectSummary{
		{Name: "shop", Containers: 3, Status: "exited(1), running(2)"},
		{Name: "shop-old", Containers: 2, Status: "exited(2)"},
		{Name: "blog", Containers: 1, Status: "paused(1)"},
	}}
	for _, tc := range []struct {
		opts LsOptions
		want string
	}{
		{LsOptions{}, "shop,blog"},
		{LsOptions{All: true}, "shop,shop-old,blog"},
		{LsOptions{All: true, Filter: []string{"name=shop"}}, "shop,shop-old"},
		{LsOptions{Filter: []string{"name=shop"}}, "shop"},
	} {
		got, err := Ls(context.Background(), e, tc.opts)
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
	if _, err := Ls(context.Background(), e, LsOptions{Filter: []string{"label=x"}}); err == nil {
		t.Error("an unknown filter is no error")
	}
	data, _ := json.Marshal(e.projects[0])
	if !strings.Contains(string(data), `"Name":"shop"`) || !strings.Contains(string(data), `"Status":"exited(1), running(2)"`) {
		t.Errorf("ls JSON %s: want docker compose's keys (Name, Status)", data)
	}
}

// TestJSONKeysAreComposes: images and stats records have the same key
// style as ps and ls: docker compose's.
func TestJSONKeysAreComposes(t *testing.T) {
	for _, v := range []any{Image{Container: "c"}, PodStat{Stat: Stat{Name: "n", CPUPercent: 1}, Pod: "p"}} {
		data, _ := json.Marshal(v)
		var m map[string]any
		json.Unmarshal(data, &m)
		for k := range m {
			if k[0] < 'A' || k[0] > 'Z' {
				t.Errorf("%T: key %q in %s, want compose's capitalized keys", v, k, data)
			}
		}
	}
}
