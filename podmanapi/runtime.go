package podmanapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/containers/podman/v5/pkg/bindings/pods"
	"github.com/containers/podman/v5/pkg/bindings/secrets"
	"github.com/containers/podman/v5/pkg/bindings/volumes"
	entitiesTypes "github.com/containers/podman/v5/pkg/domain/entities/types"
	"github.com/containers/podman/v5/pkg/errorhandling"
	"go.podman.io/image/v5/manifest"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// Sentinel errors the rest of podstack can test for; Podman's own errors
// are mapped to them here, at the edge, and wrapped with the object's name.
var (
	ErrNotFound   = errors.New("not found")
	ErrConflict   = errors.New("conflict")
	ErrExists     = errors.New("already exists")
	ErrNotRunning = planner.ErrNotRunning
)

// mapErr keys on the server's Because text first (Podman returns 500 for
// most things), then on the status code.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var em *errorhandling.ErrorModel
	if errors.As(err, &em) {
		because := strings.ToLower(em.Because + " " + em.Message)
		switch {
		case strings.Contains(because, "already in use"), strings.Contains(because, "already exists"):
			return fmt.Errorf("%w: %s", ErrExists, em.Error())
		case strings.Contains(because, "not running"), strings.Contains(because, "state improper"):
			return fmt.Errorf("%w: %s", ErrNotRunning, em.Error())
		case em.ResponseCode == 404, strings.Contains(because, "no such"):
			return fmt.Errorf("%w: %s", ErrNotFound, em.Error())
		case em.ResponseCode == 409:
			return fmt.Errorf("%w: %s", ErrConflict, em.Error())
		}
		return errors.New(em.Error())
	}
	var pm *errorhandling.PodConflictErrorModel
	if errors.As(err, &pm) {
		if len(pm.Errs) > 0 {
			return fmt.Errorf("%w: %s", ErrConflict, strings.Join(pm.Errs, "; "))
		}
		return fmt.Errorf("%w: pod operation refused", ErrConflict)
	}
	return err
}

var _ planner.Backend = (*Client)(nil)

// PullImage pulls ref with Podman's pull policy.
func (c *Client) PullImage(ctx context.Context, ref, policy string) error {
	if policy == "" {
		policy = "missing"
	}
	quiet := true
	_, err := images.Pull(c.ctx(ctx), ref, &images.PullOptions{Quiet: &quiet, Policy: &policy})
	if err != nil {
		return fmt.Errorf("pull image %s: %w (with no registry reachable, build or load the image locally and use --pull never or missing)", ref, mapErr(err))
	}
	return nil
}

// BuildImage builds ref from b through the service.
func (c *Client) BuildImage(ctx context.Context, ref string, b *stack.Build) error {
	opts := entitiesTypes.BuildOptions{}
	opts.ContextDirectory = b.Context
	opts.Output = ref
	opts.Target = b.Target
	opts.Labels = labelList(b.Labels)
	opts.Args = b.Args
	opts.Out, opts.Err = io.Discard, io.Discard
	var logs bytes.Buffer
	opts.Out = &logs
	dockerfile := b.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if !strings.HasPrefix(dockerfile, "/") {
		dockerfile = b.Context + "/" + dockerfile
	}
	if _, err := images.Build(c.ctx(ctx), []string{dockerfile}, opts); err != nil {
		return fmt.Errorf("build image %s from %s: %w\n%s", ref, b.Context, mapErr(err), tailLines(logs.String(), 20))
	}
	return nil
}

