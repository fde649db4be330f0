package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// ErrInterrupted is what Attach returns after Ctrl-C stopped the stack.
var ErrInterrupted = errors.New("interrupted")

// Abort are docker compose's ways to end an attached up.
type Abort struct {
	// OnExit stops the stack when any attached container exits.
	OnExit bool
	// OnFailure stops it when one exits non-zero.
	OnFailure bool
	// ExitCodeFrom ends with this service's exit code (and implies OnExit).
	ExitCodeFrom string
}

// Set reports whether any abort rule is asked for.
func (a Abort) Set() bool { return a.OnExit || a.OnFailure || a.ExitCodeFrom != "" }

// Check refuses abort rules that cannot apply: without attaching (-d,
// --dry-run, --no-start) nothing watches the containers, and ExitCodeFrom
// must name an attached service.
func (a Abort) Check(s *stack.Stack, services []string, detached bool) error {
	if !a.Set() {
		return nil
	}
	if detached {
		return fmt.Errorf("%w: --abort-on-container-exit, --abort-on-container-failure and --exit-code-from need an attached up: drop -d, --dry-run or --no-start", stack.ErrInvalid)
	}
	if a.ExitCodeFrom == "" {
		return nil
	}
	if _, ok := s.Services[a.ExitCodeFrom]; !ok {
		return fmt.Errorf("%w: --exit-code-from %s: no such service in stack %q (stack config --services lists them)", stack.ErrInvalid, a.ExitCodeFrom, s.Name)
	}
	if len(services) > 0 && !contains(services, a.ExitCodeFrom) {
		return fmt.Errorf("%w: --exit-code-from %s: the service is not among those named (%s)", stack.ErrInvalid, a.ExitCodeFrom, strings.Join(services, ", "))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// AttachOptions tune Attach.
type AttachOptions struct {
	// Services are what up started: Ctrl-C and an abort stop these; empty
	// means all.
	Services []string
	// Attach are the services whose logs are shown and whose exits are
	// watched (up --attach, --no-attach); nil means Services. With none,
	// Attach only waits for Ctrl-C.
	Attach []string
	// Timestamps prefixes each log line with its time.
	Timestamps bool
	// StopTimeout is the grace period of the stop that ends an attached up
	// (up -t); 0 means each service's stop_grace_period.
	StopTimeout time.Duration
	Abort       Abort
	// Attached is told the attached containers' names before their first
	// line, so a printer can size its prefixes.
	Attached func(names []string)
	// Logs receives every log line of the attached containers.
	Logs func(LogLine)
	// Force is closed by a second Ctrl-C: the graceful stop becomes a kill.
	Force <-chan struct{}
}

// containerExit is one attached container's end.
type containerExit struct {
	name, service string
	code          int
	restarted     bool      // its restart policy brought it back
	at            time.Time // when it exited, where known (see firstExits)
}

// Attach follows the services' logs until ctx ends (Ctrl-C), then stops
// them in reverse dependency order (a close of Force kills them instead)
// and returns ErrInterrupted. It returns earlier once every attached
// container has exited; with abort rules, a container's exit (or failure)
// stops the stack too. The exit code is docker compose's: that container's,
// or the ExitCodeFrom service's.
func (p *Project) Attach(ctx context.Context, o AttachOptions) (int, error) {
	if err := p.needStack("attach"); err != nil {
		return 0, err
	}
	s, e := p.Stack, p.Engine
	observed, err := e.Observe(ctx, p.Name, nil)
	if err != nil {
		return 0, err
	}
	// Everything up started is stopped at the end, attached or not.
	stopNames := Names(match(observed, o.Services, nil))
	var attached []planner.ObservedContainer
	if o.Attach == nil {
		attached = match(observed, o.Services, nil)
	} else if len(o.Attach) > 0 {
		attached = match(observed, o.Attach, nil)
	}
	names := Names(attached)
	if len(names) == 0 {
		p.say("Attached to no container (Ctrl+C stops the stack)")
		<-ctx.Done()
		return 0, p.stopAttached(o, stopNames)
	}
	p.say("Attaching to %s (Ctrl+C stops the stack)", strings.Join(names, ", "))
	if o.Attached != nil {
		o.Attached(names)
	}
	logs := o.Logs
	if logs == nil {
		logs = func(LogLine) {}
	}
	logCtx, stopLogs := context.WithCancel(ctx)
	defer stopLogs()
	logDone := make(chan error, 1)
	go func() {
		logDone <- e.StreamLogs(logCtx, names, LogOptions{Follow: true, Tail: -1, Timestamps: o.Timestamps}, logs)
	}()

	// Every attached container is watched: Attach returns once all have
	// exited. One-shot jobs that others await (service_completed_successfully)
	// are expected to exit and never trigger an abort.
	exits := make(chan containerExit, len(attached))
	jobs := completionAwaited(s)
	for _, ct := range attached {
		svc := ct.Labels[planner.LabelService]
		go func() {
			for {
				// A container its restart policy brings back has not ended,
				// and is watched again.
				code, restarted, err := e.WaitEnd(logCtx, ct.Name)
				if err != nil {
					exits <- containerExit{name: ct.Name, service: svc, code: -1}
					return
				}
				exits <- containerExit{name: ct.Name, service: svc, code: code, restarted: restarted}
				if !restarted {
					return
				}
			}
		}()
	}

	a := o.Abort
	aborts := func(ex containerExit) bool {
		if jobs[ex.service] && ex.service != a.ExitCodeFrom {
			return false
		}
		return a.OnExit || a.ExitCodeFrom != "" || (a.OnFailure && ex.code != 0)
	}
	reported := map[string]bool{} // containers whose end has been said
	code, running := 0, len(attached)
	exited := func(ex containerExit) string {
		reported[ex.name] = true
		if ex.service == a.ExitCodeFrom {
			code = ex.code
		}
		return fmt.Sprintf("%s exited with code %d", p.Short(ex.name), ex.code)
	}
	for running > 0 {
		select {
		case err := <-logDone:
			if ctx.Err() != nil {
				return 0, p.stopAttached(o, stopNames)
			}
			if err != nil {
				return 0, err
			}
			logDone = nil
		case ex := <-exits:
			if ctx.Err() != nil { // Ctrl-C ended the watch
				return 0, p.stopAttached(o, stopNames)
			}
			if ex.restarted {
				p.say("%s exited with code %d and was restarted (restart policy)", p.Short(ex.name), ex.code)
				continue
			}
			running--
			if !aborts(ex) {
				p.say("%s", exited(ex))
				continue
			}
			// The waits answer in no set order: the abort is the first
			// exit's that meets the rule, not necessarily this one.
			before, after := p.firstExits(ctx, ex, names, reported, aborts)
			for _, x := range before {
				p.say("%s", exited(x))
			}
			if a.ExitCodeFrom == "" {
				code = before[len(before)-1].code
			}
			lines := []string{"Aborting on container exit..."}
			for _, x := range after {
				lines = append(lines, exited(x))
			}
			if err := p.stopAttached(o, stopNames, lines...); err != nil {
				return 0, err
			}
			stopLogs()
			return p.finalCode(ctx, a, code), nil
		}
	}
	// All exited: let the last lines through, then stop following.
	if logDone != nil {
		select {
		case <-logDone:
		case <-time.After(2 * time.Second):
		}
	}
	return p.finalCode(ctx, a, code), nil
}

// firstExits puts ex, an exit that aborts the run, in the order the
// attached containers (watched) really exited. Each container's wait
// answers on its own, and on a loaded host one is set up or answered late,
// so ex may not be the first; docker compose goes by its event stream,
// that is by the exits' times. One observation of the project gives the
// exit time of every watched container not yet reported that has exited
// for good (its restart policy is not about to start it again, as the
// planner's stop plan reads it). It returns those exits, oldest first, up
// to the first that aborts (which decides the code), and the rest after
// it. Podman lists exit times in whole seconds: exits within one second
// are ordered by inspect's exact times, and failing those, ex first, then
// by name. Where the observation cannot place ex, ex alone aborts, in the
// order the waits answered.
func (p *Project) firstExits(ctx context.Context, ex containerExit, watched []string, reported map[string]bool, aborts func(containerExit) bool) (before, after []containerExit) {
	o, err := p.Engine.Observe(ctx, p.Name, nil)
	if err != nil {
		return []containerExit{ex}, nil
	}
	var all []containerExit
	placed := false
	for _, ct := range o.Containers {
		if !contains(watched, ct.Name) || reported[ct.Name] || ct.FinishedAt.IsZero() || (ct.State != "exited" && ct.State != "stopped") {
			continue
		}
		svc := ct.Labels[planner.LabelService]
		if ct.Name == ex.name {
			ex.at, placed = ct.FinishedAt, true
			all = append(all, ex)
			continue
		}
		if sv := p.Stack.Services[svc]; sv != nil && sv.Restart.RestartsAfter(ct.ExitCode) {
			continue // caught between two runs: it has not ended
		}
		all = append(all, containerExit{name: ct.Name, service: svc, code: ct.ExitCode, at: ct.FinishedAt})
	}
	if !placed {
		return []containerExit{ex}, nil
	}
	p.exactExitTimes(ctx, all)
	slices.SortStableFunc(all, func(x, y containerExit) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		if (x.name == ex.name) != (y.name == ex.name) {
			if x.name == ex.name {
				return -1
			}
			return 1
		}
		return strings.Compare(x.name, y.name)
	})
	for i, x := range all {
		if aborts(x) {
			return all[:i+1], all[i+1:]
		}
	}
	return []containerExit{ex}, nil // not reached: ex aborts
}

// exactExitTimes replaces the whole-second exit times that several exits
// share with inspect's exact ones, where inspect answers for all of them.
func (p *Project) exactExitTimes(ctx context.Context, exits []containerExit) {
	bySecond := map[int64][]int{}
	for i, x := range exits {
		bySecond[x.at.Unix()] = append(bySecond[x.at.Unix()], i)
	}
	for _, group := range bySecond {
		if len(group) < 2 {
			continue
		}
		exact := make([]time.Time, len(group))
		for k, i := range group {
			raw, err := p.Engine.InspectContainer(ctx, exits[i].name)
			var data struct {
				State struct{ FinishedAt time.Time }
			}
			if err != nil || json.Unmarshal(raw, &data) != nil || data.State.FinishedAt.Unix() != exits[i].at.Unix() {
				exact = nil // it exited again meanwhile, or is gone
				break
			}
			exact[k] = data.State.FinishedAt
		}
		for k, i := range group {
			if exact != nil {
				exits[i].at = exact[k]
			}
		}
	}
}

// finalCode is up's exit code once the attached containers are down: the
// ExitCodeFrom service's container's own, else code.
func (p *Project) finalCode(ctx context.Context, a Abort, code int) int {
	if a.ExitCodeFrom == "" {
		return code
	}
	found, err := p.Containers(ctx, []string{a.ExitCodeFrom})
	if err != nil {
		return code
	}
	if c, err := p.Engine.WaitExit(ctx, found[0].Name); err == nil {
		return c
	}
	return code
}

// completionAwaited lists the services another awaits with
// service_completed_successfully.
func completionAwaited(s *stack.Stack) map[string]bool {
	out := map[string]bool{}
	for _, svc := range s.Services {
		for dep, d := range svc.DependsOn {
			if d.Condition == stack.ConditionCompleted {
				out[dep] = true
			}
		}
	}
	return out
}

// stopAttached stops the attached services in reverse dependency order;
// a close of Force during the stop kills them instead. It says why first:
// the lines given, or without them, the Ctrl-C path's, which ends in
// ErrInterrupted.
func (p *Project) stopAttached(o AttachOptions, names []string, why ...string) error {
	if len(why) == 0 {
		p.say("Gracefully stopping... (press Ctrl+C again to force)")
	}
	for _, l := range why {
		p.say("%s", l)
	}
	stopCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-o.Force:
			cancel()
		case <-stopCtx.Done():
		}
	}()
	// A forced stop cancels the wait for the lock too: it kills without it.
	if release, err := p.lock(stopCtx, "up"); err == nil {
		defer release()
	}
	err := p.stop(stopCtx, planner.DownOptions{Services: o.Services, Timeout: o.StopTimeout})
	if stopCtx.Err() != nil {
		// Forced: kill the containers already known, at once. Nothing is
		// listed first: Podman 5 holds a pod listing while a member is in a
		// long stop, which is exactly when a user forces.
		err = p.Engine.KillAll(context.Background(), names)
	}
	if err != nil {
		return err
	}
	if len(why) == 0 {
		return ErrInterrupted
	}
	return nil
}
