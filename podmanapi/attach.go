package podmanapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/podstack/podstack/ops"
)

// AttachContainer connects o's streams to a running container's until it
// exits, the detach keys are typed or ctx ends. With a terminal container
// and a terminal on stdin, the bindings put it in raw mode and follow its
// size.
func (c *Client) AttachContainer(ctx context.Context, name string, o ops.AttachIO) (bool, error) {
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
		return false, nil
	case <-ctx.Done():
		return false, nil
	}
}
