package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/podstack/podstack/internal/fswatch"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// QuietPeriod is how long the watched files must stay unchanged before
// Watch acts on a batch of changes: an editor saving many files, or a
// branch switch, is one batch (compose waits as long).
const QuietPeriod = 500 * time.Millisecond

// WatchOptions tune Watch.
type WatchOptions struct {
	// Services are the services to watch; empty means all with a
	// develop.watch section.
	Services []string
	// NoUp watches what runs, without bringing the services up first.
	NoUp bool
	// Up tunes the up that runs first (its services are Services) and
	// how plans run during watching (rebuild, restart).
	Up UpOptions
	// Quiet is the quiet period; 0 means QuietPeriod.
	Quiet time.Duration
	// Ready, when set, is called once the files are watched and the
	// initial syncs are done.
	Ready func()
	// Notify starts watching the host paths; nil uses the host's file
	// notifications (fswatch).
	Notify func(paths []string, skip func(dir string) bool) (Notifier, error)
}

// Notifier reports host paths that changed.
type Notifier interface {
	// Events delivers changed paths (files, or directories that went).
	Events() <-chan string
	// Errors delivers what went wrong watching; watching goes on.
	Errors() <-chan error
	Close() error
}

// ErrNothingToWatch is returned when no selected service has a
// develop.watch section.
var ErrNothingToWatch = errors.New("none of the selected services has a develop.watch section")

// Watch brings the services up (unless NoUp), then watches the host paths
// of their develop.watch rules until ctx ends, acting on each batch of
// changes as compose does: sync copies the changed files into the
// service's running containers (and removes the ones deleted), restart
// restarts them, sync+restart does both, sync+exec syncs then runs a
// command in them, and rebuild builds the image again and recreates the
// service. A failed action is reported on Status and watching goes on.
// Ctrl-C (ctx ending) is the normal end: Watch then returns nil.
func (p *Project) Watch(ctx context.Context, o WatchOptions) error {
	if err := p.needStack("watch"); err != nil {
		return err
	}
	if err := p.CheckServices(o.Services); err != nil {
		return err
	}
	rules, err := p.watchRules(o.Services)
	if err != nil {
		return err
	}
	if !o.NoUp {
		up := o.Up
		up.Plan.Services = o.Services
		if _, err := p.Up(ctx, up); err != nil {
			return err
		}
	}
	for _, r := range rules {
		if r.InitialSync && r.Action.Syncs() {
			if err := p.initialSync(ctx, r); err != nil {
				return fmt.Errorf("initial sync of %s: %w", p.rel(r.Path), err)
			}
		}
	}
	var paths []string
	for _, r := range rules {
		if !slices.Contains(paths, r.Path) {
			paths = append(paths, r.Path)
		}
	}
	notify := o.Notify
	if notify == nil {
		notify = func(paths []string, skip func(string) bool) (Notifier, error) { return fswatch.New(paths, skip) }
	}
	n, err := notify(paths, func(dir string) bool { return filepath.Base(dir) == ".git" })
	if err != nil {
		return fmt.Errorf("watch %s: %w", strings.Join(paths, ", "), err)
	}
	defer n.Close()
	for _, r := range rules {
		to := ""
		if r.Target != "" {
			to = " -> " + r.Target
		}
		p.say("Watching %s for %s: %s%s", p.rel(r.Path), r.service, r.Action, to)
	}
	p.say("Watch enabled (Ctrl-C to stop)")
	if o.Ready != nil {
		o.Ready()
	}
	return p.watchLoop(ctx, n, rules, o)
}

