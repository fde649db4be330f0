package ops

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// Engine is what the use cases need of a container engine: the planner's
// Backend (observe, and every step a plan can hold) and the operations on
// running containers that are no plan's business. podmanapi.Client
// implements it over Podman's REST API; the tests use an in-memory fake.
// Errors name the object they are about.
type Engine interface {
	planner.Backend

	// URL identifies the engine's service; project locks are keyed by it.
	URL() string
	// Version reports the service's version.
	Version(ctx context.Context) (ServerInfo, error)
	// Projects lists every project that has containers on the service.
	Projects(ctx context.Context) ([]ProjectSummary, error)

	// FreshHealth returns a running container's health, first running its
	// healthcheck when the last one is older than the check's interval
	// (nothing else runs checks on a host without systemd); "" when the
	// container has no healthcheck.
	FreshHealth(ctx context.Context, name string, now time.Time) (string, error)
	// WaitEnd blocks until the container exits and says whether its restart
	// policy brings it back (then it has not ended and is watched again).
	WaitEnd(ctx context.Context, name string) (code int, restarted bool, err error)
	// KillAll sends SIGKILL to the named containers at once, listing
	// nothing first; ones already gone are fine.
	KillAll(ctx context.Context, names []string) error
	// Kill sends signal ("KILL", "SIGTERM", "9") to a container.
	Kill(ctx context.Context, name, signal string) error
	// Pause freezes a container; Unpause thaws it.
	Pause(ctx context.Context, name string) error
	Unpause(ctx context.Context, name string) error

	// StreamLogs reads the containers' logs concurrently, calling emit for
	// each line from one goroutine at a time, until they end (or, with
	// Follow, ctx ends).
	StreamLogs(ctx context.Context, names []string, opts LogOptions, emit func(LogLine)) error
	// Events streams the project's container and pod events until ctx ends.
	Events(ctx context.Context, project string, each func(Event)) error
	// Stats samples the containers' resource use once or, with stream,
	// every interval until ctx ends.
	Stats(ctx context.Context, names []string, stream bool, each func([]Stat)) error
	// Top lists a container's processes (the first line is the header).
	Top(ctx context.Context, name string) ([]string, error)
	// InspectContainer and InspectPod return the engine's inspect data.
	InspectContainer(ctx context.Context, name string) (json.RawMessage, error)
	InspectPod(ctx context.Context, name string) (json.RawMessage, error)
	// Exec runs a command in a running container and returns its exit code.
	Exec(ctx context.Context, name string, o ExecOptions) (int, error)
	// RunContainer creates a container (a one-off), attaches to it, starts
	// it and returns its exit code; with Detach it only starts it.
	RunContainer(ctx context.Context, c *planner.Container, p *planner.Pod, s *stack.Stack, o RunIO) (int, error)
	// StatPath describes a path in a container, running or not; found is
	// false when nothing is there.
	StatPath(ctx context.Context, name, path string) (info PathInfo, found bool, err error)
	// CopyFrom writes a tar archive of path in the container (its top
	// entry named as path's base) to w.
	CopyFrom(ctx context.Context, name, path string, w io.Writer) error
	// CopyTo unpacks the tar archive r into the container's existing
	// directory dir; chown gives the files to the container's user, else
	// they keep the archive's owners.
	CopyTo(ctx context.Context, name, dir string, r io.Reader, chown bool) error
	// AttachContainer connects o's streams to a running container's until
	// it exits, the detach keys are typed (detached is then true) or ctx
	// ends.
	AttachContainer(ctx context.Context, name string, o AttachIO) (detached bool, err error)
	// GenerateKube returns the engine's own Kubernetes YAML of what runs in
	// the named pods.
	GenerateKube(ctx context.Context, pods []string) ([]byte, error)
	// ImageExposedPorts returns the ports a local image exposes
	// ("6379/tcp"), and whether the image is there at all.
	ImageExposedPorts(ctx context.Context, ref string) ([]string, bool, error)
	// InspectImages returns the local images refs name (IDs or
	// references), by the ref asked; one that is not there is left out.
	InspectImages(ctx context.Context, refs []string) (map[string]ImageInfo, error)
}

// ImageInfo is a local image, as `stack images` shows it.
type ImageInfo struct {
	// ID is the full image ID (hex, no algorithm prefix).
	ID       string
	RepoTags []string
	// Size is in bytes.
	Size     int64
	Created  time.Time
	Platform string // os/arch
}

// ServerInfo is what Version reports of the service.
type ServerInfo struct {
	Version    string
	APIVersion string
	OS         string
	Arch       string
	URL        string
}

// ProjectSummary is one stack found on the service, for `stack ls`. Its
// JSON keys are docker compose ls's (Name, Status) and ps's style.
type ProjectSummary struct {
	Name        string
	Environment string `json:",omitempty"`
	Containers  int
	// Status counts containers by state: "running(3), exited(1)".
	Status string
}

// Count is how many of the project's containers are in state, read from
// Status.
func (s ProjectSummary) Count(state string) int {
	n := 0
	for _, part := range strings.Split(s.Status, ", ") {
		if rest, ok := strings.CutPrefix(part, state+"("); ok {
			k, _ := strconv.Atoi(strings.TrimSuffix(rest, ")"))
			n += k
		}
	}
	return n
}

// LogOptions select what StreamLogs reads.
type LogOptions struct {
	Follow     bool
	Tail       int // < 0: all
	Since      string
	Until      string
	Timestamps bool
}

// LogLine is one line of a container's output.
type LogLine struct {
	Container string
	Text      string // without the trailing newline
	Stderr    bool
}

// Event is one engine event of a project object.
type Event struct {
	Time    time.Time         `json:"time"`
	Type    string            `json:"type"`
	Action  string            `json:"action"`
	Name    string            `json:"name"`
	ID      string            `json:"id"`
	Service string            `json:"service,omitempty"`
	Health  string            `json:"health,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// Stat is one container's resource use. Its JSON keys are these names,
// in the key style of ps and ls (docker compose's).
type Stat struct {
	Name        string
	CPUPercent  float64
	MemUsage    uint64
	MemLimit    uint64
	MemPercent  float64
	NetInput    uint64
	NetOutput   uint64
	BlockInput  uint64
	BlockOutput uint64
	PIDs        uint64
}

// ExecOptions describe a command run in a running container.
type ExecOptions struct {
	Cmd     []string
	Env     []string
	User    string
	WorkDir string
	TTY     bool
	// Interactive forwards Stdin to the command (until Stdin ends).
	Interactive bool
	// Detach starts the command and returns at once, with code 0.
	Detach bool
	// Privileged gives the command extended privileges.
	Privileged bool
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
}

// RunIO connects a container RunContainer runs: its output goes to Stdout
// and Stderr (one stream with a TTY); Interactive also connects Stdin. With
// TTY and a terminal on Stdin, the terminal is put in raw mode and the
// container's follows its size. Remove removes the container when it exits.
// Detach starts it and returns at once, connecting nothing.
type RunIO struct {
	TTY, Interactive bool
	Remove           bool
	Detach           bool
	Stdin            io.Reader
	Stdout, Stderr   io.Writer
}

// PathInfo describes a path in a container.
type PathInfo struct {
	Name  string
	IsDir bool
	Mode  os.FileMode
	Size  int64
	// LinkTarget is the path with symlinks resolved.
	LinkTarget string
}

// AttachIO connects AttachContainer: Stdin is forwarded when not nil;
// with a terminal container the output is one stream, on Stdout.
// DetachKeys ("ctrl-p,ctrl-q") end the attach and leave the container
// running; "" disables them.
type AttachIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	DetachKeys     string
}
