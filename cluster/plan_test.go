package cluster

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/<name>.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cluster -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./cluster -update rewrites it)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func table(t *testing.T, p *Plan) string {
	t.Helper()
	var b bytes.Buffer
	if err := p.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, w := range p.Warnings {
		b.WriteString("WARN " + w + "\n")
	}
	return b.String()
}

// stored is obj as the API server keeps it after podstack applied it:
// with a uid, the field set podstack's apply owns, and fields the server
// adds (defaults and status) that podstack does not manage.
func stored(t *testing.T, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	tv, err := testTypes().ObjectToTyped(obj)
	if err != nil {
		t.Fatal(err)
	}
	set, err := tv.ToFieldSet()
	if err != nil {
		t.Fatal(err)
	}
	set = set.Difference(identity)
	fields, err := set.ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	live := obj.DeepCopy()
	live.SetUID(types.UID("uid-" + obj.GetName()))
	live.SetResourceVersion("1")
	live.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply,
		APIVersion: obj.GetAPIVersion(), FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: fields}}})
	switch obj.GetKind() {
	case "Deployment":
		if _, ok, _ := unstructured.NestedString(live.Object, "spec", "strategy", "type"); !ok {
			_ = unstructured.SetNestedField(live.Object, "RollingUpdate", "spec", "strategy", "type")
		}
		_ = unstructured.SetNestedField(live.Object, int64(10), "spec", "revisionHistoryLimit")
		_ = unstructured.SetNestedField(live.Object, int64(1), "status", "observedGeneration")
	case "Service":
		_ = unstructured.SetNestedField(live.Object, "10.96.0.10", "spec", "clusterIP")
	}
	return live
}

func observedFrom(t *testing.T, objs []*unstructured.Unstructured) *Observed {
	o := &Observed{Owned: map[Ref]*unstructured.Unstructured{}, Foreign: map[Ref]*unstructured.Unstructured{}, Types: testTypes()}
	for _, u := range objs {
		o.Owned[RefOf(u)] = stored(t, u)
	}
	return o
}

