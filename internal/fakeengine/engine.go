package fakeengine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

// Sentinel errors the fake wraps, named like podmanapi's so a test reads
// the same either way. The message after the sentinel is Podman's own text
// (as podmanapi's mapErr prints it), then the operation and object wrap it:
// "start container demo-web-1: not running: container ... state improper".
var (
	// ErrNotFound: the object does not exist (Podman's "no such ...").
	ErrNotFound = errors.New("not found")
	// ErrExists: the name is taken (Podman's "already in use", "already exists").
	ErrExists = errors.New("already exists")
	// ErrConflict: Podman answered 409 (a healthcheck of a container
	// without one, say).
	ErrConflict = errors.New("conflict")
	// ErrInUse: a network still has containers. podmanapi has no sentinel
	// for it (Podman answers 500 "network is being used"); the fake names it
	// so tests can tell it from other failures.
	ErrInUse = errors.New("in use")
	// ErrNotRunning is planner.ErrNotRunning, which podmanapi maps Podman's
	// "container state improper" and "not running" to.
	ErrNotRunning = planner.ErrNotRunning
)

var _ ops.Engine = (*Engine)(nil)
var _ planner.HostInspector = (*Engine)(nil)

// podmanErr is what podmanapi's mapErr makes of a Podman error: the
// sentinel, then Podman's text; a plain error where mapErr maps nothing.
func podmanErr(sentinel error, text string) error {
	if sentinel == nil {
		return errors.New(text)
	}
	return fmt.Errorf("%w: %s", sentinel, text)
}

// Call is one recorded call of an Engine method: its name ("StartContainer")
// and the object it was about (a container, pod, volume, network or secret
// name, an image reference, a path, a project, or names joined by ",").
type Call struct {
	Op   string
	Name string
}

// String is "Op Name", the form tests compare.
func (c Call) String() string { return c.Op + " " + c.Name }

// mutating are the operations that change the engine's state.
var mutating = map[string]bool{
	"PullImage": true, "BuildImage": true, "PushImage": true, "RemoveImage": true, "CreateNetwork": true, "CreateVolume": true, "CreateSecret": true,
	"CreateDirectory": true, "CreatePod": true, "CreateContainer": true, "StartContainer": true,
	"StopContainer": true, "RemoveContainer": true, "RemovePod": true, "RemoveVolume": true,
	"RemoveNetwork": true, "RemoveSecret": true, "Kill": true, "KillAll": true, "Pause": true,
	"Unpause": true, "RunContainer": true, "CopyTo": true,
}

type fault struct {
	err  error
	left int // calls it still fails; < 0: every call
}

// Engine is the fake. The zero value is not usable: call New. Every method
// is safe for concurrent use, as the executor calls it from several
// goroutines; blocking ones (waits, followed logs, events, streamed stats)
// end when their context does.
type Engine struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every state change
	// waitersNote is closed and replaced whenever a wait starts blocking.
	waitersNote chan struct{}

	now           func() time.Time
	info          ops.ServerInfo
	host          planner.Host
	remote        bool
	restartLimit  int
	statsInterval time.Duration

	containers map[string]*container
	pods       map[string]*pod
	volumes    map[string]*Volume
	networks   map[string]*Network
	secrets    map[string]*Secret
	images     map[string]*image // normalized references
	dangling   map[string]*image // by ID: images a rebuild took the name of
	exposed    map[string][]string
	missing    map[string]bool

	scripts        map[string]Script
	serviceScripts map[string]Script
	stats          map[string]ops.Stat
	faults         map[string]*fault
	delays         map[string]time.Duration
	late           map[string]bool // "Op name" of creates that land late (LandLate)

	calls    []Call
	podLists int // Observes that listed every pod of the project (PodListings)
	history  []ops.Event
	subs     map[*subscriber]bool
	execs    []ExecRequest
	runs     []RunRequest
	attaches []AttachRequest
	copies   []CopyRequest

	seq      int
	nextPort uint16
}

