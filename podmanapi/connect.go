package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/system"

	"github.com/podstack/podstack/ops"
)

// MinAPIVersion is the oldest Podman API podstack talks to: the v5 bindings
// refuse anything older, and 4.0 is where the libpod pod endpoints settled.
const MinAPIVersion = "4.0.0"

// ConnectOptions say how to reach the Podman service.
type ConnectOptions struct {
	// URL is the service URI (unix://, tcp://, ssh://); "" means discover.
	URL string
	// Identity is the ssh key for ssh:// URIs ("" = CONTAINER_SSHKEY, agent).
	Identity string
	// Stderr receives the one-line notice when a temporary service is started.
	Stderr io.Writer
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// NoEmbedded forbids starting a temporary service when none answers.
	NoEmbedded bool
	// ConfigPaths are the containers.conf files to read for the default
	// connection, lowest precedence first; nil means Podman's usual places.
	ConfigPaths []string
	// Timeout bounds each connection attempt (default 5s).
	Timeout time.Duration
}

// Client is a connection to one Podman service. It implements
// planner.Runtime and planner.Backend.
type Client struct {
	conn    context.Context
	url     string
	version string

	capsMu     sync.Mutex
	caps       Capabilities // the version from connecting; the rest once loaded
	capsLoaded bool

	embedded *exec.Cmd
	tmpDir   string

	warnMu   sync.Mutex
	warn     func(service, msg string)
	warnSeen map[string]bool

	preMu sync.Mutex
	pre   *prefetch // see PrefetchContainers
}

// Candidate is one URI discovery considered, and where it came from.
type Candidate struct {
	URL      string
	Identity string
	Source   string
}

// Candidates lists the URIs to try, in order: --url, CONTAINER_HOST, the
// default connection of containers.conf, the rootless socket, the rootful one.
// An explicit choice (--url, CONTAINER_HOST) is the only candidate.
func Candidates(opts ConnectOptions) []Candidate {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if opts.URL != "" {
		return []Candidate{{URL: opts.URL, Identity: opts.Identity, Source: "--url"}}
	}
	if h := getenv("CONTAINER_HOST"); h != "" {
		return []Candidate{{URL: h, Identity: firstNonEmpty(opts.Identity, getenv("CONTAINER_SSHKEY")), Source: "CONTAINER_HOST"}}
	}
	var out []Candidate
	paths := opts.ConfigPaths
	if paths == nil {
		paths = defaultConfigPaths(getenv)
	}
	if c, ok := defaultConnection(paths); ok {
		out = append(out, c)
	}
	if os.Geteuid() != 0 {
		if rt := getenv("XDG_RUNTIME_DIR"); rt != "" {
			out = append(out, Candidate{URL: "unix://" + filepath.Join(rt, "podman", "podman.sock"), Source: "rootless socket"})
		}
	}
	out = append(out, Candidate{URL: "unix:///run/podman/podman.sock", Source: "rootful socket"})
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func defaultConfigPaths(getenv func(string) string) []string {
	paths := []string{"/usr/share/containers/containers.conf", "/etc/containers/containers.conf"}
	cfg := getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		if home := getenv("HOME"); home != "" {
			cfg = filepath.Join(home, ".config")
		}
	}
	if cfg != "" {
		paths = append(paths, filepath.Join(cfg, "containers", "containers.conf"))
	}
	if c := getenv("CONTAINERS_CONF"); c != "" {
		paths = append(paths, c)
	}
	return paths
}

// defaultConnection reads [engine] active_service and service_destinations
// from containers.conf files; a later file wins, as in Podman.
func defaultConnection(paths []string) (Candidate, bool) {
	type dest struct {
		URI      string `toml:"uri"`
		Identity string `toml:"identity"`
	}
	var conf struct {
		Engine struct {
			ActiveService       string          `toml:"active_service"`
			ServiceDestinations map[string]dest `toml:"service_destinations"`
		} `toml:"engine"`
	}
	active := ""
	dests := map[string]dest{}
	source := ""
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		conf.Engine.ActiveService = ""
		conf.Engine.ServiceDestinations = nil
		if _, err := toml.Decode(string(data), &conf); err != nil {
			continue
		}
		if conf.Engine.ActiveService != "" {
			active, source = conf.Engine.ActiveService, p
		}
		for k, v := range conf.Engine.ServiceDestinations {
			dests[k] = v
		}
	}
	if d, ok := dests[active]; ok && d.URI != "" {
		return Candidate{URL: d.URI, Identity: d.Identity, Source: fmt.Sprintf("connection %q in %s", active, source)}, true
	}
	return Candidate{}, false
}

// Connect reaches the Podman service. When discovery finds nothing that
// answers and the podman binary exists, it starts a temporary service on a
// private socket for the life of the Client (and says so on Stderr).
func Connect(ctx context.Context, opts ConnectOptions) (*Client, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	cands := Candidates(opts)
	var tried []string
	var lastErr error
	for _, c := range cands {
		cl, err := dial(ctx, c.URL, c.Identity, opts.Timeout)
		if err == nil {
			return cl, nil
		}
		var verr versionError
		if errors.As(err, &verr) {
			return nil, err
		}
		tried = append(tried, fmt.Sprintf("%s (%s)", c.URL, c.Source))
		lastErr = err
	}
	explicit := opts.URL != "" || (opts.Getenv != nil && opts.Getenv("CONTAINER_HOST") != "") || (opts.Getenv == nil && os.Getenv("CONTAINER_HOST") != "")
	if explicit || opts.NoEmbedded {
		return nil, fmt.Errorf("no Podman service answers at %s: %w", strings.Join(tried, ", "), lastErr)
	}
	podman, err := exec.LookPath("podman")
	if err != nil {
		return nil, fmt.Errorf("no Podman service answers at %s, and Podman is not installed.\n"+
			"Install it (Debian/Ubuntu: sudo apt-get install -y podman; Fedora: sudo dnf install -y podman),\n"+
			"or point --url (or CONTAINER_HOST) at a remote service, e.g. ssh://user@host/run/podman/podman.sock", strings.Join(tried, ", "))
	}
	return startEmbedded(ctx, podman, opts, tried)
}

