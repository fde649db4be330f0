package stack

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// Format says which kind of stack file a Stack was loaded from. Exports and
// error messages use it; the planner does not care.
type Format string

const (
	FormatCompose Format = "compose"
	FormatKube    Format = "kube"
)

// Stack is the normalized model that both input formats load into. Everything
// downstream (planner, runtime, exports) reads this and never the raw files, so
// a feature works the same for compose and Kubernetes input.
type Stack struct {
	// Name is the project name: it prefixes every pod, container, volume and
	// network and scopes every label query.
	Name string `json:"name"`
	// Environment is the selected environment (dev, staging, prod); empty for
	// none. It labels every object and names export files.
	Environment string `json:"environment,omitempty"`
	Format      Format `json:"format"`
	// WorkingDir is the directory relative paths were resolved against.
	WorkingDir string `json:"workingDir"`
	// Files are the stack files that were read, in merge order (base files,
	// then environment overrides).
	Files []string `json:"files"`
	// EnvFiles are the dotenv files that fed interpolation, lowest precedence first.
	EnvFiles []string `json:"envFiles,omitempty"`

	Services map[string]*Service `json:"services"`
	Volumes  map[string]*Volume  `json:"volumes,omitempty"`
	Networks map[string]*Network `json:"networks,omitempty"`
	Secrets  map[string]*Secret  `json:"secrets,omitempty"`
	Configs  map[string]*Config  `json:"configs,omitempty"`

	// Disabled are services present in the files but switched off by profiles.
	// depends_on on one of them is a validation error that names the profile.
	Disabled map[string]*Service `json:"disabled,omitempty"`
	// Profiles lists every profile any service declares (for `config --profiles`).
	Profiles []string `json:"profiles,omitempty"`

	// Options holds the top-level x-podstack settings.
	Options Extension `json:"x-podstack,omitempty"`
	// Placeholders maps the stand-ins of kept ${VAR} expressions back to
	// them (LoadOptions.KeepVars with Compose input); nil otherwise.
	Placeholders *Placeholders `json:"-"`
	// Warnings are non-fatal load findings: keys podstack ignores, obsolete
	// attributes. Callers print them; they never stop a load.
	Warnings []Warning `json:"-"`
	// RunProblems stop the stack from running but not from being read (a
	// missing secret file): commands that only tear down or inspect still
	// work, and planner.Validate reports them before anything is created.
	RunProblems Problems `json:"-"`
	// scrub puts back the ${NAME} of credential values in messages.
	scrub *scrubber
}

// PodPolicies are the ways services can be grouped into pods (see
// planner.Policy): the values --pods and x-podstack.pods take.
var PodPolicies = []string{"auto", "service", "project"}

// PodPolicyFix is the fix a message gives for an invalid pod policy.
const PodPolicyFix = "use auto, service or project"

// Extension is the top-level `x-podstack` block. Decoded strictly: an unknown
// key in it is a load error, since a typo here would silently change behaviour.
type Extension struct {
	// Pods is the default grouping policy (auto, service, project); the
	// --pods flag wins over it.
	Pods string `json:"pods,omitempty" yaml:"pods,omitempty" mapstructure:"pods"`
	// VolumeSize is the default PersistentVolumeClaim size for exports ("1Gi").
	VolumeSize string `json:"volume-size,omitempty" yaml:"volume-size,omitempty" mapstructure:"volume-size"`
	// SecretEnv names environment variables whose values are secrets beyond
	// the credential rule (see IsCredential): exports put them in a Secret,
	// never a ConfigMap, and messages never print them.
	SecretEnv []string `json:"secret-env,omitempty" yaml:"secret-env,omitempty" mapstructure:"secret-env"`
	// PlainEnv names variables the credential rule would treat as secrets
	// that are not (a PUBLIC_KEY, say): exports may put them in a ConfigMap.
	PlainEnv []string `json:"plain-env,omitempty" yaml:"plain-env,omitempty" mapstructure:"plain-env"`
}

