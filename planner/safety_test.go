package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const secretStack = `name: sec
services:
  db:
    image: postgres
    secrets: [db_pass]
    configs: [motd]
  web:
    image: nginx
    volumes: [data:/data]
volumes:
  data: {}
secrets:
  db_pass: {file: ./db_pass.txt}
configs:
  motd: {content: "hello"}
`

// secretProject writes secretStack and its secret file into a directory.
func secretProject(t *testing.T, password string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "db_pass.txt"), []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, []byte(secretStack), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReconcileSecretsAreSteps: secrets are objects of the plan: created
// before the containers that use them, left alone when unchanged (also by
// --force-recreate, which failed with "secret name in use" when secrets
// were a side effect of creating a container), replaced with their users
// when the file changes, and removed by down.
func TestReconcileSecretsAreSteps(t *testing.T) {
	path := secretProject(t, "hunter2")
	s := load(t, path)
	first := reconcile(t, s, nil, Options{})
	var created []string
	create := map[string]*Step{}
	for _, st := range first.Steps {
		if st.Kind == StepCreateSecret {
			created = append(created, st.Target)
		}
		if st.Kind == StepCreateContainer {
			create[st.Target] = st
		}
	}
	if strings.Join(created, ",") != "sec_db_pass,sec_motd" {
		t.Fatalf("created secrets %v, want sec_db_pass,sec_motd:\n%s", created, first)
	}
	for _, st := range first.Steps {
		if st.Kind == StepCreateSecret && !contains(create["sec-db-1"].Deps, st.ID) {
			t.Errorf("sec-db-1 is created before secret %s:\n%s", st.Target, first)
		}
	}

	o := applied(first)
	if p := reconcile(t, s, o, Options{}); p.Mutating() != 0 {
		t.Errorf("unchanged secrets: %d mutating steps:\n%s", p.Mutating(), p)
	}
	p := reconcile(t, s, o, Options{ForceRecreate: true})
	for _, st := range p.Steps {
		if st.Kind == StepCreateSecret || st.Kind == StepRemoveSecret {
			t.Errorf("--force-recreate with unchanged secrets touches %s:\n%s", st.Target, p)
		}
	}

	// The file changes: the secret is replaced, then db is recreated.
	os.WriteFile(filepath.Join(filepath.Dir(path), "db_pass.txt"), []byte("correct horse"), 0o600)
	p = reconcile(t, load(t, path), o, Options{})
	got := strings.Join(mutations(p), "; ")
	want := "RemoveSecret sec_db_pass; CreateSecret sec_db_pass; StopContainer sec-db-1; RemoveContainer sec-db-1; CreateContainer sec-db-1; StartContainer sec-db-1"
	if got != want {
		t.Errorf("changed secret file:\n got %s\nwant %s", got, want)
	}
	if strings.Contains(p.String(), "hunter2") || strings.Contains(p.String(), "correct horse") {
		t.Errorf("the plan shows a secret's content:\n%s", p)
	}

	down, err := PlanDown("sec", s, o, DownOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got = strings.Join(mutations(down), "; ")
	for _, want := range []string{"RemoveSecret sec_db_pass", "RemoveSecret sec_motd"} {
		if !strings.Contains(got, want) {
			t.Errorf("down: %s missing from %s", want, got)
		}
	}
}

// TestReconcileForeignObjects: volumes, networks and secrets that carry a
// name the stack would create but not this project's labels are never
// adopted silently: a volume is shown and warned about, a network or secret
// refused, and none of them is ever removed.
func TestReconcileForeignObjects(t *testing.T) {
	s := load(t, secretProject(t, "pw"))
	foreignVolume := &ObservedState{Volumes: []ObservedVolume{{Name: "sec_data", Labels: map[string]string{"owner": "me"}}}}
	p := reconcile(t, s, foreignVolume, Options{})
	var use *Step
	for _, st := range p.Steps {
		switch {
		case st.Kind == StepCreateVolume:
			t.Errorf("a foreign volume of the same name is created again: %s", st)
		case st.Kind == StepUseVolume && st.Target == "sec_data":
			use = st
		}
	}
	if use == nil || use.Kind.Mutating() {
		t.Errorf("the plan does not show the foreign volume as used:\n%s", p)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "external: true") {
		t.Errorf("warnings %q: want one naming external: true", p.Warnings)
	}

	foreignNet := &ObservedState{Networks: []ObservedNetwork{{Name: "sec_default", Labels: map[string]string{"io.podman.compose.project": "sec"}}}}
	if _, err := Reconcile(s, foreignNet, Options{}); err == nil || !strings.Contains(err.Error(), "external: true") {
		t.Errorf("a foreign network of the same name: %v, want a refusal naming external: true", err)
	}
	foreignSecret := &ObservedState{Secrets: []ObservedSecret{{Name: "sec_db_pass"}}}
	if _, err := Reconcile(s, foreignSecret, Options{}); err == nil || !strings.Contains(err.Error(), "podman secret rm sec_db_pass") {
		t.Errorf("a foreign secret of the same name: %v, want a refusal with the fix", err)
	}

	o := applied(reconcile(t, s, nil, Options{}))
	o.Volumes = append(o.Volumes, ObservedVolume{Name: "sec_other"})
	o.Networks = append(o.Networks, ObservedNetwork{Name: "sec_other"})
	o.Secrets = append(o.Secrets, ObservedSecret{Name: "sec_other"})
	for i := range o.Volumes {
		if o.Volumes[i].Name == "sec_data" {
			o.Volumes[i].Labels = nil // made by hand, then used by the stack
		}
	}
	down, err := PlanDown("sec", s, o, DownOptions{Volumes: true, RemoveOrphans: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range down.Steps {
		if st.Target == "sec_other" || st.Target == "sec_data" {
			t.Errorf("down -v removes a foreign object: %s", st)
		}
	}
}

// TestReconcileRepairsInterruptedRun: containers an interrupted run left
// created but not started are recreated, so the first rerun converges
// (starting them again fails on a runtime left half-way); `stack start`
// (NoRecreate) still starts them.
func TestReconcileRepairsInterruptedRun(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	o := applied(reconcile(t, s, nil, Options{}))
	for i := range o.Containers {
		if o.Containers[i].Name == "rec-web-1" {
			o.Containers[i].State = "created"
		}
	}
	p := reconcile(t, s, o, Options{})
	if got := strings.Join(mutations(p), "; "); got != "RemoveContainer rec-web-1; CreateContainer rec-web-1; StartContainer rec-web-1" {
		t.Errorf("a container left created: %s\n%s", got, p)
	}
	p = reconcile(t, s, o, Options{NoRecreate: true})
	if got := strings.Join(mutations(p), "; "); got != "StartContainer rec-web-1" {
		t.Errorf("start of a created container: %s\n%s", got, p)
	}
}

// TestReconcileRemovesStorageLeftovers: a Podman service that dies
// mid-create leaves a container only in storage, without labels, holding
// its name; the next create then failed with "the container name is already
// in use". One whose name is exactly a wanted container's is removed first
// (and by down); any other is never touched.
func TestReconcileRemovesStorageLeftovers(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	o := applied(reconcile(t, s, nil, Options{}))
	var kept []ObservedContainer
	for _, c := range o.Containers {
		if c.Name != "rec-web-1" {
			kept = append(kept, c)
		}
	}
	o.Containers = append(kept,
		ObservedContainer{ID: "st1", Name: "rec-web-1", State: StateStorage},
		ObservedContainer{ID: "st2", Name: "rec-webby-1", State: StateStorage},
		ObservedContainer{ID: "st3", Name: "other-web-1", State: StateStorage})
	p := reconcile(t, s, o, Options{})
	if got := strings.Join(mutations(p), "; "); got != "RemoveContainer rec-web-1; CreateContainer rec-web-1; StartContainer rec-web-1" {
		t.Errorf("storage leftover: %s\n%s", got, p)
	}
	down, err := PlanDown("rec", s, o, DownOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(mutations(down), "; ")
	if !strings.Contains(got, "RemoveContainer rec-web-1") {
		t.Errorf("down leaves the storage leftover: %s", got)
	}
	if strings.Contains(got, "rec-webby-1") || strings.Contains(got, "other-web-1") {
		t.Errorf("down removes a storage container that is not the project's: %s", got)
	}
	if down, _ := PlanDown("rec", nil, o, DownOptions{}); !strings.Contains(strings.Join(mutations(down), " "), "rec-webby-1") {
		t.Errorf("down -p without a stack file leaves the project-named leftover rec-webby-1")
	}
}

// TestReconcileRepairsInterruptedPod: a pod with an infra container that an
// interrupted run left not running, all of whose members are made again, is
// made again too (its infra container may be half-made: starting a member
// then failed with "internal libpod error"). A stopped stack's pod is kept.
func TestReconcileRepairsInterruptedPod(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	o := applied(reconcile(t, s, nil, Options{}))
	for i := range o.Pods {
		if o.Pods[i].Name == "rec-app" {
			o.Pods[i].State = "Created"
		}
	}
	for i := range o.Containers {
		if o.Containers[i].Pod == "rec-app" {
			o.Containers[i].State = "created"
		}
	}
	p := reconcile(t, s, o, Options{})
	got := strings.Join(mutations(p), "; ")
	if !strings.Contains(got, "RemovePod rec-app") || !strings.Contains(got, "CreatePod rec-app") {
		t.Errorf("a half-made pod is kept: %s\n%s", got, p)
	}
	for i := range o.Pods {
		o.Pods[i].State = "Exited"
	}
	for i := range o.Containers {
		o.Containers[i].State = "exited"
	}
	p = reconcile(t, s, o, Options{})
	if got := strings.Join(mutations(p), "; "); strings.Contains(got, "Pod") {
		t.Errorf("a stopped stack's pods are recreated: %s", got)
	}
}

// TestReconcileCreatesMissingBindSources: a missing bind-mount source is a
// step the plan shows (it used to be made as a side effect of creating the
// container, so plan and --dry-run never said so), before the containers
// that mount it, once.
func TestReconcileCreatesMissingBindSources(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "compose.yaml")
	os.WriteFile(path, []byte(`name: b
services:
  a: {image: x, volumes: ["./data:/data"]}
  c: {image: x, volumes: ["./data:/other", "./logs:/logs"]}
`), 0o644)
	s := load(t, path)
	look := LookupFor(s)
	want := []string{filepath.Join(dir, "data"), filepath.Join(dir, "logs")}
	if strings.Join(look.Directories, ",") != strings.Join(want, ",") {
		t.Fatalf("lookup directories %v, want %v", look.Directories, want)
	}
	p := reconcile(t, s, &ObservedState{MissingDirectories: want[:1]}, Options{})
	var mkdir *Step
	for _, st := range p.Steps {
		if st.Kind == StepCreateDirectory {
			if mkdir != nil {
				t.Errorf("two steps create %s", st.Target)
			}
			mkdir = st
		}
	}
	if mkdir == nil || mkdir.Target != want[0] {
		t.Fatalf("no step creates %s:\n%s", want[0], p)
	}
	for _, st := range p.Steps {
		if st.Kind == StepCreateContainer && !contains(st.Deps, mkdir.ID) {
			t.Errorf("%s is created before its bind source:\n%s", st.Target, p)
		}
	}
	if p := reconcile(t, s, &ObservedState{}, Options{}); strings.Contains(p.String(), "CreateDirectory") {
		t.Errorf("existing sources are created again:\n%s", p)
	}
}

// TestReconcileRecreatesStopping: a kill -9 of `up --force-recreate`
// during its stops leaves containers Podman is still stopping; starting
// them failed with "container state improper". They are made again.
func TestReconcileRecreatesStopping(t *testing.T) {
	s := load(t, writeCompose(t, reconcileStack))
	o := applied(reconcile(t, s, nil, Options{}))
	for i := range o.Containers {
		if o.Containers[i].Name == "rec-web-1" {
			o.Containers[i].State = "stopping"
		}
	}
	p := reconcile(t, s, o, Options{})
	if got := strings.Join(mutations(p), "; "); got != "RemoveContainer rec-web-1; CreateContainer rec-web-1; StartContainer rec-web-1" {
		t.Errorf("a container left stopping: %s\n%s", got, p)
	}
}

// TestReconcileBuildsBeforeRemoving: the container a new image replaces is
// stopped and removed only once the image is built (or pulled): a
// Dockerfile that no longer builds used to leave the service removed.
func TestReconcileBuildsBeforeRemoving(t *testing.T) {
	s := load(t, writeCompose(t, `name: b
services:
  app: {build: ., pull_policy: build}
  cache: {image: redis}
`))
	o := applied(reconcile(t, s, nil, Options{}))
	for _, opts := range []Options{{ForceRecreate: true}, {ForceRecreate: true, Pull: "always"}} {
		p := reconcile(t, s, o, opts)
		image := map[string]*Step{}
		for _, st := range p.Steps {
			if st.Kind == StepBuildImage || st.Kind == StepPullImage {
				image[st.Service] = st
			}
		}
		for _, st := range p.Steps {
			if (st.Kind == StepStopContainer || st.Kind == StepRemoveContainer) && image[st.Service] != nil && !contains(st.Deps, image[st.Service].ID) {
				t.Errorf("%+v: %s %s does not wait for the new image:\n%s", opts, st.Kind, st.Target, p)
			}
		}
		if len(image) == 0 {
			t.Errorf("%+v: no image step:\n%s", opts, p)
		}
	}
}

// TestLookupNamesEveryContainer: LookupFor names exactly the containers the
// plan has (replicas, container_name), since Observe skips looking for
// leftovers in storage when all of them are held: a name missing from the
// lookup would hide a leftover that holds it.
func TestLookupNamesEveryContainer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compose.yaml")
	os.WriteFile(path, []byte(`name: l
services:
  web: {image: x, deploy: {replicas: 3}}
  db: {image: x, container_name: the-db}
  off: {image: x, deploy: {replicas: 0}}
`), 0o644)
	s := load(t, path)
	var want []string
	for _, c := range reconcile(t, s, &ObservedState{}, Options{}).Containers {
		want = append(want, c.Name)
	}
	got := LookupFor(s).Containers
	if strings.Join(got, ",") != strings.Join(want, ",") || len(want) != 4 {
		t.Errorf("lookup containers %v, want %v", got, want)
	}
}