// versionError is a service that answered but is too old.
type versionError struct{ msg string }

func (v versionError) Error() string { return v.msg }

func dial(ctx context.Context, uri, identity string, timeout time.Duration) (*Client, error) {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		conn context.Context
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		var conn context.Context
		var err error
		if strings.HasPrefix(uri, "ssh://") {
			conn, err = bindings.NewConnectionWithIdentity(ctx, uri, identity, false)
		} else {
			conn, err = bindings.NewConnection(ctx, uri)
		}
		ch <- result{conn, err}
	}()
	select {
	case <-dctx.Done():
		return nil, fmt.Errorf("%s: no answer within %s", uri, timeout)
	case r := <-ch:
		if r.err != nil {
			if msg := r.err.Error(); strings.Contains(msg, "version") && (strings.Contains(msg, "too old") || strings.Contains(msg, "less than")) {
				return nil, versionError{fmt.Sprintf("the Podman service at %s is too old: %v (podstack needs API %s or newer)", uri, r.err, MinAPIVersion)}
			}
			return nil, r.err
		}
		v := bindings.ServiceVersion(r.conn)
		c := &Client{conn: r.conn, url: uri, warnSeen: map[string]bool{}}
		c.caps.SameHost = strings.HasPrefix(uri, "unix:")
		if v != nil {
			c.version = v.String()
			c.caps.Version = Version{int(v.Major), int(v.Minor), int(v.Patch)}
			if v.Major < 4 {
				return nil, versionError{fmt.Sprintf("the Podman service at %s has API %s; podstack needs %s or newer", uri, c.version, MinAPIVersion)}
			}
		}
		return c, nil
	}
}

// startEmbedded runs `podman system service` on a private socket.
func startEmbedded(ctx context.Context, podman string, opts ConnectOptions, tried []string) (*Client, error) {
	dir, err := os.MkdirTemp("", "podstack-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "podman.sock")
	uri := "unix://" + sock
	cmd := exec.Command(podman, "system", "service", "--time=0", uri)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logBuf strings.Builder
	cmd.Stderr = &lockedWriter{w: &logBuf}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start a temporary Podman service: %w", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			if c, err := dial(ctx, uri, "", 2*time.Second); err == nil {
				c.embedded, c.tmpDir = cmd, dir
				if opts.Stderr != nil {
					fmt.Fprintf(opts.Stderr, "No Podman service answers at %s; started a temporary one (podman system service) at %s for this command.\n",
						strings.Join(tried, ", "), uri)
				}
				return c, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			os.RemoveAll(dir)
			return nil, fmt.Errorf("the temporary Podman service did not answer within 15s: %s", strings.TrimSpace(logBuf.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Close releases the connection and stops a temporary service. Containers
// keep running: conmon supervises them, not the service.
func (c *Client) Close() error {
	if c.embedded == nil {
		return nil
	}
	_ = c.embedded.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.embedded.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.embedded.Process.Kill()
		<-done
	}
	c.embedded = nil
	return os.RemoveAll(c.tmpDir)
}

// URL is the service URI in use.
func (c *Client) URL() string { return c.url }

// ServerVersion is the service's API version as it announced it.
func (c *Client) ServerVersion() string { return c.version }

// Version asks the service for its version.
func (c *Client) Version(ctx context.Context) (ops.ServerInfo, error) {
	rep, err := system.Version(c.ctx(ctx), nil)
	if err != nil {
		return ops.ServerInfo{}, fmt.Errorf("version of %s: %w", c.url, err)
	}
	info := ops.ServerInfo{URL: c.url, APIVersion: c.version}
	if rep.Server != nil {
		info.Version = rep.Server.Version
		info.APIVersion = rep.Server.APIVersion
		info.OS, info.Arch, _ = strings.Cut(rep.Server.OsArch, "/")
	}
	return info, nil
}

// SetWarnFunc sets where warnings about untranslatable settings go; each
// (service, message) pair is reported once.
func (c *Client) SetWarnFunc(f func(service, msg string)) {
	c.warnMu.Lock()
	defer c.warnMu.Unlock()
	c.warn = f
}

func (c *Client) warnOnce(service, msg string) {
	c.warnMu.Lock()
	defer c.warnMu.Unlock()
	key := service + "\x00" + msg
	if c.warn == nil || c.warnSeen[key] {
		return
	}
	c.warnSeen[key] = true
	c.warn(service, msg)
}

// ctx derives a request context from the connection (which carries the
// client) and the caller's context (which carries cancellation).
func (c *Client) ctx(ctx context.Context) context.Context {
	return mergedContext{Context: c.conn, cancel: ctx}
}

// mergedContext takes values from the connection context and deadline and
// cancellation from the caller's.
type mergedContext struct {
	context.Context
	cancel context.Context
}

func (m mergedContext) Deadline() (time.Time, bool) { return m.cancel.Deadline() }
func (m mergedContext) Done() <-chan struct{}       { return m.cancel.Done() }
func (m mergedContext) Err() error                  { return m.cancel.Err() }
