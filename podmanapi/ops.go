package podmanapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/containers/podman/v5/pkg/api/handlers"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/generate"
	"github.com/containers/podman/v5/pkg/bindings/pods"
	"github.com/containers/podman/v5/pkg/bindings/system"
	entitiesTypes "github.com/containers/podman/v5/pkg/domain/entities/types"
	dockerContainer "github.com/docker/docker/api/types/container"
	"golang.org/x/term"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// Kill sends signal (e.g. "KILL", "SIGTERM", "9") to a container.
func (c *Client) Kill(ctx context.Context, name, signal string) error {
	if err := containers.Kill(c.ctx(ctx), name, new(containers.KillOptions).WithSignal(signal)); err != nil {
		return fmt.Errorf("kill container %s: %w", name, mapErr(err))
	}
	return nil
}

// freezer fails with the reason when this service cannot freeze containers
// or read their usage (see Capabilities.Freezer).
func (c *Client) freezer(ctx context.Context, what string) error {
	k, err := c.Capabilities(ctx)
	if err != nil {
		return err
	}
	if err := k.Freezer(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Pause freezes a container.
func (c *Client) Pause(ctx context.Context, name string) error {
	if err := c.freezer(ctx, "pause container "+name); err != nil {
		return err
	}
	if err := containers.Pause(c.ctx(ctx), name, nil); err != nil {
		return fmt.Errorf("pause container %s: %w", name, mapErr(err))
	}
	return nil
}

// Unpause thaws a container.
func (c *Client) Unpause(ctx context.Context, name string) error {
	if err := c.freezer(ctx, "unpause container "+name); err != nil {
		return err
	}
	if err := containers.Unpause(c.ctx(ctx), name, nil); err != nil {
		return fmt.Errorf("unpause container %s: %w", name, mapErr(err))
	}
	return nil
}

// Top lists a container's processes (ps output, first line the header).
func (c *Client) Top(ctx context.Context, name string) ([]string, error) {
	lines, err := containers.Top(c.ctx(ctx), name, nil)
	if err != nil {
		return nil, fmt.Errorf("top %s: %w", name, mapErr(err))
	}
	return lines, nil
}

// InspectContainer returns Podman's inspect data of a container as JSON.
func (c *Client) InspectContainer(ctx context.Context, name string) (json.RawMessage, error) {
	data, err := containers.Inspect(c.ctx(ctx), name, nil)
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", name, mapErr(err))
	}
	return json.Marshal(data)
}

// InspectPod returns Podman's inspect data of a pod as JSON.
func (c *Client) InspectPod(ctx context.Context, name string) (json.RawMessage, error) {
	data, err := pods.Inspect(c.ctx(ctx), name, nil)
	if err != nil {
		return nil, fmt.Errorf("inspect pod %s: %w", name, mapErr(err))
	}
	return json.Marshal(data)
}

// Stats samples the containers' resource use once (or, with stream, every
// interval until ctx ends, calling each).
func (c *Client) Stats(ctx context.Context, names []string, stream bool, each func([]ops.Stat)) error {
	if err := c.freezer(ctx, "stats"); err != nil {
		return err
	}
	opts := new(containers.StatsOptions).WithStream(stream)
	if stream {
		opts = opts.WithInterval(2)
	}
	ch, err := containers.Stats(c.ctx(ctx), names, opts)
	if err != nil {
		return fmt.Errorf("stats: %w", mapErr(err))
	}
	for rep := range ch {
		if rep.Error != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("stats: %w", mapErr(rep.Error))
		}
		var out []ops.Stat
		for _, s := range rep.Stats {
			st := ops.Stat{Name: s.Name, CPUPercent: s.CPU, MemUsage: s.MemUsage, MemLimit: s.MemLimit, MemPercent: s.MemPerc,
				BlockInput: s.BlockInput, BlockOutput: s.BlockOutput, PIDs: s.PIDs}
			for _, n := range s.Network {
				st.NetInput += n.RxBytes
				st.NetOutput += n.TxBytes
			}
			out = append(out, st)
		}
		each(out)
		if !stream {
			return nil
		}
	}
	return nil
}

