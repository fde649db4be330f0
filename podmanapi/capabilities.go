package podmanapi

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/containers/podman/v5/pkg/bindings/system"

	"github.com/podstack/podstack/planner"
)

// Capabilities describe the Podman service a Client talks to: its version and
// how it runs. They are the one home of Podman's differences: every decision
// that depends on the Podman version or mode (here, in the planner's host
// checks, in the commands and in the tests) reads them, never a version
// string of its own. podstack supports Podman 4.3 to 5.x, rootful and
// rootless.
type Capabilities struct {
	// Version is the service's Podman version (the libpod API version it
	// announces on connecting).
	Version Version `json:"version"`
	// Rootless is a service run by a normal user, in a user namespace.
	Rootless bool `json:"rootless"`
	// CgroupVersion is the host's cgroup version: 1 or 2.
	CgroupVersion int `json:"cgroupVersion"`
	// NetworkBackend is "netavark" or "cni".
	NetworkBackend string `json:"networkBackend"`
	// UnprivilegedPortStart is the lowest host port a rootless service may
	// publish (net.ipv4.ip_unprivileged_port_start, 1024 unless lowered);
	// 0 for a rootful service, which may publish any.
	UnprivilegedPortStart int `json:"unprivilegedPortStart,omitempty"`
	// SameHost is a service reached through a unix socket: one on this
	// host, whose file system is this one.
	SameHost bool `json:"sameHost"`
}

// Version is a Podman version.
type Version struct {
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// MarshalText writes the version as "5.8.6".
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads "5.8.6" (or "5.8", "5.8.6-dev").
func (v *Version) UnmarshalText(b []byte) error {
	p, err := ParseVersion(string(b))
	*v = p
	return err
}

// ParseVersion reads a Podman version such as "4.3.1" or "5.8.6-dev".
func ParseVersion(s string) (Version, error) {
	core, _, _ := strings.Cut(strings.TrimPrefix(s, "v"), "-")
	parts := strings.Split(core, ".")
	var n [3]int
	for i := 0; i < len(parts) && i < 3; i++ {
		v, err := strconv.Atoi(parts[i])
		if err != nil {
			return Version{}, fmt.Errorf("version %q: %w", s, err)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// AtLeast reports whether the service is Podman major.minor or newer.
func (k Capabilities) AtLeast(major, minor int) bool {
	return k.Version.Major > major || (k.Version.Major == major && k.Version.Minor >= minor)
}

// Mode names how the service runs, for messages: "rootless Podman 4.3.1".
func (k Capabilities) Mode() string {
	mode := "rootful"
	if k.Rootless {
		mode = "rootless"
	}
	return fmt.Sprintf("%s Podman %s", mode, k.Version)
}

// WaitHoldsThroughRestarts: before Podman 5.3 a container wait returns only
// once a container with a restart policy has stopped for good; from 5.3 it
// returns on every exit, and the container shows stopped (not restarting)
// until its policy starts it again.
func (k Capabilities) WaitHoldsThroughRestarts() bool { return !k.AtLeast(5, 3) }

// InspectShowsStoppedByUser: from Podman 4.7 a container's inspect says
// whether a user stopped it, which is when its restart policy leaves it be.
func (k Capabilities) InspectShowsStoppedByUser() bool { return k.AtLeast(4, 7) }

// KeepIDAsRoot: userns_mode keep-id is refused for a rootful service before
// Podman 4.5 ("keep-id is only supported in rootless mode").
func (k Capabilities) KeepIDAsRoot() bool { return k.AtLeast(4, 5) }

// Freezer says why pause/unpause and stats cannot work on this service, or
// nil: rootless Podman on cgroup v1 runs containers without a cgroup of their
// own, so there is nothing to freeze or to read the usage of.
func (k Capabilities) Freezer() error {
	if k.Rootless && k.CgroupVersion == 1 {
		return fmt.Errorf("%w: %s on cgroup v1 runs containers without a cgroup of their own, so they cannot be paused "+
			"and have no resource statistics: a limit of the host, not of the stack "+
			"(use a rootful service, or boot the host with cgroup v2: systemd.unified_cgroup_hierarchy=1)", ErrUnsupported, k.Mode())
	}
	return nil
}

// LocalBuildContexts: from Podman 5.6 the bindings send a build's local
// additional contexts (additional_contexts: a directory) as archives, as
// they send the main context; before, they send the directory's path, and
// the service reads it from its own file system, which only a service on
// this host shares (tested on 4.3.1 over a unix socket: it builds with
// them). Image and URL contexts every supported Podman takes.
func (k Capabilities) LocalBuildContexts() bool { return k.AtLeast(5, 6) || k.SameHost }

// localBuildContextsNeed says what a service that cannot read local build
// contexts lacks, for messages.
const localBuildContextsNeed = "Podman 5.6 or later (or a service on this host, which reads the directory itself)"

// versionCaps is the part of the capability set known from connecting (the
// version), for decisions that need no more. It is never written after
// dial, so it needs no lock.
func (c *Client) versionCaps() Capabilities {
	return Capabilities{Version: c.caps.Version, SameHost: c.caps.SameHost}
}

// Capabilities returns the service's capability set. The version is known
// from connecting; the rest is asked once per connection (one info call),
// on first need, so commands that never need it never pay for it.
func (c *Client) Capabilities(ctx context.Context) (Capabilities, error) {
	c.capsMu.Lock()
	defer c.capsMu.Unlock()
	if c.capsLoaded {
		return c.caps, nil
	}
	info, err := system.Info(c.ctx(ctx), nil)
	if err != nil {
		return c.caps, fmt.Errorf("info of %s: %w", c.url, mapErr(err))
	}
	if info.Host != nil {
		c.caps.Rootless = info.Host.Security.Rootless
		c.caps.CgroupVersion, _ = strconv.Atoi(strings.TrimPrefix(info.Host.CgroupsVersion, "v"))
		c.caps.NetworkBackend = info.Host.NetworkBackend
	}
	if c.caps.Rootless {
		c.caps.UnprivilegedPortStart = unprivilegedPortStart(c.url)
	}
	c.capsLoaded = true
	return c.caps, nil
}

// unprivilegedPortStart reads net.ipv4.ip_unprivileged_port_start where the
// service is local (a unix socket: the same host and, normally, network
// namespace); a remote host's is not knowable, and Linux's default is assumed.
func unprivilegedPortStart(url string) int {
	if strings.HasPrefix(url, "unix://") {
		if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return n
			}
		}
	}
	return 1024
}

var _ planner.HostInspector = (*Client)(nil)

// Host describes the service's host to the planner, from the capability set.
func (c *Client) Host(ctx context.Context) (planner.Host, error) {
	k, err := c.Capabilities(ctx)
	if err != nil {
		return planner.Host{}, err
	}
	h := planner.Host{Mode: k.Mode(), UnprivilegedPortStart: k.UnprivilegedPortStart}
	if !k.LocalBuildContexts() {
		h.NoLocalBuildContexts = localBuildContextsNeed
	}
	return h, nil
}
