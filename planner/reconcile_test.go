package planner

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

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

// TestReconcileEnvironmentSwitch: up --env prod on a project running dev
// used to recreate only what differed, leaving the rest labelled dev while
// ls showed prod. Every container and pod is made again in the new
// environment (labels cannot change in place), and the plan says why and
// warns; what a subset or --no-recreate leaves behind is named.
func TestReconcileEnvironmentSwitch(t *testing.T) {
	path := writeCompose(t, reconcileStack)
	dev := load(t, path)
	dev.Environment = "dev"
	running := applied(reconcile(t, dev, nil, Options{}))
	prod := load(t, path)
	prod.Environment = "prod"

	p := reconcile(t, prod, running, Options{})
	created := map[string]string{}
	for _, st := range p.Steps {
		if st.Kind == StepCreateContainer || st.Kind == StepCreatePod {
			created[st.Target] = st.Cause
		}
	}
	for _, c := range p.Containers {
		if cause := created[c.Name]; cause != `environment changed from "dev" to "prod"` {
			t.Errorf("%s: cause %q", c.Name, cause)
		}
		if c.Labels[LabelEnvironment] != "prod" {
			t.Errorf("%s labelled %v", c.Name, c.Labels)
		}
	}
	if created["rec-app"] == "" {
		t.Errorf("pod rec-app not made again:\n%s", p)
	}
	if !hasWarning(p, `project "rec" runs environment "dev"; switching it to "prod" makes its containers and pods again`) {
		t.Errorf("warnings %q", p.Warnings)
	}

	p = reconcile(t, prod, running, Options{Services: []string{"web"}, NoDeps: true})
	if got := strings.Join(mutations(p), "; "); got != "StopContainer rec-web-1; RemoveContainer rec-web-1; RemovePod rec-web; CreatePod rec-web; CreateContainer rec-web-1; StartContainer rec-web-1" {
		t.Errorf("up web: %s", got)
	}
	if !hasWarning(p, `rec-api-1, rec-db-1, rec-sidecar-1 stay in environment "dev"`) {
		t.Errorf("up web: warnings %q", p.Warnings)
	}

	p = reconcile(t, prod, running, Options{NoRecreate: true})
	if m := p.Mutating(); m != 0 {
		t.Errorf("--no-recreate: %d mutating steps:\n%s", m, p)
	}
	if !hasWarning(p, `stay in environment "dev"`) {
		t.Errorf("--no-recreate: warnings %q", p.Warnings)
	}

	// The same environment again: nothing to do, no warning.
	again := applied(reconcile(t, prod, nil, Options{}))
	if p := reconcile(t, prod, again, Options{}); p.Mutating() != 0 || len(p.Warnings) != 0 {
		t.Errorf("same environment: %d steps, warnings %q", p.Mutating(), p.Warnings)
	}
}

func hasWarning(p *Plan, want string) bool {
	for _, w := range p.Warnings {
		if strings.Contains(w, want) {
			return true
		}
	}
	return false
}

// TestReconcileTimeout: up -t SECONDS stops what it recreates with that
// grace period instead of each service's stop_grace_period, as compose's.
func TestReconcileTimeout(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	running := applied(reconcile(t, s, nil, Options{}))
	for _, tc := range []struct {
		timeout, want time.Duration
	}{{0, DefaultStopTimeout}, {2 * time.Second, 2 * time.Second}} {
		p := reconcile(t, s, running, Options{ForceRecreate: true, Timeout: tc.timeout})
		n := 0
		for _, st := range p.Steps {
			if st.Kind == StepStopContainer {
				n++
				if st.StopTimeout != tc.want {
					t.Errorf("timeout %v: %s stops with %v, want %v", tc.timeout, st.Target, st.StopTimeout, tc.want)
				}
			}
		}
		if n == 0 {
			t.Errorf("no stops in\n%s", p)
		}
	}
}

