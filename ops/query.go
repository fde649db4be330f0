package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// Container is one of the project's containers as `ps` shows it. Its JSON
// form is `ps --format json`'s record, with docker compose's keys (ID,
// Name, Project, Service, State, Health, ExitCode, Publishers), so scripts
// written for `docker compose ps --format json` read it; its fields and
// methods are what a --format template sees.
type Container struct {
	ID      string
	Name    string
	Project string
	Service string
	Pod     string
	Image   string
	// State is the engine's: created, running, paused, exited, ...
	State string
	// Health is the healthcheck's status while the container runs
	// (starting, healthy, unhealthy); "" when it has no check or does not
	// run, since an exited container's last status is no health.
	Health   string
	ExitCode int
	// Publishers are its ports, published on the host or not.
	Publishers []Publisher
}

// Publisher is one container port as docker compose's `ps` reports it:
// PublishedPort 0 is a port not published on the host.
type Publisher struct {
	URL           string
	TargetPort    uint16
	PublishedPort uint16
	Protocol      string
}

// Status is the state as the table shows it: "exited (1)" with the exit
// code, else the state.
func (c Container) Status() string {
	if c.State == "exited" {
		return fmt.Sprintf("exited (%d)", c.ExitCode)
	}
	return c.State
}

// Ports renders the ports as docker does: 0.0.0.0:8080->80/tcp, 80/tcp.
func (c Container) Ports() string {
	ports := make([]stack.Port, 0, len(c.Publishers))
	for _, pb := range c.Publishers {
		ports = append(ports, stack.Port{Target: pb.TargetPort, Published: pb.PublishedPort, HostIP: pb.URL, Protocol: pb.Protocol})
	}
	return FormatPorts(ports)
}

// PsStatuses are the states `ps --status` filters on, as docker compose
// names them.
var PsStatuses = []string{"paused", "restarting", "removing", "running", "dead", "created", "exited"}

// psStatusOf maps Podman's states onto compose's.
var psStatusOf = map[string]string{"stopped": "exited", "configured": "created", "initialized": "created", "stopping": "running"}

// PsOptions tune Ps.
type PsOptions struct {
	// Services limits the list; empty means all.
	Services []string
	// All lists stopped and exited containers too.
	All bool
	// Status keeps only containers in one of these states (PsStatuses),
	// whatever All says; empty keeps all.
	Status []string
	// HideOrphans leaves out containers of services the stack does not
	// declare (compose's --orphans=false); without a stack file, none is
	// known to be one.
	HideOrphans bool
}

// Ps lists the project's containers with pod, state, health, ports and
// image, in name order. Health is current: where a running container's
// last healthcheck is older than its interval (nothing runs checks on a
// machine without systemd), the check runs once first.
func (p *Project) Ps(ctx context.Context, o PsOptions) ([]Container, error) {
	for _, st := range o.Status {
		if !slices.Contains(PsStatuses, st) {
			return nil, stack.Problems{{Message: fmt.Sprintf("unknown status %q", st), Fix: "use one of " + strings.Join(PsStatuses, ", ")}}
		}
	}
	observed, err := p.Engine.Observe(ctx, p.Name, nil)
	if err != nil {
		return nil, err
	}
	p.refreshHealth(ctx, observed)
	var rows []Container
	for _, c := range match(observed, o.Services, nil) {
		status := c.State
		if s, ok := psStatusOf[status]; ok {
			status = s
		}
		switch {
		case len(o.Status) > 0:
			if !slices.Contains(o.Status, status) {
				continue
			}
		case !o.All && c.State != "running" && c.State != "paused":
			continue
		}
		if o.HideOrphans && p.Stack != nil && p.Stack.Services[c.Labels[planner.LabelService]] == nil {
			continue
		}
		row := Container{
			ID: c.ID, Name: c.Name, Project: p.Name, Service: c.Labels[planner.LabelService], Pod: c.Labels[planner.LabelPod],
			Image: c.Image, State: c.State, ExitCode: c.ExitCode, Publishers: []Publisher{},
		}
		if c.State == "running" {
			row.Health = c.Health
		}
		for _, pt := range c.Ports {
			pb := Publisher{TargetPort: pt.Target, PublishedPort: pt.Published, Protocol: pt.Protocol}
			if pt.Published != 0 {
				pb.URL = pt.HostIP
				if pb.URL == "" {
					pb.URL = "0.0.0.0"
				}
			}
			row.Publishers = append(row.Publishers, pb)
		}
		rows = append(rows, row)
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
	Pod string
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

// LsOptions tune Ls.
type LsOptions struct {
	// All lists projects with nothing running too.
	All bool
	// Filter keeps the projects that match every NAME=VALUE here; the one
	// filter is docker compose's name=TEXT (the name contains TEXT).
	Filter []string
}

// Ls lists the projects on the engine's service: as docker compose ls,
// those with a running (or paused) container, or with All every one.
func Ls(ctx context.Context, e Engine, o LsOptions) ([]ProjectSummary, error) {
	var names []string
	for _, f := range o.Filter {
		key, value, ok := strings.Cut(f, "=")
		if !ok || key != "name" {
			return nil, stack.Problems{{Message: fmt.Sprintf("unknown filter %q", f), Fix: "the one filter is name=TEXT, as in docker compose ls"}}
		}
		names = append(names, value)
	}
	all, err := e.Projects(ctx)
	if err != nil {
		return nil, err
	}
	var out []ProjectSummary
	for _, p := range all {
		if !o.All && p.Count("running")+p.Count("paused") == 0 {
			continue
		}
		keep := true
		for _, n := range names {
			keep = keep && strings.Contains(p.Name, n)
		}
		if keep {
			out = append(out, p)
		}
	}
	return out, nil
}