func labelList(m map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, k+"="+m[k])
	}
	return out
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// CreateNetwork creates a DNS-enabled network (aliases resolve through it).
// An existing network of that name is accepted.
func (c *Client) CreateNetwork(ctx context.Context, n *stack.Network, labels map[string]string) error {
	nw, err := networkSpec(n, labels)
	if err != nil {
		return err
	}
	if _, err := network.Create(c.ctx(ctx), nw); err != nil {
		if err = mapErr(err); errors.Is(err, ErrExists) {
			return nil
		}
		return fmt.Errorf("create network %s: %w", n.Name, err)
	}
	return nil
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// CreateVolume creates a named volume; an existing one is accepted.
func (c *Client) CreateVolume(ctx context.Context, v *stack.Volume, labels map[string]string) error {
	_, err := volumes.Create(c.ctx(ctx), entitiesTypes.VolumeCreateOptions{Name: v.Name, Driver: v.Driver,
		Options: v.Options, Labels: mergeLabels(v.Labels, labels)}, nil)
	if err != nil {
		if err = mapErr(err); errors.Is(err, ErrExists) {
			return nil
		}
		return fmt.Errorf("create volume %s: %w", v.Name, err)
	}
	return nil
}

// CreatePod creates the pod (without an infra container when p.Infra is false).
func (c *Client) CreatePod(ctx context.Context, p *planner.Pod, s *stack.Stack) error {
	psg := podSpec(p, s)
	if _, err := pods.CreatePodFromSpec(c.ctx(ctx), &entitiesTypes.PodSpec{PodSpecGen: *psg}); err != nil {
		return fmt.Errorf("create pod %s: %w", p.Name, mapErr(err))
	}
	return nil
}

// CreateContainer creates the container, first creating the Podman secrets
// its secrets and inline configs need.
func (c *Client) CreateContainer(ctx context.Context, ct *planner.Container, p *planner.Pod, s *stack.Stack) error {
	names, err := c.ensureSecrets(ctx, ct.Spec, s)
	if err != nil {
		return fmt.Errorf("create container %s: %w", ct.Name, err)
	}
	if err := c.createBindSources(ct.Spec); err != nil {
		return fmt.Errorf("create container %s: %w", ct.Name, err)
	}
	ref := planner.ImageRef(s, ct.Spec)
	g, err := containerSpec(ct, p, s, ref, names, func(msg string) { c.warnOnce(ct.Service, msg) })
	if err != nil {
		return fmt.Errorf("create container %s: %w", ct.Name, err)
	}
	if h := ct.Spec.Health; h.InheritsTest() {
		// The stack gives timings only: run the image's test with them.
		// An image without one gets no healthcheck (the plan said so).
		g.HealthConfig = nil
		if img, err := images.GetImage(c.ctx(ctx), ref, nil); err == nil {
			if test := imageHealthTest(img.ImageData); len(test) > 0 {
				g.HealthConfig = &manifest.Schema2HealthConfig{Test: test, Interval: h.Interval, Timeout: h.Timeout,
					StartPeriod: h.StartPeriod, Retries: h.Retries}
			}
		}
		if g.HealthConfig == nil {
			c.warnOnce(ct.Service, fmt.Sprintf("the healthcheck keeps the image's own test, but image %s has none: no healthcheck", ref))
		}
	}
	if _, err := containers.CreateWithSpec(c.ctx(ctx), g, nil); err != nil {
		return fmt.Errorf("create container %s: %w", ct.Name, mapErr(err))
	}
	return nil
}

// createBindSources creates missing bind-mount source directories, as
// docker compose does, when the service runs on this machine (a unix
// socket); on a remote service the paths are the remote host's business.
func (c *Client) createBindSources(svc *stack.Service) error {
	if !strings.HasPrefix(c.url, "unix://") {
		return nil
	}
	for _, m := range svc.Mounts {
		if m.Type != stack.MountBind || m.Source == "" {
			continue
		}
		if _, err := os.Stat(m.Source); os.IsNotExist(err) {
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return fmt.Errorf("create bind mount source %s: %w", m.Source, err)
			}
		}
	}
	return nil
}

var secretMu sync.Mutex