// The plan for the examples' prod environment in an empty namespace:
// what a workload reads comes first, and each workload is applied once
// the workloads it depends on are available.
func TestPlanExampleProdFromEmpty(t *testing.T) {
	d := desiredFor(t, loadExample(t, "webstack", "prod"), "shop")
	p, err := Up(d, &Observed{Owned: map[Ref]*unstructured.Unstructured{}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "webstack-prod-create", table(t, p))
	golden(t, "webstack-prod-create-text", p.String())
}

// Against what an earlier apply stored, a changed stack plans only the
// objects whose podstack-managed fields differ, with the fields; what the
// server added (defaults, status) is not a change; a service that is gone
// is deleted only with RemoveOrphans, after the applies.
func TestPlanExampleProdChanges(t *testing.T) {
	s := loadExample(t, "webstack", "prod")
	before := desiredFor(t, s, "shop")
	observed := observedFrom(t, before.Objects)

	same, err := Up(desiredFor(t, s, "shop"), observed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(same.Steps) != 0 || len(same.Unchanged) != len(before.Objects) {
		t.Errorf("unchanged stack planned:\n%s\nunchanged %v", same, same.Unchanged)
	}

	s.Services["app"].Environment["LOG_LEVEL"] = "info"
	s.Services["web"].Replicas = 2
	s.Services["web"].Image = "docker.io/library/nginx:1.28"
	delete(s.Services, "monitor")
	p, err := Up(desiredFor(t, s, "shop"), observed, Options{RemoveOrphans: true})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "webstack-prod-change", table(t, p))
	golden(t, "webstack-prod-change-text", p.String())

	kept, err := Up(desiredFor(t, s, "shop"), observed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range kept.Steps {
		if st.Kind == StepDelete {
			t.Errorf("deleted without RemoveOrphans: %s", st)
		}
	}
	if !strings.Contains(strings.Join(kept.Warnings, "\n"), "Deployment/monitor is no longer declared ('--remove-orphans' deletes it)") {
		t.Errorf("warnings: %v", kept.Warnings)
	}
}

// Down deletes dependents before what they depend on, and what
// workloads read after them; claims stay unless asked for.
func TestPlanDown(t *testing.T) {
	d := desiredFor(t, loadExample(t, "webstack", "prod"), "shop")
	o := observedFrom(t, d.Objects)
	golden(t, "webstack-prod-down", table(t, Down(d.Target, o, DownOptions{})))
	withClaims := Down(d.Target, o, DownOptions{Volumes: true})
	if !strings.Contains(withClaims.String(), "Delete PersistentVolumeClaim/webstack-pgdata") {
		t.Errorf("--volumes did not delete the claim:\n%s", withClaims)
	}
}

// An object of a desired name that is not the target's is never applied
// over: every such name is reported, with whose it is.
func TestPlanRefusesForeignObjects(t *testing.T) {
	d := desiredFor(t, loadExample(t, "webstack", "prod"), "shop")
	o := &Observed{Owned: map[Ref]*unstructured.Unstructured{}, Foreign: map[Ref]*unstructured.Unstructured{}, Types: testTypes()}
	kubectl := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"}}}
	staging := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "webstack-pgdata",
		"labels": map[string]any{LabelManagedBy: "podstack", LabelPartOf: "webstack", LabelEnvironment: "staging"}}}}
	o.Foreign[RefOf(kubectl)] = kubectl
	o.Foreign[RefOf(staging)] = staging
	_, err := Up(d, o, Options{})
	if err == nil {
		t.Fatal("planned over foreign objects")
	}
	for _, want := range []string{
		"Deployment/web exists in namespace shop and was not created by podstack",
		`PersistentVolumeClaim/webstack-pgdata exists in namespace shop and belongs to podstack project "webstack", environment "staging"`,
		"deploy to another namespace (--namespace)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// Secrets stay Secrets, with their values in data (the API server never
// stores stringData, so it could never compare equal); every object gets
// the managed-by label; the config digest of a pod template covers only
// the values its containers read.
func TestPrepare(t *testing.T) {
	s := loadExample(t, "webstack", "prod")
	d := desiredFor(t, s, "shop")
	hashes := map[string]string{}
	for _, u := range d.Objects {
		if u.GetLabels()[LabelManagedBy] != "podstack" || u.GetNamespace() != "shop" {
			t.Errorf("%s: labels %v namespace %q", RefOf(u), u.GetLabels(), u.GetNamespace())
		}
		if u.GetKind() == "Secret" {
			if _, ok := u.Object["stringData"]; ok {
				t.Errorf("%s keeps stringData", RefOf(u))
			}
			if v, _, _ := unstructured.NestedString(u.Object, "data", "value"); v == "" {
				t.Errorf("%s: no data.value: %v", RefOf(u), u.Object)
			}
		}
		if u.GetKind() == "Deployment" {
			hashes[u.GetName()], _, _ = unstructured.NestedString(u.Object, "spec", "template", "metadata", "annotations", AnnotationConfigHash)
		}
	}
	if hashes["cache"] != "" || hashes["app"] == "" || hashes["db"] == "" {
		t.Errorf("config hashes: %v", hashes)
	}
	s.Services["app"].Environment["LOG_LEVEL"] = "info"
	for _, u := range desiredFor(t, s, "shop").Objects {
		if u.GetKind() != "Deployment" {
			continue
		}
		h, _, _ := unstructured.NestedString(u.Object, "spec", "template", "metadata", "annotations", AnnotationConfigHash)
		if changed := h != hashes[u.GetName()]; changed != (u.GetName() == "app") {
			t.Errorf("Deployment/%s: hash changed=%v after app's env changed", u.GetName(), changed)
		}
	}
}

func TestReadiness(t *testing.T) {
	dep := func(gen int64, status map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "generation": gen}, "spec": map[string]any{"replicas": int64(2)}, "status": status}}
		return u
	}
	available := []any{map[string]any{"type": "Available", "status": "True"}}
	cases := []struct {
		name   string
		obj    *unstructured.Unstructured
		ready  bool
		failed bool
	}{
		{"not observed", dep(2, map[string]any{"observedGeneration": int64(1)}), false, false},
		{"rolling", dep(1, map[string]any{"observedGeneration": int64(1), "replicas": int64(2), "updatedReplicas": int64(1), "availableReplicas": int64(1)}), false, false},
		{"available", dep(1, map[string]any{"observedGeneration": int64(1), "replicas": int64(2), "updatedReplicas": int64(2), "availableReplicas": int64(2), "conditions": available}), true, false},
		{"deadline", dep(1, map[string]any{"observedGeneration": int64(1), "conditions": []any{map[string]any{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "too slow"}}}), false, true},
		{"job done", &unstructured.Unstructured{Object: map[string]any{"kind": "Job", "status": map[string]any{"conditions": []any{map[string]any{"type": "Complete", "status": "True"}}}}}, true, false},
		{"job failed", &unstructured.Unstructured{Object: map[string]any{"kind": "Job", "status": map[string]any{"conditions": []any{map[string]any{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}}}}}, false, true},
		{"job running", &unstructured.Unstructured{Object: map[string]any{"kind": "Job", "status": map[string]any{"active": int64(1)}}}, false, false},
	}
	for _, c := range cases {
		ready, status, err := Readiness(c.obj)
		if ready != c.ready || (err != nil) != c.failed {
			t.Errorf("%s: ready=%v err=%v status=%q", c.name, ready, err, status)
		}
	}
}
