package fakeengine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// Observe snapshots the project as podmanapi does: containers and pods
// labelled with it (never infra containers), storage-only leftovers named
// <project>-... (unless every container look names is the project's), volumes and networks labelled with it or named in look
// (whoever made them), secrets labelled with it, named in look or named
// <project>_..., the images of look that are present, and the bind-mount
// sources of look that are missing (none on a remote service). With
// look.Pods the pods are worked out from the containers where they can be,
// as podmanapi does, and listed (PodListings) where they cannot.
func (e *Engine) Observe(ctx context.Context, project string, look *planner.Lookup) (*planner.ObservedState, error) {
	if err := e.begin(ctx, "Observe", project); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	if look == nil {
		look = &planner.Lookup{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := &planner.ObservedState{}
	ours := func(l map[string]string) bool { return l[planner.LabelProject] == project }
	// Leftovers in storage are looked for unless every container look
	// names is held by one of the project's, as podmanapi does.
	leftovers := look.Containers == nil || slices.ContainsFunc(look.Containers, func(name string) bool {
		c, ok := e.containers[name]
		return !ok || c.Infra || c.State == planner.StateStorage || !ours(c.Labels)
	})
	for _, name := range sortedKeys(e.containers) {
		c := e.containers[name]
		if c.Infra {
			continue
		}
		if c.State == planner.StateStorage {
			if !leftovers || !strings.HasPrefix(name, project+"-") {
				continue
			}
		} else if !ours(c.Labels) {
			continue
		}
		oc := planner.ObservedContainer{ID: c.ID, Name: c.Name, Pod: c.Pod, Image: c.Image, ImageID: c.ImageID, State: c.State,
			ExitCode: c.ExitCode, Labels: maps.Clone(c.Labels), Ports: e.portsOfLocked(c)}
		switch c.Health {
		case "healthy", "unhealthy", "starting":
			oc.Health = c.Health
		}
		if !c.StartedAt.IsZero() {
			oc.StartedAt = time.Unix(c.StartedAt.Unix(), 0) // ps reports whole seconds
		}
		if !c.FinishedAt.IsZero() {
			oc.FinishedAt = time.Unix(c.FinishedAt.Unix(), 0) // so does its exit time
		}
		out.Containers = append(out.Containers, oc)
	}
	derived := false
	if look.Pods != nil {
		out.Pods, derived = look.Pods.FromContainers(project, e.listedLocked(project))
	}
	if !derived {
		e.podLists++
		out.Pods = nil
		for _, name := range sortedKeys(e.pods) {
			if p := e.pods[name]; ours(p.Labels) {
				out.Pods = append(out.Pods, planner.ObservedPod{ID: p.ID, Name: p.Name, State: e.podStateLocked(name), Labels: maps.Clone(p.Labels)})
			}
		}
	}
	for _, name := range sortedKeys(e.volumes) {
		if v := e.volumes[name]; ours(v.Labels) || slices.Contains(look.Volumes, name) {
			out.Volumes = append(out.Volumes, planner.ObservedVolume{Name: name, Labels: maps.Clone(v.Labels)})
		}
	}
	for _, name := range sortedKeys(e.networks) {
		if n := e.networks[name]; ours(n.Labels) || slices.Contains(look.Networks, name) {
			out.Networks = append(out.Networks, planner.ObservedNetwork{Name: name, Labels: maps.Clone(n.Labels)})
		}
	}
	for _, name := range sortedKeys(e.secrets) {
		s := e.secrets[name]
		if slices.Contains(look.Secrets, name) || strings.HasPrefix(name, project+"_") || ours(s.Labels) {
			out.Secrets = append(out.Secrets, planner.ObservedSecret{ID: s.ID, Name: name, Labels: maps.Clone(s.Labels)})
		}
	}
	seen := map[string]bool{}
	for _, ref := range look.Images {
		if img := e.imageLocked(ref); !seen[ref] && img != nil {
			out.Images = append(out.Images, ref)
			if out.ImageIDs == nil {
				out.ImageIDs = map[string]string{}
			}
			out.ImageIDs[ref] = img.id
			if d := img.labels[planner.LabelBuildDigest]; d != "" && slices.Contains(look.Builds, ref) {
				if out.BuildDigests == nil {
					out.BuildDigests = map[string]string{}
				}
				out.BuildDigests[ref] = d
			}
		}
		seen[ref] = true
	}
	slices.Sort(out.Images)
	if !e.remote {
		for _, d := range look.Directories {
			if e.missing[d] {
				out.MissingDirectories = append(out.MissingDirectories, d)
			}
		}
	}
	return out, nil
}

// listedLocked is Podman's listing of the containers labelled with
// project, the infra containers of its pods included (they carry their
// pod's labels).
func (e *Engine) listedLocked(project string) []planner.ListedContainer {
	var out []planner.ListedContainer
	for _, name := range sortedKeys(e.containers) {
		c := e.containers[name]
		if c.State == planner.StateStorage || c.Labels[planner.LabelProject] != project {
			continue
		}
		lc := planner.ListedContainer{Name: c.Name, Pod: c.Pod, Infra: c.Infra, State: c.State, Labels: maps.Clone(c.Labels)}
		if p := e.pods[c.Pod]; p != nil {
			lc.PodID = p.ID
		}
		out = append(out, lc)
	}
	return out
}

// portsOfLocked is what ps shows of c's ports: its pod's infra container's
// when it has one (members share its network namespace), else its own.
func (e *Engine) portsOfLocked(c *container) []stack.Port {
	src := c.Ports
	if p := e.pods[c.Pod]; p != nil && p.infra != "" {
		if in := e.containers[p.infra]; in != nil {
			src = in.Ports
		}
	}
	var out []stack.Port
	for _, pt := range src {
		out = append(out, stack.Port{Target: pt.Target, Published: pt.Published, HostIP: pt.HostIP, Protocol: protocol(pt)})
	}
	return out
}

// Projects lists every project with containers (infra ones not counted),
// with its environment and its containers counted by state, as podmanapi
// reports them for `stack ls`.
func (e *Engine) Projects(ctx context.Context) ([]ops.ProjectSummary, error) {
	if err := e.begin(ctx, "Projects", ""); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	type acc struct {
		env    string
		n      int
		states map[string]int
	}
	byName := map[string]*acc{}
	for _, cn := range sortedKeys(e.containers) {
		c := e.containers[cn]
		name, ok := c.Labels[planner.LabelProject]
		if !ok || c.Infra || c.State == planner.StateStorage {
			continue
		}
		a := byName[name]
		if a == nil {
			a = &acc{states: map[string]int{}}
			byName[name] = a
		}
		if env := c.Labels[planner.LabelEnvironment]; env != "" {
			a.env = env
		}
		a.n++
		a.states[c.State]++
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

// Host reports what SetHost set (no limits by default), so planner.Up can
// refuse privileged ports before creating anything, as with podmanapi.
func (e *Engine) Host(ctx context.Context) (planner.Host, error) {
	if err := e.begin(ctx, "Host", ""); err != nil {
		return planner.Host{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.host, nil
}
