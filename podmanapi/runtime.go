package podmanapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/containers/podman/v5/pkg/bindings/pods"
	"github.com/containers/podman/v5/pkg/bindings/secrets"
	"github.com/containers/podman/v5/pkg/bindings/volumes"
	entitiesTypes "github.com/containers/podman/v5/pkg/domain/entities/types"
	"github.com/containers/podman/v5/pkg/errorhandling"
	"go.podman.io/image/v5/manifest"

	"github.com/podstack/podstack/ops"
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
	// ErrUnsupported is an operation this Podman service cannot carry out
	// (see Capabilities): a limit of its version or mode, not a failure.
	ErrUnsupported = errors.New("not supported by this Podman service")
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
		case strings.Contains(because, "already in use"), strings.Contains(because, "already exists"),
			strings.Contains(because, "name in use"): // secrets: "secret name in use"
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

var (
	_ planner.Backend = (*Client)(nil)
	_ ops.Engine      = (*Client)(nil)
)

// CreateNetwork creates a DNS-enabled network (aliases resolve through it).
// An existing network of that name is accepted when it is the project's
// (a create that landed late) and refused otherwise (planner.ClaimName).
func (c *Client) CreateNetwork(ctx context.Context, n *stack.Network, labels map[string]string) error {
	nw, err := networkSpec(n, labels)
	if err != nil {
		return err
	}
	if err := c.createClaiming(ctx, "network", n.Name, labels, func() error {
		err := retryInterfaceRace(ctx, func() error {
			_, err := network.Create(c.ctx(ctx), nw)
			return err
		})
		return mapErr(err)
	}); err != nil {
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

// CreateVolume creates a named volume; an existing one is accepted when it
// is the project's and refused otherwise, as for networks.
func (c *Client) CreateVolume(ctx context.Context, v *stack.Volume, labels map[string]string) error {
	if err := c.createClaiming(ctx, "volume", v.Name, labels, func() error {
		_, err := volumes.Create(c.ctx(ctx), entitiesTypes.VolumeCreateOptions{Name: v.Name, Driver: v.Driver,
			Options: v.Options, Labels: mergeLabels(v.Labels, labels)}, nil)
		return mapErr(err)
	}); err != nil {
		return fmt.Errorf("create volume %s: %w", v.Name, err)
	}
	return nil
}

// CreatePod creates the pod (without an infra container when p.Infra is
// false). A pod already holding the name is settled by planner.ClaimName.
func (c *Client) CreatePod(ctx context.Context, p *planner.Pod, s *stack.Stack) error {
	psg := podSpec(p, s)
	err := c.createClaiming(ctx, "pod", p.Name, p.Labels, func() error {
		_, err := pods.CreatePodFromSpec(c.ctx(ctx), &entitiesTypes.PodSpec{PodSpecGen: *psg})
		return mapErr(err)
	})
	if err != nil {
		if !errors.Is(err, ErrExists) && !errors.Is(err, planner.ErrNameHeld) {
			// Podman 4.3 can leave the pod behind when it refuses its infra
			// container; the plan creates a pod only where none was, so
			// whatever has this name now is that half-made pod.
			_ = c.RemovePod(context.WithoutCancel(ctx), p.Name)
		}
		return fmt.Errorf("create pod %s: %w", p.Name, err)
	}
	return nil
}

// CreateContainer creates the container; the plan has created the Podman
// secrets it uses. A container already holding the name is settled by
// planner.ClaimName: adopted, replaced or refused.
func (c *Client) CreateContainer(ctx context.Context, ct *planner.Container, p *planner.Pod, s *stack.Stack) error {
	ref := planner.ImageRef(s, ct.Spec)
	g, err := containerSpec(ct, p, s, ref, planner.ServiceSecrets(s, ct.Spec), func(msg string) { c.warnOnce(ct.Service, msg) })
	if err != nil {
		return fmt.Errorf("create container %s: %w", ct.Name, err)
	}
	if h := ct.Spec.Health; h.InheritsTest() {
		// The stack gives timings only: run the image's test with them.
		// An image without one gets no healthcheck (the plan said so).
		g.HealthConfig = nil
		if img, err := c.observeImage(ctx, ref); err == nil && img != nil && len(img.Health) > 0 {
			g.HealthConfig = &manifest.Schema2HealthConfig{Test: img.Health, Interval: h.Interval, Timeout: h.Timeout,
				StartPeriod: h.StartPeriod, Retries: h.Retries}
		}
		if g.HealthConfig == nil {
			c.warnOnce(ct.Service, fmt.Sprintf("the healthcheck keeps the image's own test, but image %s has none: no healthcheck", ref))
		}
	}
	err = c.createClaiming(ctx, "container", ct.Name, ct.Labels, func() error {
		_, err := containers.CreateWithSpec(c.ctx(ctx), g, nil)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create container %s: %w", ct.Name, err)
	}
	return nil
}

// local reports whether the service runs on this machine (a unix socket):
// bind-mount sources are then paths here; on a remote service they are the
// remote host's business.
func (c *Client) local() bool {
	return strings.HasPrefix(c.url, "unix://")
}

// CreateDirectory creates a missing bind-mount source, as docker compose
// does, when the service runs on this machine.
func (c *Client) CreateDirectory(ctx context.Context, path string) error {
	if !c.local() {
		return nil
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("create bind mount source %s: %w", path, err)
	}
	return nil
}

// CreateSecret creates a Podman secret from the stack secret or config sec
// names, reading its content now (a file's, or the value the stack was
// loaded with). The plan removes a changed one first and refuses one it did
// not create; one met at create (a create that landed late) is settled by
// planner.ClaimName: the project's of the same content adopted, of other
// content replaced, anything else refused.
func (c *Client) CreateSecret(ctx context.Context, sec *planner.SecretSpec, s *stack.Stack, labels map[string]string) error {
	var data []byte
	var err error
	switch sec.Kind {
	case "secret":
		d := s.Secrets[sec.Key]
		if d == nil {
			return fmt.Errorf("create secret %s: the stack has no secret %q", sec.Name, sec.Key)
		}
		data, err = d.Data()
	case "config":
		d := s.Configs[sec.Key]
		if d == nil {
			return fmt.Errorf("create secret %s: the stack has no config %q", sec.Name, sec.Key)
		}
		data, err = d.Data()
	default:
		return fmt.Errorf("create secret %s: unknown kind %q", sec.Name, sec.Kind)
	}
	if err != nil {
		return fmt.Errorf("create secret %s: %w", sec.Name, err)
	}
	if err := c.createClaiming(ctx, "secret", sec.Name, labels, func() error {
		_, err := secrets.Create(c.ctx(ctx), bytes.NewReader(data), new(secrets.CreateOptions).WithName(sec.Name).WithLabels(labels))
		return mapErr(err)
	}); err != nil {
		return fmt.Errorf("create secret %s: %w", sec.Name, err)
	}
	return nil
}

// RemoveSecret removes a Podman secret; a missing one is fine.
func (c *Client) RemoveSecret(ctx context.Context, name string) error {
	if err := secrets.Remove(c.ctx(ctx), name); err != nil {
		if err = mapErr(err); errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("remove secret %s: %w", name, err)
	}
	return nil
}

// StartContainer starts a container. When the first start in a pod fails,
// Podman only says "internal libpod error"; the pod's start report has the
// real cause (a port in use, say), so it is asked for.
func (c *Client) StartContainer(ctx context.Context, name string) error {
	err := retryPodInfraRace(ctx, func() error { return containers.Start(c.ctx(ctx), name, nil) })
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
		// Podman 4.x answers a probe that outlives its timeout with HTTP
		// 500, having counted it as one failed try: the aggregated status
		// below says whether retries are used up.
		if !probeTimedOut(err) {
			return "", fmt.Errorf("healthcheck %s: %w", name, err)
		}
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

// probeTimedOut reports whether err is Podman's answer to a probe that ran
// past its timeout ("healthcheck command exceeded timeout of 1s").
func probeTimedOut(err error) bool {
	return strings.Contains(err.Error(), "exceeded timeout")
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

// WaitExit blocks until the container exits and returns its exit code.
func (c *Client) WaitExit(ctx context.Context, name string) (int, error) {
	code, err := containers.Wait(c.ctx(ctx), name, nil)
	if err != nil {
		return -1, fmt.Errorf("wait for %s: %w", name, mapErr(err))
	}
	return int(code), nil
}

// paused reports whether the container is paused.
func (c *Client) paused(ctx context.Context, name string) bool {
	data, err := containers.Inspect(c.ctx(ctx), name, nil)
	return err == nil && data.State != nil && data.State.Paused
}

// StopContainer stops one container (per-container stop honours the timeout;
// pods.Stop does not on Podman 4.x and 5.x).
func (c *Client) StopContainer(ctx context.Context, name string, timeout time.Duration) error {
	t := uint(timeout.Seconds())
	for deadline := time.Now().Add(restartGrace); ; {
		asked := time.Now()
		if err := containers.Stop(c.ctx(ctx), name, &containers.StopOptions{Timeout: &t}); err != nil {
			if err = mapErr(err); errors.Is(err, ErrNotFound) {
				return nil
			}
			// Podman refuses to stop a paused container ("running or
			// paused, refusing to clean up"); docker stops it. Thaw it,
			// then stop it as any other.
			if errors.Is(err, ErrNotRunning) && c.paused(ctx, name) {
				if uerr := c.Unpause(ctx, name); uerr == nil {
					continue
				}
			}
			if c.stoppedDespite(ctx, name, err) {
				return nil
			}
			return fmt.Errorf("stop container %s: %w", name, err)
		}
		// A container caught between two runs of its restart policy was
		// not running, so the stop did not count: its policy starts it
		// again moments later. Then it is stopped once it is back.
		if time.Now().After(deadline) || !c.restartsAfterStop(ctx, name, asked) {
			return nil
		}
	}
}

// networkTeardownFailed says err is Podman failing to tear down a
// container's network after its process ended: Podman 5 says "removing
// container ID network: ...", Podman 4 "tearing down network namespace
// configuration for container ID: ...".
func networkTeardownFailed(err error) bool {
	s := err.Error()
	return strings.Contains(s, "tearing down network namespace configuration") ||
		(strings.Contains(s, "removing container ") && strings.Contains(s, " network: "))
}

// stoppedDespite says a stop that failed with err did stop the container:
// only Podman's network teardown after it failed. netavark 1.4 does so
// at random when another project's last container goes at the same time:
// aardvark-dns exits under it and teardown says "aardvark pid not found"
// (containers/podman#18325). The container is stopped, which is what was
// asked; failing here would leave down half-done. What Podman said is
// passed on as a warning, and the next container to start on a DNS
// network starts aardvark-dns again.
func (c *Client) stoppedDespite(ctx context.Context, name string, err error) bool {
	if !networkTeardownFailed(err) {
		return false
	}
	data, ierr := containers.Inspect(c.ctx(ctx), name, nil)
	if ierr != nil || data.State == nil || data.State.Running || data.State.Paused {
		return false
	}
	service := ""
	if data.Config != nil {
		service = data.Config.Labels[planner.LabelService]
	}
	c.warnOnce(service, fmt.Sprintf("container %s stopped, but Podman could not tear down its network: %v", name, err))
	return true
}

// RemoveContainer removes a container, running or not (and with volumes its
// anonymous volumes); a missing one is fine.
func (c *Client) RemoveContainer(ctx context.Context, name string, volumes bool) error {
	force := true
	remove := func() error {
		rep, err := containers.Remove(c.ctx(ctx), name, &containers.RemoveOptions{Force: &force, Volumes: &volumes})
		if err == nil {
			for _, r := range rep {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		return err
	}
	err := retryBusy(ctx, remove)
	if err != nil && networkTeardownFailed(err) {
		// A running container's network teardown failed as the removal
		// stopped it (see stoppedDespite); Podman forgets the network all
		// the same, so asking again removes it.
		c.warnOnce("", fmt.Sprintf("Podman could not tear down the network of container %s: %v", name, err))
		err = retryBusy(ctx, remove)
	}
	if err != nil {
		if err = mapErr(err); errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	return nil
}

// retryBusy runs remove until it no longer meets a busy mount: a
// container an interrupted run left half-started (a pod's infra container
// too) can hold its shm mount busy for a moment after its process goes;
// Podman then answers "device or resource busy", and a little later
// removes it. It gives up after about five seconds.
func retryBusy(ctx context.Context, remove func() error) error {
	return retryWhile(ctx, "device or resource busy", busyRetries, busyWait, remove)
}

// retryWhile runs fn again, wait apart and up to tries more times, while
// it fails with an error that says transient; ctx ends the wait.
func retryWhile(ctx context.Context, transient string, tries int, wait time.Duration, fn func() error) error {
	for try := 0; ; try++ {
		err := fn()
		if err == nil || try >= tries || !strings.Contains(err.Error(), transient) {
			return err
		}
		if ctx.Err() != nil { // a wait of 0 must not race the cancel
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// retryInterfaceRace runs create until it no longer fails on a network
// interface that went while Podman read the host's interfaces to pick a
// free subnet (Go's net package, between its two netlink reads: "route
// ip+net: no such network interface"). Another project's container or
// network torn down at that moment does it; nothing was created, so
// trying again is safe. Seen on rootless 4.3.1 with projects coming and
// going side by side.
func retryInterfaceRace(ctx context.Context, create func() error) error {
	return retryWhile(ctx, "no such network interface", vanishedRetries, vanishedWait, create)
}

// retryPodInfraRace starts again a container whose start failed because
// its pod's infra container was not running at the moment it looked: two
// containers of one pod started at once both start the infra container,
// and rootless 4.3.1 lets one of them find it "stopped" in between
// ("cannot get namespace path unless container ... is running"; seen in
// CI, the first up of a pod of two). Nothing was started, so starting
// again is safe; an infra container that stays down still fails, after
// vanishedRetries tries.
func retryPodInfraRace(ctx context.Context, start func() error) error {
	return retryWhile(ctx, "cannot get namespace path unless container", vanishedRetries, vanishedWait, start)
}

// busyRetries and busyWait bound retryBusy's patience.
const (
	busyRetries = 10
	busyWait    = 500 * time.Millisecond
)

// RemovePod removes a pod and what is left in it; a missing one is fine.
func (c *Client) RemovePod(ctx context.Context, name string) error {
	force := true
	if err := retryBusy(ctx, func() error {
		_, err := pods.Remove(c.ctx(ctx), name, &pods.RemoveOptions{Force: &force})
		return err
	}); err != nil {
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
	return c.readLogs(ctx, name, ops.LogOptions{}, "", tail, func(l ops.LogLine) {
		io.WriteString(w, l.Text+"\n")
	})
}
