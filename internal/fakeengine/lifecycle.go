package fakeengine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// up reports whether a container in this state has a live process.
func up(state string) bool {
	return state == "running" || state == "paused" || state == "stopping"
}

// ended reports whether a wait on c returns at once.
func ended(c *container) bool {
	return c.removed || c.State == "exited" || c.State == "stopped"
}

func noSuchContainer(name string) error {
	return podmanErr(ErrNotFound, fmt.Sprintf("no container with name or ID %q found: no such container", name))
}

func hasHealthcheck(c *container) bool {
	h := c.Healthcheck
	return h != nil && len(h.Test) > 0 && h.Test[0] != "NONE"
}

// StartContainer starts a created or stopped container; a running one is
// fine (Podman answers 304). As Podman, it starts a pod member's infra
// container and namespace owners first, and fails when a published host
// port is taken by another running container or pod. A job (Script.Exits)
// may have exited, and been restarted by its policy, when it returns.
func (e *Engine) StartContainer(ctx context.Context, name string) error {
	if err := e.begin(ctx, "StartContainer", name); err != nil {
		return fmt.Errorf("start container %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return fmt.Errorf("start container %s: %w", name, noSuchContainer(name))
	}
	if err := e.startLocked(c, true); err != nil {
		return fmt.Errorf("start container %s: %w", name, err)
	}
	return nil
}

// startLocked starts c: by a user (the restart count starts again) or by
// its restart policy.
func (e *Engine) startLocked(c *container, user bool) error {
	switch c.State {
	case "running":
		return nil
	case planner.StateStorage:
		return noSuchContainer(c.Name)
	case "paused", "stopping", "removing":
		return podmanErr(ErrNotRunning, fmt.Sprintf("container %s must be in Created or Stopped state to be started: container state improper", c.ID))
	}
	if p := e.pods[c.Pod]; p != nil && p.infra != "" && p.infra != c.Name {
		if in := e.containers[p.infra]; in != nil && in.State != "running" {
			if err := e.startLocked(in, user); err != nil {
				return fmt.Errorf("internal libpod error (pod: %w)", err)
			}
		}
	}
	for _, o := range c.NamespaceOwners {
		oc := e.containers[o]
		if oc == nil {
			return noSuchContainer(o)
		}
		if oc.State != "running" {
			if err := e.startLocked(oc, user); err != nil {
				return err
			}
		}
	}
	if err := e.portsFreeLocked(c); err != nil {
		return err
	}
	now := e.clockLocked()
	c.State, c.StartedAt, c.StoppedByUser, c.ExitCode = "running", now, false, 0
	if user {
		c.RestartCount = 0
	}
	c.Health, c.probes, c.lastProbe = "", 0, time.Time{}
	if hasHealthcheck(c) {
		c.Health = "starting"
	}
	c.runs++
	sc := e.scriptLocked(c)
	for _, l := range sc.Stdout {
		c.logs = append(c.logs, logEntry{at: now, text: l})
	}
	for _, l := range sc.Stderr {
		c.logs = append(c.logs, logEntry{at: now, text: l, stderr: true})
	}
	e.emitContainerLocked(c, "start", "")
	e.changedLocked()
	if c.Infra || len(sc.Exits) == 0 {
		return nil
	}
	code := sc.Exits[min(c.runs-1, len(sc.Exits)-1)]
	if sc.RunFor <= 0 {
		e.exitLocked(c, code, false)
		return nil
	}
	run := c.runs
	time.AfterFunc(sc.RunFor, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if !c.removed && c.runs == run && c.State == "running" {
			e.exitLocked(c, code, false)
		}
	})
	return nil
}

// portsFreeLocked fails when a host port c publishes is held by another
// live container (an infra container holds its pod's).
func (e *Engine) portsFreeLocked(c *container) error {
	for _, pt := range c.Ports {
		for _, o := range e.containers {
			if o == c || !up(o.State) {
				continue
			}
			for _, op := range o.Ports {
				if overlaps(pt, op) {
					ip := pt.HostIP
					if ip == "" {
						ip = "0.0.0.0"
					}
					return podmanErr(nil, fmt.Sprintf("cannot listen on the %s port: listen %s4 %s:%d: bind: address already in use",
						strings.ToUpper(protocol(pt)), protocol(pt), ip, pt.Published))
				}
			}
		}
	}
	return nil
}

func protocol(p stack.Port) string {
	if p.Protocol == "" {
		return "tcp"
	}
	return p.Protocol
}

func overlaps(a, b stack.Port) bool {
	if a.Published == 0 || a.Published != b.Published || protocol(a) != protocol(b) {
		return false
	}
	wildcard := func(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }
	return wildcard(a.HostIP) || wildcard(b.HostIP) || a.HostIP == b.HostIP
}

