package planner

import (
	"maps"
	"sort"
	"strings"

	"github.com/podstack/podstack/stack"
)

// LabelStalePod marks a container that `up --no-recreate` created into a
// pod it kept although the pod's labels are not the plan's (another
// configuration hash or environment). Every other container went into a
// pod labelled as the plan wanted it, which is what lets a no-op `up` take
// a pod without an infra container from its containers' labels
// (PodExpectation.FromContainers); where one carries this label, the pods
// are listed instead. It is no part of any configuration hash.
const LabelStalePod = "io.podstack.stale-pod"

// PodExpectation is what a plan for the stack wants of the project's pods:
// with it, an engine may work the pods out from its container listing
// rather than list them (FromContainers). Podman works out each pod's
// state from its containers, so listing a project's pods costs it about as
// much as listing the project's containers, which a plan needs anyway.
type PodExpectation struct {
	ready       chan struct{} // closed once the fields below are set
	environment string
	pods        map[string]*Pod   // by Podman name; nil where the stack does not group
	hashes      map[string]string // the services' containers' LabelConfigHash, by service
}

// ExpectPods starts working out what a plan for s grouped under policy
// wants of its pods and returns at once: that costs about half a Reconcile
// (grouping, and hashing every service), and FromContainers needs it only
// once the engine's listing is in, so it is done while the engine lists.
func ExpectPods(s *stack.Stack, policy Policy) *PodExpectation {
	x := &PodExpectation{ready: make(chan struct{}), environment: s.Environment}
	go func() {
		defer close(x.ready)
		pods, err := Group(s, policy)
		if err != nil {
			return // Reconcile says why
		}
		x.hashes = ConfigHashes(s, pods)
		x.pods = make(map[string]*Pod, len(pods))
		for _, p := range pods {
			x.pods[p.Name] = p
		}
	}()
	return x
}

// ListedContainer is one container of an engine's listing of a project's
// containers, its pods' infra containers included (Podman gives an infra
// container its pod's labels, so a listing by the project's label finds
// them): what FromContainers reads.
type ListedContainer struct {
	Name string
	// Pod and PodID are its pod's name and ID; "" outside a pod.
	Pod   string
	PodID string
	Infra bool
	// State is the engine's state of it: created, running, exited, ...
	State  string
	Labels map[string]string
}

// FromContainers returns the project's pods as the engine's listing of
// them would, worked out from listed: the project's containers, infra ones
// included. ok is false where the containers cannot tell; the caller then
// lists the pods.
//
// A pod's ID is in its containers' listing, and its state is worked out
// from theirs as Podman does. Its labels: a pod with an infra container
// carries them there. A pod without one carries them nowhere else, but its
// containers' configuration hashes cover its own (containerHash) and a
// plan creates a container only into a pod labelled as the plan wants
// (where --no-recreate keeps one that is not, the container says so:
// LabelStalePod). So where every container in such a pod is one of its
// services', with the hash and environment the stack wants, the pod is the
// one the stack wants, as a plan made it. Anything else (a container of
// another configuration, of a service the stack no longer has, or marked
// stale) is a change the plan is about to make anyway, and the pods are
// listed.
//
// No container shows a pod that holds none. Where a pod the stack wants
// shows no container, it may be there empty or not at all: the pods are
// listed. A pod the stack no longer has that holds no container is not
// seen: a plan made from these pods lacks the warning about it, and Up
// lists the pods where it would remove it (--remove-orphans). Podman
// could list the pods that hold no container (its ctr-number filter), but
// that filter locks every pod on the service, other projects' too, half
// the times it is asked (filters run in map order), and so waits on any
// pod being stopped elsewhere. Nor can the containers show one put into
// the project's pod by hand without the project's label: it counts in
// Podman's state of the pod, and a pod holding only such containers is
// not seen.
func (x *PodExpectation) FromContainers(project string, listed []ListedContainer) (pods []ObservedPod, ok bool) {
	<-x.ready
	if x.pods == nil {
		return nil, false
	}
	type seen struct {
		id     string
		infra  map[string]string // the infra container's labels; nil without one
		states []string
		others []ListedContainer // the containers that are not the infra one
	}
	byName := map[string]*seen{}
	for _, c := range listed {
		if c.Pod == "" || c.State == StateStorage || c.Labels[LabelProject] != project {
			continue
		}
		sp := byName[c.Pod]
		if sp == nil {
			sp = &seen{id: c.PodID}
			byName[c.Pod] = sp
		}
		sp.states = append(sp.states, c.State)
		if c.Infra {
			sp.infra = c.Labels
		} else {
			sp.others = append(sp.others, c)
		}
	}
	for name := range x.pods {
		if byName[name] == nil {
			return nil, false
		}
	}
	out := make([]ObservedPod, 0, len(byName))
	for name, sp := range byName {
		var labels map[string]string
		if sp.infra != nil {
			labels = podLabels(sp.infra)
		} else {
			want := x.pods[name]
			if want == nil || want.Infra {
				return nil, false
			}
			for _, c := range sp.others {
				// The hash covers the pod's name too: a container of
				// another pod does not have the one its service wants.
				svc := c.Labels[LabelService]
				if c.Labels[LabelConfigHash] != x.hashes[svc] || c.Labels[LabelEnvironment] != x.environment ||
					c.Labels[LabelStalePod] != "" {
					return nil, false
				}
			}
			labels = maps.Clone(want.Labels)
		}
		out = append(out, ObservedPod{ID: sp.id, Name: name, State: PodState(sp.states), Labels: labels})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, true
}

// podLabels are the labels of a pod podstack made, from its infra
// container's: Podman adds the infra image's own labels to the pod's, and
// every label podstack gives a pod is its own or compose's (Labels).
func podLabels(infra map[string]string) map[string]string {
	out := make(map[string]string, len(infra))
	for k, v := range infra {
		if strings.HasPrefix(k, "io.podstack.") || strings.HasPrefix(k, "com.docker.compose.") {
			out[k] = v
		}
	}
	return out
}

// PodState is the state Podman gives a pod whose containers (its infra
// container included) are in states: libpod's createPodStatusResults, the
// same in Podman 4 and 5.
func PodState(states []string) string {
	if len(states) == 0 {
		return "Created"
	}
	var running, paused, stopped, errored int
	for _, st := range states {
		switch st {
		case "exited", "stopped":
			stopped++
		case "running":
			running++
		case "paused":
			paused++
		case "created", "configured":
		default:
			errored++
		}
	}
	switch n := len(states); {
	case running == n:
		return "Running"
	case running > 0:
		return "Degraded"
	case paused == n:
		return "Paused"
	case stopped == n:
		return "Exited"
	case stopped > 0:
		return "Stopped"
	case errored > 0:
		return "Error"
	}
	return "Created"
}

// intoStalePod is c, marked with LabelStalePod where it goes into a pod
// (pods[k]) that exists and stays although its labels are not the plan's:
// only --no-recreate keeps such a pod.
func (r *reconciler) intoStalePod(c *Container, k int) *Container {
	p, ps := r.pods[k], &r.podStates[k]
	if ps.observed == nil || ps.recreate ||
		(ps.observed.Labels[LabelConfigHash] == p.Hash && ps.observed.Labels[LabelEnvironment] == r.s.Environment) {
		return c
	}
	marked := *c
	marked.Labels = maps.Clone(c.Labels)
	marked.Labels[LabelStalePod] = "true"
	return &marked
}
