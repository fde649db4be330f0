package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// DryRun returns an Engine on which nothing changes: what reads passes
// through to e, and every operation that would change something (create,
// start, stop, remove, kill, pause, exec, run, pull, build, push, remove an
// image) succeeds without reaching e. It is `--dry-run` for every command
// at once: a use case runs as it would, its plan steps reported through
// Progress as usual, and the engine is left as it was.
//
// So that a command of several phases plans each phase as after the one
// before (restart: the starts after the stops), Observe reports what this
// engine stopped as exited, started as running and removed as gone, and
// the images it built or pulled as present (a build's with its new build
// digest) and those it removed as gone. Waits end at once (health
// "healthy", exit 0), since nothing was started.
// Exec, RunContainer, CopyTo and AttachContainer, which no step reports, say what
// they would do through say (nil: nothing).
//
// DryRun implements every method itself, embedding nothing: a method
// added to Engine must be sorted here into read or change before the
// project builds.
func DryRun(e Engine, say func(string)) Engine {
	if say == nil {
		say = func(string) {}
	}
	return &dryRun{e: e, say: say, state: map[string]string{}, gone: map[string]bool{}, images: map[string]imageChange{}}
}

type dryRun struct {
	e   Engine
	say func(string)

	mu    sync.Mutex
	state map[string]string // container -> state it would be in
	gone  map[string]bool   // containers, pods, volumes, networks, secrets removed
	// images are what this engine did to local images, by reference (an
	// image may share its name with a pod, so they have their own map).
	images map[string]imageChange
}

// imageChange is what a dry run would have done to a local image.
type imageChange struct {
	removed bool
	built   bool
	digest  string // the LabelBuildDigest a build would give it
}

func (d *dryRun) image(ref string, ch imageChange) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.images[ref] = ch
	return nil
}

func (d *dryRun) set(name, state string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.state[name] = state
	return nil
}

func (d *dryRun) remove(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gone[name] = true
	return nil
}

// Reads pass through; Observe applies what this engine would have changed.

func (d *dryRun) Observe(ctx context.Context, project string, look *planner.Lookup) (*planner.ObservedState, error) {
	o, err := d.e.Observe(ctx, project, look)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := *o
	out.Containers = nil
	for _, c := range o.Containers {
		if d.gone[c.Name] {
			continue
		}
		if st, ok := d.state[c.Name]; ok {
			c.State = st
			if st != "running" {
				c.Health = ""
			}
		}
		out.Containers = append(out.Containers, c)
	}
	out.Pods = keep(o.Pods, d.gone, func(p planner.ObservedPod) string { return p.Name })
	out.Volumes = keep(o.Volumes, d.gone, func(v planner.ObservedVolume) string { return v.Name })
	out.Networks = keep(o.Networks, d.gone, func(n planner.ObservedNetwork) string { return n.Name })
	out.Secrets = keep(o.Secrets, d.gone, func(s planner.ObservedSecret) string { return s.Name })
	if look != nil && len(d.images) > 0 {
		d.observeImages(&out, look)
	}
	return &out, nil
}

// observeImages applies to out what this engine did to the images look
// asks about. A built or pulled image that was not there is present (its
// ID unknown: nothing was made from it); a build replaces its digest.
func (d *dryRun) observeImages(out *planner.ObservedState, look *planner.Lookup) {
	present := map[string]bool{}
	for _, ref := range out.Images {
		present[ref] = true
	}
	out.ImageIDs, out.BuildDigests, out.ImageHealth = maps.Clone(out.ImageIDs), maps.Clone(out.BuildDigests), maps.Clone(out.ImageHealth)
	for _, ref := range look.Images {
		ch, ok := d.images[ref]
		if !ok {
			continue
		}
		present[ref] = !ch.removed
		if ch.removed {
			delete(out.ImageIDs, ref)
			delete(out.BuildDigests, ref)
			delete(out.ImageHealth, ref)
			continue
		}
		if ch.built {
			delete(out.BuildDigests, ref)
			if ch.digest != "" && slices.Contains(look.Builds, ref) {
				if out.BuildDigests == nil {
					out.BuildDigests = map[string]string{}
				}
				out.BuildDigests[ref] = ch.digest
			}
		}
	}
	out.Images = nil
	for ref, here := range present {
		if here {
			out.Images = append(out.Images, ref)
		}
	}
	slices.Sort(out.Images)
}

