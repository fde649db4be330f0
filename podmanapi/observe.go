package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/containers/podman/v5/pkg/bindings/pods"
	"github.com/containers/podman/v5/pkg/bindings/secrets"
	"github.com/containers/podman/v5/pkg/bindings/volumes"
	entitiesTypes "github.com/containers/podman/v5/pkg/domain/entities/types"
	"github.com/containers/podman/v5/pkg/inspect"
	"golang.org/x/sync/errgroup"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// Observe snapshots everything labelled with the project, and what look
// names: which images exist locally, and volumes, networks and secrets of
// those names whoever made them (the planner tells ours from foreign ones by
// their labels). A handful of list calls and one inspect per image (its ID
// and build digest, not its size), all concurrent: a no-op `up` costs little more than this.
//
// With look.Pods the project's pods come from its container listing where
// they can (planner.PodExpectation.FromContainers), and are listed after
// it where they cannot: Podman works out each pod's state from its
// containers, so listing the pods costs it about as much again as listing
// the containers.
func (c *Client) Observe(ctx context.Context, project string, look *planner.Lookup) (*planner.ObservedState, error) {
	if look == nil {
		look = &planner.Lookup{}
	}
	filter := map[string][]string{"label": {planner.LabelProject + "=" + project}}
	out := &planner.ObservedState{}
	var listed []planner.ListedContainer // with look.Pods: every container listed, infra ones too
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		// External: also containers that exist only in storage, which a
		// Podman service that died mid-create leaves behind, holding the
		// name. Podman applies no filter to those: keep the ones named like
		// the project's containers; the planner matches exact names.
		list, err := c.listProject(gctx, project, filter, look.Containers)
		if err != nil {
			return fmt.Errorf("list containers: %w", mapErr(err))
		}
		for _, ct := range list {
			name := ""
			if len(ct.Names) > 0 {
				name = ct.Names[0]
			}
			if look.Pods != nil {
				listed = append(listed, listedOf(ct))
			}
			if ct.IsInfra {
				// A pod's infra container carries the pod's labels, but it
				// is the pod's: it goes with the pod, never on its own.
				continue
			}
			if ct.State == planner.StateStorage && !strings.HasPrefix(name, project+"-") {
				continue
			}
			health := ""
			switch ct.Status {
			case "healthy", "unhealthy", "starting":
				health = ct.Status
			}
			oc := planner.ObservedContainer{ID: ct.ID, Name: name, Pod: ct.PodName, Image: ct.Image, ImageID: ct.ImageID, State: ct.State,
				Health: health, ExitCode: int(ct.ExitCode), Labels: ct.Labels}
			if ct.StartedAt > 0 {
				oc.StartedAt = time.Unix(ct.StartedAt, 0)
			}
			if ct.ExitedAt > 0 { // whole seconds; a container that never exited has year 1's
				oc.FinishedAt = time.Unix(ct.ExitedAt, 0)
			}
			for _, p := range ct.Ports {
				oc.Ports = append(oc.Ports, stack.Port{Target: p.ContainerPort, Published: p.HostPort, HostIP: p.HostIP, Protocol: p.Protocol})
			}
			mu.Lock()
			out.Containers = append(out.Containers, oc)
			mu.Unlock()
		}
		return nil
	})
	if look.Pods == nil {
		g.Go(func() error {
			list, err := c.listPods(gctx, filter)
			mu.Lock()
			out.Pods = list
			mu.Unlock()
			return err
		})
	}
	volumeFilters := []map[string][]string{filter}
	if len(look.Volumes) > 0 {
		volumeFilters = append(volumeFilters, map[string][]string{"name": look.Volumes})
	}
	for _, f := range volumeFilters {
		g.Go(func() error {
			list, err := volumes.List(c.ctx(gctx), &volumes.ListOptions{Filters: f})
			if err != nil {
				return fmt.Errorf("list volumes: %w", mapErr(err))
			}
			for _, v := range list {
				if f["name"] != nil && !slices.Contains(look.Volumes, v.Name) {
					continue // the name filter may match more than the exact name
				}
				mu.Lock()
				out.Volumes = append(out.Volumes, planner.ObservedVolume{Name: v.Name, Labels: v.Labels})
				mu.Unlock()
			}
			return nil
		})
	}
	networkFilters := []map[string][]string{filter}
	if len(look.Networks) > 0 {
		networkFilters = append(networkFilters, map[string][]string{"name": look.Networks})
	}
	for _, f := range networkFilters {
		g.Go(func() error {
			list, err := network.List(c.ctx(gctx), &network.ListOptions{Filters: f})
			if err != nil {
				return fmt.Errorf("list networks: %w", mapErr(err))
			}
			for _, n := range list {
				if f["name"] != nil && !slices.Contains(look.Networks, n.Name) {
					continue // Podman's network name filter is a pattern
				}
				mu.Lock()
				out.Networks = append(out.Networks, planner.ObservedNetwork{Name: n.Name, Labels: n.Labels})
				mu.Unlock()
			}
			return nil
		})
	}
	g.Go(func() error {
		found, err := c.observeSecrets(gctx, project, look.Secrets)
		if err != nil {
			return err
		}
		mu.Lock()
		out.Secrets = found
		mu.Unlock()
		return nil
	})
	for _, ref := range dedupe(look.Images) {
		g.Go(func() error {
			img, err := c.observeImage(gctx, ref)
			if err != nil || img == nil {
				return err
			}
			mu.Lock()
			out.Images = append(out.Images, ref)
			if out.ImageIDs == nil {
				out.ImageIDs = map[string]string{}
			}
			out.ImageIDs[ref] = img.ID
			if img.Digest != "" && slices.Contains(look.Builds, ref) {
				if out.BuildDigests == nil {
					out.BuildDigests = map[string]string{}
				}
				out.BuildDigests[ref] = img.Digest
			}
			if len(img.Health) > 0 {
				if out.ImageHealth == nil {
					out.ImageHealth = map[string][]string{}
				}
				out.ImageHealth[ref] = img.Health
			}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if look.Pods != nil {
		var derived bool
		if out.Pods, derived = look.Pods.FromContainers(project, listed); !derived {
			var err error
			if out.Pods, err = c.listPods(ctx, filter); err != nil {
				return nil, err
			}
		}
	}
	if c.local() {
		for _, d := range look.Directories {
			if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
				out.MissingDirectories = append(out.MissingDirectories, d)
			}
		}
	}
	out.Volumes = dedupeBy(out.Volumes, func(v planner.ObservedVolume) string { return v.Name })
	out.Networks = dedupeBy(out.Networks, func(n planner.ObservedNetwork) string { return n.Name })
	sort.Slice(out.Containers, func(i, j int) bool { return out.Containers[i].Name < out.Containers[j].Name })
	sort.Slice(out.Pods, func(i, j int) bool { return out.Pods[i].Name < out.Pods[j].Name })
	sort.Slice(out.Volumes, func(i, j int) bool { return out.Volumes[i].Name < out.Volumes[j].Name })
	sort.Slice(out.Networks, func(i, j int) bool { return out.Networks[i].Name < out.Networks[j].Name })
	sort.Slice(out.Secrets, func(i, j int) bool { return out.Secrets[i].Name < out.Secrets[j].Name })
	sort.Strings(out.Images)
	return out, nil
}

// listedOf is ct as planner.PodExpectation.FromContainers reads it.
func listedOf(ct entitiesTypes.ListContainer) planner.ListedContainer {
	l := planner.ListedContainer{Pod: ct.PodName, PodID: ct.Pod, Infra: ct.IsInfra, State: ct.State, Labels: ct.Labels}
	if len(ct.Names) > 0 {
		l.Name = ct.Names[0]
	}
	return l
}

// listPods lists the pods filters finds.
func (c *Client) listPods(ctx context.Context, filters map[string][]string) ([]planner.ObservedPod, error) {
	list, err := pods.List(c.ctx(ctx), &pods.ListOptions{Filters: filters})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", mapErr(err))
	}
	out := make([]planner.ObservedPod, 0, len(list))
	for _, p := range list {
		out = append(out, planner.ObservedPod{ID: p.Id, Name: p.Name, State: p.Status, Labels: p.Labels})
	}
	return out, nil
}

