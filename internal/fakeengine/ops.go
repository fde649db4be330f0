package fakeengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// ExecRequest is one Exec call as the engine received it.
type ExecRequest struct {
	Container          string
	Cmd, Env           []string
	User, WorkDir      string
	TTY, Interactive   bool
	Detach, Privileged bool
	// Stdin is what was read from ExecOptions.Stdin (Interactive only).
	Stdin string
}

// RunRequest is one RunContainer call: the one-off as it was made.
type RunRequest struct {
	Container, Service, Pod string
	Image                   string
	Entrypoint, Command     []string
	Env, Labels             map[string]string
	Networks                []string
	TTY, Interactive        bool
	Remove, Detach          bool
	// Stdin is what was read from RunIO.Stdin (Interactive only).
	Stdin string
	// Spec is the one-off's definition and PodSpec the pod it was given,
	// as RunContainer received them.
	Spec    *stack.Service
	PodSpec *planner.Pod
}

// Execs returns the Exec calls made so far, in order.
func (e *Engine) Execs() []ExecRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.execs)
}

// Runs returns the RunContainer calls made so far, in order.
func (e *Engine) Runs() []RunRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.runs)
}

// URL identifies the service (SetServer's URL).
func (e *Engine) URL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.info.URL
}

// Version reports what SetServer set (Podman 4.3.1 by default).
func (e *Engine) Version(ctx context.Context) (ops.ServerInfo, error) {
	if err := e.begin(ctx, "Version", ""); err != nil {
		return ops.ServerInfo{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.info, nil
}

// Logs writes the last tail lines of the container's output (stdout and
// stderr as they came) to w.
func (e *Engine) Logs(ctx context.Context, name string, tail int, w io.Writer) error {
	if err := e.begin(ctx, "Logs", name); err != nil {
		return fmt.Errorf("logs of %s: %w", name, err)
	}
	e.mu.Lock()
	c := e.containers[name]
	if c == nil {
		e.mu.Unlock()
		return fmt.Errorf("logs of %s: %w", name, noSuchContainer(name))
	}
	lines := slices.Clone(c.logs)
	e.mu.Unlock()
	if tail >= 0 && len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	for _, l := range lines {
		if _, err := io.WriteString(w, l.text+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// StreamLogs reads the containers' output concurrently, calling emit from
// one goroutine at a time: the lines within Since/Until, the last Tail of
// them (all when Tail < 0), stamped with Timestamps. With Follow it goes on
// with new lines, through stops and restarts, until ctx ends or the
// container is removed, as podmanapi does.
func (e *Engine) StreamLogs(ctx context.Context, names []string, opts ops.LogOptions, emit func(ops.LogLine)) error {
	if err := e.begin(ctx, "StreamLogs", joinNames(names)); err != nil {
		return err
	}
	var mu sync.Mutex
	safe := func(l ops.LogLine) {
		mu.Lock()
		defer mu.Unlock()
		emit(l)
	}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.streamOne(ctx, name, opts, safe)
		}()
	}
	wg.Wait()
	var all []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

func (e *Engine) streamOne(ctx context.Context, name string, opts ops.LogOptions, emit func(ops.LogLine)) error {
	e.mu.Lock()
	c := e.containers[name]
	if c == nil {
		e.mu.Unlock()
		return fmt.Errorf("logs of %s: %w", name, noSuchContainer(name))
	}
	now := e.clockLocked()
	since, err := logTime(opts.Since, now)
	if err != nil {
		e.mu.Unlock()
		return fmt.Errorf("logs of %s: since: %w", name, err)
	}
	until, err := logTime(opts.Until, now)
	if err != nil {
		e.mu.Unlock()
		return fmt.Errorf("logs of %s: until: %w", name, err)
	}
	in := func(l logEntry) bool {
		return (since.IsZero() || !l.at.Before(since)) && (until.IsZero() || !l.at.After(until))
	}
	var first []logEntry
	for _, l := range c.logs {
		if in(l) {
			first = append(first, l)
		}
	}
	if opts.Tail >= 0 && len(first) > opts.Tail {
		first = first[len(first)-opts.Tail:]
	}
	next := len(c.logs)
	e.mu.Unlock()
	send := func(batch []logEntry) {
		for _, l := range batch {
			text := l.text
			if opts.Timestamps {
				text = l.at.Format(time.RFC3339Nano) + " " + text
			}
			emit(ops.LogLine{Container: name, Text: text, Stderr: l.stderr})
		}
	}
	send(first)
	if !opts.Follow {
		return nil
	}
	for {
		e.mu.Lock()
		for len(c.logs) == next && !c.removed && ctx.Err() == nil {
			_ = e.waitLocked(ctx)
		}
		if ctx.Err() != nil || len(c.logs) == next {
			e.mu.Unlock()
			return nil
		}
		var batch []logEntry
		for _, l := range c.logs[next:] {
			if in(l) {
				batch = append(batch, l)
			}
		}
		next = len(c.logs)
		e.mu.Unlock()
		send(batch)
	}
}

// logTime reads a Since/Until value as Podman does: RFC 3339, Unix
// seconds, or a duration back from now ("10m").
func logTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(f*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time, Unix timestamp or duration", s)
}

// Stats samples the containers once or, with stream, every stats interval
// until ctx ends: SetStats's numbers for running containers, zeros for the
// rest (as Podman reports a stopped container); a missing one fails.
func (e *Engine) Stats(ctx context.Context, names []string, stream bool, each func([]ops.Stat)) error {
	if err := e.begin(ctx, "Stats", joinNames(names)); err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	for {
		e.mu.Lock()
		var sample []ops.Stat
		for _, name := range names {
			c := e.containers[name]
			if c == nil {
				e.mu.Unlock()
				return fmt.Errorf("stats: %w", noSuchContainer(name))
			}
			st := ops.Stat{}
			if up(c.State) {
				st = e.stats[name]
			}
			st.Name = name
			sample = append(sample, st)
		}
		interval := e.statsInterval
		e.mu.Unlock()
		each(sample)
		if !stream {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// Top lists a running container's processes: Script.Top, or a header and
// the container's command.
func (e *Engine) Top(ctx context.Context, name string) ([]string, error) {
	if err := e.begin(ctx, "Top", name); err != nil {
		return nil, fmt.Errorf("top %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return nil, fmt.Errorf("top %s: %w", name, noSuchContainer(name))
	}
	if c.State != "running" {
		return nil, fmt.Errorf("top %s: %w", name, podmanErr(ErrNotRunning, fmt.Sprintf("container %s is not running", c.ID)))
	}
	if top := e.scriptLocked(c).Top; len(top) > 0 {
		return slices.Clone(top), nil
	}
	cmd := strings.Join(append(slices.Clone(c.Entrypoint), c.Command...), " ")
	return []string{"USER\tPID\tPPID\t%CPU\tELAPSED\tTTY\tTIME\tCOMMAND", "root\t1\t0\t0.000\t1s\t?\t0s\t" + cmd}, nil
}

// InspectContainer returns a container's inspect data, in the shape of
// Podman's (the fields podstack reads).
func (e *Engine) InspectContainer(ctx context.Context, name string) (json.RawMessage, error) {
	if err := e.begin(ctx, "InspectContainer", name); err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return nil, fmt.Errorf("inspect container %s: %w", name, noSuchContainer(name))
	}
	policy, retries, _ := parseRestart(c.Restart)
	var env []string
	for _, k := range sortedKeys(c.Env) {
		env = append(env, k+"="+c.Env[k])
	}
	state := map[string]any{"Status": c.State, "Running": c.State == "running", "Paused": c.State == "paused",
		"Restarting": false, "ExitCode": c.ExitCode, "StartedAt": c.StartedAt, "FinishedAt": c.FinishedAt,
		"StoppedByUser": c.StoppedByUser}
	if hasHealthcheck(c) {
		state["Health"] = map[string]any{"Status": c.Health}
	}
	data := map[string]any{"Id": c.ID, "Name": c.Name, "Image": c.Image, "ImageName": c.Image, "Pod": e.podIDLocked(c.Pod),
		"RestartCount": c.RestartCount, "IsInfra": c.Infra, "State": state,
		"Config":     map[string]any{"Labels": c.Labels, "Env": env, "Cmd": c.Command, "Entrypoint": c.Entrypoint, "Healthcheck": c.Healthcheck},
		"HostConfig": map[string]any{"RestartPolicy": map[string]any{"Name": policy, "MaximumRetryCount": retries}},
		"Mounts":     c.Volumes}
	return json.Marshal(data)
}

func (e *Engine) podIDLocked(name string) string {
	if p := e.pods[name]; p != nil {
		return p.ID
	}
	return ""
}

// InspectPod returns a pod's inspect data, in the shape of Podman's.
func (e *Engine) InspectPod(ctx context.Context, name string) (json.RawMessage, error) {
	if err := e.begin(ctx, "InspectPod", name); err != nil {
		return nil, fmt.Errorf("inspect pod %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.pods[name]
	if p == nil {
		return nil, fmt.Errorf("inspect pod %s: %w", name, podmanErr(ErrNotFound, fmt.Sprintf("no pod with name or ID %s found: no such pod", name)))
	}
	type member struct{ Id, Name, State string }
	var members []member
	infraID := ""
	for _, cn := range sortedKeys(e.containers) {
		if c := e.containers[cn]; c.Pod == name {
			members = append(members, member{c.ID, c.Name, c.State})
			if c.Infra {
				infraID = c.ID
			}
		}
	}
	return json.Marshal(map[string]any{"Id": p.ID, "Name": p.Name, "State": e.podStateLocked(name), "Labels": p.Labels,
		"InfraContainerID": infraID, "NumContainers": len(members), "Containers": members})
}

// Exec runs a command in a running container: it records the request,
// writes the script's ExecStdout and ExecStderr (both to Stdout with a
// TTY, as there is one stream) and returns its ExecCode, or what its Exec
// function answers.
func (e *Engine) Exec(ctx context.Context, name string, o ops.ExecOptions) (int, error) {
	if err := e.begin(ctx, "Exec", name); err != nil {
		return -1, fmt.Errorf("exec in %s: %w", name, err)
	}
	e.mu.Lock()
	c := e.containers[name]
	if c == nil {
		e.mu.Unlock()
		return -1, fmt.Errorf("exec in %s: %w", name, noSuchContainer(name))
	}
	if c.State != "running" {
		e.mu.Unlock()
		return -1, fmt.Errorf("exec in %s: %w", name, podmanErr(ErrNotRunning, "can only create exec sessions on running containers: container state improper"))
	}
	sc := e.scriptLocked(c)
	e.mu.Unlock()
	req := ExecRequest{Container: name, Cmd: slices.Clone(o.Cmd), Env: slices.Clone(o.Env), User: o.User, WorkDir: o.WorkDir,
		TTY: o.TTY, Interactive: o.Interactive, Detach: o.Detach, Privileged: o.Privileged}
	if o.Interactive && o.Stdin != nil {
		in, err := io.ReadAll(o.Stdin)
		if err != nil {
			return -1, fmt.Errorf("exec in %s: %w", name, err)
		}
		req.Stdin = string(in)
	}
	e.mu.Lock()
	e.execs = append(e.execs, req)
	e.mu.Unlock()
	if o.Detach {
		return 0, nil // started in the background: nothing is connected
	}
	if sc.Exec != nil {
		return sc.Exec(o)
	}
	stderr := o.Stderr
	if o.TTY {
		stderr = o.Stdout
	}
	if err := write(o.Stdout, sc.ExecStdout); err != nil {
		return -1, fmt.Errorf("exec in %s: %w", name, err)
	}
	if err := write(stderr, sc.ExecStderr); err != nil {
		return -1, fmt.Errorf("exec in %s: %w", name, err)
	}
	return sc.ExecCode, nil
}

func write(w io.Writer, s string) error {
	if w == nil || s == "" {
		return nil
	}
	_, err := io.WriteString(w, s)
	return err
}

// RunContainer creates the one-off as CreateContainer would (the same
// checks, and injected CreateContainer or StartContainer failures apply),
// starts it, copies its output to o's writers until it exits, and returns
// its exit code. A container whose script names no exit runs as a command
// that succeeds at once; with Remove it is removed afterwards.
func (e *Engine) RunContainer(ctx context.Context, c *planner.Container, p *planner.Pod, s *stack.Stack, o ops.RunIO) (int, error) {
	if err := e.begin(ctx, "RunContainer", c.Name); err != nil {
		return -1, fmt.Errorf("create container %s: %w", c.Name, err)
	}
	req := RunRequest{Container: c.Name, Service: c.Service, TTY: o.TTY, Interactive: o.Interactive, Remove: o.Remove, Detach: o.Detach,
		Spec: c.Spec, PodSpec: p}
	if o.Interactive && o.Stdin != nil {
		in, err := io.ReadAll(o.Stdin)
		if err != nil {
			return -1, fmt.Errorf("attach to %s: %w", c.Name, err)
		}
		req.Stdin = string(in)
	}
	e.mu.Lock()
	if err := e.faultLocked("CreateContainer", c.Name); err != nil {
		e.mu.Unlock()
		return -1, fmt.Errorf("create container %s: %w", c.Name, err)
	}
	ct, err := e.createLocked(c, p, s)
	if err != nil {
		e.mu.Unlock()
		return -1, fmt.Errorf("create container %s: %w", c.Name, err)
	}
	req.Pod, req.Image, req.Labels, req.Networks = ct.Pod, ct.Image, maps.Clone(ct.Labels), slices.Clone(ct.Networks)
	req.Entrypoint, req.Command, req.Env = slices.Clone(ct.Entrypoint), slices.Clone(ct.Command), maps.Clone(ct.Env)
	e.runs = append(e.runs, req)
	if o.Remove && !o.Detach {
		defer func() {
			e.mu.Lock()
			if e.containers[c.Name] == ct {
				e.removeLocked(ct, true)
			}
			e.mu.Unlock()
		}()
	}
	seen := len(ct.logs)
	mark := len(ct.exits)
	if err := e.faultLocked("StartContainer", c.Name); err != nil {
		e.mu.Unlock()
		return -1, fmt.Errorf("start container %s: %w", c.Name, err)
	}
	if err := e.startLocked(ct, true); err != nil {
		e.mu.Unlock()
		return -1, fmt.Errorf("start container %s: %w", c.Name, err)
	}
	if o.Detach {
		// Detached: it runs on; Podman removes a --rm one-off when it exits.
		if o.Remove {
			ct.autoRemove = true
			if ended(ct) {
				e.removeLocked(ct, true)
			}
		}
		e.mu.Unlock()
		return 0, nil
	}
	if len(e.scriptLocked(ct).Exits) == 0 && ct.State == "running" {
		e.exitLocked(ct, 0, false)
	}
	stderr := o.Stderr
	if o.TTY {
		stderr = o.Stdout
	}
	for {
		batch := slices.Clone(ct.logs[seen:])
		seen = len(ct.logs)
		done := len(ct.exits) > mark && !up(ct.State) || ct.removed
		code := ct.ExitCode
		changed := e.changed // taken under the lock: no change is missed while writing
		e.mu.Unlock()
		for _, l := range batch {
			w := o.Stdout
			if l.stderr {
				w = stderr
			}
			if err := write(w, l.text+"\n"); err != nil {
				return -1, fmt.Errorf("attach to %s: %w", c.Name, err)
			}
		}
		if done {
			return code, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return -1, fmt.Errorf("wait for %s: %w", c.Name, ctx.Err())
		}
		e.mu.Lock()
	}
}

// GenerateKube returns Kubernetes YAML of the named pods (or containers),
// one Pod document each with its containers' names and images, as
// Podman's generator would name them.
func (e *Engine) GenerateKube(ctx context.Context, pods []string) ([]byte, error) {
	if err := e.begin(ctx, "GenerateKube", joinNames(pods)); err != nil {
		return nil, fmt.Errorf("generate kube for %s: %w", strings.Join(pods, ", "), err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var docs []string
	for _, name := range pods {
		var members []*container
		podName := name
		if p := e.pods[name]; p != nil {
			for _, cn := range sortedKeys(e.containers) {
				if c := e.containers[cn]; c.Pod == name && !c.Infra {
					members = append(members, c)
				}
			}
		} else if c := e.containers[name]; c != nil && !c.Infra {
			members = []*container{c}
			podName = name + "-pod"
		} else {
			return nil, fmt.Errorf("generate kube for %s: %w", strings.Join(pods, ", "),
				podmanErr(ErrNotFound, fmt.Sprintf("%s does not refer to a container or pod: no such pod or container", name)))
		}
		kp := corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: podName, Labels: map[string]string{"app": podName}}}
		for _, c := range members {
			kc := corev1.Container{Name: c.Name, Image: c.Image, Command: c.Entrypoint, Args: c.Command}
			for _, k := range sortedKeys(c.Env) {
				kc.Env = append(kc.Env, corev1.EnvVar{Name: k, Value: c.Env[k]})
			}
			kp.Spec.Containers = append(kp.Spec.Containers, kc)
		}
		b, err := yaml.Marshal(kp)
		if err != nil {
			return nil, fmt.Errorf("generate kube for %s: %w", name, err)
		}
		docs = append(docs, string(b))
	}
	return []byte("# Generation of Kubernetes YAML is still under development!\n" + strings.Join(docs, "---\n")), nil
}

// ImageExposedPorts returns the ports SetExposedPorts gave a present image,
// sorted, and whether the image is present at all.
func (e *Engine) ImageExposedPorts(ctx context.Context, ref string) ([]string, bool, error) {
	if err := e.begin(ctx, "ImageExposedPorts", ref); err != nil {
		return nil, false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range candidates(ref) {
		if e.images[c] != nil {
			ports := slices.Clone(e.exposed[c])
			slices.Sort(ports)
			return ports, true, nil
		}
	}
	return nil, false, nil
}