// Service is one container definition. With replicas it becomes several
// containers named <project>-<service>-<n>.
type Service struct {
	Name  string `json:"name"`
	Image string `json:"image,omitempty"`
	Build *Build `json:"build,omitempty"`
	// PullPolicy from the file: always, missing, never, build; "" = the CLI default.
	PullPolicy string `json:"pullPolicy,omitempty"`

	// Entrypoint and Command are nil when the image defaults apply; an empty
	// non-nil slice clears the image default.
	Entrypoint []string `json:"entrypoint,omitempty"`
	Command    []string `json:"command,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
	// Environment is fully resolved (env_file merged, unresolved keys dropped).
	Environment map[string]string `json:"environment,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	// ContainerName is compose's container_name: it only works with one replica.
	ContainerName string `json:"containerName,omitempty"`

	Ports  []Port   `json:"ports,omitempty"`
	Expose []uint16 `json:"expose,omitempty"`
	// NetworkMode is compose's network_mode: "", "host", "none", "bridge",
	// "service:<name>" or "container:<name>".
	NetworkMode string                     `json:"networkMode,omitempty"`
	Networks    map[string]*ServiceNetwork `json:"networks,omitempty"`
	ExtraHosts  []string                   `json:"extraHosts,omitempty"`
	DNS         []string                   `json:"dns,omitempty"`

	Mounts  []Mount      `json:"mounts,omitempty"`
	Secrets []FileRef    `json:"secrets,omitempty"`
	Configs []FileRef    `json:"configs,omitempty"`
	Health  *HealthCheck `json:"healthcheck,omitempty"`
	// DependsOn maps a service name to how this one waits for it.
	DependsOn map[string]Dependency `json:"dependsOn,omitempty"`

	Restart         RestartPolicy  `json:"restart,omitempty"`
	StopSignal      string         `json:"stopSignal,omitempty"`
	StopGracePeriod *time.Duration `json:"stopGracePeriod,omitempty"`
	Resources       Resources      `json:"resources,omitempty"`
	Replicas        int            `json:"replicas"`
	// DeployMode is compose's deploy.mode: "" or "replicated", or "global"
	// (one per node: one here; exports name what they cannot express).
	DeployMode string `json:"deployMode,omitempty"`

	Init       bool     `json:"init,omitempty"`
	Tty        bool     `json:"tty,omitempty"`
	StdinOpen  bool     `json:"stdinOpen,omitempty"`
	Privileged bool     `json:"privileged,omitempty"`
	ReadOnly   bool     `json:"readOnly,omitempty"`
	CapAdd     []string `json:"capAdd,omitempty"`
	CapDrop    []string `json:"capDrop,omitempty"`
	// Ulimits maps a name (nofile) to soft/hard.
	Ulimits map[string]Ulimit `json:"ulimits,omitempty"`
	Sysctls map[string]string `json:"sysctls,omitempty"`
	Devices []string          `json:"devices,omitempty"`

	// PID and IPC are the namespaces to use: "" (private), "host",
	// "service:NAME" or "container:NAME"; IPC also "private", "shareable".
	PID        string `json:"pid,omitempty"`
	IPC        string `json:"ipc,omitempty"`
	UsernsMode string `json:"usernsMode,omitempty"`
	// SecurityOpt are docker-style entries: no-new-privileges, label=...,
	// seccomp=..., apparmor=..., unmask=..., mask=...
	SecurityOpt []string `json:"securityOpt,omitempty"`
	ShmSize     int64    `json:"shmSize,omitempty"`
	GroupAdd    []string `json:"groupAdd,omitempty"`
	DNSSearch   []string `json:"dnsSearch,omitempty"`
	DNSOptions  []string `json:"dnsOptions,omitempty"`
	OomScoreAdj int      `json:"oomScoreAdj,omitempty"`
	Logging     *Logging `json:"logging,omitempty"`

	Profiles []string `json:"profiles,omitempty"`
	// Pod is the pod this service asks to share: compose's `x-pod` extension,
	// or the Pod a Kubernetes container came from. "" lets the policy decide.
	Pod string `json:"pod,omitempty"`
	// InitContainer marks a Kubernetes init container (runs to completion
	// before the pod's other containers start).
	InitContainer bool `json:"initContainer,omitempty"`
	// Develop is compose's develop section, for `stack watch`.
	Develop *Develop `json:"develop,omitempty"`

	// Keys are the compose keys set on this service (deploy's as
	// "deploy.KEY"); nil for Kubernetes input. What each target does not
	// carry of them comes from the one table of service keys (see
	// ServiceKeys and NotCarried).
	Keys []string `json:"-"`
	// Unsupported lists the keys set on this service that podstack does not
	// carry out; the loader warns about each (Stack.Warnings), and the
	// exports name those they cannot express.
	Unsupported []string `json:"-"`
	// Source is where the service is defined, for error messages.
	Source Position `json:"-"`
}

