package planner

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/podstack/podstack/stack"
)

// Policy decides how services are grouped into pods.
type Policy string

const (
	// PolicyAuto shares a pod only where the stack asks for it
	// (network_mode: service:X, x-pod, a Kubernetes Pod); every other
	// service gets its own pod.
	PolicyAuto Policy = "auto"
	// PolicyService gives each service its own pod, except network_mode
	// service: pairs, which must share a network namespace.
	PolicyService Policy = "service"
	// PolicyProject puts every service into one pod.
	PolicyProject Policy = "project"
)

// Labels podstack puts on every object it creates. State lives in labels, so
// any podstack process can find and reconcile a stack it did not create.
const (
	LabelProject     = "io.podstack.project"
	LabelService     = "io.podstack.service"
	LabelPod         = "io.podstack.pod"
	LabelEnvironment = "io.podstack.environment"
	LabelConfigHash  = "io.podstack.config-hash"
	LabelOneOff      = "io.podstack.oneoff"
	LabelNumber      = "io.podstack.container-number"
	LabelVolume      = "io.podstack.volume"
	LabelNetwork     = "io.podstack.network"
	LabelSecret      = "io.podstack.secret"
	// LabelBuildDigest is on an image stack built, and on every container
	// of a service with a build section: the digest of the build's inputs
	// (stack.Build.ContextDigest) the image was built from. An image whose
	// label differs from the stack's digest is stale and rebuilt; a
	// container whose label differs from its image's runs a stale image and
	// is recreated.
	LabelBuildDigest = "io.podstack.build-digest"

	// The compose labels let Podman Desktop and other tools group our objects.
	LabelComposeProject = "com.docker.compose.project"
	LabelComposeService = "com.docker.compose.service"
)

// Pod is a group of services that share one Podman pod (and so one network
// namespace), as computed by Group.
type Pod struct {
	// Key is the short pod name (service name, x-pod name or kube Pod name).
	Key string `json:"key"`
	// Name is the Podman name: <project>-<key>.
	Name string `json:"name"`
	// Services are the member services, sorted.
	Services []string `json:"services"`
	// Ports are the members' published ports; Podman publishes at pod level.
	Ports    []stack.Port `json:"ports,omitempty"`
	Hostname string       `json:"hostname,omitempty"`
	// AddHosts are "name:ip" entries: co-located service names resolve to
	// 127.0.0.1 inside the pod, then the members' extra_hosts.
	AddHosts []string `json:"addHosts,omitempty"`
	// DNS, DNSSearch and DNSOptions are the members' dns, dns_search and
	// dns_opt: Podman sets them for the whole network namespace.
	DNS        []string `json:"dns,omitempty"`
	DNSSearch  []string `json:"dnsSearch,omitempty"`
	DNSOptions []string `json:"dnsOptions,omitempty"`
	// Networks maps a Podman network name to this pod's DNS aliases on it
	// (the pod's service names), so `db:5432` works across pods.
	Networks map[string][]string `json:"networks,omitempty"`
	// Addresses are the static addresses asked for on a network
	// (ipv4_address, mac_address, interface_name), by Podman network name.
	Addresses map[string]Address `json:"addresses,omitempty"`
	// NetworkMode is "" (the project networks), "host" or "none", when the
	// members ask for it.
	NetworkMode string            `json:"networkMode,omitempty"`
	Labels      map[string]string `json:"labels"`
	// Infra is false for a pod of a single service: it needs no infra
	// container (each costs a full container start), so each of its
	// containers carries the ports and network aliases itself.
	Infra bool `json:"infra"`
	// Hash covers what requires recreating the pod (ports, hostname, hosts,
	// networks, membership); it is also in Labels[LabelConfigHash].
	Hash string `json:"hash"`
}

// Address is a pod's fixed identity on one network.
type Address struct {
	IPv4      string `json:"ipv4,omitempty"`
	IPv6      string `json:"ipv6,omitempty"`
	MAC       string `json:"mac,omitempty"`
	Interface string `json:"interface,omitempty"`
}

