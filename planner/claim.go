package planner

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNameHeld is the error of a create refused because an object that is
// not the project's holds its name (RefusedName).
var ErrNameHeld = errors.New("name in use")

// Claim is what a create does about an object that already holds the name
// it wants. The plan creates only where it observed no such object, but a
// killed `stack up` leaves requests the service finishes after the client
// died: the next run can observe the state before they land and meet them
// at create. Creates are idempotent by this rule, which every Runtime
// applies, so the first run after a kill converges.
type Claim int

const (
	// ClaimAdopt: the holder is what the create would have made (the same
	// project, environment and configuration hash, freshly created or
	// running): the create succeeds and the plan goes on with it.
	ClaimAdopt Claim = iota
	// ClaimReplace: the holder is the project's but not what the plan
	// wants (another configuration, a broken or stopped state, a leftover
	// only in storage): it is removed and the create tried once more.
	ClaimReplace
	// ClaimRefuse: the holder is not the project's (no project label, or
	// another project's): it is never touched and the create fails.
	ClaimRefuse
)

func (c Claim) String() string {
	switch c {
	case ClaimAdopt:
		return "adopt"
	case ClaimReplace:
		return "replace"
	}
	return "refuse"
}

// Holder is the object found holding a name a create wants.
type Holder struct {
	// Kind is "container", "pod", "secret", "volume" or "network".
	Kind string
	ID   string
	Name string
	// State is Podman's state of it; StateStorage for a container that
	// exists only in storage (it has no labels).
	State  string
	Labels map[string]string
}

// Secrets, volumes and networks have no state: a secret of the project is
// adopted when its content digest (LabelConfigHash) is the one wanted; a
// volume or network of the project always is.

// adoptable are the states in which a container is what a create (and
// the start step after it) would leave: created, or already started by a
// start request that also landed late.
var adoptable = map[string]bool{"created": true, "configured": true, "initialized": true, "running": true}

// ClaimName decides what a create of an object labelled want does about
// h, which holds its name. A leftover in storage counts as the project's:
// its name is exactly one the plan wants, and it has no labels to say more.
func ClaimName(want map[string]string, h Holder) Claim {
	if h.Kind == "container" && h.State == StateStorage {
		return ClaimReplace
	}
	if h.Labels[LabelProject] == "" || h.Labels[LabelProject] != want[LabelProject] {
		return ClaimRefuse
	}
	if h.Kind == "volume" || h.Kind == "network" {
		return ClaimAdopt // its data and attachments are never replaced by a create
	}
	if h.Labels[LabelConfigHash] != want[LabelConfigHash] || h.Labels[LabelEnvironment] != want[LabelEnvironment] ||
		h.Labels[LabelOneOff] != want[LabelOneOff] {
		return ClaimReplace
	}
	switch h.Kind {
	case "container":
		if !adoptable[h.State] {
			return ClaimReplace
		}
	case "pod":
		if st := strings.ToLower(h.State); st == "error" || st == "dead" {
			return ClaimReplace
		}
	}
	return ClaimAdopt
}

// RefusedName is the error of a create whose name h holds and ClaimName
// refused: it names the holder, whose it is, and the fix.
func RefusedName(h Holder) error {
	whose := "that podstack did not create (it has no " + LabelProject + " label)"
	if p := h.Labels[LabelProject]; p != "" {
		whose = fmt.Sprintf("of project %q", p)
	}
	what := h.Kind
	if id := h.ID; id != "" {
		what += " " + id[:min(len(id), 12)]
	}
	rm := "podman rm " + h.Name
	if h.Kind != "container" {
		rm = "podman " + h.Kind + " rm " + h.Name
	}
	return fmt.Errorf("%w: the name %s is held by %s %s, left untouched: remove or rename it (%s), or run this stack under another project name (-p)",
		ErrNameHeld, h.Name, what, whose, rm)
}