// exitLocked ends c's process with code. Unless a user ended it (stop,
// kill, remove), its restart policy then decides, as Podman's does,
// whether it runs again.
func (e *Engine) exitLocked(c *container, code int, byUser bool) {
	c.State, c.ExitCode, c.FinishedAt = "exited", code, e.clockLocked()
	if byUser {
		c.StoppedByUser = true
	}
	e.emitContainerLocked(c, "died", "")
	c.exits = append(c.exits, exitRecord{code: code})
	i := len(c.exits) - 1
	restart := !byUser && !c.removed && e.shouldRestartLocked(c)
	e.changedLocked()
	if c.autoRemove && !c.removed {
		e.removeLocked(c, true)
		return
	}
	if !restart {
		return
	}
	c.RestartCount++
	e.emitContainerLocked(c, "restart", "")
	if err := e.startLocked(c, false); err == nil {
		c.exits[i].restarted = true
	}
}

// shouldRestartLocked is libpod's restart decision for an exit no user
// asked for, bounded by the restart limit.
func (e *Engine) shouldRestartLocked(c *container) bool {
	if c.RestartCount >= e.restartLimit {
		return false
	}
	policy, retries, _ := parseRestart(c.Restart)
	switch policy {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return c.ExitCode != 0 && (retries == 0 || c.RestartCount < retries)
	}
	return false
}

// Exit makes a running container's process end by itself with code (it
// finished, or crashed), and its restart policy act: what a test does to a
// service that is not a scripted job.
func (e *Engine) Exit(name string, code int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return noSuchContainer(name)
	}
	if c.State != "running" {
		return fmt.Errorf("%w: container %s is %s", ErrNotRunning, name, c.State)
	}
	e.exitLocked(c, code, false)
	return nil
}

// Log appends a line to a container's output now (followed logs see it).
func (e *Engine) Log(name, text string, stderr bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return noSuchContainer(name)
	}
	c.logs = append(c.logs, logEntry{at: e.clockLocked(), text: text, stderr: stderr})
	e.changedLocked()
	return nil
}