// Container is one desired container: replica Index of Service.
type Container struct {
	// Name is <project>-<service>-<index> (or the service's container_name).
	Name    string `json:"name"`
	Service string `json:"service"`
	Index   int    `json:"index"`
	// Pod is the Podman name of the pod it runs in.
	Pod string `json:"pod"`
	// Hash covers what requires recreating the container; also in Labels.
	Hash   string            `json:"hash"`
	Labels map[string]string `json:"labels"`
	// Spec is the service definition the container is made from.
	Spec *stack.Service `json:"-"`
}

// ObservedState is a snapshot of what exists on the Podman service for one
// project, taken by the runtime before planning. The planner never calls
// Podman itself.
type ObservedState struct {
	Pods       []ObservedPod       `json:"pods"`
	Containers []ObservedContainer `json:"containers"`
	// Volumes, Networks and Secrets are the project's, and any others that
	// carry a name the stack uses (Lookup): those are foreign, made by hand
	// or by another tool, and never adopted silently.
	Volumes  []ObservedVolume  `json:"volumes"`
	Networks []ObservedNetwork `json:"networks"`
	Secrets  []ObservedSecret  `json:"secrets,omitempty"`
	// Images are the image references present locally (for pull decisions).
	Images []string `json:"images,omitempty"`
	// ImageIDs are the IDs of the present Images, by reference: a container
	// whose ImageID differs runs an image its name no longer points to (it
	// was rebuilt or pulled since), and is recreated.
	ImageIDs map[string]string `json:"imageIDs,omitempty"`
	// BuildDigests are the LabelBuildDigest labels of the local images
	// Lookup.Builds names, by reference; an image without one (pulled, or
	// built by hand) has no entry.
	BuildDigests map[string]string `json:"buildDigests,omitempty"`
	// ImageHealth is the HEALTHCHECK test of each present image that has
	// one, for services whose healthcheck keeps the image's test.
	ImageHealth map[string][]string `json:"imageHealth,omitempty"`
	// MissingDirectories are bind-mount sources (Lookup.Directories) that
	// do not exist on the service's host; a plan creates them, as docker
	// compose does. Empty where the runtime cannot tell (a remote service).
	MissingDirectories []string `json:"missingDirectories,omitempty"`
	// Host is what the runtime's host refuses (Up fills it in when the
	// stack needs it; see HostInspector).
	Host Host `json:"host,omitzero"`
}

// ObservedPod is a pod that exists.
type ObservedPod struct {
	ID     string            `json:"id"`
	Name   string            `json:"name"`
	State  string            `json:"state"`
	Labels map[string]string `json:"labels"`
}

// StateStorage is the state of a container that exists only in storage,
// without Podman's record of it: a service that died mid-create leaves
// one, holding the name. It has no labels; the planner removes one only
// where its name is exactly a container the stack wants.
const StateStorage = "storage"

// ObservedContainer is a container that exists.
type ObservedContainer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Pod   string `json:"pod,omitempty"` // pod name
	Image string `json:"image"`
	// ImageID is the image the container was created from: after a
	// rebuild, Image names the new one, ImageID still the old.
	ImageID string `json:"imageID,omitempty"`
	// State is Podman's state: created, running, paused, exited, ...
	State string `json:"state"`
	// Health is "", "starting", "healthy" or "unhealthy".
	Health    string            `json:"health,omitempty"`
	ExitCode  int               `json:"exitCode"`
	Labels    map[string]string `json:"labels"`
	Ports     []stack.Port      `json:"ports,omitempty"`
	StartedAt time.Time         `json:"startedAt,omitempty"`
	// FinishedAt is when it last exited, in whole seconds as Podman lists
	// it; zero if it never has. An attached up orders exits by it.
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// ObservedVolume is a volume that exists.
type ObservedVolume struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
}