// TestHealthcheckKeepingTheImageTest: a healthcheck with timings only runs
// the image's test. Where the image is here and has none, the plan says the
// service runs without a healthcheck (and --wait waits for it to start); a
// service waiting for it to be healthy is refused before anything runs.
func TestHealthcheckKeepingTheImageTest(t *testing.T) {
	s := load(t, writeCompose(t, "name: ih\nservices:\n  db:\n    image: pg\n    healthcheck: {interval: 1s}\n"))
	waitOn := func(p *Plan) string {
		for _, st := range p.Steps {
			if st.Kind == StepWait {
				return string(st.Condition)
			}
		}
		return ""
	}

	p, err := Reconcile(s, &ObservedState{Images: []string{"pg"}, ImageHealth: map[string][]string{"pg": {"CMD", "pg_isready"}}}, Options{Wait: true})
	if err != nil || len(p.Warnings) != 0 || waitOn(p) != string(stack.ConditionHealthy) {
		t.Errorf("image with a test: err %v, warnings %q, wait %q", err, p.Warnings, waitOn(p))
	}
	p, err = Reconcile(s, &ObservedState{}, Options{Wait: true})
	if err != nil || len(p.Warnings) != 0 || waitOn(p) != string(stack.ConditionHealthy) {
		t.Errorf("image not here yet: err %v, warnings %q, wait %q", err, p.Warnings, waitOn(p))
	}
	p, err = Reconcile(s, &ObservedState{Images: []string{"pg"}}, Options{Wait: true})
	if err != nil || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "image pg has none: it runs without a healthcheck") ||
		waitOn(p) != string(stack.ConditionStarted) {
		t.Errorf("image without a test: err %v, warnings %q, wait %q", err, p.Warnings, waitOn(p))
	}

	s = load(t, writeCompose(t, "name: ih\nservices:\n  db:\n    image: pg\n    healthcheck: {interval: 1s}\n  api:\n    image: x\n    depends_on: {db: {condition: service_healthy}}\n"))
	_, err = Reconcile(s, &ObservedState{Images: []string{"pg", "x"}}, Options{})
	if err == nil || !stack.IsInvalid(err) || !strings.Contains(err.Error(), `service "api": waits for "db" to be healthy, but its healthcheck keeps the image's test and image pg has none`) {
		t.Errorf("err = %v", err)
	}
}

// TestReconcileForceRecreateOnlyNamed: as in docker compose, `up
// --force-recreate api` recreates api alone; its dependency db, which is
// up to date, is kept (it used to be recreated too, restarting a database
// for a change to its client). --always-recreate-deps recreates the
// dependencies as well, and with no service named every service counts as
// named.
func TestReconcileForceRecreateOnlyNamed(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	o := applied(reconcile(t, s, nil, Options{}))
	recreated := func(p *Plan) []string {
		var out []string
		for _, st := range p.Steps {
			if st.Kind == StepCreateContainer {
				out = append(out, st.Target)
			}
		}
		sort.Strings(out)
		return out
	}
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{ForceRecreate: true, Services: []string{"api"}}, "rec-api-1"},
		{Options{ForceRecreate: true, AlwaysRecreateDeps: true, Services: []string{"api"}}, "rec-api-1 rec-db-1"},
		{Options{AlwaysRecreateDeps: true, Services: []string{"api"}}, "rec-db-1"},
		{Options{ForceRecreate: true}, "rec-api-1 rec-db-1 rec-sidecar-1 rec-web-1"},
		{Options{AlwaysRecreateDeps: true}, ""},
		{Options{AlwaysRecreateDeps: true, NoRecreate: true, Services: []string{"api"}}, ""},
	} {
		p := reconcile(t, s, o, c.opts)
		if got := strings.Join(recreated(p), " "); got != c.want {
			t.Errorf("%+v: recreates %q, want %q\n%s", c.opts, got, c.want, p)
		}
	}
	p := reconcile(t, s, o, Options{ForceRecreate: true, Services: []string{"api"}})
	for _, st := range p.Steps {
		if st.Target == "rec-db-1" && st.Kind.Mutating() {
			t.Errorf("--force-recreate api touches its dependency: %s", st)
		}
	}
}
