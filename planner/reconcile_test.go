package planner

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/podstack/podstack/stack"
)

// applied is the state a Podman service would be in after a plan ran:
// every desired pod and container exists with its labels, running.
func applied(p *Plan) *ObservedState {
	o := &ObservedState{}
	for _, pod := range p.Pods {
		o.Pods = append(o.Pods, ObservedPod{ID: "id-" + pod.Name, Name: pod.Name, State: "Running", Labels: pod.Labels})
	}
	for _, c := range p.Containers {
		o.Containers = append(o.Containers, ObservedContainer{ID: "id-" + c.Name, Name: c.Name, Pod: c.Pod,
			Image: ImageRef(p.Stack, c.Spec), State: "running", Labels: c.Labels})
	}
	for _, v := range p.Stack.Volumes {
		o.Volumes = append(o.Volumes, ObservedVolume{Name: v.Name, Labels: map[string]string{LabelProject: p.Project}})
	}
	for _, n := range p.Stack.Networks {
		o.Networks = append(o.Networks, ObservedNetwork{Name: n.Name, Labels: map[string]string{LabelProject: p.Project}})
	}
	seen := map[string]bool{}
	for _, name := range p.Stack.ServiceNames() {
		for _, w := range secretSpecs(p.Stack, p.Stack.Services[name]) {
			if !w.external && !seen[w.Name] {
				seen[w.Name] = true
				o.Secrets = append(o.Secrets, ObservedSecret{ID: "id-" + w.Name, Name: w.Name,
					Labels: map[string]string{LabelProject: p.Project, LabelConfigHash: w.Digest}})
			}
		}
	}
	o.Images = Images(p.Stack)
	// Built images carry the digest they were built from.
	for _, st := range p.Steps {
		if st.Kind == StepBuildImage && st.Build.Labels[LabelBuildDigest] != "" {
			if o.BuildDigests == nil {
				o.BuildDigests = map[string]string{}
			}
			o.BuildDigests[st.Image] = st.Build.Labels[LabelBuildDigest]
		}
	}
	return o
}

