package stack

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Develop is compose's develop section: what `stack watch` does to a
// running service when files on the host change. It never changes what a
// container is, so it is no part of the config hash.
type Develop struct {
	Watch []WatchRule `json:"watch,omitempty"`
}

// WatchAction is what a watch rule does when a file under its path changes.
type WatchAction string

// The watch actions compose defines.
const (
	// WatchSync copies the changed files into the service's containers.
	WatchSync WatchAction = "sync"
	// WatchRebuild builds the service's image again and recreates it.
	WatchRebuild WatchAction = "rebuild"
	// WatchRestart restarts the service's containers.
	WatchRestart WatchAction = "restart"
	// WatchSyncRestart syncs, then restarts.
	WatchSyncRestart WatchAction = "sync+restart"
	// WatchSyncExec syncs, then runs Exec in each container.
	WatchSyncExec WatchAction = "sync+exec"
)

// WatchActions are the valid actions, for messages.
var WatchActions = []WatchAction{WatchSync, WatchRebuild, WatchRestart, WatchSyncRestart, WatchSyncExec}

// Syncs says whether the action copies files into the containers.
func (a WatchAction) Syncs() bool {
	return a == WatchSync || a == WatchSyncRestart || a == WatchSyncExec
}

// WatchRule is one develop.watch entry.
type WatchRule struct {
	// Path is the absolute host path (a file or a directory) watched.
	Path   string      `json:"path"`
	Action WatchAction `json:"action"`
	// Target is the absolute path in the container that Path maps to
	// (sync actions).
	Target string `json:"target,omitempty"`
	// Ignore and Include are .dockerignore-style patterns relative to
	// Path; with Include, only the paths it matches count.
	Ignore  []string `json:"ignore,omitempty"`
	Include []string `json:"include,omitempty"`
	// InitialSync copies everything under Path in when watching starts.
	InitialSync bool `json:"initialSync,omitempty"`
	// Exec runs after a sync (sync+exec).
	Exec *WatchExec `json:"exec,omitempty"`
}

// WatchExec is the command sync+exec runs in each container.
type WatchExec struct {
	Command     []string          `json:"command"`
	User        string            `json:"user,omitempty"`
	WorkingDir  string            `json:"workingDir,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
}

// develop converts a service's develop section, checking what compose-go
// leaves to its consistency check (which podstack skips) or to run time.
func (c *converter) develop(svc types.ServiceConfig, out *Service, base string) {
	if svc.Develop == nil || len(svc.Develop.Watch) == 0 {
		return
	}
	d := &Develop{}
	for i, t := range svc.Develop.Watch {
		at := fmt.Sprintf("%s.develop.watch.%d", base, i)
		action := WatchAction(t.Action)
		if !slices.Contains(WatchActions, action) {
			names := make([]string, len(WatchActions))
			for j, a := range WatchActions {
				names[j] = string(a)
			}
			c.problem(at+".action", svc.Name, fmt.Sprintf("unknown watch action %q", t.Action), "use "+strings.Join(names, ", "))
			continue
		}
		r := WatchRule{Path: t.Path, Action: action, Ignore: t.Ignore, Include: t.Include, InitialSync: t.InitialSync}
		if r.Path == "" {
			c.problem(at, svc.Name, "watch rule has no path", "add path: ./DIR (relative to the stack file)")
			continue
		}
		if t.Target != "" {
			// compose reads a relative target from the container's root.
			r.Target = path.Join("/", t.Target)
		}
		switch {
		case action.Syncs() && r.Target == "":
			c.problem(at, svc.Name, fmt.Sprintf("watch action %s has no target", action),
				"add target: /PATH/IN/CONTAINER, where the files under path go")
			continue
		case action == WatchRebuild && svc.Build == nil:
			c.problem(at+".action", svc.Name, "watch action rebuild needs a build: section to build the image from",
				"add build: ./DIR, or use sync or restart")
			continue
		case action == WatchSyncExec && len(t.Exec.Command) == 0:
			c.problem(at, svc.Name, "watch action sync+exec has no exec.command", `add exec: {command: ["..."]}`)
			continue
		}
		if action == WatchSyncExec {
			x := &WatchExec{Command: []string(t.Exec.Command), User: t.Exec.User, WorkingDir: t.Exec.WorkingDir}
			for k, v := range t.Exec.Environment {
				if v != nil {
					if x.Environment == nil {
						x.Environment = map[string]string{}
					}
					x.Environment[k] = *v
				}
			}
			if t.Exec.Privileged {
				out.Unsupported = append(out.Unsupported, "develop.watch.exec.privileged")
			}
			r.Exec = x
		}
		d.Watch = append(d.Watch, r)
	}
	if len(d.Watch) > 0 {
		out.Develop = d
	}
}