// ensureSecrets creates the Podman secrets a service uses (named
// <project>_<key>) from files, environment variables or inline content.
func (c *Client) ensureSecrets(ctx context.Context, svc *stack.Service, s *stack.Stack) (map[string]string, error) {
	secretMu.Lock()
	defer secretMu.Unlock()
	names := map[string]string{}
	create := func(kind, key, name, file, env, content string, external bool) error {
		id := kind + "/" + key
		if name == "" {
			name = s.Name + "_" + key
		}
		names[id] = name
		if external {
			return nil
		}
		var data []byte
		switch {
		case file != "":
			b, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("%s %s: %w", kind, key, err)
			}
			data = b
		case env != "":
			data = []byte(os.Getenv(env))
		case content != "":
			data = []byte(content)
		default:
			delete(names, id)
			return nil
		}
		if ok, _ := secrets.Exists(c.ctx(ctx), name); ok {
			_ = secrets.Remove(c.ctx(ctx), name)
		}
		_, err := secrets.Create(c.ctx(ctx), bytes.NewReader(data), new(secrets.CreateOptions).WithName(name).
			WithLabels(map[string]string{planner.LabelProject: s.Name}))
		if err != nil {
			return fmt.Errorf("create secret %s: %w", name, mapErr(err))
		}
		return nil
	}
	for _, ref := range svc.Secrets {
		sec := s.Secrets[ref.Source]
		if sec == nil {
			return nil, fmt.Errorf("undefined secret %q", ref.Source)
		}
		if err := create("secret", sec.Key, sec.Name, sec.File, sec.Environment, sec.Content, sec.External); err != nil {
			return nil, err
		}
	}
	for _, ref := range svc.Configs {
		cfg := s.Configs[ref.Source]
		if cfg == nil || cfg.File != "" {
			continue
		}
		if err := create("config", cfg.Key, cfg.Name, "", cfg.Environment, cfg.Content, cfg.External); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// StartContainer starts a container. When the first start in a pod fails,
// Podman only says "internal libpod error"; the pod's start report has the
// real cause (a port in use, say), so it is asked for.
func (c *Client) StartContainer(ctx context.Context, name string) error {
	err := containers.Start(c.ctx(ctx), name, nil)
	if err == nil {
		return nil
	}
	err = mapErr(err)
	if strings.Contains(err.Error(), "internal libpod error") {
		if data, ierr := containers.Inspect(c.ctx(ctx), name, nil); ierr == nil && data.Pod != "" {
			if _, perr := pods.Start(c.ctx(ctx), data.Pod, nil); perr != nil {
				err = fmt.Errorf("%w (pod: %v)", err, mapErr(perr))
			}
		}
	}
	return fmt.Errorf("start container %s: %w", name, err)
}

// RunHealthCheck runs the healthcheck once and returns the aggregated status
// from inspect, where Podman applies retries and the start period.
func (c *Client) RunHealthCheck(ctx context.Context, name string) (string, error) {
	if _, err := containers.RunHealthCheck(c.ctx(ctx), name, nil); err != nil {
		err = mapErr(err)
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotRunning) {
			if data, ierr := containers.Inspect(c.ctx(ctx), name, nil); ierr == nil && data.State != nil && !data.State.Running {
				return "", fmt.Errorf("healthcheck %s: %w (state %s, exit code %d)", name, ErrNotRunning, data.State.Status, data.State.ExitCode)
			}
		}
		return "", fmt.Errorf("healthcheck %s: %w", name, err)
	}
	data, err := containers.Inspect(c.ctx(ctx), name, nil)
	if err != nil {
		return "", fmt.Errorf("inspect %s: %w", name, mapErr(err))
	}
	if data.State == nil || data.State.Health == nil {
		return "", fmt.Errorf("healthcheck %s: no health state", name)
	}
	return data.State.Health.Status, nil
}

