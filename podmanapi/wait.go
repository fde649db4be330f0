package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/bindings/containers"
)

// restartGrace bounds how long WaitEnd waits for a restart the container's
// policy calls for but that does not happen (a restart that failed): then
// the container has ended after all.
const restartGrace = 30 * time.Second

// WaitEnd blocks until the container exits and says whether that exit ended
// it: restarted means its restart policy brings it back (it is running again
// or about to be), so it is still to be watched.
//
// The answer comes from Podman's own restart decision, not from timing: the
// container's restart policy, its exit code, its restart count and whether a
// user stopped it. Before Podman 5.3 a wait returns only once a container has
// stopped for good; from 5.3 it returns on every exit, and the container then
// shows stopped, neither running nor restarting, until its policy starts it
// again (over a second under load).
func (c *Client) WaitEnd(ctx context.Context, name string) (code int, restarted bool, err error) {
	before, err := containers.Inspect(c.ctx(ctx), name, nil)
	if err != nil {
		return -1, false, fmt.Errorf("wait for %s: %w", name, mapErr(err))
	}
	code, err = c.WaitExit(ctx, name)
	if err != nil {
		return code, false, err
	}
	if c.versionCaps().WaitHoldsThroughRestarts() {
		return code, false, nil
	}
	deadline := time.Now().Add(restartGrace)
	for {
		data, err := containers.Inspect(c.ctx(ctx), name, nil)
		if err != nil {
			if err = mapErr(err); errors.Is(err, ErrNotFound) {
				return code, false, nil // removed: it has ended
			}
			return code, false, fmt.Errorf("wait for %s: %w", name, err)
		}
		if data.State != nil && (data.State.Running || data.State.Restarting) || data.RestartCount > before.RestartCount {
			return code, true, nil
		}
		if !willRestart(data) || time.Now().After(deadline) {
			return code, false, nil
		}
		select {
		case <-ctx.Done():
			return code, false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// willRestart is Podman's restart decision for an exited container: its
// policy asks for a restart, no user stopped it, and for on-failure it
// failed with retries left.
func willRestart(d *define.InspectContainerData) bool {
	if d.State == nil || d.State.StoppedByUser || d.HostConfig == nil || d.HostConfig.RestartPolicy == nil {
		return false
	}
	switch p := d.HostConfig.RestartPolicy; p.Name {
	case define.RestartPolicyAlways, define.RestartPolicyUnlessStopped:
		return true
	case define.RestartPolicyOnFailure:
		return d.State.ExitCode != 0 && (p.MaximumRetryCount == 0 || uint(d.RestartCount) < p.MaximumRetryCount)
	}
	return false
}

// KillAll sends SIGKILL to the named containers at once and waits until
// each is gone; ones already stopped or removed are fine. It lists nothing
// first, so it cannot be held up by a listing a long stop blocks.
func (c *Client) KillAll(ctx context.Context, names []string) error {
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Kill(ctx, name, "KILL"); err != nil && !errors.Is(err, ErrNotRunning) && !errors.Is(err, ErrNotFound) {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// restartWindow is how soon after an exit a restart policy acts, where
// Podman does not say whether it will (before 4.7).
const restartWindow = 5 * time.Second

// restartsAfterStop reports whether the container, just asked to stop at
// asked, is being started again by its restart policy, and waits until it
// runs again if so. A stop counts only for a running container: one that
// had exited just before, between two runs, is restarted by its policy.
// From Podman 4.7 inspect says whether a user stopped it; before, only an
// exit before the stop was asked, within restartWindow, can be such a case.
func (c *Client) restartsAfterStop(ctx context.Context, name string, asked time.Time) bool {
	k := c.versionCaps()
	deadline := time.Now().Add(restartGrace)
	for time.Now().Before(deadline) {
		data, err := containers.Inspect(c.ctx(ctx), name, nil)
		if err != nil || data.State == nil {
			return false
		}
		if data.State.Running || data.State.Restarting {
			return true
		}
		if !willRestart(data) {
			return false
		}
		if !k.InspectShowsStoppedByUser() {
			if !data.State.FinishedAt.Before(asked) || time.Since(data.State.FinishedAt) > restartWindow {
				return false // it exited when asked to, or long ago: no restart is coming
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}