// Build is compose's build section.
type Build struct {
	Context    string            `json:"context"`
	Dockerfile string            `json:"dockerfile,omitempty"`
	Args       map[string]string `json:"args,omitempty"`
	Target     string            `json:"target,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	// NoCache builds without the layer cache; Pull pulls the base images
	// first, even when present (compose's no_cache and pull).
	NoCache bool `json:"noCache,omitempty"`
	Pull    bool `json:"pull,omitempty"`
	// DockerfileInline is the Dockerfile's text, written in the stack file
	// instead of a file (compose's dockerfile_inline; Dockerfile is then "").
	DockerfileInline string `json:"dockerfileInline,omitempty"`
	// AdditionalContexts are more contexts the Dockerfile reads by name
	// (FROM NAME, COPY --from=NAME): an absolute local directory,
	// "docker-image://REF", "service:NAME" (the image the stack builds for
	// service NAME, built first) or an http(s) URL.
	AdditionalContexts map[string]string `json:"additionalContexts,omitempty"`
	// Ulimits, ShmSize (bytes), ExtraHosts ("HOST:IP") and Network ("",
	// "none" or "host") set up the containers the RUN steps run in.
	Ulimits    map[string]Ulimit `json:"ulimits,omitempty"`
	ShmSize    int64             `json:"shmSize,omitempty"`
	ExtraHosts []string          `json:"extraHosts,omitempty"`
	Network    string            `json:"network,omitempty"`
	// CacheFrom are images whose layers the build may reuse; Tags are more
	// names for the built image.
	CacheFrom []string `json:"cacheFrom,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	// Platform is the one platform built for ("linux/arm64"); "" is the
	// Podman host's own.
	Platform string `json:"platform,omitempty"`
	// Secrets are what RUN --mount=type=secret,id=ID steps read.
	Secrets []BuildSecret `json:"secrets,omitempty"`
	// Digest fingerprints the build's inputs (see ContextDigest); empty
	// until ResolveBuildDigests, and for a remote context. The image built
	// carries it in a label, so a later up knows whether it is current.
	Digest string `json:"-"`
}

// BuildSecret is a build's use of a stack secret: the build sees it under
// ID (the long syntax's target, else the secret's key). File or Content
// (an environment or inline secret's value, resolved at load like the
// services' secrets) is what it holds.
type BuildSecret struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	File   string `json:"file,omitempty"`
	// Environment names the variable Content came from.
	Environment string `json:"environment,omitempty"`
	Content     string `json:"-"`
}

// Port is one published or container port.
type Port struct {
	// Target is the port inside the container.
	Target uint16 `json:"target"`
	// Published is the host port; 0 means not published on the host (kube
	// containerPort without hostPort), or a port Podman picks when Ephemeral.
	Published uint16 `json:"published,omitempty"`
	// Ephemeral publishes on a free host port (compose `ports: ["80"]`).
	Ephemeral bool   `json:"ephemeral,omitempty"`
	HostIP    string `json:"hostIP,omitempty"`
	Protocol  string `json:"protocol"` // tcp or udp
	// Name is the Kubernetes port name, when there is one.
	Name string `json:"name,omitempty"`
}

