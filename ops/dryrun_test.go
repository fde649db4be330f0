package ops_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

// TestDryRunChangesNothing: every use case that changes a project runs on
// the dry-run engine as it would, reports its steps, and the engine is
// left exactly as it was: not one mutating call reaches it.
func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t, shop)
	f.up(planner.Options{})
	before := f.states()
	f.e.ResetCalls()

	var mu sync.Mutex
	var steps, said []string
	// Each command gets its own dry-run engine, as each stack process does.
	project := func() *ops.Project {
		p := ops.New(f.p.Stack, ops.DryRun(f.e, func(s string) { said = append(said, s) }))
		p.Now = f.p.Now
		p.Progress = planner.EventsFunc(func(e planner.Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Status == planner.StatusDone && e.Kind != "" {
				steps = append(steps, string(e.Kind)+" "+e.Resource)
			}
		})
		return p
	}
	ctx := context.Background()
	ran := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	_, err := project().Up(ctx, ops.UpOptions{Plan: planner.Options{ForceRecreate: true}, Exec: f.exec})
	ran("up --force-recreate", err)
	ran("stop", project().Stop(ctx, planner.DownOptions{Services: []string{"web"}}))
	ran("start", project().Start(ctx, []string{"web"}, f.exec))
	ran("restart", project().Restart(ctx, planner.DownOptions{Services: []string{"api"}}, f.exec))
	for _, verb := range []string{ops.VerbKill, ops.VerbPause} {
		ran(verb, project().Each(ctx, verb, []string{"web"}, "KILL"))
	}
	_, err = project().Rm(ctx, ops.RmOptions{Stop: true})
	ran("rm -s", err)
	_, err = project().Exec(ctx, ops.ExecRequest{Service: "web", ExecOptions: ops.ExecOptions{Cmd: []string{"rm", "-rf", "/data"}}})
	ran("exec", err)
	_, err = project().Down(ctx, planner.DownOptions{Volumes: true}, f.exec)
	ran("down -v", err)

	if m := f.e.Mutations(); len(m) != 0 {
		t.Errorf("dry run reached the engine: %v", m)
	}
	if after := f.states(); len(after) != len(before) {
		t.Errorf("containers %v, want %v", after, before)
	} else {
		for n, st := range before {
			if after[n] != st {
				t.Errorf("%s is %s, was %s", n, after[n], st)
			}
		}
	}
	all := strings.Join(steps, "\n")
	// restart plans its starts as after its stops; down removes all of it.
	for _, want := range []string{"StopContainer shop-api-1", "StartContainer shop-api-1", "CreateContainer shop-db-1",
		"RemoveContainer shop-db-1", "RemoveVolume shop_data"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among the reported steps:\n%s", want, all)
		}
	}
	if len(said) != 1 || said[0] != "would run in shop-web-1: rm -rf /data" {
		t.Errorf("exec said %q", said)
	}
}