// New returns an empty engine as a fresh Podman 4.3.1 service on this
// machine shows it: no containers, pods, volumes, secrets or images, and
// only Podman's default network "podman".
func New() *Engine {
	e := &Engine{
		changed:        make(chan struct{}),
		waitersNote:    make(chan struct{}),
		now:            time.Now,
		info:           ops.ServerInfo{Version: "4.3.1", APIVersion: "4.3.1", OS: "linux", Arch: "amd64", URL: "unix:///run/fakeengine/podman.sock"},
		restartLimit:   10,
		statsInterval:  2 * time.Second,
		containers:     map[string]*container{},
		pods:           map[string]*pod{},
		volumes:        map[string]*Volume{},
		networks:       map[string]*Network{"podman": {Name: "podman", Driver: "bridge", Labels: map[string]string{}}},
		secrets:        map[string]*Secret{},
		images:         map[string]*image{},
		dangling:       map[string]*image{},
		exposed:        map[string][]string{},
		missing:        map[string]bool{},
		scripts:        map[string]Script{},
		serviceScripts: map[string]Script{},
		stats:          map[string]ops.Stat{},
		faults:         map[string]*fault{},
		delays:         map[string]time.Duration{},
		late:           map[string]bool{},
		subs:           map[*subscriber]bool{},
		nextPort:       40000,
	}
	return e
}

// begin records a call, sleeps its configured delay and returns its
// injected error, if any: every operation starts here, before it changes
// anything, so a failed call leaves the state as it was.
func (e *Engine) begin(ctx context.Context, op, name string) error {
	e.mu.Lock()
	e.calls = append(e.calls, Call{op, name})
	d, ok := e.delays[op+" "+name]
	if !ok {
		d = e.delays[op+" "]
	}
	e.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.faultLocked(op, name)
}

// faultLocked returns (and uses up) the error injected for op on name,
// or for op on any name.
func (e *Engine) faultLocked(op, name string) error {
	for _, key := range []string{op + " " + name, op + " "} {
		f := e.faults[key]
		if f == nil {
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				delete(e.faults, key)
			}
		}
		return f.err
	}
	return nil
}

// changedLocked wakes everything waiting for a state change.
func (e *Engine) changedLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// waitLocked releases the lock until the state changes or ctx ends.
func (e *Engine) waitLocked(ctx context.Context) error {
	ch := e.changed
	e.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
	e.mu.Lock()
	return ctx.Err()
}

// newIDLocked makes a 64-hex-digit ID, as Podman's, but reproducible.
func (e *Engine) newIDLocked() string {
	e.seq++
	sum := sha256.Sum256(fmt.Appendf(nil, "fakeengine-%d", e.seq))
	return hex.EncodeToString(sum[:])
}

func (e *Engine) clockLocked() time.Time { return e.now() }

// Fail makes every call of op (an Engine method name, "StartContainer") on
// name fail with err until Fail is called again with a nil err; name ""
// matches any object. The error is wrapped as podmanapi wraps Podman's
// ("start container X: <err>"), and the call changes nothing.
func (e *Engine) Fail(op, name string, err error) {
	e.setFault(op, name, err, -1)
}

// FailOnce makes only the next call of op on name ("" any) fail with err:
// a transient failure that a retry gets past.
func (e *Engine) FailOnce(op, name string, err error) {
	e.setFault(op, name, err, 1)
}

func (e *Engine) setFault(op, name string, err error, left int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		delete(e.faults, op+" "+name)
		return
	}
	e.faults[op+" "+name] = &fault{err: err, left: left}
}

// LandLate makes the next call of op ("CreateContainer" or "CreatePod") on
// name find the object already made, as the call itself would make it: a
// create of a killed client that the service finished after the next run
// had observed. The call then meets its name held.
func (e *Engine) LandLate(op, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.late[op+" "+name] = true
}

