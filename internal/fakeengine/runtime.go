package fakeengine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// CreateNetwork creates a network with the stack's labels; an existing
// network of that name is settled as podmanapi settles it: the project's
// accepted as it is, another refused (planner.ClaimName).
func (e *Engine) CreateNetwork(ctx context.Context, n *stack.Network, labels map[string]string) error {
	if err := e.begin(ctx, "CreateNetwork", n.Name); err != nil {
		return fmt.Errorf("create network %s: %w", n.Name, err)
	}
	for _, sn := range n.Subnets {
		if _, _, err := net.ParseCIDR(sn.Subnet); err != nil {
			return fmt.Errorf("network %s: subnet %q: %w", n.Key, sn.Subnet, err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.claimLocked("network", n.Name, labels, func() error { return e.createNetworkLocked(n, labels) }); err != nil {
		return fmt.Errorf("create network %s: %w", n.Name, err)
	}
	return nil
}

func (e *Engine) createNetworkLocked(n *stack.Network, labels map[string]string) error {
	if e.networks[n.Name] != nil {
		return podmanErr(ErrExists, fmt.Sprintf("network name %s already used: network already exists", n.Name))
	}
	driver := n.Driver
	if driver == "" {
		driver = "bridge"
	}
	e.networks[n.Name] = &Network{Name: n.Name, Labels: merge(n.Labels, labels), Driver: driver, Internal: n.Internal}
	e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "network", Action: "create", Name: n.Name})
	e.changedLocked()
	return nil
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	maps.Copy(out, a)
	maps.Copy(out, b)
	return out
}

// CreateVolume creates a named volume with the stack's labels; an existing
// one is settled as for networks.
func (e *Engine) CreateVolume(ctx context.Context, v *stack.Volume, labels map[string]string) error {
	if err := e.begin(ctx, "CreateVolume", v.Name); err != nil {
		return fmt.Errorf("create volume %s: %w", v.Name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.claimLocked("volume", v.Name, labels, func() error { return e.createVolumeLocked(v, labels) }); err != nil {
		return fmt.Errorf("create volume %s: %w", v.Name, err)
	}
	return nil
}

func (e *Engine) createVolumeLocked(v *stack.Volume, labels map[string]string) error {
	if e.volumes[v.Name] != nil {
		return podmanErr(ErrExists, fmt.Sprintf("volume with name %s already exists: volume already exists", v.Name))
	}
	e.volumes[v.Name] = &Volume{Name: v.Name, Labels: merge(v.Labels, labels), Driver: v.Driver, Options: maps.Clone(v.Options)}
	e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "volume", Action: "create", Name: v.Name})
	e.changedLocked()
	return nil
}

// CreateSecret creates a Podman secret from the stack's secret or config,
// reading its content now as podmanapi does. Empty content is an error; a
// secret of that name is settled by planner.ClaimName as podmanapi does.
func (e *Engine) CreateSecret(ctx context.Context, sec *planner.SecretSpec, s *stack.Stack, labels map[string]string) error {
	if err := e.begin(ctx, "CreateSecret", sec.Name); err != nil {
		return fmt.Errorf("create secret %s: %w", sec.Name, err)
	}
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
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.claimLocked("secret", sec.Name, labels, func() error {
		if e.secrets[sec.Name] != nil {
			return podmanErr(ErrExists, sec.Name+": secret name in use")
		}
		if len(data) == 0 || len(data) >= 512000 {
			return podmanErr(nil, "secret data must be larger than 0 and less than 512000 bytes")
		}
		e.secrets[sec.Name] = &Secret{ID: e.newIDLocked()[:25], Name: sec.Name, Labels: maps.Clone(labels), Data: data}
		e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "secret", Action: "create", Name: sec.Name})
		e.changedLocked()
		return nil
	}); err != nil {
		return fmt.Errorf("create secret %s: %w", sec.Name, err)
	}
	return nil
}

// RemoveSecret removes a Podman secret; a missing one is fine.
func (e *Engine) RemoveSecret(ctx context.Context, name string) error {
	if err := e.begin(ctx, "RemoveSecret", name); err != nil {
		return fmt.Errorf("remove secret %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.secrets[name] != nil {
		delete(e.secrets, name)
		e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "secret", Action: "remove", Name: name})
		e.changedLocked()
	}
	return nil
}

