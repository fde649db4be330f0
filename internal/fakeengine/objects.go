package fakeengine

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// Container is a container as the engine holds it: what AddContainer seeds
// and Container returns. Fields left zero when seeding get Podman's
// defaults (an ID, state "created").
type Container struct {
	ID    string
	Name  string
	Pod   string // the pod's name, "" for none
	Image string
	// ImageID is the ID of the image it was made from.
	ImageID string
	// State is Podman's: created, running, paused, exited, stopped,
	// stopping, removing, configured, initialized, unknown, or
	// planner.StateStorage for a leftover only in storage.
	State    string
	ExitCode int
	// Health is "", "starting", "healthy" or "unhealthy": the last probe's.
	Health string
	Labels map[string]string
	// Ports are the container's own published ports (a pod without an
	// infra container has its single container carry them; with an infra
	// container, Observe reports the pod's, as Podman's ps does).
	Ports         []stack.Port
	StartedAt     time.Time
	FinishedAt    time.Time
	RestartCount  int
	Restart       stack.RestartPolicy
	Healthcheck   *stack.HealthCheck
	StoppedByUser bool
	// Infra marks a pod's infra container: Observe and Projects skip it.
	Infra      bool
	Entrypoint []string
	Command    []string
	Env        map[string]string
	// Volumes are the named and anonymous volumes it mounts, Networks the
	// networks it is on itself (not through its pod), Secrets the Podman
	// secrets it uses, Binds its bind-mount sources, NamespaceOwners the
	// containers whose pid or ipc namespace it joins.
	Volumes         []string
	Networks        []string
	Secrets         []string
	Binds           []string
	NamespaceOwners []string
}

// Pod is a pod as the engine holds it.
type Pod struct {
	ID     string
	Name   string
	Labels map[string]string
	// Infra is whether the pod has an infra container, which holds its
	// ports and networks.
	Infra    bool
	Ports    []stack.Port
	Networks []string
	// State is computed from the pod's containers as Podman does
	// (Created, Running, Degraded, Paused, Exited, Stopped, Error); it is
	// ignored when seeding.
	State string
}

// Volume is a volume; Anonymous ones are made by a container create for a
// mount without a name and removed with it when asked to.
type Volume struct {
	Name      string
	Labels    map[string]string
	Driver    string
	Options   map[string]string
	Anonymous bool
}

// Network is a network.
type Network struct {
	Name     string
	Labels   map[string]string
	Driver   string
	Internal bool
}

// Secret is a Podman secret, with the content it was made from.
type Secret struct {
	ID     string
	Name   string
	Labels map[string]string
	Data   []byte
}

// Script is how a container behaves once started; set it by name (Script)
// or for every container of a service (ScriptService), before or after the
// container is made. The zero Script is a service that runs until stopped,
// is healthy at every probe, writes nothing, and answers exec with 0.
type Script struct {
	// Health is what each probe reports, in order; the last repeats (each
	// start begins the sequence again). Values are the aggregated status
	// Podman reports: "starting", "healthy", "unhealthy".
	Health []string
	// Exits makes the container a one-shot job: each run exits by itself
	// with the next code (the last repeats), and its restart policy then
	// decides what happens. Empty: it runs until stopped, killed or Exit.
	Exits []int
	// RunFor is how long (real time) a job's run lasts before it exits; 0
	// exits within the start itself.
	RunFor time.Duration
	// Stdout and Stderr are the lines each run writes (the logs).
	Stdout, Stderr []string
	// HandlesTerm makes SIGTERM end the container with TermExit. Without
	// it the process ignores SIGTERM, as a shell or sleep as PID 1 does, so
	// a stop kills it when the grace period ends: exit code 137.
	HandlesTerm bool
	TermExit    int
	// ExecCode, ExecStdout and ExecStderr are what Exec answers; Exec, when
	// set, answers instead.
	ExecCode               int
	ExecStdout, ExecStderr string
	Exec                   func(o ops.ExecOptions) (int, error)
	// Top is what Top lists (tab-separated cells, the header first); a
	// default header and one process when empty.
	Top []string
}

type exitRecord struct {
	code      int
	restarted bool
}

type logEntry struct {
	at     time.Time
	text   string
	stderr bool
}

// container is a Container with the engine's bookkeeping.
type container struct {
	Container
	anon      []string
	probes    int // this run's
	allProbes int
	lastProbe time.Time
	runs      int
	exits     []exitRecord
	logs      []logEntry
	removed   bool
	waiters   int                 // WaitExit and WaitEnd calls blocked on it
	files     map[string]*fsEntry // its file system (see files.go)
	// autoRemove: Podman removes it when it exits (a detached run --rm).
	autoRemove bool
}