// ServiceNetwork is a service's attachment to one stack network.
type ServiceNetwork struct {
	Aliases     []string `json:"aliases,omitempty"`
	IPv4Address string   `json:"ipv4Address,omitempty"`
	IPv6Address string   `json:"ipv6Address,omitempty"`
	MACAddress  string   `json:"macAddress,omitempty"`
	// InterfaceName is the interface's name inside the container.
	InterfaceName string `json:"interfaceName,omitempty"`
}

// MountType is the kind of a Mount.
type MountType string

const (
	MountVolume MountType = "volume"
	MountBind   MountType = "bind"
	MountTmpfs  MountType = "tmpfs"
)

// Mount is one filesystem mount of a service.
type Mount struct {
	Type MountType `json:"type"`
	// Source is the stack volume key for MountVolume (look it up in
	// Stack.Volumes for the real name), an absolute host path for MountBind,
	// and empty for tmpfs. An anonymous volume has Type volume and no Source.
	Source   string `json:"source,omitempty"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	// SELinux is "z", "Z" or "" for bind mounts.
	SELinux string `json:"selinux,omitempty"`
	// SubPath mounts a sub directory of a volume.
	SubPath string `json:"subPath,omitempty"`
	// TmpfsSize is the tmpfs size in bytes, 0 for the default.
	TmpfsSize int64 `json:"tmpfsSize,omitempty"`
}

// FileRef is a secret or config that a service mounts as a file.
type FileRef struct {
	Source string `json:"source"`
	// Target is the path inside the container (absolute after loading).
	Target string  `json:"target"`
	UID    string  `json:"uid,omitempty"`
	GID    string  `json:"gid,omitempty"`
	Mode   *uint32 `json:"mode,omitempty"`
}

// HealthCheck is a normalized healthcheck: durations are filled in with
// Docker's defaults at load time, because Podman 4.x treats a zero timeout as
// "fail every probe".
type HealthCheck struct {
	// Test is CMD or CMD-SHELL form: ["CMD", "argv0", ...] or ["CMD-SHELL", "script"].
	// Empty (compose's healthcheck with timings and no test) means the
	// image's own HEALTHCHECK test, run with these timings.
	Test          []string      `json:"test"`
	Interval      time.Duration `json:"interval"`
	Timeout       time.Duration `json:"timeout"`
	StartPeriod   time.Duration `json:"startPeriod"`
	StartInterval time.Duration `json:"startInterval,omitempty"`
	Retries       int           `json:"retries"`
}

// InheritsTest reports whether the healthcheck runs the image's own test
// (the stack gives only timings).
func (h *HealthCheck) InheritsTest() bool {
	return h != nil && len(h.Test) == 0
}

// Docker's healthcheck defaults, applied where the file leaves a field unset.
const (
	DefaultHealthInterval = 30 * time.Second
	DefaultHealthTimeout  = 30 * time.Second
	DefaultHealthRetries  = 3
	DefaultStartInterval  = 5 * time.Second
)

// Condition is how a dependent waits for its dependency.
type Condition string

const (
	ConditionStarted   Condition = "service_started"
	ConditionHealthy   Condition = "service_healthy"
	ConditionCompleted Condition = "service_completed_successfully"
)

// Dependency is one depends_on entry.
type Dependency struct {
	Condition Condition `json:"condition"`
	// Required false means a missing or failed dependency is only a warning.
	Required bool `json:"required"`
	// Restart true restarts the dependent when the dependency is recreated.
	Restart bool `json:"restart,omitempty"`
}

// RestartPolicy is compose's restart: "no", "always", "on-failure[:N]", "unless-stopped".
type RestartPolicy string

// RestartsAfter reports whether the policy starts a container again after
// it exited with code by itself (on-failure's retry count aside).
func (r RestartPolicy) RestartsAfter(code int) bool {
	switch {
	case r == "always" || r == "unless-stopped":
		return true
	case r == "on-failure" || strings.HasPrefix(string(r), "on-failure:"):
		return code != 0
	}
	return false
}

// Resources are the service's limits and reservations.
type Resources struct {
	// CPUs is a fractional CPU count (0.5); 0 means no limit.
	CPUs float64 `json:"cpus,omitempty"`
	// MemoryBytes is the memory limit; 0 means no limit.
	MemoryBytes int64 `json:"memoryBytes,omitempty"`
	// Reservation values map to Kubernetes requests.
	CPUsReservation   float64 `json:"cpusReservation,omitempty"`
	MemoryReservation int64   `json:"memoryReservation,omitempty"`
	Pids              int64   `json:"pids,omitempty"`
	CPUShares         int64   `json:"cpuShares,omitempty"`
	CPUSet            string  `json:"cpuSet,omitempty"`
}

// NamespaceOwners names the services whose pid or ipc namespace this one
// joins ("service:NAME").
func (s *Service) NamespaceOwners() []string {
	var out []string
	for _, ns := range []string{s.PID, s.IPC} {
		if name, ok := strings.CutPrefix(ns, "service:"); ok && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// Logging is the container's log driver (json-file, k8s-file, journald,
// none, passthrough) and its options.
type Logging struct {
	Driver  string            `json:"driver,omitempty"`
	Options map[string]string `json:"options,omitempty"`
}

// Ulimit is a soft/hard pair.
type Ulimit struct {
	Soft int64 `json:"soft"`
	Hard int64 `json:"hard"`
}

// Volume is a named volume of the stack.
type Volume struct {
	// Key is the name used in the stack file; Name is the real Podman name
	// (<project>_<key> unless the file sets name:).
	Key      string            `json:"key"`
	Name     string            `json:"name"`
	Driver   string            `json:"driver,omitempty"`
	Options  map[string]string `json:"options,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	External bool              `json:"external,omitempty"`
	// Size is the requested size for exports ("1Gi"), from x-podstack or a PVC.
	Size string `json:"size,omitempty"`
}