// StopContainer stops a running container: with SIGTERM it ends with
// Script.TermExit where the script handles it, else it is killed when the
// grace period ends (137; the fake does not wait it out). A user's stop:
// no restart policy brings it back. Stopped, created and missing
// containers are fine; a paused one is refused, as Podman 4.3 refuses it.
func (e *Engine) StopContainer(ctx context.Context, name string, timeout time.Duration) error {
	if err := e.begin(ctx, "StopContainer", name); err != nil {
		return fmt.Errorf("stop container %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil || c.State == planner.StateStorage {
		return nil
	}
	switch c.State {
	case "running", "stopping":
		code := 137
		if sc := e.scriptLocked(c); sc.HandlesTerm {
			code = sc.TermExit
		}
		e.exitLocked(c, code, true)
		e.emitContainerLocked(c, "stop", "")
	case "paused":
		// Podman refuses to stop a paused container; podmanapi thaws it
		// first, as docker does, and then it stops as a running one.
		code := 137
		if sc := e.scriptLocked(c); sc.HandlesTerm {
			code = sc.TermExit
		}
		e.emitContainerLocked(c, "unpause", "")
		e.exitLocked(c, code, true)
		e.emitContainerLocked(c, "stop", "")
	case "removing", "unknown":
		return fmt.Errorf("stop container %s: %w", name, podmanErr(ErrNotRunning, fmt.Sprintf("can only stop created or running containers. %s is in state %s: container state improper", c.ID, c.State)))
	default:
		c.StoppedByUser = true
		e.changedLocked()
	}
	return nil
}

// WaitExit blocks until the container exits and returns its exit code; at
// once for one that has exited. As Podman 4.x (the default version), it
// returns only once the container has stopped for good; playing 5.3 or
// later (SetServer), at each exit, though its restart policy may have
// started it again.
func (e *Engine) WaitExit(ctx context.Context, name string) (int, error) {
	if err := e.begin(ctx, "WaitExit", name); err != nil {
		return -1, fmt.Errorf("wait for %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return -1, fmt.Errorf("wait for %s: %w", name, noSuchContainer(name))
	}
	code, err := e.waitExitLocked(ctx, c)
	if err != nil {
		return code, fmt.Errorf("wait for %s: %w", name, err)
	}
	return code, nil
}

func (e *Engine) waitExitLocked(ctx context.Context, c *container) (int, error) {
	if ended(c) {
		if c.removed && len(c.exits) == 0 {
			return -1, noSuchContainer(c.Name)
		}
		return c.ExitCode, nil
	}
	mark := len(c.exits)
	for {
		switch {
		case len(c.exits) > mark && !e.holdWaitLocked():
			return c.exits[mark].code, nil
		case len(c.exits) > mark && (!up(c.State) || c.removed):
			return c.ExitCode, nil
		case len(c.exits) > mark:
			mark = len(c.exits) // restarted: wait for the end for good
		case c.removed:
			return -1, noSuchContainer(c.Name)
		}
		if err := e.blockLocked(ctx, c); err != nil {
			return -1, err
		}
	}
}

// blockLocked waits for a state change as a waiter on c (see Waiters).
func (e *Engine) blockLocked(ctx context.Context, c *container) error {
	c.waiters++
	close(e.waitersNote)
	e.waitersNote = make(chan struct{})
	err := e.waitLocked(ctx)
	c.waiters--
	return err
}

// AwaitWaiters blocks until at least n WaitExit or WaitEnd calls are
// waiting for the named container to exit (or ctx ends): then an Exit,
// stop or kill is certain to be the exit they report.
func (e *Engine) AwaitWaiters(ctx context.Context, name string, n int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		if c := e.containers[name]; c != nil && c.waiters >= n {
			return nil
		}
		note := e.waitersNote
		e.mu.Unlock()
		select {
		case <-note:
		case <-ctx.Done():
		}
		e.mu.Lock()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// WaitEnd blocks until the container exits and says whether its restart
// policy brought it back. As Podman 4.x (the default version), the wait
// lasts until the container stops for good, and restarted is then true
// when it restarted meanwhile, as podmanapi reads it from the restart
// count; playing 5.3 or later (SetServer), each exit is reported.
func (e *Engine) WaitEnd(ctx context.Context, name string) (code int, restarted bool, err error) {
	if err := e.begin(ctx, "WaitEnd", name); err != nil {
		return -1, false, fmt.Errorf("wait for %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return -1, false, fmt.Errorf("wait for %s: %w", name, noSuchContainer(name))
	}
	if e.holdWaitLocked() {
		before := c.RestartCount
		code, err := e.waitExitLocked(ctx, c)
		if err != nil {
			return code, false, fmt.Errorf("wait for %s: %w", name, err)
		}
		if c.removed {
			return code, false, nil
		}
		return code, up(c.State) || c.RestartCount > before, nil
	}
	if ended(c) {
		return c.ExitCode, false, nil
	}
	mark := len(c.exits)
	for len(c.exits) <= mark {
		if c.removed {
			return -1, false, fmt.Errorf("wait for %s: %w", name, noSuchContainer(name))
		}
		if err := e.blockLocked(ctx, c); err != nil {
			return -1, false, fmt.Errorf("wait for %s: %w", name, err)
		}
	}
	r := c.exits[mark]
	return r.code, r.restarted, nil
}

// signals are the numbers of the signal names Kill accepts.
var signals = map[string]int{"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
	"KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17,
	"CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26,
	"PROF": 27, "WINCH": 28, "IO": 29, "PWR": 30, "SYS": 31}

// harmless signals do not end a process that does not handle them.
var harmless = map[int]bool{17: true, 18: true, 19: true, 20: true, 21: true, 22: true, 23: true, 28: true}

func signalNumber(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, n > 0 && n <= 64
	}
	n, ok := signals[strings.TrimPrefix(strings.ToUpper(s), "SIG")]
	return n, ok
}

// Kill sends signal ("KILL", "SIGTERM", "9") to a running or paused
// container: SIGKILL ends it with 137, SIGTERM as a stop would (ignored
// unless the script handles it), other fatal signals with 128+n. A SIGKILL
// is the user's, so no restart policy brings the container back; other
// signals are too from Podman 5 on, while Podman 4.3 restarts a container
// they ended.
func (e *Engine) Kill(ctx context.Context, name, signal string) error {
	if err := e.begin(ctx, "Kill", name); err != nil {
		return fmt.Errorf("kill container %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.killLocked(name, signal); err != nil {
		return fmt.Errorf("kill container %s: %w", name, err)
	}
	return nil
}

func (e *Engine) killLocked(name, signal string) error {
	c := e.containers[name]
	if c == nil {
		return noSuchContainer(name)
	}
	n, ok := signalNumber(signal)
	if !ok {
		return podmanErr(nil, "invalid signal: "+signal)
	}
	if !up(c.State) {
		return podmanErr(ErrNotRunning, fmt.Sprintf("can only kill running containers. %s is in state %s: container state improper", c.ID, c.State))
	}
	byUser := n == 9 || e.atLeastLocked(5, 0)
	if byUser {
		c.StoppedByUser = true
	}
	e.emitContainerLocked(c, "kill", "")
	switch {
	case n == 9:
		e.exitLocked(c, 137, true)
	case c.State == "paused" || harmless[n]:
	case n == 15:
		if sc := e.scriptLocked(c); sc.HandlesTerm {
			e.exitLocked(c, sc.TermExit, byUser)
		}
	default:
		e.exitLocked(c, 128+n, byUser)
	}
	e.changedLocked()
	return nil
}

// KillAll sends SIGKILL to every named container; ones not running or
// already gone are fine, other failures are all returned.
func (e *Engine) KillAll(ctx context.Context, names []string) error {
	if err := e.begin(ctx, "KillAll", joinNames(names)); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, name := range names {
		err := e.faultLocked("Kill", name)
		if err == nil {
			err = e.killLocked(name, "KILL")
		}
		if err != nil && !errors.Is(err, ErrNotRunning) && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("kill container %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Pause freezes a running container.
func (e *Engine) Pause(ctx context.Context, name string) error {
	if err := e.begin(ctx, "Pause", name); err != nil {
		return fmt.Errorf("pause container %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	switch {
	case c == nil:
		return fmt.Errorf("pause container %s: %w", name, noSuchContainer(name))
	case c.State == "paused":
		return fmt.Errorf("pause container %s: %w", name, podmanErr(ErrNotRunning, fmt.Sprintf("%q is already paused: container state improper", c.ID)))
	case c.State != "running":
		return fmt.Errorf("pause container %s: %w", name, podmanErr(ErrNotRunning, fmt.Sprintf("%q is not running, can't pause: container state improper", c.ID)))
	}
	c.State = "paused"
	e.emitContainerLocked(c, "pause", "")
	e.changedLocked()
	return nil
}

// Unpause thaws a paused container.
func (e *Engine) Unpause(ctx context.Context, name string) error {
	if err := e.begin(ctx, "Unpause", name); err != nil {
		return fmt.Errorf("unpause container %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	switch {
	case c == nil:
		return fmt.Errorf("unpause container %s: %w", name, noSuchContainer(name))
	case c.State != "paused":
		return fmt.Errorf("unpause container %s: %w", name, podmanErr(ErrNotRunning, fmt.Sprintf("%q is not paused, can't unpause: container state improper", c.ID)))
	}
	c.State = "running"
	e.emitContainerLocked(c, "unpause", "")
	e.changedLocked()
	return nil
}

// RunHealthCheck runs the container's healthcheck once: the status is the
// next of its Script.Health ("healthy" when none is scripted). A container
// that is not running fails with ErrNotRunning, as podmanapi reports it;
// one without a healthcheck with ErrConflict (Podman's 409).
func (e *Engine) RunHealthCheck(ctx context.Context, name string) (string, error) {
	if err := e.begin(ctx, "RunHealthCheck", name); err != nil {
		return "", fmt.Errorf("healthcheck %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.probeLocked(name)
}

func (e *Engine) probeLocked(name string) (string, error) {
	c := e.containers[name]
	if c == nil {
		return "", fmt.Errorf("healthcheck %s: %w", name, noSuchContainer(name))
	}
	if c.State != "running" {
		return "", fmt.Errorf("healthcheck %s: %w (state %s, exit code %d)", name, ErrNotRunning, c.State, c.ExitCode)
	}
	if !hasHealthcheck(c) {
		return "", fmt.Errorf("healthcheck %s: %w", name, podmanErr(ErrConflict, fmt.Sprintf("container %s has no defined healthcheck", c.ID)))
	}
	status := "healthy"
	if seq := e.scriptLocked(c).Health; len(seq) > 0 {
		status = seq[min(c.probes, len(seq)-1)]
	}
	c.probes++
	c.allProbes++
	c.Health, c.lastProbe = status, e.clockLocked()
	e.emitContainerLocked(c, "health_status", status)
	e.changedLocked()
	return status, nil
}

// FreshHealth returns a running container's health, probing first when no
// probe ended within the check's interval before now (measured on the
// engine's clock, see SetClock); "" without a healthcheck; the last status
// of a container that is not running.
func (e *Engine) FreshHealth(ctx context.Context, name string, now time.Time) (string, error) {
	if err := e.begin(ctx, "FreshHealth", name); err != nil {
		return "", fmt.Errorf("inspect %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return "", fmt.Errorf("inspect %s: %w", name, noSuchContainer(name))
	}
	if !hasHealthcheck(c) {
		return "", nil
	}
	if c.State != "running" {
		return c.Health, nil
	}
	interval := c.Healthcheck.Interval
	if interval <= 0 {
		interval = stack.DefaultHealthInterval
	}
	if !c.lastProbe.IsZero() && now.Sub(c.lastProbe) < interval {
		return c.Health, nil
	}
	return e.probeLocked(name)
}