func writeCompose(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const reconcileStack = `name: rec
services:
  db:
    image: postgres
    environment: {MODE: one}
    healthcheck: {test: pg_isready, interval: 1s}
    volumes: [data:/data]
  api:
    image: api:1
    depends_on: {db: {condition: service_healthy}}
    x-pod: app
  sidecar:
    image: envoy
    ports: ["8080:8080"]
    x-pod: app
  web:
    image: nginx
volumes:
  data: {}
`

// mutations lists "Kind target" for every mutating step.
func mutations(p *Plan) []string {
	var out []string
	for _, st := range p.Steps {
		if st.Kind.Mutating() {
			out = append(out, string(st.Kind)+" "+st.Target)
		}
	}
	return out
}

func reconcile(t *testing.T, s *stack.Stack, o *ObservedState, opts Options) *Plan {
	t.Helper()
	p, err := Reconcile(s, o, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReconcileNothingChanged(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	first := reconcile(t, s, nil, Options{})
	second := reconcile(t, s, applied(first), Options{})
	if m := second.Mutating(); m != 0 {
		t.Errorf("unchanged stack: %d mutating steps:\n%s", m, second)
	}
}

func TestReconcileEnvChangeRecreatesOnlyThatContainer(t *testing.T) {
	path := writeCompose(t, reconcileStack)
	first := reconcile(t, load(t, path), nil, Options{})
	os.WriteFile(path, []byte(strings.Replace(reconcileStack, "MODE: one", "MODE: two", 1)), 0o644)
	p := reconcile(t, load(t, path), applied(first), Options{})
	got := strings.Join(mutations(p), "; ")
	want := "StopContainer rec-db-1; RemoveContainer rec-db-1; CreateContainer rec-db-1; StartContainer rec-db-1"
	if got != want {
		t.Errorf("mutations:\n got %s\nwant %s\nplan:\n%s", got, want, p)
	}
	for _, st := range p.Steps {
		if st.Kind == StepCreateContainer && st.Cause != "configuration changed" {
			t.Errorf("cause %q", st.Cause)
		}
	}
}

func TestReconcilePodPortsChangeRecreatesPod(t *testing.T) {
	path := writeCompose(t, reconcileStack)
	first := reconcile(t, load(t, path), nil, Options{})
	os.WriteFile(path, []byte(strings.Replace(reconcileStack, `"8080:8080"`, `"9090:8080"`, 1)), 0o644)
	p := reconcile(t, load(t, path), applied(first), Options{})
	touched := map[string]bool{}
	for _, m := range mutations(p) {
		touched[strings.SplitN(m, " ", 2)[1]] = true
	}
	for _, want := range []string{"rec-app", "rec-api-1", "rec-sidecar-1"} {
		if !touched[want] {
			t.Errorf("%s not recreated:\n%s", want, p)
		}
	}
	for _, keep := range []string{"rec-db-1", "rec-web-1", "rec-db", "rec-web"} {
		if touched[keep] {
			t.Errorf("%s touched although its pod did not change:\n%s", keep, p)
		}
	}
	// The old pod goes before the new one is created.
	var removeID, createID int
	for _, st := range p.Steps {
		if st.Target == "rec-app" && st.Kind == StepRemovePod {
			removeID = st.ID
		}
		if st.Target == "rec-app" && st.Kind == StepCreatePod {
			createID = st.ID
			if !contains(st.Deps, removeID) {
				t.Errorf("CreatePod does not wait for RemovePod: %s", st)
			}
		}
	}
	if removeID == 0 || createID == 0 {
		t.Errorf("pod not removed and created:\n%s", p)
	}
}

func contains(ids []int, id int) bool {
	for _, i := range ids {
		if i == id {
			return true
		}
	}
	return false
}

func TestReconcileOrphans(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	o := applied(reconcile(t, s, nil, Options{}))
	o.Containers = append(o.Containers, ObservedContainer{Name: "rec-old-1", State: "running",
		Labels: map[string]string{LabelProject: "rec", LabelService: "old"}})
	o.Pods = append(o.Pods, ObservedPod{Name: "rec-old", Labels: map[string]string{LabelProject: "rec"}})

	p := reconcile(t, s, o, Options{})
	if m := mutations(p); len(m) != 0 {
		t.Errorf("orphans removed without --remove-orphans: %v", m)
	}
	if len(p.Warnings) != 2 {
		t.Errorf("warnings %v", p.Warnings)
	}
	p = reconcile(t, s, o, Options{RemoveOrphans: true})
	got := strings.Join(mutations(p), "; ")
	if got != "StopContainer rec-old-1; RemoveContainer rec-old-1; RemovePod rec-old" {
		t.Errorf("--remove-orphans: %s", got)
	}
}

func TestReconcileNeverTouchesUnlabelled(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	o := applied(reconcile(t, s, nil, Options{}))
	// A look-alike without our labels, and one of another project.
	o.Containers = append(o.Containers,
		ObservedContainer{Name: "rec-web-2", State: "running", Labels: map[string]string{}},
		ObservedContainer{Name: "rec-zzz-1", State: "running", Labels: map[string]string{LabelProject: "other"}})
	o.Pods = append(o.Pods, ObservedPod{Name: "rec-lookalike", Labels: nil})
	for _, opts := range []Options{{}, {RemoveOrphans: true}, {ForceRecreate: true}} {
		p := reconcile(t, s, o, opts)
		for _, st := range p.Steps {
			switch st.Target {
			case "rec-web-2", "rec-zzz-1", "rec-lookalike":
				t.Errorf("%+v touches %s: %s", opts, st.Target, st)
			}
		}
	}
}

// TestReconcileRechecksHealthyDependency: a dependency that Podman last saw
// healthy is checked again before a dependent starts; without systemd
// timers that last result may be long stale.
func TestReconcileRechecksHealthyDependency(t *testing.T) {
	path := writeCompose(t, reconcileStack)
	o := applied(reconcile(t, load(t, path), nil, Options{}))
	for i := range o.Containers {
		o.Containers[i].Health = "healthy"
	}
	os.WriteFile(path, []byte(strings.Replace(reconcileStack, "image: api:1", "image: api:2", 1)), 0o644)
	p := reconcile(t, load(t, path), o, Options{})
	var wait, start *Step
	for _, st := range p.Steps {
		switch {
		case st.Kind == StepWait && st.Target == "rec-db-1" && st.Condition == stack.ConditionHealthy:
			wait = st
		case st.Kind == StepStartContainer && st.Target == "rec-api-1":
			start = st
		}
	}
	if wait == nil || start == nil {
		t.Fatalf("want a health wait on rec-db-1 and a start of rec-api-1:\n%s", p)
	}
	if !contains(start.Deps, wait.ID) {
		t.Errorf("rec-api-1 starts after %v, not after the wait #%d:\n%s", start.Deps, wait.ID, p)
	}
	if got := strings.Join(mutations(p), "; "); strings.Contains(got, "rec-db-1") {
		t.Errorf("db is left alone, got %s", got)
	}
}

func TestReconcileStoppedContainerOnlyStarts(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	o := applied(reconcile(t, s, nil, Options{}))
	for i := range o.Containers {
		if o.Containers[i].Name == "rec-web-1" {
			o.Containers[i].State = "exited"
			o.Containers[i].ExitCode = 137
		}
	}
	p := reconcile(t, s, o, Options{})
	if got := strings.Join(mutations(p), "; "); got != "StartContainer rec-web-1" {
		t.Errorf("mutations %s\n%s", got, p)
	}
}

func TestReconcileOptions(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	o := applied(reconcile(t, s, nil, Options{}))

	p := reconcile(t, s, o, Options{ForceRecreate: true, Services: []string{"web"}})
	if got := strings.Join(mutations(p), "; "); got != "StopContainer rec-web-1; RemoveContainer rec-web-1; CreateContainer rec-web-1; StartContainer rec-web-1" {
		t.Errorf("--force-recreate web: %s", got)
	}
	// api depends on db: selecting api pulls db in, unless --no-deps.
	p = reconcile(t, s, nil, Options{Services: []string{"api"}})
	if !strings.Contains(p.String(), "rec-db-1") {
		t.Errorf("api without its dependency db:\n%s", p)
	}
	p = reconcile(t, s, nil, Options{Services: []string{"api"}, NoDeps: true})
	if strings.Contains(p.String(), "rec-db-1") {
		t.Errorf("--no-deps still plans db:\n%s", p)
	}
	p = reconcile(t, s, nil, Options{NoStart: true})
	for _, st := range p.Steps {
		if st.Kind == StepStartContainer || st.Kind == StepWait {
			t.Errorf("--no-start plans %s", st)
		}
	}
	if _, err := Reconcile(s, nil, Options{Services: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), `no such service "nope"`) {
		t.Errorf("unknown service: %v", err)
	}
	changed := load(t, writeCompose(t, strings.Replace(reconcileStack, "MODE: one", "MODE: two", 1)))
	if p := reconcile(t, changed, o, Options{NoRecreate: true}); p.Mutating() != 0 {
		t.Errorf("--no-recreate recreates:\n%s", p)
	}
}

func TestReconcilePullPolicies(t *testing.T) {
	s := load(t, writeCompose(t, "name: pull\nservices:\n  a: {image: here}\n  b: {image: missing}\n"))
	o := &ObservedState{Images: []string{"here"}}
	p := reconcile(t, s, o, Options{Pull: "missing"})
	if got := strings.Join(mutations(p)[:1], ""); got != "PullImage missing" || strings.Contains(p.String(), "PullImage here") {
		t.Errorf("missing policy:\n%s", p)
	}
	p = reconcile(t, s, o, Options{Pull: "always"})
	if !strings.Contains(p.String(), "PullImage here") {
		t.Errorf("always policy:\n%s", p)
	}
	_, err := Reconcile(s, o, Options{Pull: "never"})
	if err == nil || !strings.Contains(err.Error(), "image missing is not present locally") || !stack.IsInvalid(err) {
		t.Errorf("never policy: %v", err)
	}
}

func TestPlanDown(t *testing.T) {
	s := load(t, "testdata/chain.yaml")
	o := applied(reconcile(t, s, nil, Options{}))
	p, err := PlanDown("chain", s, o, DownOptions{Volumes: true})
	if err != nil {
		t.Fatal(err)
	}
	// web depends on api depends on db: stops in reverse order.
	stop := map[string]*Step{}
	for _, st := range p.Steps {
		if st.Kind == StepStopContainer {
			stop[st.Target] = st
		}
	}
	if !contains(stop["chain-db-1"].Deps, stop["chain-api-1"].ID) || !contains(stop["chain-api-1"].Deps, stop["chain-web-1"].ID) {
		t.Errorf("stops are not in reverse dependency order:\n%s", p)
	}
	counts := map[StepKind]int{}
	for _, st := range p.Steps {
		counts[st.Kind]++
	}
	if counts[StepRemoveContainer] != 6 || counts[StepRemovePod] != 6 || counts[StepRemoveNetwork] != 1 {
		t.Errorf("counts %v\n%s", counts, p)
	}
	p, _ = PlanDown("chain", s, o, DownOptions{Services: []string{"web"}})
	if got := strings.Join(mutations(p), "; "); got != "StopContainer chain-web-1; RemoveContainer chain-web-1; RemovePod chain-web" {
		t.Errorf("down web: %s", got)
	}
	p, _ = PlanDown("other", nil, o, DownOptions{})
	if len(p.Steps) != 0 {
		t.Errorf("down of another project touches chain:\n%s", p)
	}
}

// TestReconcileOneOff: `stack run api` needs api's image, networks and
// volumes, and db up and healthy; never api's own containers.
func TestReconcileOneOff(t *testing.T) {
	s := load(t, writeCompose(t, `name: one
services:
  db:
    image: postgres
    healthcheck: {test: pg_isready, interval: 1s}
  api:
    image: api:1
    depends_on: {db: {condition: service_healthy}}
    volumes: [data:/data]
  web:
    image: nginx
volumes:
  data: {}
`))
	describe := func(p *Plan) string {
		var out []string
		for _, st := range p.Steps {
			out = append(out, string(st.Kind)+" "+st.Target)
		}
		return strings.Join(out, "; ")
	}
	p := reconcile(t, s, nil, Options{OneOff: "api"})
	want := "PullImage api:1; PullImage postgres; CreateNetwork one_default; CreateVolume one_data; " +
		"CreatePod one-db; CreateContainer one-db-1; StartContainer one-db-1; Wait one-db-1"
	if got := describe(p); got != want {
		t.Errorf("run api:\n got %s\nwant %s", got, want)
	}
	last := p.Steps[len(p.Steps)-1]
	if last.Kind != StepWait || last.Condition != stack.ConditionHealthy {
		t.Errorf("the plan must end waiting for db to be healthy, ends with %s", last)
	}

	p = reconcile(t, s, nil, Options{OneOff: "api", NoDeps: true})
	if got, want := describe(p), "PullImage api:1; CreateNetwork one_default; CreateVolume one_data"; got != want {
		t.Errorf("run --no-deps api:\n got %s\nwant %s", got, want)
	}

	if _, err := Reconcile(s, nil, Options{OneOff: "nope"}); err == nil || !strings.Contains(err.Error(), `no such service "nope"`) {
		t.Errorf("unknown service: %v", err)
	}
}

// TestReconcileScale: --scale adds and removes replicas of one service and
// leaves the loaded stack as it was.
func TestReconcileScale(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	o := applied(reconcile(t, s, nil, Options{}))
	p := reconcile(t, s, o, Options{Scale: map[string]int{"web": 3}})
	want := "CreateContainer rec-web-2; CreateContainer rec-web-3; StartContainer rec-web-2; StartContainer rec-web-3"
	if got := strings.Join(sortedCopy(mutations(p)), "; "); got != want {
		t.Errorf("scale web=3:\n got %s\nwant %s", got, want)
	}
	if s.Services["web"].Replicas != 1 {
		t.Errorf("the loaded stack changed: web has %d replicas", s.Services["web"].Replicas)
	}
	p = reconcile(t, s, applied(p), Options{Scale: map[string]int{"web": 0}})
	want = "RemoveContainer rec-web-1; RemoveContainer rec-web-2; RemoveContainer rec-web-3; StopContainer rec-web-1; StopContainer rec-web-2; StopContainer rec-web-3"
	if got := strings.Join(sortedCopy(mutations(p)), "; "); got != want {
		t.Errorf("scale web=0:\n got %s\nwant %s", got, want)
	}
	for scale, msg := range map[string]string{"nope": `--scale nope: no such service`, "web": "cannot be negative"} {
		n := 2
		if scale == "web" {
			n = -1
		}
		if _, err := Reconcile(s, o, Options{Scale: map[string]int{scale: n}}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("scale %s=%d: %v, want %q", scale, n, err, msg)
		}
	}
}

func sortedCopy(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}