func keep[T any](in []T, gone map[string]bool, name func(T) string) []T {
	var out []T
	for _, v := range in {
		if !gone[name(v)] {
			out = append(out, v)
		}
	}
	return out
}

func (d *dryRun) Host(ctx context.Context) (planner.Host, error) {
	if hi, ok := d.e.(planner.HostInspector); ok {
		return hi.Host(ctx)
	}
	return planner.Host{}, nil
}

func (d *dryRun) URL() string { return d.e.URL() }
func (d *dryRun) Version(ctx context.Context) (ServerInfo, error) {
	return d.e.Version(ctx)
}
func (d *dryRun) Projects(ctx context.Context) ([]ProjectSummary, error) { return d.e.Projects(ctx) }
func (d *dryRun) FreshHealth(ctx context.Context, name string, now time.Time) (string, error) {
	return d.e.FreshHealth(ctx, name, now)
}
func (d *dryRun) Logs(ctx context.Context, name string, tail int, w io.Writer) error {
	return d.e.Logs(ctx, name, tail, w)
}
func (d *dryRun) StreamLogs(ctx context.Context, names []string, opts LogOptions, emit func(LogLine)) error {
	return d.e.StreamLogs(ctx, names, opts, emit)
}
func (d *dryRun) Events(ctx context.Context, project string, each func(Event)) error {
	return d.e.Events(ctx, project, each)
}
func (d *dryRun) Stats(ctx context.Context, names []string, stream bool, each func([]Stat)) error {
	return d.e.Stats(ctx, names, stream, each)
}
func (d *dryRun) Top(ctx context.Context, name string) ([]string, error) { return d.e.Top(ctx, name) }
func (d *dryRun) InspectContainer(ctx context.Context, name string) (json.RawMessage, error) {
	return d.e.InspectContainer(ctx, name)
}
func (d *dryRun) InspectPod(ctx context.Context, name string) (json.RawMessage, error) {
	return d.e.InspectPod(ctx, name)
}
func (d *dryRun) GenerateKube(ctx context.Context, pods []string) ([]byte, error) {
	return d.e.GenerateKube(ctx, pods)
}
func (d *dryRun) ImageExposedPorts(ctx context.Context, ref string) ([]string, bool, error) {
	return d.e.ImageExposedPorts(ctx, ref)
}
func (d *dryRun) InspectImages(ctx context.Context, refs []string) (map[string]ImageInfo, error) {
	return d.e.InspectImages(ctx, refs)
}

// Waits end at once: what they wait for was not started.

func (d *dryRun) RunHealthCheck(context.Context, string) (string, error) { return "healthy", nil }
func (d *dryRun) WaitExit(context.Context, string) (int, error)          { return 0, nil }
func (d *dryRun) WaitEnd(context.Context, string) (int, bool, error)     { return 0, false, nil }

// Changes are skipped.

// Pulls, builds, pushes and image removals are plan steps, reported (as
// DRY-RUN) through Progress like every other; they write no output.