type pod struct {
	Pod
	infra string // the infra container's name
}

func cloneContainer(c Container) Container {
	c.Labels = maps.Clone(c.Labels)
	c.Ports = slices.Clone(c.Ports)
	c.Entrypoint = slices.Clone(c.Entrypoint)
	c.Command = slices.Clone(c.Command)
	c.Env = maps.Clone(c.Env)
	c.Volumes = slices.Clone(c.Volumes)
	c.Networks = slices.Clone(c.Networks)
	c.Secrets = slices.Clone(c.Secrets)
	c.Binds = slices.Clone(c.Binds)
	c.NamespaceOwners = slices.Clone(c.NamespaceOwners)
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = slices.Clone(h.Test)
		c.Healthcheck = &h
	}
	return c
}

func labelsOrEmpty(l map[string]string) map[string]string {
	if l == nil {
		return map[string]string{}
	}
	return maps.Clone(l)
}

// nameInUseLocked says what holds name: Podman keeps one namespace for
// pods and containers.
func (e *Engine) nameInUseLocked(name string) error {
	if c, ok := e.containers[name]; ok {
		if c.State == planner.StateStorage {
			return podmanErr(ErrExists, fmt.Sprintf("creating container storage: the container name %q is already in use by %s. You have to remove that container to be able to reuse that name: that name is already in use", name, c.ID))
		}
		return podmanErr(ErrExists, fmt.Sprintf("name %q is in use: container already exists", name))
	}
	if _, ok := e.pods[name]; ok {
		return podmanErr(ErrExists, fmt.Sprintf("name %q is in use: pod already exists", name))
	}
	return nil
}

// AddContainer seeds a container as if made earlier (by another tool, an
// interrupted run, another project), and returns it with its defaults. Its
// pod must exist; a running container in a pod with an infra container
// has that infra container running too. It panics on a taken name or a
// missing pod: a broken test setup.
func (e *Engine) AddContainer(c Container) Container {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.nameInUseLocked(c.Name); err != nil {
		panic(fmt.Sprintf("fakeengine: AddContainer %s: %v", c.Name, err))
	}
	c = cloneContainer(c)
	if c.ID == "" {
		c.ID = e.newIDLocked()
	}
	if c.State == "" {
		c.State = "created"
	}
	if c.Labels == nil && c.State != planner.StateStorage {
		c.Labels = map[string]string{}
	}
	if c.Pod != "" && e.pods[c.Pod] == nil {
		panic(fmt.Sprintf("fakeengine: AddContainer %s: no pod %s", c.Name, c.Pod))
	}
	now := e.clockLocked()
	if c.StartedAt.IsZero() && (c.State == "running" || c.State == "paused" || c.State == "exited" || c.State == "stopped") {
		c.StartedAt = now
	}
	if c.FinishedAt.IsZero() && (c.State == "exited" || c.State == "stopped") {
		c.FinishedAt = now
	}
	ct := &container{Container: c}
	e.containers[c.Name] = ct
	if c.State == "running" {
		e.infraUpLocked(c.Pod)
	}
	e.changedLocked()
	return cloneContainer(c)
}

// infraUpLocked marks the pod's infra container running (seeding only).
func (e *Engine) infraUpLocked(podName string) {
	if p := e.pods[podName]; p != nil && p.infra != "" {
		if in := e.containers[p.infra]; in != nil && in.State != "running" {
			in.State, in.StartedAt = "running", e.clockLocked()
		}
	}
}

// AddPod seeds a pod (with its infra container, in state created, when
// p.Infra) and returns it. It panics on a taken name.
func (e *Engine) AddPod(p Pod) Pod {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.nameInUseLocked(p.Name); err != nil {
		panic(fmt.Sprintf("fakeengine: AddPod %s: %v", p.Name, err))
	}
	e.addPodLocked(p)
	e.changedLocked()
	return e.podInfoLocked(e.pods[p.Name])
}

func (e *Engine) addPodLocked(p Pod) *pod {
	p.Labels = labelsOrEmpty(p.Labels)
	p.Ports = slices.Clone(p.Ports)
	p.Networks = slices.Clone(p.Networks)
	if p.ID == "" {
		p.ID = e.newIDLocked()
	}
	p.State = ""
	np := &pod{Pod: p}
	e.pods[p.Name] = np
	if p.Infra {
		in := &container{Container: Container{ID: e.newIDLocked(), Pod: p.Name, Image: "localhost/podman-pause:" + e.info.Version + "-0",
			State: "created", Labels: maps.Clone(p.Labels), Ports: slices.Clone(p.Ports), Networks: slices.Clone(p.Networks), Infra: true}}
		in.Name = in.ID[:12] + "-infra"
		np.infra = in.Name
		e.containers[in.Name] = in
		e.emitContainerLocked(in, "create", "")
	}
	return np
}

