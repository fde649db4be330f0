package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/podstack/podstack/ops"
)

// exitGrace bounds how long an attach whose stream has ended waits for
// Podman to record the container's exit.
const exitGrace = 10 * time.Second

// AttachContainer connects o's streams to a running container's until it
// exits, the detach keys are typed or ctx ends. With a terminal container
// and a terminal on stdin, the bindings put it in raw mode and follow its
// size.
func (c *Client) AttachContainer(ctx context.Context, name string, o ops.AttachIO) (bool, error) {
	before, err := containers.Inspect(c.ctx(ctx), name, nil)
	if err != nil {
		return false, fmt.Errorf("attach to %s: %w", name, mapErr(err))
	}
	opts := new(containers.AttachOptions).WithStream(true).WithDetachKeys(o.DetachKeys)
	done := make(chan error, 1)
	go func() { done <- containers.Attach(c.ctx(ctx), name, o.Stdin, o.Stdout, o.Stderr, nil, opts) }()
	// The bindings read the hijacked connection until the container
	// writes or ends; a cancelled context does not stop that read, so an
	// interrupt returns here and leaves it to the process's end.
	select {
	case err := <-done:
		switch {
		case errors.Is(err, define.ErrDetach):
			return true, nil
		case err != nil && ctx.Err() == nil:
			return false, fmt.Errorf("attach to %s: %w", name, mapErr(err))
		}
		c.awaitExitRecorded(ctx, name, before)
		return false, nil
	case <-ctx.Done():
		return false, nil
	}
}

// awaitExitRecorded returns once Podman has recorded the end of the run
// that was attached to (before is the container then), so that what it
// reports next is that exit and its code. Podman 4.3 ends an attach stream
// after it has recorded the exit; Podman 5 ends it as the process ends, and
// shows the container running, exit code 0, for a moment longer. A
// container its restart policy has started again since has ended that run
// too: then this does not wait for the next.
func (c *Client) awaitExitRecorded(ctx context.Context, name string, before *define.InspectContainerData) {
	deadline := time.Now().Add(exitGrace)
	for {
		data, err := containers.Inspect(c.ctx(ctx), name, nil)
		if err != nil || data.State == nil || before.State == nil {
			return // removed (or unreadable): nothing more to wait for
		}
		switch data.State.Status {
		case define.ContainerStateRunning.String(), define.ContainerStateStopping.String():
		default:
			return
		}
		if data.RestartCount != before.RestartCount || !data.State.StartedAt.Equal(before.State.StartedAt) || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}