// CreateDirectory makes a missing bind-mount source exist; a remote
// service's host is not this one's business, as in podmanapi.
func (e *Engine) CreateDirectory(ctx context.Context, path string) error {
	if err := e.begin(ctx, "CreateDirectory", path); err != nil {
		return fmt.Errorf("create bind mount source %s: %w", path, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.remote {
		delete(e.missing, path)
	}
	return nil
}

// CreatePod creates a pod; with p.Infra an infra container (state created)
// holds its ports and networks, which must exist. Its name must be free of
// pods and containers alike: Podman keeps one namespace for both.
func (e *Engine) CreatePod(ctx context.Context, p *planner.Pod, s *stack.Stack) error {
	if err := e.begin(ctx, "CreatePod", p.Name); err != nil {
		return fmt.Errorf("create pod %s: %w", p.Name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.landsLateLocked("CreatePod", p.Name) {
		e.createPodLocked(p)
	}
	if err := e.claimLocked("pod", p.Name, p.Labels, func() error { return e.createPodLocked(p) }); err != nil {
		return fmt.Errorf("create pod %s: %w", p.Name, err)
	}
	return nil
}

// claimLocked runs create; when the name is held, it settles the holder
// as podmanapi does, by planner.ClaimName: adopt it, replace it (remove it
// and create once more), or refuse it untouched.
func (e *Engine) claimLocked(kind, name string, want map[string]string, create func() error) error {
	err := create()
	if !errors.Is(err, ErrExists) {
		return err
	}
	var h planner.Holder
	switch {
	case kind == "secret":
		h = planner.Holder{Kind: kind, ID: e.secrets[name].ID, Name: name, Labels: e.secrets[name].Labels}
	case kind == "volume":
		h = planner.Holder{Kind: kind, Name: name, Labels: e.volumes[name].Labels}
	case kind == "network":
		h = planner.Holder{Kind: kind, Name: name, Labels: e.networks[name].Labels}
	case e.containers[name] != nil:
		c := e.containers[name]
		h = planner.Holder{Kind: "container", ID: c.ID, Name: name, State: c.State, Labels: c.Labels}
	case e.pods[name] != nil:
		pd := e.pods[name]
		h = planner.Holder{Kind: "pod", ID: pd.ID, Name: name, State: e.podStateLocked(name), Labels: pd.Labels}
	default:
		return err
	}
	claim := planner.ClaimName(want, h)
	if h.Kind != kind {
		claim = planner.ClaimRefuse // one name space for pods and containers
	}
	switch claim {
	case planner.ClaimAdopt:
		return nil
	case planner.ClaimRefuse:
		return planner.RefusedName(h)
	}
	switch kind {
	case "pod":
		e.removePodLocked(e.pods[name])
	case "secret":
		delete(e.secrets, name)
		e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "secret", Action: "remove", Name: name})
		e.changedLocked()
	default:
		e.removeLocked(e.containers[name], true)
	}
	return create()
}

// createPodLocked makes the pod, or says why it cannot.
func (e *Engine) createPodLocked(p *planner.Pod) error {
	if err := e.nameInUseLocked(p.Name); err != nil {
		if _, isCtr := e.containers[p.Name]; isCtr {
			err = podmanErr(ErrExists, fmt.Sprintf("adding pod to state: name %q is in use: container already exists", p.Name))
		}
		return err
	}
	np := Pod{Name: p.Name, Labels: p.Labels, Infra: p.Infra}
	if p.Infra {
		if p.NetworkMode == "" {
			np.Networks = sortedKeys(p.Networks)
			if err := e.networksExistLocked(np.Networks); err != nil {
				return err
			}
		}
		np.Ports = e.publishLocked(p.Ports)
	}
	e.addPodLocked(np)
	e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "pod", Action: "create", Name: p.Name, ID: e.pods[p.Name].ID})
	e.changedLocked()
	return nil
}

func (e *Engine) networksExistLocked(names []string) error {
	for _, n := range names {
		if e.networks[n] == nil {
			return podmanErr(nil, fmt.Sprintf("unable to find network with name or ID %s: network not found", n))
		}
	}
	return nil
}

// publishLocked keeps the ports Podman publishes (a host port, or an
// ephemeral one, which gets a free port now, as Podman picks it at create).
func (e *Engine) publishLocked(ports []stack.Port) []stack.Port {
	var out []stack.Port
	for _, pt := range ports {
		if pt.Published == 0 && !pt.Ephemeral {
			continue
		}
		if pt.Published == 0 {
			pt.Published = e.nextPort
			e.nextPort++
		}
		if pt.Protocol == "" {
			pt.Protocol = "tcp"
		}
		out = append(out, pt)
	}
	return out
}