// AddVolume seeds a volume (a foreign one, say: made by hand, unlabelled).
// It panics on a taken name.
func (e *Engine) AddVolume(v Volume) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.volumes[v.Name] != nil {
		panic("fakeengine: AddVolume: volume " + v.Name + " exists")
	}
	v.Labels = labelsOrEmpty(v.Labels)
	v.Options = maps.Clone(v.Options)
	e.volumes[v.Name] = &v
	e.changedLocked()
}

// AddNetwork seeds a network. It panics on a taken name.
func (e *Engine) AddNetwork(n Network) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.networks[n.Name] != nil {
		panic("fakeengine: AddNetwork: network " + n.Name + " exists")
	}
	n.Labels = labelsOrEmpty(n.Labels)
	e.networks[n.Name] = &n
	e.changedLocked()
}

// AddSecret seeds a Podman secret. It panics on a taken name.
func (e *Engine) AddSecret(s Secret) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.secrets[s.Name] != nil {
		panic("fakeengine: AddSecret: secret " + s.Name + " exists")
	}
	if s.ID == "" {
		s.ID = e.newIDLocked()[:25]
	}
	s.Labels = maps.Clone(s.Labels)
	s.Data = slices.Clone(s.Data)
	e.secrets[s.Name] = &s
	e.changedLocked()
}

// AddImages makes images present locally, as if pulled (a short name as
// docker.io's; name localhost/ ones for images built here), so a plan
// needs no pull for them.
func (e *Engine) AddImages(refs ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range refs {
		if !e.hasImageLocked(r) {
			e.images[qualify(r, true)] = e.newImageLocked(nil)
		}
	}
}

// AddMissingDirectories declares bind-mount sources missing on the
// service's host: Observe reports them (when the service is local), a
// container mounting one fails to be created, CreateDirectory makes them.
// Every other path is taken to exist.
func (e *Engine) AddMissingDirectories(paths ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range paths {
		e.missing[p] = true
	}
}

// SetState puts a container straight into a state, with an exit code, as
// an interrupted run or a crash leaves it: no events, no restart policy.
// Running starts its pod's infra container too. It panics on a missing
// container.
func (e *Engine) SetState(name, state string, exitCode int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.mustLocked(name)
	c.State, c.ExitCode = state, exitCode
	now := e.clockLocked()
	switch state {
	case "running":
		c.StartedAt = now
		e.infraUpLocked(c.Pod)
	case "exited", "stopped":
		c.FinishedAt = now
	}
	e.changedLocked()
}

// SetHealth sets a container's last health status, as a probe run earlier
// would have. It panics on a missing container.
func (e *Engine) SetHealth(name, status string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mustLocked(name).Health = status
	e.changedLocked()
}

func (e *Engine) mustLocked(name string) *container {
	c := e.containers[name]
	if c == nil {
		panic("fakeengine: no container " + name)
	}
	return c
}

// Script sets how the container called name behaves (see Script); it
// overrides a ScriptService for that container.
func (e *Engine) Script(name string, s Script) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.scripts[name] = s
}

// ScriptService sets how every container of a service (by its
// io.podstack.service label) behaves: replicas, recreated containers and
// one-offs with generated names included.
func (e *Engine) ScriptService(service string, s Script) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.serviceScripts[service] = s
}

func (e *Engine) scriptLocked(c *container) Script {
	if s, ok := e.scripts[c.Name]; ok {
		return s
	}
	return e.serviceScripts[c.Labels[planner.LabelService]]
}

// SetStats sets the numbers Stats reports for a running container.
func (e *Engine) SetStats(name string, s ops.Stat) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats[name] = s
}

// SetStatsInterval sets how often streamed Stats samples (2s, as podmanapi
// asks Podman for, by default).
func (e *Engine) SetStatsInterval(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.statsInterval = d
}

// SetExposedPorts sets the ports ("6379/tcp") an image exposes, for
// ImageExposedPorts; the image is made present (as AddImages does) when
// it is not.
func (e *Engine) SetExposedPorts(ref string, ports ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := qualify(ref, true)
	if !e.hasImageLocked(ref) {
		e.images[n] = e.newImageLocked(nil)
	}
	for _, c := range candidates(ref) {
		if e.images[c] != nil {
			e.exposed[c] = slices.Clone(ports)
		}
	}
}

// Container returns the named container as the engine holds it (infra
// containers and storage leftovers included).
func (e *Engine) Container(name string) (Container, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return Container{}, false
	}
	return cloneContainer(c.Container), true
}