// Network is a network of the stack.
type Network struct {
	Key      string            `json:"key"`
	Name     string            `json:"name"`
	Driver   string            `json:"driver,omitempty"`
	Options  map[string]string `json:"options,omitempty"` // driver_opts
	Internal bool              `json:"internal,omitempty"`
	IPv6     bool              `json:"ipv6,omitempty"`
	// Subnets are the ipam pools; none lets Podman pick a free subnet.
	Subnets    []Subnet          `json:"subnets,omitempty"`
	IPAMDriver string            `json:"ipamDriver,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	External   bool              `json:"external,omitempty"`
	// Source is where the network is defined, for messages; zero for the
	// default network.
	Source Position `json:"-"`
}

// Subnet is one address pool of a network.
type Subnet struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway,omitempty"`
	IPRange string `json:"ipRange,omitempty"`
}

// Secret is a stack secret. Exactly one of File, Environment or Content is set
// (or External).
type Secret struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	File        string `json:"file,omitempty"`
	Environment string `json:"environment,omitempty"`
	// Content is the inline value (or the environment variable's, resolved
	// at load); never printed by `config`.
	Content  string `json:"-"`
	External bool   `json:"external,omitempty"`
	// Digest identifies the content (empty when the file cannot be read):
	// a changed secret replaces the Podman secret and recreates its users.
	Digest string `json:"-"`
}

// Config is a stack config (a file or inline content mounted into services).
type Config struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	File        string `json:"file,omitempty"`
	Environment string `json:"environment,omitempty"`
	Content     string `json:"content,omitempty"`
	External    bool   `json:"external,omitempty"`
	// Digest identifies the content, as for Secret.
	Digest string `json:"-"`
}

// Position is a place in a stack file. Line is 0 when unknown.
type Position struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// Warning is a non-fatal finding tied to a place and, usually, a service.
type Warning struct {
	Position
	Service string
	Message string
}

// ServiceNames returns the enabled services' names, sorted, so every caller
// iterates in the same deterministic order.
func (s *Stack) ServiceNames() []string {
	names := make([]string, 0, len(s.Services))
	for n := range s.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
