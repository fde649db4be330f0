package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/podstack/podstack/ops"
)

// StreamLogs reads the logs of the named containers concurrently and calls
// emit for each line (emit is called from one goroutine at a time). With
// Follow it keeps following a container whose stream ends while it is
// restarting, until ctx is cancelled.
func (c *Client) StreamLogs(ctx context.Context, names []string, opts ops.LogOptions, emit func(ops.LogLine)) error {
	var mu sync.Mutex
	safeEmit := func(l ops.LogLine) {
		mu.Lock()
		defer mu.Unlock()
		emit(l)
	}
	errs := make(chan error, len(names))
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.follow(ctx, name, opts, safeEmit)
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

func (c *Client) follow(ctx context.Context, name string, opts ops.LogOptions, emit func(ops.LogLine)) error {
	since := opts.Since
	tail := opts.Tail
	for {
		started := time.Now()
		err := c.readLogs(ctx, name, opts, since, tail, emit)
		if err != nil || !opts.Follow || ctx.Err() != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		// The stream ended: the container stopped. If it restarts (a restart
		// policy, or `stack restart`), pick up from where this one ended.
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(500 * time.Millisecond):
			}
			data, err := containers.Inspect(c.ctx(ctx), name, nil)
			if err != nil {
				return nil // removed: nothing more to follow
			}
			if data.State != nil && data.State.Running {
				break
			}
		}
		since = started.Format(time.RFC3339Nano)
		tail = -1
	}
}

func (c *Client) readLogs(ctx context.Context, name string, opts ops.LogOptions, since string, tail int, emit func(ops.LogLine)) error {
	yes := true
	lo := &containers.LogOptions{Stdout: &yes, Stderr: &yes, Follow: &opts.Follow, Timestamps: &opts.Timestamps}
	if tail >= 0 {
		t := fmt.Sprint(tail)
		lo.Tail = &t
	}
	if since != "" {
		lo.Since = &since
	}
	if opts.Until != "" {
		lo.Until = &opts.Until
	}
	out, errc := make(chan string, 64), make(chan string, 64)
	done := make(chan error, 1)
	go func() { done <- containers.Logs(c.ctx(ctx), name, lo, out, errc) }()
	var partial [2]string
	flush := func(s string, stderr bool) {
		i := 0
		if stderr {
			i = 1
		}
		s = partial[i] + s
		lines := strings.Split(s, "\n")
		partial[i] = lines[len(lines)-1]
		for _, l := range lines[:len(lines)-1] {
			emit(ops.LogLine{Container: name, Text: l, Stderr: stderr})
		}
	}
	for {
		select {
		case s := <-out:
			flush(s, false)
		case s := <-errc:
			flush(s, true)
		case err := <-done:
			for drained := false; !drained; {
				select {
				case s := <-out:
					flush(s, false)
				case s := <-errc:
					flush(s, true)
				default:
					drained = true
				}
			}
			for i, p := range partial {
				if p != "" {
					emit(ops.LogLine{Container: name, Text: p, Stderr: i == 1})
				}
			}
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("logs of %s: %w", name, mapErr(err))
			}
			return nil
		}
	}
}
