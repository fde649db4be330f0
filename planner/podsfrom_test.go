package planner

import (
	"maps"
	"reflect"
	"slices"
	"testing"
)

// listing is Podman's container listing of the state applied(p) stands
// for: every container running, each pod with an infra container holding
// one (with the pod's labels, and a label of the pause image's).
func listing(p *Plan) []ListedContainer {
	var out []ListedContainer
	for _, pod := range p.Pods {
		if pod.Infra {
			labels := maps.Clone(pod.Labels)
			labels["io.buildah.version"] = "1.28.2"
			out = append(out, ListedContainer{Name: pod.Name[:3] + "-infra", Pod: pod.Name, PodID: "id-" + pod.Name, Infra: true, State: "running", Labels: labels})
		}
	}
	for _, c := range p.Containers {
		out = append(out, ListedContainer{Name: c.Name, Pod: c.Pod, PodID: "id-" + c.Pod, State: "running", Labels: c.Labels})
	}
	return out
}

func TestPodsFromContainers(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	plan := reconcile(t, s, nil, Options{})
	x := ExpectPods(s, "")
	want := applied(plan).Pods // every pod as Podman lists it: running, with the plan's labels

	pods, ok := x.FromContainers("rec", listing(plan))
	if !ok || !reflect.DeepEqual(pods, want) {
		t.Fatalf("running stack: ok %v, pods\n%+v\nwant\n%+v", ok, pods, want)
	}

	// Containers of other projects, outside pods, or only in storage say
	// nothing about the project's pods.
	extra := append(listing(plan),
		ListedContainer{Name: "other-1", Pod: "other-x", PodID: "id-other-x", State: "running", Labels: Labels("other", "")},
		ListedContainer{Name: "rec-run-1", State: "exited", Labels: Labels("rec", "", LabelOneOff, "true")},
		ListedContainer{Name: "rec-web-2", Pod: "rec-web", State: StateStorage})
	if pods, ok = x.FromContainers("rec", extra); !ok || !reflect.DeepEqual(pods, want) {
		t.Errorf("with others' containers: ok %v, %+v", ok, pods)
	}

	// What the containers cannot tell: a pod without an infra container
	// is then listed.
	web := func(change func(c *ListedContainer)) func([]ListedContainer) []ListedContainer {
		return func(l []ListedContainer) []ListedContainer {
			for i := range l {
				if l[i].Name == "rec-web-1" {
					l[i].Labels = maps.Clone(l[i].Labels)
					change(&l[i])
				}
			}
			return l
		}
	}
	for _, tc := range []struct {
		name   string
		change func([]ListedContainer) []ListedContainer
	}{
		{"another configuration", web(func(c *ListedContainer) { c.Labels[LabelConfigHash] = "0" })},
		{"another environment", web(func(c *ListedContainer) { c.Labels[LabelEnvironment] = "prod" })},
		{"created into a stale pod", web(func(c *ListedContainer) { c.Labels[LabelStalePod] = "true" })},
		{"a pod the stack does not have", web(func(c *ListedContainer) { c.Pod, c.PodID = "rec-gone", "id-rec-gone" })},
		{"a pod the stack has holding no container (or none at all)", func(l []ListedContainer) []ListedContainer {
			return slices.DeleteFunc(l, func(c ListedContainer) bool { return c.Name == "rec-web-1" })
		}},
		{"a pod the stack has with an infra container, without one", func(l []ListedContainer) []ListedContainer {
			var out []ListedContainer
			for _, c := range l {
				if !c.Infra {
					out = append(out, c)
				}
			}
			return out
		}},
	} {
		if pods, ok := x.FromContainers("rec", tc.change(listing(plan))); ok {
			t.Errorf("%s: worked out %+v", tc.name, pods)
		}
	}

	// A pod with an infra container carries its own labels there, whatever
	// the stack wants now, and its state counts the infra container.
	l := listing(plan)
	for i := range l {
		switch {
		case l[i].Infra:
			l[i].Labels[LabelConfigHash] = "old"
		case l[i].Name == "rec-api-1":
			l[i].State = "exited"
		}
	}
	pods, ok = x.FromContainers("rec", l)
	if !ok {
		t.Fatal("a pod with an infra container: not worked out")
	}
	for _, p := range pods {
		if p.Name == "rec-app" && (p.Labels[LabelConfigHash] != "old" || p.State != "Degraded" || p.Labels["io.buildah.version"] != "") {
			t.Errorf("rec-app worked out as %+v", p)
		}
	}
}

// TestPodState: Podman's pod state from its containers' states.
func TestPodState(t *testing.T) {
	for _, tc := range []struct {
		states []string
		want   string
	}{
		{nil, "Created"},
		{[]string{"running", "running"}, "Running"},
		{[]string{"running", "exited"}, "Degraded"},
		{[]string{"running", "created"}, "Degraded"},
		{[]string{"paused", "paused"}, "Paused"},
		{[]string{"paused", "exited"}, "Stopped"},
		{[]string{"exited", "stopped"}, "Exited"},
		{[]string{"exited", "created"}, "Stopped"},
		{[]string{"created", "configured"}, "Created"},
		{[]string{"created", "stopping"}, "Error"},
		{[]string{"paused", "created"}, "Created"},
	} {
		if got := PodState(tc.states); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.states, got, tc.want)
		}
	}
}

// TestNoRecreateMarksStalePod: --no-recreate keeps a pod whose labels are
// not the plan's, and a container it creates there says so; nothing else
// is marked.
func TestNoRecreateMarksStalePod(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	first := reconcile(t, s, nil, Options{})
	o := applied(first)
	var kept []ObservedContainer
	for _, c := range o.Containers {
		if c.Name != "rec-web-1" {
			kept = append(kept, c)
		}
	}
	o.Containers = kept
	marked := func(p *Plan) map[string]bool {
		out := map[string]bool{}
		for _, st := range p.Steps {
			if st.Kind == StepCreateContainer && st.Container.Labels[LabelStalePod] != "" {
				out[st.Target] = true
			}
		}
		return out
	}
	if m := marked(reconcile(t, s, o, Options{NoRecreate: true})); len(m) != 0 {
		t.Errorf("pod as wanted: marked %v", m)
	}
	for i := range o.Pods {
		if o.Pods[i].Name == "rec-web" {
			o.Pods[i].Labels = maps.Clone(o.Pods[i].Labels)
			o.Pods[i].Labels[LabelConfigHash] = "old"
		}
	}
	if m := marked(reconcile(t, s, o, Options{NoRecreate: true})); !m["rec-web-1"] || len(m) != 1 {
		t.Errorf("stale pod kept: marked %v", m)
	}
	if m := marked(reconcile(t, s, o, Options{})); len(m) != 0 {
		t.Errorf("stale pod recreated: marked %v", m)
	}
	for _, c := range first.Containers {
		if c.Labels[LabelStalePod] != "" {
			t.Errorf("the plan's own container %s is marked", c.Name)
		}
	}
}