// ObservedNetwork is a network that exists.
type ObservedNetwork struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
}

// ObservedSecret is a Podman secret that exists.
type ObservedSecret struct {
	ID     string            `json:"id"`
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
}

// Lookup names what Observe reports beyond the project's labelled objects:
// which images exist, and the volumes, networks and secrets that already
// carry a name the stack would create, labelled or not.
type Lookup struct {
	// Containers are the names of the containers the stack has. When set,
	// containers left only in storage (which need a dearer listing) are
	// looked for only if one of these names is not held by a container
	// the project's labels find: no leftover can hold a name a container
	// holds. Nil looks for leftovers always.
	Containers []string
	Images     []string
	// Builds are the images of Images built from the stack: their
	// LabelBuildDigest is read too.
	Builds   []string
	Volumes  []string
	Networks []string
	Secrets  []string
	// Directories are bind-mount sources on the host: which of them are
	// missing (where the runtime can tell: a service on this machine).
	Directories []string
	// Pods, when set, is what the stack wants of the project's pods: the
	// runtime may then work them out from its listing of the project's
	// containers (Pods.FromContainers) instead of listing them, and so
	// miss a pod of the project that holds no container and that the
	// stack no longer has. Nil lists them.
	Pods *PodExpectation
}

// SecretSpec is a Podman secret a plan creates, from a stack secret or an
// inline or environment config. Its content is read when the step runs;
// Digest, in its labels, tells a changed secret.
type SecretSpec struct {
	// Name is the Podman secret's name.
	Name string `json:"name"`
	// Kind is "secret" or "config"; Key its key in the stack file.
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Digest string `json:"digest,omitempty"`
}

// StepKind is what a plan step does.
type StepKind string

const (
	StepPullImage     StepKind = "PullImage"
	StepBuildImage    StepKind = "BuildImage"
	StepCreateNetwork StepKind = "CreateNetwork"
	StepCreateVolume  StepKind = "CreateVolume"
	StepCreateSecret  StepKind = "CreateSecret"
	// StepCreateDirectory creates a missing bind-mount source directory.
	StepCreateDirectory StepKind = "CreateDirectory"
	// StepUseVolume marks a volume that exists without this project's
	// labels and will be mounted as it is: it changes nothing, it is there
	// so plans and progress show it.
	StepUseVolume       StepKind = "UseVolume"
	StepCreatePod       StepKind = "CreatePod"
	StepCreateContainer StepKind = "CreateContainer"
	StepStartContainer  StepKind = "StartContainer"
	// StepWait waits for a container to reach Step.Condition.
	StepWait            StepKind = "Wait"
	StepStopContainer   StepKind = "StopContainer"
	StepRemoveContainer StepKind = "RemoveContainer"
	StepRemovePod       StepKind = "RemovePod"
	StepRemoveVolume    StepKind = "RemoveVolume"
	StepRemoveNetwork   StepKind = "RemoveNetwork"
	StepRemoveSecret    StepKind = "RemoveSecret"
	// StepRemoveImage removes a local image (down --rmi); one in use by a
	// container of another project is refused, and the step warns.
	StepRemoveImage StepKind = "RemoveImage"
	// StepPushImage pushes an image to its registry (stack push).
	StepPushImage StepKind = "PushImage"
)

// Mutating reports whether a step of this kind changes the Podman service.
func (k StepKind) Mutating() bool {
	return k != StepWait && k != StepUseVolume
}

