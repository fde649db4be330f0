package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// Container is one of the project's containers as `ps` shows it; its JSON
// form is `ps --format json`'s record and its fields are what a --format
// template sees.
type Container struct {
	Name    string `json:"name"`
	Service string `json:"service"`
	Pod     string `json:"pod"`
	State   string `json:"state"`
	Health  string `json:"health,omitempty"`
	Ports   string `json:"ports,omitempty"`
	Image   string `json:"image"`
	ID      string `json:"id"`
}

// PsOptions tune Ps.
type PsOptions struct {
	// Services limits the list; empty means all.
	Services []string
	// All lists stopped and exited containers too.
	All bool
}

// Ps lists the project's containers with pod, state, health, ports and
// image, in name order. Health is current: where a running container's
// last healthcheck is older than its interval (nothing runs checks on a
// machine without systemd), the check runs once first.
func (p *Project) Ps(ctx context.Context, o PsOptions) ([]Container, error) {
	observed, err := p.Engine.Observe(ctx, p.Name, nil)
	if err != nil {
		return nil, err
	}
	p.refreshHealth(ctx, observed)
	var rows []Container
	for _, c := range match(observed, o.Services, nil) {
		if !o.All && c.State != "running" && c.State != "paused" {
			continue
		}
		state := c.State
		if c.State == "exited" {
			state = fmt.Sprintf("exited (%d)", c.ExitCode)
		}
		rows = append(rows, Container{
			Name: c.Name, Service: c.Labels[planner.LabelService], Pod: c.Labels[planner.LabelPod], State: state,
			Health: c.Health, Ports: FormatPorts(c.Ports), Image: c.Image, ID: shortID(c.ID),
		})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows, nil
}

// refreshHealth brings stale health states up to date, four checks at a
// time. A check that cannot run leaves the observed state as it was.
func (p *Project) refreshHealth(ctx context.Context, o *planner.ObservedState) {
	var g errgroup.Group
	g.SetLimit(4)
	now := p.now()
	for i := range o.Containers {
		ct := &o.Containers[i]
		if ct.State != "running" || ct.Health == "" {
			continue
		}
		g.Go(func() error {
			if h, err := p.Engine.FreshHealth(ctx, ct.Name, now); err == nil && h != "" {
				ct.Health = h
			}
			return nil
		})
	}
	_ = g.Wait()
}

// FormatPorts renders published ports as docker does:
// 0.0.0.0:8080->80/tcp, and unpublished ones as 80/tcp.
func FormatPorts(ports []stack.Port) string {
	var out []string
	for _, pt := range ports {
		if pt.Published == 0 {
			out = append(out, fmt.Sprintf("%d/%s", pt.Target, pt.Protocol))
			continue
		}
		ip := pt.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		out = append(out, fmt.Sprintf("%s:%d->%d/%s", ip, pt.Published, pt.Target, pt.Protocol))
	}
	return strings.Join(out, ", ")
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Logs writes the services' output (all when none is named) through emit,
// multiplexed, one line at a time.
func (p *Project) Logs(ctx context.Context, services []string, o LogOptions, emit func(LogLine)) error {
	found, err := p.Containers(ctx, services)
	if err != nil {
		return err
	}
	err = p.Engine.StreamLogs(ctx, Names(found), o, emit)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// LogNames are the containers Logs would follow, for a caller that sizes
// its prefixes.
func (p *Project) LogNames(ctx context.Context, services []string) ([]string, error) {
	found, err := p.Containers(ctx, services)
	return Names(found), err
}

// PodStat is one container's resource use and its pod.
type PodStat struct {
	Stat
	Pod string `json:"pod"`
}

// Stats samples the resource use of the services' running containers once
// or, with stream, at every interval until ctx ends.
func (p *Project) Stats(ctx context.Context, services []string, stream bool, each func([]PodStat)) error {
	running, err := p.Containers(ctx, services, "running")
	if err != nil {
		return err
	}
	podOf := map[string]string{}
	for _, c := range running {
		podOf[c.Name] = c.Labels[planner.LabelPod]
	}
	return p.Engine.Stats(ctx, Names(running), stream, func(stats []Stat) {
		out := make([]PodStat, 0, len(stats))
		for _, s := range stats {
			out = append(out, PodStat{s, podOf[s.Name]})
		}
		each(out)
	})
}

// Processes are one container's processes, as Top returns them.
type Processes struct {
	Container string
	// Lines are ps output, the first line the header.
	Lines []string
}

// Top lists the processes of the services' running containers (all when
// none is named), going on past failures.
func (p *Project) Top(ctx context.Context, services []string) ([]Processes, error) {
	running, err := p.Containers(ctx, services, "running")
	if err != nil {
		return nil, err
	}
	var out []Processes
	var errs []error
	for _, n := range Names(running) {
		lines, err := p.Engine.Top(ctx, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Processes{n, lines})
	}
	return out, errors.Join(errs...)
}

// Port returns the host address ("0.0.0.0:8080") a service's container
// port is published on, for replica index.
func (p *Project) Port(ctx context.Context, service string, private int, protocol string, index int) (string, error) {
	o, err := p.Engine.Observe(ctx, p.Name, nil)
	if err != nil {
		return "", err
	}
	for _, c := range o.Containers {
		if c.Labels[planner.LabelService] != service || c.Labels[planner.LabelNumber] != strconv.Itoa(index) {
			continue
		}
		for _, pt := range c.Ports {
			if int(pt.Target) == private && pt.Protocol == protocol && pt.Published != 0 {
				ip := pt.HostIP
				if ip == "" {
					ip = "0.0.0.0"
				}
				return fmt.Sprintf("%s:%d", ip, pt.Published), nil
			}
		}
	}
	return "", fmt.Errorf("port %d/%s of service %q is not published", private, protocol, service)
}

// Events streams the engine's events of the project's containers and pods
// until ctx ends.
func (p *Project) Events(ctx context.Context, each func(Event)) error {
	err := p.Engine.Events(ctx, p.Name, each)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// Inspect returns the engine's inspect data of the named services'
// containers and of the named pods (by key or Podman name), going on past
// failures.
func (p *Project) Inspect(ctx context.Context, names []string) ([]json.RawMessage, error) {
	o, err := p.Engine.Observe(ctx, p.Name, nil)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	var errs []error
	for _, a := range names {
		found := false
		for _, ct := range o.Containers {
			if ct.Labels[planner.LabelService] == a {
				data, err := p.Engine.InspectContainer(ctx, ct.Name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out, found = append(out, data), true
			}
		}
		for _, pod := range o.Pods {
			if pod.Name == a || pod.Labels[planner.LabelPod] == a {
				data, err := p.Engine.InspectPod(ctx, pod.Name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out, found = append(out, data), true
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("no container or pod %q in project %q", a, p.Name))
		}
	}
	return out, errors.Join(errs...)
}

// Running returns the engine's own Kubernetes YAML of the project's pods:
// what actually runs.
func (p *Project) Running(ctx context.Context) ([]byte, error) {
	o, err := p.Engine.Observe(ctx, p.Name, nil)
	if err != nil {
		return nil, err
	}
	var pods []string
	for _, pod := range o.Pods {
		pods = append(pods, pod.Name)
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("project %q has no pods running", p.Name)
	}
	return p.Engine.GenerateKube(ctx, pods)
}

// Ls lists every project on the engine's service.
func Ls(ctx context.Context, e Engine) ([]ProjectSummary, error) {
	return e.Projects(ctx)
}