// listProject lists the project's containers (filter) and, unless every
// name in wanted is held by one of them, those only in storage. Listing
// those (external) makes the service read every container in storage,
// the machine's other projects' too (for a small project on a shared
// machine, two to three times a plain listing), and a leftover can only
// matter where a wanted name is not held already: a no-op `up` lists
// once, plainly.
func (c *Client) listProject(ctx context.Context, project string, filter map[string][]string, wanted []string) ([]entitiesTypes.ListContainer, error) {
	pre := c.takePrefetch(project)
	if wanted != nil {
		var list []entitiesTypes.ListContainer
		var err error
		if pre != nil {
			list, err = pre.wait(ctx)
		} else {
			list, err = c.listPlain(ctx, filter)
		}
		if err != nil {
			return nil, err
		}
		held := make(map[string]bool, len(list))
		for _, ct := range list {
			if len(ct.Names) > 0 {
				held[ct.Names[0]] = true
			}
		}
		if !slices.ContainsFunc(wanted, func(name string) bool { return !held[name] }) {
			return list, nil
		}
	}
	return c.listExternal(ctx, filter)
}

// listPlain lists the containers filter finds, stopped ones too.
func (c *Client) listPlain(ctx context.Context, filter map[string][]string) ([]entitiesTypes.ListContainer, error) {
	all := true
	return containers.List(c.ctx(ctx), &containers.ListOptions{All: &all, Filters: filter})
}