// Exec runs a command in a container and returns its exit code (0 at once
// with Detach). With TTY and a terminal on stdin, the terminal is put in raw
// mode and resized to fit.
func (c *Client) Exec(ctx context.Context, name string, o ops.ExecOptions) (int, error) {
	cfg := &handlers.ExecCreateConfig{ExecOptions: dockerContainer.ExecOptions{
		Cmd: o.Cmd, Env: o.Env, User: o.User, WorkingDir: o.WorkDir, Tty: o.TTY, Privileged: o.Privileged,
		AttachStdout: !o.Detach, AttachStderr: !o.TTY && !o.Detach, AttachStdin: o.Interactive && !o.Detach,
	}}
	id, err := containers.ExecCreate(c.ctx(ctx), name, cfg)
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", name, mapErr(err))
	}
	if o.Detach {
		if err := containers.ExecStart(c.ctx(ctx), id, nil); err != nil {
			return -1, fmt.Errorf("exec in %s: %w", name, mapErr(err))
		}
		return 0, nil
	}
	opts := new(containers.ExecStartAndAttachOptions).WithOutputStream(o.Stdout).WithAttachOutput(true)
	if !o.TTY {
		opts = opts.WithErrorStream(o.Stderr).WithAttachError(true)
	}
	if o.Interactive && o.Stdin != nil {
		opts = opts.WithInputStream(*bufio.NewReader(o.Stdin)).WithAttachInput(true)
		if f, ok := o.Stdin.(*os.File); ok && o.TTY && term.IsTerminal(int(f.Fd())) {
			if old, err := term.MakeRaw(int(f.Fd())); err == nil {
				defer term.Restore(int(f.Fd()), old)
			}
			if w, h, err := term.GetSize(int(f.Fd())); err == nil {
				go func() {
					time.Sleep(100 * time.Millisecond)
					_ = containers.ResizeExecTTY(c.ctx(ctx), id, new(containers.ResizeExecTTYOptions).WithWidth(w).WithHeight(h))
				}()
			}
		}
	}
	if err := containers.ExecStartAndAttach(c.ctx(ctx), id, opts); err != nil {
		return -1, fmt.Errorf("exec in %s: %w", name, mapErr(err))
	}
	info, err := containers.ExecInspect(c.ctx(ctx), id, nil)
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", name, mapErr(err))
	}
	return info.ExitCode, nil
}

// Events streams the events of the project's containers and pods until ctx
// ends. Podman filters by label on the server, so unrelated objects never
// reach us.
func (c *Client) Events(ctx context.Context, project string, each func(ops.Event)) error {
	ch := make(chan entitiesTypes.Event, 64)
	cancel := make(chan bool)
	yes := true
	errc := make(chan error, 1)
	go func() {
		errc <- system.Events(c.ctx(ctx), ch, cancel, &system.EventsOptions{Stream: &yes,
			Filters: map[string][]string{"label": {planner.LabelProject + "=" + project}}})
	}()
	for {
		select {
		case <-ctx.Done():
			close(cancel)
			return nil
		case e, ok := <-ch:
			if !ok {
				select {
				case err := <-errc:
					if err != nil && ctx.Err() == nil {
						return fmt.Errorf("events: %w", mapErr(err))
					}
				default:
				}
				return nil
			}
			attrs := e.Actor.Attributes
			ev := ops.Event{Time: time.Unix(0, e.TimeNano), Type: string(e.Type), Action: string(e.Action), ID: e.Actor.ID,
				Name: attrs["name"], Service: attrs[planner.LabelService], Health: e.HealthStatus}
			if ev.Time.IsZero() || e.TimeNano == 0 {
				ev.Time = time.Unix(e.Time, 0)
			}
			labels := map[string]string{}
			for k, v := range attrs {
				if strings.Contains(k, ".") {
					labels[k] = v
				}
			}
			ev.Labels = labels
			each(ev)
		}
	}
}