// Step is one node of the plan DAG.
type Step struct {
	// ID numbers steps from 1 in plan order.
	ID   int      `json:"id"`
	Kind StepKind `json:"kind"`
	// Target is the Podman name of the object the step acts on.
	Target string `json:"target"`
	// Service and Pod place the step in the stack; empty where not relevant.
	Service string `json:"service,omitempty"`
	Pod     string `json:"pod,omitempty"`
	// Deps are the IDs of steps that must finish first.
	Deps []int `json:"deps,omitempty"`
	// Cause says why the step is there ("no existing container",
	// "config changed", "orphan", ...).
	Cause string `json:"cause"`
	// Condition is what a StepWait waits for.
	Condition stack.Condition `json:"condition,omitempty"`
	// Optional steps warn instead of failing, and the plan goes on:
	// depends_on required: false, pull --ignore-pull-failures, the removal
	// of an image still in use.
	Optional bool `json:"optional,omitempty"`

	// Payloads: exactly the one the Kind needs is set.
	PodSpec   *Pod           `json:"-"`
	Container *Container     `json:"-"`
	Volume    *stack.Volume  `json:"-"`
	Network   *stack.Network `json:"-"`
	Secret    *SecretSpec    `json:"-"`
	// Image is the reference for pull and build steps.
	Image string `json:"image,omitempty"`
	// Policy is the pull policy of a pull step (missing or always).
	Policy string `json:"policy,omitempty"`
	// Build is what a build step builds: the service's build section with
	// the command line's overrides, and the labels the image gets (the
	// project, the service and LabelBuildDigest).
	Build *stack.Build `json:"-"`
	// Health is the healthcheck a service_healthy wait runs.
	Health *stack.HealthCheck `json:"-"`
	// StopTimeout is the grace period for StepStopContainer.
	StopTimeout time.Duration `json:"-"`
	// RemoveVolumes makes a StepRemoveContainer remove the container's
	// anonymous volumes too (down -v, rm -v).
	RemoveVolumes bool `json:"removeVolumes,omitempty"`
}

// Plan is the DAG of steps that takes observed state to desired state.
type Plan struct {
	// Stack is the desired stack the plan was made from (nil for a down
	// plan made without a stack file).
	Stack       *stack.Stack `json:"-"`
	Project     string       `json:"project"`
	Environment string       `json:"environment,omitempty"`
	Steps       []*Step      `json:"steps"`
	// Pods and Containers are the desired state the plan reaches.
	Pods       []*Pod       `json:"pods"`
	Containers []*Container `json:"containers"`
	// Warnings are non-fatal findings made while planning.
	Warnings []string `json:"warnings,omitempty"`
}