func (d *dryRun) PullImage(_ context.Context, ref, _ string, _ io.Writer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.images[ref].built {
		d.images[ref] = imageChange{} // present; a build's digest stays
	}
	return nil
}
func (d *dryRun) BuildImage(_ context.Context, ref string, b *stack.Build, _ io.Writer) error {
	ch := imageChange{built: true}
	if b != nil {
		ch.digest = b.Labels[planner.LabelBuildDigest]
	}
	return d.image(ref, ch)
}
func (d *dryRun) PushImage(context.Context, string, io.Writer) error { return nil }
func (d *dryRun) RemoveImage(_ context.Context, ref string) error {
	return d.image(ref, imageChange{removed: true})
}
func (d *dryRun) CreateDirectory(context.Context, string) error       { return nil }
func (d *dryRun) StartContainer(_ context.Context, name string) error { return d.set(name, "running") }
func (d *dryRun) Unpause(_ context.Context, name string) error        { return d.set(name, "running") }
func (d *dryRun) Pause(_ context.Context, name string) error          { return d.set(name, "paused") }
func (d *dryRun) RemoveContainer(_ context.Context, name string, _ bool) error {
	return d.remove(name)
}
func (d *dryRun) RemovePod(_ context.Context, name string) error     { return d.remove(name) }
func (d *dryRun) RemoveVolume(_ context.Context, name string) error  { return d.remove(name) }
func (d *dryRun) RemoveNetwork(_ context.Context, name string) error { return d.remove(name) }
func (d *dryRun) RemoveSecret(_ context.Context, name string) error  { return d.remove(name) }
func (d *dryRun) StopContainer(_ context.Context, name string, _ time.Duration) error {
	return d.set(name, "exited")
}
func (d *dryRun) Kill(_ context.Context, name, signal string) error {
	if s := strings.TrimPrefix(strings.ToUpper(signal), "SIG"); s == "KILL" || s == "9" {
		return d.set(name, "exited")
	}
	return nil
}
func (d *dryRun) KillAll(_ context.Context, names []string) error {
	for _, n := range names {
		d.set(n, "exited")
	}
	return nil
}
func (d *dryRun) CreateNetwork(context.Context, *stack.Network, map[string]string) error { return nil }
func (d *dryRun) CreateVolume(context.Context, *stack.Volume, map[string]string) error   { return nil }
func (d *dryRun) CreateSecret(context.Context, *planner.SecretSpec, *stack.Stack, map[string]string) error {
	return nil
}
func (d *dryRun) CreatePod(_ context.Context, p *planner.Pod, _ *stack.Stack) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.gone, p.Name)
	return nil
}

// CreateContainer brings back, as created, a container this engine
// removed (a recreate); one that never existed stays unseen.
func (d *dryRun) CreateContainer(_ context.Context, c *planner.Container, _ *planner.Pod, _ *stack.Stack) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gone[c.Name] {
		delete(d.gone, c.Name)
		d.state[c.Name] = "created"
	}
	return nil
}
func (d *dryRun) CopyTo(_ context.Context, name, dir string, _ io.Reader, _ bool) error {
	d.say(fmt.Sprintf("would copy files into %s:%s", name, dir))
	return nil
}
func (d *dryRun) StatPath(ctx context.Context, name, path string) (PathInfo, bool, error) {
	return d.e.StatPath(ctx, name, path)
}
func (d *dryRun) CopyFrom(ctx context.Context, name, path string, w io.Writer) error {
	return d.e.CopyFrom(ctx, name, path, w)
}
func (d *dryRun) AttachContainer(_ context.Context, name string, _ AttachIO) (bool, error) {
	d.say(fmt.Sprintf("would attach to %s", name))
	return false, nil
}
func (d *dryRun) Exec(_ context.Context, name string, o ExecOptions) (int, error) {
	d.say(fmt.Sprintf("would run in %s: %s", name, strings.Join(o.Cmd, " ")))
	return 0, nil
}
func (d *dryRun) RunContainer(_ context.Context, c *planner.Container, _ *planner.Pod, _ *stack.Stack, _ RunIO) (int, error) {
	d.say(fmt.Sprintf("would run the one-off container %s of service %s", c.Name, c.Service))
	return 0, nil
}

var (
	_ Engine                = (*dryRun)(nil)
	_ planner.HostInspector = (*dryRun)(nil)
)
