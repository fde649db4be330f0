package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/containers/podman/v5/pkg/bindings/pods"
	"github.com/containers/podman/v5/pkg/bindings/secrets"
	"github.com/containers/podman/v5/pkg/bindings/volumes"
	entitiesTypes "github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/podstack/podstack/planner"
)

// claimPatience bounds how long a create waits for the object holding its
// name to become inspectable: the service may still be making it (a
// create of a killed client, which it finishes anyway), and until then the
// name is held by a container only in storage, or by nothing Podman shows.
// claimPoll is how often it looks again.
var (
	claimPatience = 10 * time.Second
	claimPoll     = 200 * time.Millisecond
)

// createClaiming runs create, which makes the kind ("container" or "pod")
// called name with the labels want. When Podman answers that the name is
// in use, the holder is settled by planner.ClaimName: adopted (the create
// succeeds), replaced (removed, and create runs once more), or refused.
func (c *Client) createClaiming(ctx context.Context, kind, name string, want map[string]string, create func() error) error {
	err := create()
	for retried := false; errors.Is(err, ErrExists); retried = true {
		h, lerr := c.holder(ctx, kind, name)
		if lerr != nil {
			return fmt.Errorf("%w (and looking at what holds the name: %v)", err, lerr)
		}
		claim := planner.ClaimReplace // the name was freed meanwhile: create again
		if h != nil {
			claim = planner.ClaimName(want, *h)
			if h.Kind != kind {
				claim = planner.ClaimRefuse // Podman keeps one name space for pods and containers
			}
		}
		switch {
		case claim == planner.ClaimAdopt:
			return nil
		case claim == planner.ClaimRefuse:
			return planner.RefusedName(*h)
		case retried:
			return fmt.Errorf("%w (still held after removing what held it)", err)
		}
		if h != nil {
			if rerr := c.removeHolder(ctx, *h); rerr != nil {
				return fmt.Errorf("%w (removing the project's %s %s that held the name: %v)", err, h.State, h.Kind, rerr)
			}
		}
		err = create()
	}
	return err
}

func (c *Client) removeHolder(ctx context.Context, h planner.Holder) error {
	switch h.Kind {
	case "pod":
		return c.RemovePod(ctx, h.Name)
	case "secret":
		return c.RemoveSecret(ctx, h.Name)
	case "container":
		return c.RemoveContainer(ctx, h.Name, true)
	}
	return fmt.Errorf("a %s is never replaced", h.Kind)
}

// holder returns what holds the name a create of kind wants: for a
// container or pod, a container, a pod, or a container only in storage
// (Podman keeps one name space for those). A name held by nothing
// inspectable, or only in storage, may be one the service is still
// creating, so it looks again until that settles or claimPatience runs
// out; nil when nothing holds it by then.
func (c *Client) holder(ctx context.Context, kind, name string) (*planner.Holder, error) {
	switch kind {
	case "secret", "volume", "network":
		return c.lookObject(ctx, kind, name)
	}
	deadline := time.Now().Add(claimPatience)
	for {
		h, err := c.lookHolder(ctx, name)
		if err != nil || (h != nil && h.State != planner.StateStorage) || time.Now().After(deadline) {
			return h, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(claimPoll):
		}
	}
}

func (c *Client) lookHolder(ctx context.Context, name string) (*planner.Holder, error) {
	data, err := containers.Inspect(c.ctx(ctx), name, nil)
	if err == nil {
		h := &planner.Holder{Kind: "container", ID: data.ID, Name: name}
		if data.Config != nil {
			h.Labels = data.Config.Labels
		}
		if data.State != nil {
			h.State = data.State.Status
		}
		return h, nil
	}
	if err = mapErr(err); !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("inspect container %s: %w", name, err)
	}
	pod, err := pods.Inspect(c.ctx(ctx), name, nil)
	if err == nil {
		return &planner.Holder{Kind: "pod", ID: pod.ID, Name: name, State: pod.State, Labels: pod.Labels}, nil
	}
	if err = mapErr(err); !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("inspect pod %s: %w", name, err)
	}
	// Podman applies no filters to containers only in storage: list them all.
	list, err := c.listExternal(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", mapErr(err))
	}
	for _, ct := range list {
		if ct.State == planner.StateStorage && len(ct.Names) > 0 && ct.Names[0] == name {
			return &planner.Holder{Kind: "container", ID: ct.ID, Name: name, State: planner.StateStorage}, nil
		}
	}
	return nil, nil
}

// lookObject returns the secret, volume or network called name; nil when
// there is none (it went since the create was refused).
func (c *Client) lookObject(ctx context.Context, kind, name string) (*planner.Holder, error) {
	h := &planner.Holder{Kind: kind, Name: name}
	var err error
	switch kind {
	case "secret":
		var info *entitiesTypes.SecretInfoReport
		if info, err = secrets.Inspect(c.ctx(ctx), name, nil); err == nil {
			h.ID, h.Labels = info.ID, info.Spec.Labels
		}
	case "volume":
		var info *entitiesTypes.VolumeConfigResponse
		if info, err = volumes.Inspect(c.ctx(ctx), name, nil); err == nil {
			h.Labels = info.Labels
		}
	case "network":
		var info entitiesTypes.NetworkInspectReport
		if info, err = network.Inspect(c.ctx(ctx), name, nil); err == nil {
			h.ID, h.Labels = info.ID, info.Labels
		}
	}
	if err != nil {
		if err = mapErr(err); errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("inspect %s %s: %w", kind, name, err)
	}
	return h, nil
}

// listExternal lists every container (with filters) and those only in
// storage. Podman 4.x fails the whole list when a container in storage
// goes while it looks at it ("determining buildah container for container
// X: container not known"), as happens while a create or removal of any
// client of the same storage is under way: that list is tried again.
func (c *Client) listExternal(ctx context.Context, filters map[string][]string) ([]entitiesTypes.ListContainer, error) {
	all, external := true, true
	var list []entitiesTypes.ListContainer
	err := retryVanished(ctx, func() error {
		var err error
		list, err = containers.List(c.ctx(ctx), &containers.ListOptions{All: &all, External: &external, Filters: filters})
		return err
	})
	return list, err
}

// retryVanished runs list until it no longer fails on a container that
// vanished under it, up to vanishedRetries times.
func retryVanished(ctx context.Context, list func() error) error {
	return retryWhile(ctx, "determining buildah container", vanishedRetries, vanishedWait, list)
}

// vanishedRetries and vanishedWait bound retryVanished's patience.
var (
	vanishedRetries = 10
	vanishedWait    = 200 * time.Millisecond
)
