package ops_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

// TestAbortTakesTheFirstExit: with abort rules, up ends on the container
// that exited first, as docker compose (which reads the event stream)
// does, although the wait of another answered earlier: on a loaded host a
// wait is set up, or answered, late. Its "exited with code" line (and
// those of earlier exits) comes before "Aborting on container exit...".
func TestAbortTakesTheFirstExit(t *testing.T) {
	// podman-compose's abort fixture, without the sleeps: the test ends
	// each container by itself, at a time on the engine's clock.
	const three = `name: ab
services:
  sh1: {image: nginx}
  sh2: {image: nginx}
  sh3: {image: nginx}
  flappy: {image: nginx, restart: always}
`
	type exit struct {
		service string
		code    int
		at      time.Duration // after a whole second of the engine's clock
	}
	aborting := "Aborting on container exit..."
	for _, c := range []struct {
		name  string
		abort ops.Abort
		// late is the service whose wait answers only after the others'.
		late  string
		exits []exit
		// observeFails makes the observation that orders the exits fail.
		observeFails bool
		noRestarts   bool
		want         int
		lines        []string
	}{
		{name: "exit: the first exit's code", abort: ops.Abort{OnExit: true}, late: "sh1",
			exits: []exit{{"sh1", 0, 0}, {"sh2", 1, time.Second}},
			want:  0, lines: []string{"sh1-1 exited with code 0", aborting, "sh2-1 exited with code 1"}},
		{name: "exit: within one second, the exact times decide", abort: ops.Abort{OnExit: true}, late: "sh1",
			exits: []exit{{"sh1", 0, 200 * time.Millisecond}, {"sh2", 1, 700 * time.Millisecond}},
			want:  0, lines: []string{"sh1-1 exited with code 0", aborting, "sh2-1 exited with code 1"}},
		{name: "exit: a restarted container has not ended", abort: ops.Abort{OnExit: true}, late: "sh1",
			exits: []exit{{"flappy", 3, 0}, {"sh1", 0, time.Second}, {"sh2", 1, 2 * time.Second}},
			want:  0, lines: []string{"sh1-1 exited with code 0", aborting, "sh2-1 exited with code 1"}},
		// Without restarts, flappy stays as Podman lists one caught between
		// two runs: exited, its policy about to start it again.
		{name: "exit: one about to be restarted has not ended", abort: ops.Abort{OnExit: true}, late: "flappy", noRestarts: true,
			exits: []exit{{"flappy", 3, 0}, {"sh1", 0, time.Second}, {"sh2", 1, 2 * time.Second}},
			want:  0, lines: []string{"sh1-1 exited with code 0", aborting, "sh2-1 exited with code 1"}},
		{name: "failure: a success first does not abort, the failure after it does", abort: ops.Abort{OnFailure: true}, late: "sh1",
			exits: []exit{{"sh1", 0, 0}, {"sh2", 1, time.Second}},
			want:  1, lines: []string{"sh1-1 exited with code 0", "sh2-1 exited with code 1", aborting}},
		{name: "failure: the first failure's code", abort: ops.Abort{OnFailure: true}, late: "sh3",
			exits: []exit{{"sh3", 2, 0}, {"sh2", 1, time.Second}},
			want:  2, lines: []string{"sh3-1 exited with code 2", aborting, "sh2-1 exited with code 1"}},
		{name: "exit-code-from: its code, the lines in order", abort: ops.Abort{ExitCodeFrom: "sh2"}, late: "sh1",
			exits: []exit{{"sh1", 0, 0}, {"sh2", 1, time.Second}},
			want:  1, lines: []string{"sh1-1 exited with code 0", aborting, "sh2-1 exited with code 1"}},
		{name: "exit: without the observation, the first wait to answer", abort: ops.Abort{OnExit: true}, late: "sh1",
			exits:        []exit{{"sh1", 0, 0}, {"sh2", 1, time.Second}},
			observeFails: true,
			want:         1, lines: []string{"sh2-1 exited with code 1", aborting}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, three)
			f.up(planner.Options{})
			f.status.Reset()
			if c.noRestarts {
				f.e.SetRestartLimit(0)
			}
			late := "ab-" + c.late + "-1"
			// Long enough to outlast the test; the abort's end of the
			// watch cancels it.
			f.e.Delay("WaitEnd", late, time.Minute)
			type result struct {
				code int
				err  error
			}
			done := make(chan result, 1)
			go func() {
				code, err := f.p.Attach(context.Background(), ops.AttachOptions{Abort: c.abort})
				done <- result{code, err}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, svc := range []string{"sh1", "sh2", "sh3", "flappy"} {
				if name := "ab-" + svc + "-1"; name != late {
					if err := f.e.AwaitWaiters(ctx, name, 1); err != nil {
						t.Fatalf("no wait on %s: %v", name, err)
					}
				}
			}
			if c.observeFails {
				f.e.FailOnce("Observe", "", errors.New("service busy"))
			}
			base := f.clk.Now().Truncate(time.Second).Add(time.Second)
			for _, ex := range c.exits {
				f.clk.set(base.Add(ex.at))
				if err := f.e.Exit("ab-"+ex.service+"-1", ex.code); err != nil {
					t.Fatal(err)
				}
			}
			var r result
			select {
			case r = <-done:
			case <-ctx.Done():
				t.Fatalf("attach did not return; status:\n%s", f.status)
			}
			if r.err != nil || r.code != c.want {
				t.Errorf("attach = %d, %v; want %d\nstatus:\n%s", r.code, r.err, c.want, f.status)
			}
			var lines []string
			for _, l := range strings.Split(f.status.String(), "\n") {
				if strings.Contains(l, "exited with code") || strings.HasPrefix(l, "Aborting") {
					lines = append(lines, l)
				}
			}
			if got, want := strings.Join(lines, "\n"), strings.Join(c.lines, "\n"); got != want {
				t.Errorf("lines:\n%s\nwant:\n%s", got, want)
			}
			if st := f.states(); st["ab-sh3-1"] == "running" || st["ab-flappy-1"] == "running" {
				t.Errorf("the stack is not stopped after the abort: %v", st)
			}
		})
	}
}

// TestFailureRuleIgnoresSuccesses: with --abort-on-container-failure,
// exits with code 0 end nothing, whatever order their waits answer in.
func TestFailureRuleIgnoresSuccesses(t *testing.T) {
	f := newFixture(t, `name: ok
services:
  a: {image: nginx}
  b: {image: nginx}
`)
	f.e.ScriptService("a", fakeengine.Script{Exits: []int{0}, RunFor: 20 * time.Millisecond})
	f.e.ScriptService("b", fakeengine.Script{Exits: []int{0}, RunFor: 40 * time.Millisecond})
	f.up(planner.Options{})
	f.e.Delay("WaitEnd", "ok-a-1", 100*time.Millisecond)
	code, err := f.p.Attach(context.Background(), ops.AttachOptions{Abort: ops.Abort{OnFailure: true}})
	if err != nil || code != 0 {
		t.Fatalf("attach = %d, %v; want 0", code, err)
	}
	if s := f.status.String(); strings.Contains(s, "Aborting") || !strings.Contains(s, "a-1 exited with code 0") || !strings.Contains(s, "b-1 exited with code 0") {
		t.Errorf("status:\n%s", s)
	}
}

// set moves the clock to t.
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