// RunContainer creates the container (a one-off: see planner.Plan.OneOff),
// attaches to it, starts it once attached (so no output is lost) and
// returns its exit code.
func (c *Client) RunContainer(ctx context.Context, ct *planner.Container, p *planner.Pod, s *stack.Stack, o ops.RunIO) (int, error) {
	if o.Detach {
		// Podman removes a detached --rm one-off when it exits.
		g, err := containerSpec(ct, p, s, planner.ImageRef(s, ct.Spec), planner.ServiceSecrets(s, ct.Spec), func(msg string) { c.warnOnce(ct.Service, msg) })
		if err != nil {
			return -1, fmt.Errorf("create container %s: %w", ct.Name, err)
		}
		g.Remove = &o.Remove
		if _, err := containers.CreateWithSpec(c.ctx(ctx), g, nil); err != nil {
			return -1, fmt.Errorf("create container %s: %w", ct.Name, mapErr(err))
		}
		if err := c.StartContainer(ctx, ct.Name); err != nil {
			_ = c.RemoveContainer(context.WithoutCancel(ctx), ct.Name, true)
			return -1, err
		}
		return 0, nil
	}
	if err := c.CreateContainer(ctx, ct, p, s); err != nil {
		return -1, err
	}
	if o.Remove {
		defer c.RemoveContainer(context.WithoutCancel(ctx), ct.Name, true)
	}
	return c.runAttached(ctx, ct.Name, o)
}

// runAttached attaches to the created container, starts it once attached
// (so no output is lost) and returns its exit code.
func (c *Client) runAttached(ctx context.Context, name string, o ops.RunIO) (int, error) {
	var stdin io.Reader
	if o.Interactive {
		stdin = o.Stdin
	}
	ready := make(chan bool, 1)
	attached := make(chan error, 1)
	go func() {
		// No detach keys: a detached one-off would leave us waiting.
		opts := new(containers.AttachOptions).WithStream(true).WithDetachKeys("")
		attached <- containers.Attach(c.ctx(ctx), name, stdin, o.Stdout, o.Stderr, ready, opts)
	}()
	select {
	case <-ready:
	case err := <-attached:
		return -1, fmt.Errorf("attach to %s: %w", name, mapErr(err))
	}
	// An interrupt (Ctrl-C) is passed on to the one-off as SIGINT, as
	// docker compose run does, and returns: also one that comes while the
	// start is answered (the container may run already), and whatever the
	// attach does (the bindings may go on reading the hijacked connection).
	interrupted := func() (int, error) {
		_ = c.Kill(context.WithoutCancel(ctx), name, "SIGINT")
		return -1, fmt.Errorf("run %s: %w", name, ctx.Err())
	}
	if err := c.StartContainer(ctx, name); err != nil {
		if ctx.Err() != nil {
			return interrupted()
		}
		return -1, err
	}
	select {
	case err := <-attached:
		if err != nil && ctx.Err() == nil {
			return -1, fmt.Errorf("attach to %s: %w", name, mapErr(err))
		}
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		return interrupted()
	}
	code, err := c.WaitExit(ctx, name)
	if ctx.Err() != nil {
		return interrupted()
	}
	return code, err
}

// GenerateKube asks Podman for the Kubernetes YAML of what actually runs in
// the named pods (Podman's own generator).
func (c *Client) GenerateKube(ctx context.Context, pods []string) ([]byte, error) {
	no := false
	rep, err := generate.Kube(c.ctx(ctx), pods, &generate.KubeOptions{Service: &no})
	if err != nil {
		return nil, fmt.Errorf("generate kube for %s: %w", strings.Join(pods, ", "), mapErr(err))
	}
	return io.ReadAll(rep.Reader)
}