// prefetch is a listing of a project's containers started ahead of the
// Observe that would make it.
type prefetch struct {
	project string
	done    chan struct{}
	list    []entitiesTypes.ListContainer
	err     error
}

// wait is the prefetched listing once it is in.
func (p *prefetch) wait(ctx context.Context) ([]entitiesTypes.ListContainer, error) {
	select {
	case <-p.done:
		return p.list, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// PrefetchContainers starts the listing of project's containers that the
// next Observe of project begins with, so that it runs while the caller
// does other work: `up` loads its stack meanwhile, and on a no-op that
// listing is most of its wait. The caller must already hold the project's
// lock and hold it until that Observe: the listing is part of the
// observation, so no other run may change the project between the two.
// Only the next Observe of project takes it; DropPrefetch forgets one not
// taken (call it when the lock is released).
func (c *Client) PrefetchContainers(ctx context.Context, project string) {
	p := &prefetch{project: project, done: make(chan struct{})}
	filter := map[string][]string{"label": {planner.LabelProject + "=" + project}}
	go func() {
		defer close(p.done)
		p.list, p.err = c.listPlain(ctx, filter)
	}()
	c.preMu.Lock()
	c.pre = p
	c.preMu.Unlock()
}

// DropPrefetch forgets a prefetched listing no Observe took.
func (c *Client) DropPrefetch() {
	c.preMu.Lock()
	c.pre = nil
	c.preMu.Unlock()
}

// takePrefetch hands the prefetched listing of project to the Observe
// that asks first; any Observe drops one of another project.
func (c *Client) takePrefetch(project string) *prefetch {
	c.preMu.Lock()
	defer c.preMu.Unlock()
	p := c.pre
	c.pre = nil
	if p == nil || p.project != project {
		return nil
	}
	return p
}

// imageHealthTest is the image's HEALTHCHECK test; nil for none.
func imageHealthTest(img *inspect.ImageData) []string {
	if img == nil || img.HealthCheck == nil || len(img.HealthCheck.Test) == 0 || img.HealthCheck.Test[0] == "NONE" {
		return nil
	}
	return img.HealthCheck.Test
}

// observeSecrets returns the project's secrets and those named in wanted.
// Podman 4.3 can neither filter secrets by label nor list their labels, so
// the labels of the candidates (a wanted name, or the project's default
// <project>_ prefix) are read one inspect each.
func (c *Client) observeSecrets(ctx context.Context, project string, wanted []string) ([]planner.ObservedSecret, error) {
	list, err := secrets.List(c.ctx(ctx), nil)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", mapErr(err))
	}
	var out []planner.ObservedSecret
	for _, r := range list {
		if r == nil {
			continue
		}
		name := r.Spec.Name
		candidate := slices.Contains(wanted, name) || strings.HasPrefix(name, project+"_")
		labels := r.Spec.Labels
		if labels == nil && candidate {
			info, err := secrets.Inspect(c.ctx(ctx), name, nil)
			if err != nil {
				if errors.Is(mapErr(err), ErrNotFound) {
					continue // removed since the list
				}
				return nil, fmt.Errorf("inspect secret %s: %w", name, mapErr(err))
			}
			labels = info.Spec.Labels
		}
		if candidate || labels[planner.LabelProject] == project {
			out = append(out, planner.ObservedSecret{ID: r.ID, Name: name, Labels: labels})
		}
	}
	return out, nil
}

// dedupeBy keeps the first of each key, in order.
func dedupeBy[T any](in []T, key func(T) string) []T {
	seen := map[string]bool{}
	var out []T
	for _, v := range in {
		if k := key(v); !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Projects lists every project that has containers on the service.
func (c *Client) Projects(ctx context.Context) ([]ops.ProjectSummary, error) {
	all := true
	list, err := containers.List(c.ctx(ctx), &containers.ListOptions{All: &all,
		Filters: map[string][]string{"label": {planner.LabelProject}}})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", mapErr(err))
	}
	type acc struct {
		env    string
		n      int
		states map[string]int
	}
	byName := map[string]*acc{}
	for _, ct := range list {
		if ct.IsInfra {
			continue // counted with its pod, not as a service container
		}
		name := ct.Labels[planner.LabelProject]
		a := byName[name]
		if a == nil {
			a = &acc{states: map[string]int{}}
			byName[name] = a
		}
		if e := ct.Labels[planner.LabelEnvironment]; e != "" {
			a.env = e
		}
		a.n++
		a.states[ct.State]++
	}
	var out []ops.ProjectSummary
	for _, name := range sortedKeys(byName) {
		a := byName[name]
		var parts []string
		for _, st := range sortedKeys(a.states) {
			parts = append(parts, fmt.Sprintf("%s(%d)", st, a.states[st]))
		}
		out = append(out, ops.ProjectSummary{Name: name, Environment: a.env, Containers: a.n, Status: strings.Join(parts, ", ")})
	}
	return out, nil
}