// landsLateLocked reports (and uses up) a LandLate of op on name.
func (e *Engine) landsLateLocked(op, name string) bool {
	if !e.late[op+" "+name] {
		return false
	}
	delete(e.late, op+" "+name)
	return true
}

// Delay makes every call of op on name ("" any) take d of real time before
// it acts (or fail with the context's error if that ends first): slow
// pulls, stops and probes, and the windows in which calls overlap.
func (e *Engine) Delay(op, name string, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d <= 0 {
		delete(e.delays, op+" "+name)
		return
	}
	e.delays[op+" "+name] = d
}

// SetClock replaces the clock the engine stamps start, exit, probe, log and
// event times with (time.Now by default), so tests sharing a fake clock
// with the executor see consistent times and FreshHealth's interval works
// without sleeping.
func (e *Engine) SetClock(now func() time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = now
}

// SetServer sets what Version reports and URL returns (Podman 4.3.1 at a
// unix socket by default). The version also picks the behaviours that
// differ between Podman versions: from 5.3 waits return at every exit
// (WaitExit, WaitEnd), from 5.0 a kill by any signal keeps the restart
// policy from acting.
func (e *Engine) SetServer(info ops.ServerInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.info = info
}

// SetHost sets what Host reports, so planner.Up sees a rootless host's
// privileged-port limit.
func (e *Engine) SetHost(h planner.Host) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.host = h
}

// SetRemote makes the engine a service on another machine, as podmanapi
// treats a non-unix URL: Observe cannot tell missing bind-mount sources and
// CreateDirectory does nothing (a missing source still fails a create).
func (e *Engine) SetRemote(remote bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.remote = remote
}

// atLeastLocked reports whether the engine plays Podman major.minor or
// newer (SetServer's version): where Podman's behaviour changed between
// versions, the fake follows the version it reports, as podmanapi's
// Capabilities do.
func (e *Engine) atLeastLocked(major, minor int) bool {
	core, _, _ := strings.Cut(strings.TrimPrefix(e.info.Version, "v"), "-")
	parts := strings.SplitN(core, ".", 3)
	haveMajor, _ := strconv.Atoi(parts[0])
	haveMinor := 0
	if len(parts) > 1 {
		haveMinor, _ = strconv.Atoi(parts[1])
	}
	return haveMajor > major || haveMajor == major && haveMinor >= minor
}

// holdWaitLocked: before Podman 5.3 a wait returns only once a container
// has stopped for good (podmanapi's WaitHoldsThroughRestarts).
func (e *Engine) holdWaitLocked() bool { return !e.atLeastLocked(5, 3) }

// SetRestartLimit bounds how many times in a row a restart policy restarts
// a container (10 by default). Podman never gives up on "always"; a fake
// whose restarts are instantaneous must, or a job that always fails would
// loop forever.
func (e *Engine) SetRestartLimit(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.restartLimit = n
}

// Calls returns every call made so far, in the order they began.
func (e *Engine) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Mutations returns the calls that change state (creates, starts, stops,
// removals, kills, pauses, pulls, runs, copies into containers), in order: a no-op use case makes
// none.
func (e *Engine) Mutations() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Call
	for _, c := range e.calls {
		if mutating[c.Op] {
			out = append(out, c)
		}
	}
	return out
}

// Called counts the calls of op on name ("" any name).
func (e *Engine) Called(op, name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.calls {
		if c.Op == op && (name == "" || c.Name == name) {
			n++
		}
	}
	return n
}

// ResetCalls forgets the calls (and pod listings) so far, so a test can
// assert on what one use case did after setting the scene with others.
func (e *Engine) ResetCalls() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = nil
	e.podLists = 0
}

// PodListings counts the Observes that listed every pod of the project,
// which costs Podman about as much as listing the containers, rather than
// working the pods out from the containers (Lookup.Pods).
func (e *Engine) PodListings() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.podLists
}

// joinNames names a call about several objects.
func joinNames(names []string) string { return strings.Join(names, ",") }
