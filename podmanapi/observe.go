package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/containers/podman/v5/pkg/bindings/pods"
	"github.com/containers/podman/v5/pkg/bindings/volumes"
	"github.com/containers/podman/v5/pkg/inspect"
	"golang.org/x/sync/errgroup"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// Observe snapshots everything labelled with the project, and which of
// images exist locally. Four list calls and one existence check per image,
// all concurrent: a no-op `up` costs little more than this.
func (c *Client) Observe(ctx context.Context, project string, imageRefs []string) (*planner.ObservedState, error) {
	filter := map[string][]string{"label": {planner.LabelProject + "=" + project}}
	out := &planner.ObservedState{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		all := true
		list, err := containers.List(c.ctx(gctx), &containers.ListOptions{All: &all, Filters: filter})
		if err != nil {
			return fmt.Errorf("list containers: %w", mapErr(err))
		}
		for _, ct := range list {
			if ct.IsInfra {
				// A pod's infra container carries the pod's labels, but it
				// is the pod's: it goes with the pod, never on its own.
				continue
			}
			name := ""
			if len(ct.Names) > 0 {
				name = ct.Names[0]
			}
			health := ""
			switch ct.Status {
			case "healthy", "unhealthy", "starting":
				health = ct.Status
			}
			oc := planner.ObservedContainer{ID: ct.ID, Name: name, Pod: ct.PodName, Image: ct.Image, State: ct.State,
				Health: health, ExitCode: int(ct.ExitCode), Labels: ct.Labels}
			if ct.StartedAt > 0 {
				oc.StartedAt = time.Unix(ct.StartedAt, 0)
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
	g.Go(func() error {
		list, err := pods.List(c.ctx(gctx), &pods.ListOptions{Filters: filter})
		if err != nil {
			return fmt.Errorf("list pods: %w", mapErr(err))
		}
		for _, p := range list {
			mu.Lock()
			out.Pods = append(out.Pods, planner.ObservedPod{ID: p.Id, Name: p.Name, State: p.Status, Labels: p.Labels})
			mu.Unlock()
		}
		return nil
	})
	g.Go(func() error {
		list, err := volumes.List(c.ctx(gctx), &volumes.ListOptions{Filters: filter})
		if err != nil {
			return fmt.Errorf("list volumes: %w", mapErr(err))
		}
		for _, v := range list {
			mu.Lock()
			out.Volumes = append(out.Volumes, planner.ObservedVolume{Name: v.Name, Labels: v.Labels})
			mu.Unlock()
		}
		return nil
	})
	g.Go(func() error {
		list, err := network.List(c.ctx(gctx), &network.ListOptions{Filters: filter})
		if err != nil {
			return fmt.Errorf("list networks: %w", mapErr(err))
		}
		for _, n := range list {
			mu.Lock()
			out.Networks = append(out.Networks, planner.ObservedNetwork{Name: n.Name, Labels: n.Labels})
			mu.Unlock()
		}
		return nil
	})
	for _, ref := range dedupe(imageRefs) {
		g.Go(func() error {
			// One inspect tells whether the image is here and its
			// HEALTHCHECK (for healthchecks that keep the image's test).
			img, err := images.GetImage(c.ctx(gctx), ref, nil)
			if err != nil {
				if err = mapErr(err); errors.Is(err, ErrNotFound) {
					return nil
				}
				return fmt.Errorf("check image %s: %w", ref, err)
			}
			mu.Lock()
			out.Images = append(out.Images, ref)
			if test := imageHealthTest(img.ImageData); len(test) > 0 {
				if out.ImageHealth == nil {
					out.ImageHealth = map[string][]string{}
				}
				out.ImageHealth[ref] = test
			}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.Slice(out.Containers, func(i, j int) bool { return out.Containers[i].Name < out.Containers[j].Name })
	sort.Slice(out.Pods, func(i, j int) bool { return out.Pods[i].Name < out.Pods[j].Name })
	sort.Slice(out.Volumes, func(i, j int) bool { return out.Volumes[i].Name < out.Volumes[j].Name })
	sort.Slice(out.Networks, func(i, j int) bool { return out.Networks[i].Name < out.Networks[j].Name })
	sort.Strings(out.Images)
	return out, nil
}

// imageHealthTest is the image's HEALTHCHECK test; nil for none.
func imageHealthTest(img *inspect.ImageData) []string {
	if img == nil || img.HealthCheck == nil || len(img.HealthCheck.Test) == 0 || img.HealthCheck.Test[0] == "NONE" {
		return nil
	}
	return img.HealthCheck.Test
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

// ProjectSummary is one stack found on the service, for `stack ls`.
type ProjectSummary struct {
	Name        string `json:"name"`
	Environment string `json:"environment,omitempty"`
	Containers  int    `json:"containers"`
	// Status counts containers by state: "running(3), exited(1)".
	Status string `json:"status"`
}

// Projects lists every project that has containers on the service.
func (c *Client) Projects(ctx context.Context) ([]ProjectSummary, error) {
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
	var out []ProjectSummary
	for _, name := range sortedKeys(byName) {
		a := byName[name]
		var parts []string
		for _, st := range sortedKeys(a.states) {
			parts = append(parts, fmt.Sprintf("%s(%d)", st, a.states[st]))
		}
		out = append(out, ProjectSummary{Name: name, Environment: a.env, Containers: a.n, Status: strings.Join(parts, ", ")})
	}
	return out, nil
}