// Containers returns every container, infra ones included, by name.
func (e *Engine) Containers() []Container {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Container
	for _, name := range sortedKeys(e.containers) {
		out = append(out, cloneContainer(e.containers[name].Container))
	}
	return out
}

// Pod returns the named pod, its State computed now.
func (e *Engine) Pod(name string) (Pod, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.pods[name]
	if p == nil {
		return Pod{}, false
	}
	return e.podInfoLocked(p), true
}

// Pods returns every pod by name.
func (e *Engine) Pods() []Pod {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Pod
	for _, name := range sortedKeys(e.pods) {
		out = append(out, e.podInfoLocked(e.pods[name]))
	}
	return out
}

func (e *Engine) podInfoLocked(p *pod) Pod {
	out := p.Pod
	out.Labels = maps.Clone(p.Labels)
	out.Ports = slices.Clone(p.Ports)
	out.Networks = slices.Clone(p.Networks)
	out.State = e.podStateLocked(p.Name)
	return out
}

// Volumes returns every volume by name.
func (e *Engine) Volumes() []Volume {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Volume
	for _, name := range sortedKeys(e.volumes) {
		v := *e.volumes[name]
		v.Labels, v.Options = maps.Clone(v.Labels), maps.Clone(v.Options)
		out = append(out, v)
	}
	return out
}

// Networks returns every network by name, Podman's default one included.
func (e *Engine) Networks() []Network {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Network
	for _, name := range sortedKeys(e.networks) {
		n := *e.networks[name]
		n.Labels = maps.Clone(n.Labels)
		out = append(out, n)
	}
	return out
}

// Secrets returns every secret by name, with its content.
func (e *Engine) Secrets() []Secret {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Secret
	for _, name := range sortedKeys(e.secrets) {
		s := *e.secrets[name]
		s.Labels, s.Data = maps.Clone(s.Labels), slices.Clone(s.Data)
		out = append(out, s)
	}
	return out
}

// Images returns the images present, as qualified references
// ("docker.io/library/redis:7", "localhost/app:latest").
func (e *Engine) Images() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return sortedKeys(e.images)
}

// MissingDirectories returns the bind-mount sources still missing.
func (e *Engine) MissingDirectories() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return sortedKeys(e.missing)
}

// Probes counts the healthchecks run on the named container (RunHealthCheck
// and the ones FreshHealth runs) since it was created.
func (e *Engine) Probes(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.containers[name]; c != nil {
		return c.allProbes
	}
	return 0
}

// podStateLocked is Podman's pod status from its containers' states
// (libpod's createPodStatusResults), the infra container included.
func (e *Engine) podStateLocked(name string) string {
	total := 0
	n := map[string]int{}
	for _, c := range e.containers {
		if c.Pod != name {
			continue
		}
		total++
		switch c.State {
		case "exited", "stopped":
			n["stopped"]++
		case "running":
			n["running"]++
		case "paused":
			n["paused"]++
		case "created", "configured":
			n["created"]++
		default:
			n["error"]++
		}
	}
	switch {
	case total == 0:
		return "Created"
	case n["running"] == total:
		return "Running"
	case n["running"] > 0:
		return "Degraded"
	case n["paused"] == total:
		return "Paused"
	case n["stopped"] == total:
		return "Exited"
	case n["stopped"] > 0:
		return "Stopped"
	case n["error"] > 0:
		return "Error"
	}
	return "Created"
}

// candidates are the names a reference can match locally, as Podman
// resolves it: a short name ("redis", "app:1") is looked for under
// localhost/ and docker.io/library/, docker.io/x means docker.io/library/x,
// and a reference without tag or digest means :latest.
func candidates(ref string) []string {
	r := ref
	if !strings.Contains(r, "@") && !strings.Contains(r[strings.LastIndex(r, "/")+1:], ":") {
		r += ":latest"
	}
	first, rest, hasSlash := strings.Cut(r, "/")
	switch {
	case !hasSlash || !(strings.ContainsAny(first, ".:") || first == "localhost"):
		return []string{"localhost/" + r, "docker.io/library/" + r}
	case first == "docker.io" && !strings.Contains(rest, "/"):
		return []string{"docker.io/library/" + rest}
	}
	return []string{r}
}

// qualify is the name an image gets when it is stored under ref: a short
// name pulled comes from docker.io, one built or loaded is localhost's.
func qualify(ref string, pulled bool) string {
	c := candidates(ref)
	if len(c) == 2 && pulled {
		return c[1]
	}
	return c[0]
}

// hasImageLocked reports whether ref resolves to a local image.
func (e *Engine) hasImageLocked(ref string) bool {
	return e.imageLocked(ref) != nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
