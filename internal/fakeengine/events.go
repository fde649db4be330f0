package fakeengine

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

// subscriber is one Events call: the engine queues the project's events
// for it under its own lock, and the call hands them to its callback
// outside every lock, so the callback may call the engine.
type subscriber struct {
	project string
	mu      sync.Mutex
	queue   []ops.Event
	notify  chan struct{}
}

// emitContainerLocked records a container event. Podman's event filter
// label=io.podstack.project=P matches container events by the container's
// labels, so infra containers' events (they carry the pod's labels) reach
// subscribers too.
func (e *Engine) emitContainerLocked(c *container, action, health string) {
	labels := map[string]string{}
	for k, v := range c.Labels {
		if strings.Contains(k, ".") {
			labels[k] = v
		}
	}
	e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "container", Action: action, Name: c.Name, ID: c.ID,
		Service: c.Labels[planner.LabelService], Health: health, Labels: labels})
}

// emitLocked records an event and queues it for the subscribers of its
// project. Only container events carry labels in Podman, so pod, volume,
// network and secret events are recorded (EventLog) but reach no
// label-filtered subscriber.
func (e *Engine) emitLocked(ev ops.Event) {
	e.history = append(e.history, ev)
	if ev.Type != "container" {
		return
	}
	for s := range e.subs {
		if ev.Labels[planner.LabelProject] != s.project {
			continue
		}
		s.mu.Lock()
		s.queue = append(s.queue, cloneEvent(ev))
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
}

func cloneEvent(ev ops.Event) ops.Event {
	ev.Labels = maps.Clone(ev.Labels)
	return ev
}

// Events calls each for every event of the project's containers from now
// until ctx ends, in order, from one goroutine; then it returns nil.
func (e *Engine) Events(ctx context.Context, project string, each func(ops.Event)) error {
	if err := e.begin(ctx, "Events", project); err != nil {
		return err
	}
	s := &subscriber{project: project, notify: make(chan struct{}, 1)}
	e.mu.Lock()
	e.subs[s] = true
	e.changedLocked()
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.subs, s)
		e.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, ev := range batch {
			each(ev)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.notify:
		}
	}
}

// WaitSubscribers blocks until at least n Events calls are listening (or
// ctx ends): events emitted before a subscription never reach it, as with
// Podman's event stream.
func (e *Engine) WaitSubscribers(ctx context.Context, n int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.subs) < n {
		if err := e.waitLocked(ctx); err != nil {
			return err
		}
	}
	return nil
}

// EventLog returns every event emitted so far, of every object and
// project, in order.
func (e *Engine) EventLog() []ops.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := slices.Clone(e.history)
	for i := range out {
		out[i] = cloneEvent(out[i])
	}
	return out
}