// CreateContainer creates (does not start) a container from the service,
// checking what Podman checks at create: the image is present, the pod,
// networks, secrets, bind-mount sources and namespace owners exist, and
// the name is free. Named volumes it mounts that do not exist are made
// unlabelled, as Podman makes them; anonymous ones get a generated name.
func (e *Engine) CreateContainer(ctx context.Context, c *planner.Container, p *planner.Pod, s *stack.Stack) error {
	if err := e.begin(ctx, "CreateContainer", c.Name); err != nil {
		return fmt.Errorf("create container %s: %w", c.Name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.landsLateLocked("CreateContainer", c.Name) {
		e.createLocked(c, p, s)
	}
	if err := e.claimLocked("container", c.Name, c.Labels, func() error {
		_, err := e.createLocked(c, p, s)
		return err
	}); err != nil {
		return fmt.Errorf("create container %s: %w", c.Name, err)
	}
	return nil
}

func (e *Engine) createLocked(c *planner.Container, p *planner.Pod, s *stack.Stack) (*container, error) {
	svc := c.Spec
	if svc == nil {
		return nil, fmt.Errorf("no service definition")
	}
	if _, _, err := parseRestart(svc.Restart); err != nil {
		return nil, err
	}
	image := planner.ImageRef(s, svc)
	if !e.hasImageLocked(image) {
		return nil, podmanErr(nil, image+": image not known")
	}
	ct := Container{Name: c.Name, Image: image, ImageID: e.imageLocked(image).id, State: "created", Labels: merge(svc.Labels, c.Labels),
		Restart: svc.Restart, Entrypoint: slices.Clone(svc.Entrypoint), Command: slices.Clone(svc.Command),
		Env: maps.Clone(svc.Environment)}
	if svc.Health != nil {
		h := *svc.Health
		ct.Healthcheck = &h
	}
	if p != nil && p.Name != "" {
		if e.pods[p.Name] == nil {
			return nil, podmanErr(ErrNotFound, fmt.Sprintf("no pod with name or ID %s found: no such pod", p.Name))
		}
		ct.Pod = p.Name
	}
	for _, ns := range []string{svc.PID, svc.IPC} {
		owner := ""
		if name, ok := strings.CutPrefix(ns, "service:"); ok && s.Services[name] != nil {
			owner = planner.ContainerName(s, s.Services[name], 1)
		} else if name, ok := strings.CutPrefix(ns, "container:"); ok {
			owner = name
		}
		if owner == "" || slices.Contains(ct.NamespaceOwners, owner) {
			continue
		}
		if e.containers[owner] == nil {
			return nil, podmanErr(ErrNotFound, fmt.Sprintf("no container with name or ID %q found: no such container", owner))
		}
		ct.NamespaceOwners = append(ct.NamespaceOwners, owner)
	}
	if p != nil && !p.Infra && p.NetworkMode == "" {
		ct.Networks = sortedKeys(p.Networks)
		if err := e.networksExistLocked(ct.Networks); err != nil {
			return nil, err
		}
	}
	secretNames := planner.ServiceSecrets(s, svc)
	for _, key := range sortedKeys(secretNames) {
		name := secretNames[key]
		if e.secrets[name] == nil {
			return nil, podmanErr(ErrNotFound, fmt.Sprintf("no secret with name or id %q: no such secret", name))
		}
		ct.Secrets = append(ct.Secrets, name)
	}
	for _, m := range svc.Mounts {
		if m.Type != stack.MountBind {
			continue
		}
		if e.missing[m.Source] {
			return nil, podmanErr(ErrNotFound, "statfs "+m.Source+": no such file or directory")
		}
		ct.Binds = append(ct.Binds, m.Source)
	}
	if err := e.nameInUseLocked(c.Name); err != nil {
		return nil, err
	}
	// Checked: now the side effects.
	if p != nil && !p.Infra {
		ct.Ports = e.publishLocked(p.Ports)
	}
	ct.ID = e.newIDLocked()
	nc := &container{Container: ct}
	for _, m := range svc.Mounts {
		if m.Type != stack.MountVolume {
			continue
		}
		name := m.Source
		if v := s.Volumes[m.Source]; v != nil {
			name = v.Name
		}
		if name == "" {
			name = e.newIDLocked()
			e.volumes[name] = &Volume{Name: name, Labels: map[string]string{}, Driver: "local", Anonymous: true}
			nc.anon = append(nc.anon, name)
		} else if e.volumes[name] == nil {
			e.volumes[name] = &Volume{Name: name, Labels: map[string]string{}, Driver: "local"}
		}
		nc.Volumes = append(nc.Volumes, name)
	}
	e.containers[c.Name] = nc
	e.emitContainerLocked(nc, "create", "")
	e.changedLocked()
	return nc, nil
}

// parseRestart reads a compose restart policy as podmanapi does.
func parseRestart(r stack.RestartPolicy) (name string, retries int, err error) {
	policy, n, _ := strings.Cut(string(r), ":")
	switch policy {
	case "", "no", "always", "unless-stopped":
		return policy, 0, nil
	case "on-failure":
		if n != "" {
			v, err := strconv.ParseUint(n, 10, 32)
			if err != nil {
				return "", 0, fmt.Errorf("invalid restart retries %q", n)
			}
			return policy, int(v), nil
		}
		return policy, 0, nil
	}
	return "", 0, fmt.Errorf("unknown restart policy %q", r)
}

// RemoveContainer removes a container, running or not (killing it), and
// with volumes its anonymous volumes; a missing one is fine. As Podman, it
// refuses a pod's infra container and a container whose namespaces others
// still join (the error wraps ErrExists: Podman says "container already
// exists").
func (e *Engine) RemoveContainer(ctx context.Context, name string, volumes bool) error {
	if err := e.begin(ctx, "RemoveContainer", name); err != nil {
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return nil
	}
	if c.Infra {
		return fmt.Errorf("remove container %s: %w", name, podmanErr(nil, fmt.Sprintf("container %s is the infra container of pod %s and cannot be removed without removing the pod", c.ID, c.Pod)))
	}
	var deps []string
	for _, o := range e.containers {
		if slices.Contains(o.NamespaceOwners, name) {
			deps = append(deps, o.ID)
		}
	}
	if len(deps) > 0 {
		sort.Strings(deps)
		return fmt.Errorf("remove container %s: %w", name, podmanErr(ErrExists, fmt.Sprintf("container %s has dependent containers which must be removed before it: %s: container already exists", c.ID, strings.Join(deps, ", "))))
	}
	e.removeLocked(c, volumes)
	return nil
}

// removeLocked kills c if it runs and removes it.
func (e *Engine) removeLocked(c *container, volumes bool) {
	if up(c.State) {
		e.exitLocked(c, 137, true)
		if c.removed {
			return // an auto-remove container went with its exit
		}
	}
	c.removed = true
	delete(e.containers, c.Name)
	if volumes {
		for _, v := range c.anon {
			if !e.volumeUsedLocked(v) {
				delete(e.volumes, v)
			}
		}
	}
	e.emitContainerLocked(c, "remove", "")
	e.changedLocked()
}

func (e *Engine) volumeUsedLocked(name string) bool {
	for _, c := range e.containers {
		if slices.Contains(c.Volumes, name) {
			return true
		}
	}
	return false
}

// RemovePod removes a pod and every container in it; a missing one is fine.
func (e *Engine) RemovePod(ctx context.Context, name string) error {
	if err := e.begin(ctx, "RemovePod", name); err != nil {
		return fmt.Errorf("remove pod %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.pods[name]; p != nil {
		e.removePodLocked(p)
	}
	return nil
}

// removePodLocked removes p and every container in it.
func (e *Engine) removePodLocked(p *pod) {
	name := p.Name
	for _, cn := range sortedKeys(e.containers) {
		if c := e.containers[cn]; c.Pod == name && !c.Infra {
			e.removeLocked(c, false)
		}
	}
	if in := e.containers[p.infra]; in != nil {
		e.removeLocked(in, false)
	}
	delete(e.pods, name)
	e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "pod", Action: "remove", Name: name, ID: p.ID})
	e.changedLocked()
}

// RemoveVolume removes a volume, with force as podmanapi asks: the
// containers using it are removed too. A missing one is fine.
func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	if err := e.begin(ctx, "RemoveVolume", name); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.volumes[name] == nil {
		return nil
	}
	for _, cn := range sortedKeys(e.containers) {
		if c := e.containers[cn]; slices.Contains(c.Volumes, name) {
			e.removeLocked(c, false)
		}
	}
	delete(e.volumes, name)
	e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "volume", Action: "remove", Name: name})
	e.changedLocked()
	return nil
}

// RemoveNetwork removes a network no container (of any state) is on; a
// missing one is fine. Podman's default network cannot be removed.
func (e *Engine) RemoveNetwork(ctx context.Context, name string) error {
	if err := e.begin(ctx, "RemoveNetwork", name); err != nil {
		return fmt.Errorf("remove network %s: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.networks[name] == nil {
		return nil
	}
	if name == "podman" {
		return fmt.Errorf("remove network %s: %w", name, podmanErr(nil, "default network podman cannot be removed"))
	}
	for _, c := range e.containers {
		if slices.Contains(c.Networks, name) {
			return fmt.Errorf("remove network %s: %w", name, podmanErr(ErrInUse, fmt.Sprintf("%q has associated containers with it. Use -f to forcibly delete containers and pods: network is being used", name)))
		}
	}
	delete(e.networks, name)
	e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "network", Action: "remove", Name: name})
	e.changedLocked()
	return nil
}
