package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/podstack/podstack/export"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// loadExample loads an example stack in an environment.
func loadExample(t *testing.T, name, env string) *stack.Stack {
	t.Helper()
	s, err := stack.Load(context.Background(), stack.LoadOptions{
		Files:       []string{filepath.Join("..", "examples", name, "compose.yaml")},
		Environment: env,
		Environ:     func() []string { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func desiredFor(t *testing.T, s *stack.Stack, ns string) *Desired {
	t.Helper()
	pods, err := planner.Group(s, planner.PolicyAuto)
	if err != nil {
		t.Fatal(err)
	}
	d, err := FromStack(s, pods, export.KubeOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var fast = ExecOptions{Poll: 20 * time.Millisecond, WaitTimeout: 30 * time.Second}

func deploy(t *testing.T, srv *apiServer, d *Desired, opts Options) *Plan {
	t.Helper()
	plan, err := Deploy(context.Background(), srv.api, d, opts, fast, nil)
	if err != nil {
		t.Fatalf("deploy: %v\nplan:\n%s", err, plan)
	}
	return plan
}

// changedRefs lists the objects whose resourceVersion differs, and those
// that appeared or disappeared.
func changedRefs(before, after map[Ref]string) (changed, added, removed []string) {
	for r, v := range after {
		switch old, ok := before[r]; {
		case !ok:
			added = append(added, r.String())
		case old != v:
			changed = append(changed, r.String())
		}
	}
	for r := range before {
		if _, ok := after[r]; !ok {
			removed = append(removed, r.String())
		}
	}
	sort.Strings(changed)
	sort.Strings(added)
	sort.Strings(removed)
	return
}

func foreignDeployment(ns string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "foreign", "namespace": ns,
			"labels": map[string]any{"app.kubernetes.io/part-of": "webstack", "podstack.io/environment": "prod"}},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "foreign"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "foreign"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox"}}},
			},
		},
	}}
}

// The acceptance path of a cluster deployment, on a real API server: the
// examples' prod environment is applied in dependency order; applying it
// again writes nothing; a changed env value changes only the Deployment
// that reads it (and the ConfigMap holding it); a removed service's
// objects are deleted only with RemoveOrphans, and exactly those; a
// foreign Deployment in the namespace, labelled like the project but not
// podstack's, is never touched; down leaves nothing of the project.
func TestDeployExampleProd(t *testing.T) {
	srv := newAPIServer(t)
	ctx := context.Background()
	foreign := srv.create(foreignDeployment(srv.ns))
	ctrl := srv.startController()

	s := loadExample(t, "webstack", "prod")
	d := desiredFor(t, s, srv.ns)
	first := deploy(t, srv, d, Options{})
	if len(first.Unchanged) != 0 {
		t.Errorf("first apply: unchanged %v", first.Unchanged)
	}
	ctrl.settle()
	v1 := srv.versions()
	for _, u := range d.Objects {
		ref := RefOf(u)
		if _, ok := v1[ref]; !ok {
			t.Errorf("%s was not created", ref)
		}
	}
	dep := func(name string) Ref { return Ref{Kind: "Deployment", Name: name} }
	ctrl.appearedAfterReady(t, dep("migrate"), dep("db"))
	for _, d := range []string{"db", "cache", "migrate"} {
		ctrl.appearedAfterReady(t, dep("app"), dep(d))
	}
	ctrl.appearedAfterReady(t, dep("web"), dep("app"))
	ctrl.appearedAfterReady(t, dep("monitor"), dep("web"))

	// Secrets stay Secrets: the secret file's value is in a Secret, not in
	// the ConfigMap.
	sec, err := srv.res("Secret").Get(ctx, "webstack-db-password", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if data, _, _ := unstructured.NestedStringMap(sec.Object, "data"); data["value"] == "" {
		t.Errorf("secret data: %v", sec.Object["data"])
	}
	cm, _ := srv.res("ConfigMap").Get(ctx, "webstack-prod-env", metav1.GetOptions{})
	if strings.Contains(fmt.Sprint(cm.Object["data"]), "example-password") {
		t.Errorf("a secret value is in the ConfigMap: %v", cm.Object["data"])
	}

	// A second apply plans nothing and writes nothing.
	second := deploy(t, srv, desiredFor(t, s, srv.ns), Options{})
	if len(second.Steps) != 0 {
		t.Errorf("second apply planned steps:\n%s", second)
	}
	if changed, added, removed := changedRefs(v1, srv.versions()); len(changed)+len(added)+len(removed) > 0 {
		t.Errorf("second apply wrote: changed %v, added %v, removed %v", changed, added, removed)
	}

	// One service's env: only its Deployment and the ConfigMap change.
	s.Services["app"].Environment["LOG_LEVEL"] = "info"
	third := deploy(t, srv, desiredFor(t, s, srv.ns), Options{})
	ctrl.settle()
	v3 := srv.versions()
	changed, added, removed := changedRefs(v1, v3)
	if want := []string{"ConfigMap/webstack-prod-env", "Deployment/app"}; fmt.Sprint(changed) != fmt.Sprint(want) || len(added)+len(removed) > 0 {
		t.Errorf("env change: changed %v (want %v), added %v, removed %v\nplan:\n%s", changed, want, added, removed, third)
	}

	// A removed service: kept (with a warning) without RemoveOrphans,
	// then exactly its objects are deleted.
	delete(s.Services, "web")
	delete(s.Services["monitor"].DependsOn, "web")
	kept := deploy(t, srv, desiredFor(t, s, srv.ns), Options{})
	if !strings.Contains(strings.Join(kept.Warnings, "\n"), "Deployment/web is no longer declared ('--remove-orphans' deletes it)") {
		t.Errorf("warnings: %v", kept.Warnings)
	}
	ctrl.settle()
	v4 := srv.versions()
	if _, ok := v4[dep("web")]; !ok {
		t.Errorf("Deployment/web deleted without --remove-orphans")
	}
	pruned := deploy(t, srv, desiredFor(t, s, srv.ns), Options{RemoveOrphans: true})
	changed, added, removed = changedRefs(v4, srv.versions())
	if want := []string{"Deployment/web", "Service/web"}; fmt.Sprint(removed) != fmt.Sprint(want) || len(changed)+len(added) > 0 {
		t.Errorf("--remove-orphans: removed %v (want %v), changed %v, added %v\nplan:\n%s", removed, want, changed, added, pruned)
	}

	// down leaves nothing of the project; the foreign Deployment stays as
	// it was.
	ctrl.Stop()
	if _, err := Remove(ctx, srv.api, d.Target, DownOptions{Volumes: true}, fast, nil); err != nil {
		t.Fatal(err)
	}
	left := srv.versions()
	if len(left) != 1 || left[dep("foreign")] != foreign.GetResourceVersion() {
		t.Errorf("after down: %v (want only the foreign Deployment at %s)", left, foreign.GetResourceVersion())
	}
}

// loadString loads a compose file written to a temporary directory.
func loadString(t *testing.T, compose string) *stack.Stack {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{path}, Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// What only the API server knows to reject (here a CPU request above its
// limit, which the stack file does not forbid) is reported before
// anything changes, naming the object and the field; every rejected
// object is reported, not only the first.
func TestServerDryRunRejectionsNameObjectAndField(t *testing.T) {
	srv := newAPIServer(t)
	s := loadString(t, `name: greedy
services:
  api:
    image: busybox
    deploy:
      resources:
        limits: {cpus: "1"}
        reservations: {cpus: "2"}
  worker:
    image: busybox
    deploy:
      resources:
        limits: {memory: 64M}
        reservations: {memory: 128M}
  ok:
    image: busybox
    environment: {A: "1"}
`)
	_, err := Deploy(context.Background(), srv.api, desiredFor(t, s, srv.ns), Options{}, fast, nil)
	if err == nil {
		t.Fatal("deployed a stack the API server rejects")
	}
	for _, want := range []string{
		"the API server rejects the change (nothing was changed)",
		`Deployment/api: spec.template.spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit`,
		`Deployment/worker: spec.template.spec.containers[0].resources.requests: Invalid value: "128Mi": must be less than or equal to memory limit`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if left := srv.versions(); len(left) != 0 {
		t.Errorf("a rejected deploy left %v", left)
	}
}

// jobThenApp is a Job and a Deployment that waits for it to complete, as
// podstack would deploy them.
func jobThenApp(t *testing.T, ns string) *Desired {
	t.Helper()
	labels := map[string]string{LabelPartOf: "gated", LabelEnvironment: "ci"}
	pod := corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	job := &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: "migrate", Labels: labels}, Spec: batchv1.JobSpec{Template: pod}}
	app := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: labels, Annotations: map[string]string{stack.DependsOnAnnotation: "migrate:completed"}},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "app"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
	d, err := Prepare(Target{Project: "gated", Environment: "ci", Namespace: ns}, []runtime.Object{job, app})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// waitFor polls until cond holds (or fails the test after 20 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A workload is applied only once the Job it depends on is complete;
// until then it does not exist.
func TestDependentWaitsForJobToComplete(t *testing.T) {
	srv := newAPIServer(t)
	ctrl := srv.startController("migrate")
	d := jobThenApp(t, srv.ns)
	done := make(chan error, 1)
	go func() {
		_, err := Deploy(context.Background(), srv.api, d, Options{}, fast, nil)
		done <- err
	}()
	migrate, app := Ref{Kind: "Job", Name: "migrate"}, Ref{Kind: "Deployment", Name: "app"}
	waitFor(t, "Job/migrate", func() bool { _, ok := srv.versions()[migrate]; return ok })
	time.Sleep(300 * time.Millisecond) // many polls of the wait
	if _, ok := srv.versions()[app]; ok {
		t.Fatal("Deployment/app was applied before Job/migrate completed")
	}
	ctrl.release("migrate")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctrl.appearedAfterReady(t, app, migrate)
}

// A dependency that never becomes ready fails the run after
// --wait-timeout, naming it; its dependents are never applied. A failed
// Job fails the run at once.
func TestDependencyTimeoutAndFailure(t *testing.T) {
	srv := newAPIServer(t)
	srv.startController("migrate")
	d := jobThenApp(t, srv.ns)
	start := time.Now()
	_, err := Deploy(context.Background(), srv.api, d, Options{}, ExecOptions{Poll: 20 * time.Millisecond, WaitTimeout: 500 * time.Millisecond}, nil)
	if err == nil || !strings.Contains(err.Error(), "wait Job/migrate (Deployment/app depends on it): not complete after 500ms") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	if _, ok := srv.versions()[Ref{Kind: "Deployment", Name: "app"}]; ok {
		t.Error("Deployment/app was applied although its dependency timed out")
	}

	job, err := srv.res("Job").Get(context.Background(), "migrate", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	job.Object["status"] = map[string]any{"failed": int64(1), "startTime": now, "conditions": []any{
		map[string]any{"type": "FailureTarget", "status": "True", "lastTransitionTime": now, "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"},
		map[string]any{"type": "Failed", "status": "True", "lastTransitionTime": now, "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}}}
	if _, err := srv.res("Job").UpdateStatus(context.Background(), job, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = Deploy(context.Background(), srv.api, d, Options{}, fast, nil)
	if err == nil || !strings.Contains(err.Error(), "wait Job/migrate (Deployment/app depends on it): job failed: Job has reached the specified backoff limit") {
		t.Fatalf("err = %v", err)
	}
}

// An object that has a desired name but is not the project's (made by
// kubectl here) stops the run before anything is applied.
func TestForeignObjectOfTheSameNameStopsTheRun(t *testing.T) {
	srv := newAPIServer(t)
	web := foreignDeployment(srv.ns)
	web.SetName("web")
	created := srv.create(web)
	d := desiredFor(t, loadExample(t, "webstack", "prod"), srv.ns)
	_, err := Deploy(context.Background(), srv.api, d, Options{}, fast, nil)
	if err == nil || !strings.Contains(err.Error(), "Deployment/web exists in namespace "+srv.ns+" and was not created by podstack") {
		t.Fatalf("err = %v", err)
	}
	left := srv.versions()
	if len(left) != 1 || left[Ref{Kind: "Deployment", Name: "web"}] != created.GetResourceVersion() {
		t.Errorf("after a refused run: %v", left)
	}
}

// A field podstack manages that someone changed since (kubectl scale) is
// a change in the next plan, and the apply puts the stack's value back.
func TestDriftIsPutBack(t *testing.T) {
	srv := newAPIServer(t)
	ctrl := srv.startController()
	s := loadExample(t, "webstack", "prod")
	deploy(t, srv, desiredFor(t, s, srv.ns), Options{})
	ctrl.settle()
	ctx := context.Background()
	scale := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "autoscaling/v1", "kind": "Scale",
		"metadata": map[string]any{"name": "web", "namespace": srv.ns}, "spec": map[string]any{"replicas": int64(5)}}}
	if _, err := srv.res("Deployment").Update(ctx, scale, metav1.UpdateOptions{FieldManager: "kubectl"}, "scale"); err != nil {
		t.Fatal(err)
	}
	plan, err := PlanUp(ctx, srv.api, desiredFor(t, s, srv.ns), Options{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.String(); !strings.Contains(got, "Apply Deployment/web") || !strings.Contains(got, "~ spec.replicas: 5 -> 1") || strings.Count(got, "Apply") != 1 {
		t.Errorf("plan after kubectl scale:\n%s", got)
	}
	deploy(t, srv, desiredFor(t, s, srv.ns), Options{})
	web, err := srv.res("Deployment").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _ := unstructured.NestedInt64(web.Object, "spec", "replicas"); r != 1 {
		t.Errorf("replicas = %d after up, want the stack's 1", r)
	}
}

// podstack never creates a namespace: a missing one is an error that
// says how to make it.
func TestMissingNamespaceIsNotCreated(t *testing.T) {
	srv := newAPIServer(t)
	api, err := Connect(ConnectOptions{Kubeconfig: os.Getenv(kubeconfigVar), Namespace: srv.ns + "-missing"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Deploy(context.Background(), api, desiredFor(t, loadExample(t, "webstack", "prod"), api.Namespace()), Options{}, fast, nil)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "podstack never creates one; create it (kubectl create namespace "+srv.ns+"-missing)") {
		t.Errorf("err = %v", err)
	}
}