// FreshHealth returns a running container's health, first running its
// healthcheck when no check ended within the check's interval. Without
// systemd timers nothing else runs the checks, and a stale "healthy" would
// hide a service that has since failed. Containers without a healthcheck
// report "".
func (c *Client) FreshHealth(ctx context.Context, name string, now time.Time) (string, error) {
	data, err := containers.Inspect(c.ctx(ctx), name, nil)
	if err != nil {
		return "", fmt.Errorf("inspect %s: %w", name, mapErr(err))
	}
	if data.Config == nil || data.Config.Healthcheck == nil || len(data.Config.Healthcheck.Test) == 0 ||
		data.Config.Healthcheck.Test[0] == "NONE" || data.State == nil || data.State.Health == nil {
		return "", nil
	}
	if !data.State.Running {
		return data.State.Health.Status, nil
	}
	interval := data.Config.Healthcheck.Interval
	if interval <= 0 {
		interval = stack.DefaultHealthInterval
	}
	if log := data.State.Health.Log; len(log) > 0 {
		if end, err := time.Parse(time.RFC3339Nano, log[len(log)-1].End); err == nil && now.Sub(end) < interval {
			return data.State.Health.Status, nil
		}
	}
	return c.RunHealthCheck(ctx, name)
}

// Running reports whether the container is running (or being restarted by
// its restart policy).
func (c *Client) Running(ctx context.Context, name string) (bool, error) {
	data, err := containers.Inspect(c.ctx(ctx), name, nil)
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", name, mapErr(err))
	}
	return data.State != nil && (data.State.Running || data.State.Restarting), nil
}

// WaitExit blocks until the container exits and returns its exit code.
func (c *Client) WaitExit(ctx context.Context, name string) (int, error) {
	code, err := containers.Wait(c.ctx(ctx), name, nil)
	if err != nil {
		return -1, fmt.Errorf("wait for %s: %w", name, mapErr(err))
	}
	return int(code), nil
}

// StopContainer stops one container (per-container stop honours the timeout;
// pods.Stop does not on Podman 4.x and 5.x).
func (c *Client) StopContainer(ctx context.Context, name string, timeout time.Duration) error {
	t := uint(timeout.Seconds())
	if err := containers.Stop(c.ctx(ctx), name, &containers.StopOptions{Timeout: &t}); err != nil {
		if err = mapErr(err); errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("stop container %s: %w", name, err)
	}
	return nil
}

// RemoveContainer removes a container, running or not (and with volumes its
// anonymous volumes); a missing one is fine.
func (c *Client) RemoveContainer(ctx context.Context, name string, volumes bool) error {
	force := true
	reports, err := containers.Remove(c.ctx(ctx), name, &containers.RemoveOptions{Force: &force, Volumes: &volumes})
	if err == nil {
		for _, r := range reports {
			if r.Err != nil {
				err = r.Err
			}
		}
	}
	if err != nil {
		if err = mapErr(err); errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	return nil
}

// RemovePod removes a pod and what is left in it; a missing one is fine.
func (c *Client) RemovePod(ctx context.Context, name string) error {
	force := true
	if _, err := pods.Remove(c.ctx(ctx), name, &pods.RemoveOptions{Force: &force}); err != nil {
		if err = mapErr(err); errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("remove pod %s: %w", name, err)
	}
	return nil
}

// RemoveVolume removes a named volume; a missing one is fine.
func (c *Client) RemoveVolume(ctx context.Context, name string) error {
	force := true
	if err := volumes.Remove(c.ctx(ctx), name, &volumes.RemoveOptions{Force: &force}); err != nil {
		if err = mapErr(err); errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// RemoveNetwork removes a network; a missing one is fine.
func (c *Client) RemoveNetwork(ctx context.Context, name string) error {
	if _, err := network.Remove(c.ctx(ctx), name, nil); err != nil {
		if err = mapErr(err); errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("remove network %s: %w", name, err)
	}
	return nil
}

// Logs writes the last tail lines of the container's output to w.
func (c *Client) Logs(ctx context.Context, name string, tail int, w io.Writer) error {
	return c.readLogs(ctx, name, LogOptions{}, "", tail, func(l LogLine) {
		io.WriteString(w, l.Text+"\n")
	})
}