// Runtime is what the executor needs from a container engine. podmanapi
// implements it over Podman's REST API; tests use an in-memory fake. Every
// method is idempotent where the note says so, and wraps Podman errors with
// the object's name.
type Runtime interface {
	// PullImage makes ref present locally (policy "always" or "missing"; the
	// plan only has a pull step when one is needed), writing the engine's
	// progress lines to out.
	PullImage(ctx context.Context, ref string, policy string, out io.Writer) error
	// BuildImage builds ref from b (its labels on the image; NoCache and
	// Pull as it says), writing the build's output to out as it comes.
	BuildImage(ctx context.Context, ref string, b *stack.Build, out io.Writer) error
	// PushImage pushes ref to its registry, writing progress lines to out.
	PushImage(ctx context.Context, ref string, out io.Writer) error
	// RemoveImage removes a local image; a missing one is fine, one in
	// use by a container is an error.
	RemoveImage(ctx context.Context, ref string) error
	// CreateNetwork creates a network with the stack's labels.
	CreateNetwork(ctx context.Context, n *stack.Network, labels map[string]string) error
	// CreateVolume creates a named volume with the stack's labels.
	CreateVolume(ctx context.Context, v *stack.Volume, labels map[string]string) error
	// CreateSecret creates a Podman secret with the stack's labels, its
	// content read from the stack's secret or config sec names.
	CreateSecret(ctx context.Context, sec *SecretSpec, s *stack.Stack, labels map[string]string) error
	// CreatePod creates (but does not start) a pod. With p.Infra false the
	// runtime may create nothing and let the single container carry the
	// pod's ports and aliases. A pod already holding the name is settled
	// by ClaimName (adopted, replaced, or refused with RefusedName).
	CreatePod(ctx context.Context, p *Pod, s *stack.Stack) error
	// CreateContainer creates (but does not start) a container. A
	// container already holding the name is settled by ClaimName, as for
	// pods, so a create that landed late does not fail the next run.
	CreateContainer(ctx context.Context, c *Container, p *Pod, s *stack.Stack) error
	// StartContainer starts a created or stopped container.
	StartContainer(ctx context.Context, name string) error
	// RunHealthCheck runs the container's healthcheck once and returns the
	// aggregated health status ("starting", "healthy" or "unhealthy") with
	// retries applied. The executor calls it at the check's interval, since
	// nothing else runs healthchecks on a host without systemd.
	RunHealthCheck(ctx context.Context, name string) (string, error)
	// WaitExit blocks until the container exits and returns its exit code.
	WaitExit(ctx context.Context, name string) (int, error)
	// StopContainer stops a container, killing it after timeout.
	StopContainer(ctx context.Context, name string, timeout time.Duration) error
	// RemoveContainer removes a container (force: even if running), and
	// with volumes its anonymous volumes too.
	RemoveContainer(ctx context.Context, name string, volumes bool) error
	// RemovePod removes a pod and whatever is left in it.
	RemovePod(ctx context.Context, name string) error
	// RemoveVolume removes a named volume.
	RemoveVolume(ctx context.Context, name string) error
	// RemoveNetwork removes a network.
	RemoveNetwork(ctx context.Context, name string) error
	// RemoveSecret removes a Podman secret; a missing one is fine.
	RemoveSecret(ctx context.Context, name string) error
	// CreateDirectory creates a bind-mount source directory (and its
	// parents) on the service's host; an existing one is fine.
	CreateDirectory(ctx context.Context, path string) error
	// Logs writes the last tail lines of a container's output to w; used to
	// explain a failed wait.
	Logs(ctx context.Context, name string, tail int, w io.Writer) error
}

// ErrNotRunning is what a Runtime wraps when a container it was asked about
// is not running (a healthcheck of an exited container, say): a wait fails
// at once instead of probing until its timeout.
var ErrNotRunning = errors.New("not running")

// Status is the state of a step in a progress event.
type Status string

const (
	StatusWorking Status = "working"
	StatusDone    Status = "done"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
	StatusWarning Status = "warning"
	StatusInfo    Status = "info"
	// StatusOutput carries one line of a step's output in Text (a build's
	// or a pull's): renderers show it as it comes, beside the step's line.
	StatusOutput Status = "output"
)

// Event is one progress report. Renderers (tty, plain, json, quiet) turn
// events into output; the executor only emits them.
type Event struct {
	Time   time.Time `json:"time"`
	StepID int       `json:"step,omitempty"`
	Kind   StepKind  `json:"kind,omitempty"`
	// Resource is the object's name (container, pod, volume, ...).
	Resource string `json:"resource"`
	// Object is the kind of Resource when the step kind does not imply it,
	// as for the Kubernetes objects of a cluster deployment ("Deployment").
	Object  string `json:"object,omitempty"`
	Service string `json:"service,omitempty"`
	Status  Status `json:"status"`
	// Text is a short human phrase: "Creating", "Started", "Healthy".
	Text string `json:"text"`
	// Detail carries extra information (an error, a log excerpt).
	Detail  string        `json:"detail,omitempty"`
	Elapsed time.Duration `json:"elapsed,omitempty"`
}

// Events receives progress events. Implementations must be safe for
// concurrent use: the executor emits from several goroutines.
type Events interface {
	Emit(Event)
}

// EventsFunc adapts a function to Events.
type EventsFunc func(Event)

// Emit calls f(e).
func (f EventsFunc) Emit(e Event) { f(e) }

// NoEvents discards events.
var NoEvents Events = EventsFunc(func(Event) {})