// watchLoop collects changed paths until the files stay quiet for the
// quiet period, then acts on the batch.
func (p *Project) watchLoop(ctx context.Context, n Notifier, rules []*watchRule, o WatchOptions) error {
	quiet := o.Quiet
	if quiet <= 0 {
		quiet = QuietPeriod
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	pending := map[string]bool{}
	events, errs := n.Events(), n.Errors()
	for {
		select {
		case <-ctx.Done():
			p.say("Watch stopped")
			return nil
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			p.say("WARN watch: %v", err)
		case path, ok := <-events:
			if !ok {
				return nil
			}
			pending[path] = true
			timer.Reset(quiet)
		case <-timer.C:
			batch := make([]string, 0, len(pending))
			for path := range pending {
				batch = append(batch, path)
			}
			sort.Strings(batch)
			pending = map[string]bool{}
			if err := p.handleBatch(ctx, batch, rules, o); err != nil {
				if ctx.Err() != nil {
					p.say("Watch stopped")
					return nil
				}
				p.say("WARN watch: %v", err)
			}
		}
	}
}

// handleBatch does what the rules that match the changed paths ask, in
// compose's order: rebuild, sync, restart, exec. It goes on past a
// failure and returns them all.
func (p *Project) handleBatch(ctx context.Context, batch []string, rules []*watchRule, o WatchOptions) error {
	var (
		rebuild, restart []string
		syncs            = map[string][]syncPath{}
		execs            = map[string][]*watchRule{}
		order            []string
	)
	add := func(list *[]string, svc string) {
		if !slices.Contains(*list, svc) {
			*list = append(*list, svc)
		}
	}
	for _, path := range batch {
		for _, r := range rules {
			target, ok := r.match(path)
			if !ok {
				continue
			}
			switch r.Action {
			case stack.WatchRebuild:
				add(&rebuild, r.service)
			case stack.WatchRestart:
				add(&restart, r.service)
			default: // the sync actions
				if _, seen := syncs[r.service]; !seen {
					order = append(order, r.service)
				}
				syncs[r.service] = append(syncs[r.service], syncPath{host: path, container: target, rule: r})
				if r.Action == stack.WatchSyncRestart {
					add(&restart, r.service)
				}
				if r.Action == stack.WatchSyncExec && !slices.Contains(execs[r.service], r) {
					execs[r.service] = append(execs[r.service], r)
				}
			}
		}
	}
	var errs []error
	if len(rebuild) > 0 {
		sort.Strings(rebuild)
		if err := p.watchRebuild(ctx, rebuild, o); err != nil {
			errs = append(errs, err)
		}
	}
	for _, svc := range order {
		if err := p.syncInto(ctx, svc, syncs[svc]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(restart) > 0 {
		sort.Strings(restart)
		p.say("Restarting %s after changes", strings.Join(restart, ", "))
		if err := p.Restart(ctx, planner.DownOptions{Services: restart}, o.Up.Exec); err != nil {
			errs = append(errs, fmt.Errorf("restart %s: %w", strings.Join(restart, ", "), err))
		}
	}
	for _, svc := range order {
		for _, r := range execs[svc] {
			if err := p.watchExec(ctx, svc, r.Exec); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// watchRebuild builds the services' images again and then recreates
// them, as compose does: a build that fails leaves the running
// containers alone.
func (p *Project) watchRebuild(ctx context.Context, services []string, o WatchOptions) error {
	p.say("Rebuilding %s after changes", strings.Join(services, ", "))
	// Build first (the images get the digest of the files as they are
	// now), then an up of these services alone recreates them.
	if _, err := p.Build(ctx, BuildOptions{Build: planner.BuildOptions{Services: services}, Exec: o.Up.Exec}); err != nil {
		return fmt.Errorf("rebuild %s: %w", strings.Join(services, ", "), err)
	}
	up := o.Up
	up.DryRun = false
	up.Plan.Services = services
	up.Plan.NoDeps = true
	up.Plan.ForceRecreate = true
	up.Plan.NoRecreate = false
	if _, err := p.Up(ctx, up); err != nil {
		return fmt.Errorf("recreate %s after rebuilding: %w", strings.Join(services, ", "), err)
	}
	return nil
}

// watchExec runs a sync+exec command in each of the service's running
// containers.
func (p *Project) watchExec(ctx context.Context, svc string, x *stack.WatchExec) error {
	found, err := p.Containers(ctx, []string{svc}, "running")
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range found {
		var env []string
		for _, k := range sortedKeys(x.Environment) {
			env = append(env, k+"="+x.Environment[k])
		}
		out := p.Status
		if out == nil {
			out = io.Discard
		}
		code, err := p.Engine.Exec(ctx, c.Name, ExecOptions{Cmd: x.Command, Env: env, User: x.User, WorkDir: x.WorkingDir,
			Stdout: out, Stderr: out})
		switch {
		case err != nil:
			errs = append(errs, err)
		case code != 0:
			errs = append(errs, fmt.Errorf("%s: %s exited with code %d", p.Short(c.Name), strings.Join(x.Command, " "), code))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// rel shows a host path relative to the stack's directory when it is
// inside it.
func (p *Project) rel(path string) string {
	if p.Stack != nil && p.Stack.WorkingDir != "" {
		if r, err := filepath.Rel(p.Stack.WorkingDir, path); err == nil && !strings.HasPrefix(r, "..") {
			return "./" + filepath.ToSlash(r)
		}
	}
	return path
}

// exists says whether a host path is there (a dangling symlink is).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
