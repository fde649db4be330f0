package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

// The tests in this file need a real Kubernetes API server (no scheduler
// or kubelet: objects are validated and stored, never run, so a test sets
// a workload's status itself). `make test-kube` starts one and points
// PODSTACK_TEST_KUBECONFIG at its kubeconfig.
const kubeconfigVar = "PODSTACK_TEST_KUBECONFIG"

// apiServer is a fresh namespace on the test API server.
type apiServer struct {
	t   *testing.T
	api *Client
	dyn dynamic.Interface
	ns  string
}

func newAPIServer(t *testing.T) *apiServer {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Kubernetes API server (make test-kube runs these tests)")
	}
	path := os.Getenv(kubeconfigVar)
	if path == "" {
		t.Fatalf("%s is not set: run `make test-kube`, which starts a Kubernetes API server and runs the tests that need it (or use go test -short)", kubeconfigVar)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000 // the test polls; client-go's default 5/s throttles it
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	ns := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(ns) > 50 {
		ns = ns[:50]
	}
	ns += "-" + hex.EncodeToString(suffix)
	nsRes := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	ctx := context.Background()
	if _, err := nsRes.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	// No namespace controller runs, so a deleted namespace stays
	// Terminating; it is deleted anyway so that nothing new lands in it.
	t.Cleanup(func() { _ = nsRes.Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	api, err := Connect(ConnectOptions{Kubeconfig: path, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	return &apiServer{t: t, api: api, dyn: dyn, ns: ns}
}

func (s *apiServer) res(kind string) dynamic.ResourceInterface {
	k, ok := KindOf(kind)
	if !ok {
		s.t.Fatalf("unknown kind %s", kind)
	}
	return s.dyn.Resource(k.Resource).Namespace(s.ns)
}

// versions maps every object of the namespace (of podstack's kinds) to
// its resourceVersion: a write to an object changes it.
func (s *apiServer) versions() map[Ref]string {
	s.t.Helper()
	out := map[Ref]string{}
	for _, k := range Kinds {
		list, err := s.dyn.Resource(k.Resource).Namespace(s.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			s.t.Fatal(err)
		}
		for _, o := range list.Items {
			out[Ref{Kind: k.Name, Name: o.GetName()}] = o.GetResourceVersion()
		}
	}
	return out
}

// create stores an object as another tool would, without podstack.
func (s *apiServer) create(obj *unstructured.Unstructured) *unstructured.Unstructured {
	s.t.Helper()
	out, err := s.res(obj.GetKind()).Create(context.Background(), obj, metav1.CreateOptions{FieldManager: "kubectl-create"})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// controller stands in for the controllers and kubelets the test API
// server lacks: every podstack Deployment (by its label) that appears (or changes) in
// the namespace is marked rolled out and available, unless held, and
// every Job is marked complete. It records when each object first
// appeared and when it was made ready.
type controller struct {
	s    *apiServer
	mu   sync.Mutex
	hold map[string]bool
	seen map[Ref]time.Time
	done map[Ref]time.Time
	stop chan struct{}
	wg   sync.WaitGroup
}

func (s *apiServer) startController(hold ...string) *controller {
	c := &controller{s: s, hold: map[string]bool{}, seen: map[Ref]time.Time{}, done: map[Ref]time.Time{}, stop: make(chan struct{})}
	for _, h := range hold {
		c.hold[h] = true
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			select {
			case <-c.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			c.tick()
		}
	}()
	s.t.Cleanup(c.Stop)
	return c
}

func (c *controller) Stop() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	c.wg.Wait()
}

func (c *controller) tick() {
	ctx := context.Background()
	for _, kind := range []string{"Deployment", "Job"} {
		list, err := c.s.res(kind).List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=podstack"})
		if err != nil {
			continue
		}
		for i := range list.Items {
			o := &list.Items[i]
			o.SetKind(kind)
			o.SetAPIVersion(map[string]string{"Deployment": "apps/v1", "Job": "batch/v1"}[kind])
			ref := RefOf(o)
			c.mu.Lock()
			if _, ok := c.seen[ref]; !ok {
				c.seen[ref] = time.Now()
			}
			held := c.hold[ref.Name]
			c.mu.Unlock()
			if ok, _, _ := Readiness(o); ok || held {
				continue
			}
			if kind == "Deployment" {
				replicas, ok, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
				if !ok {
					replicas = 1
				}
				o.Object["status"] = map[string]any{
					"observedGeneration": o.GetGeneration(), "replicas": replicas, "updatedReplicas": replicas,
					"readyReplicas": replicas, "availableReplicas": replicas,
					"conditions": []any{map[string]any{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
						"lastUpdateTime": time.Now().UTC().Format(time.RFC3339), "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}},
				}
			} else {
				now := time.Now().UTC().Format(time.RFC3339)
				o.Object["status"] = map[string]any{"succeeded": int64(1), "startTime": now, "completionTime": now,
					"conditions": []any{
						map[string]any{"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
						map[string]any{"type": "Complete", "status": "True", "lastTransitionTime": now}}}
			}
			if _, err := c.s.res(kind).UpdateStatus(ctx, o, metav1.UpdateOptions{}); err != nil {
				continue // changed meanwhile: next tick
			}
			c.mu.Lock()
			c.done[ref] = time.Now()
			c.mu.Unlock()
		}
	}
}

// settle waits until the controller has made every podstack workload
// ready, so that its status writes do not count as podstack's.
func (c *controller) settle() {
	c.s.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		pending := ""
		for _, kind := range []string{"Deployment", "Job"} {
			list, err := c.s.res(kind).List(context.Background(), metav1.ListOptions{LabelSelector: LabelManagedBy + "=podstack"})
			if err != nil {
				c.s.t.Fatal(err)
			}
			for i := range list.Items {
				o := &list.Items[i]
				o.SetKind(kind)
				if ok, _, _ := Readiness(o); !ok {
					pending = kind + "/" + o.GetName()
				}
			}
		}
		if pending == "" {
			return
		}
		if time.Now().After(deadline) {
			c.s.t.Fatalf("%s never became ready", pending)
		}
	}
}

// release lets the controller make a held workload ready.
func (c *controller) release(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.hold, name)
}

// appearedAfterReady checks that dependent was first seen after dep was
// made ready (waiting a little for the controller to have looked).
func (c *controller) appearedAfterReady(t *testing.T, dependent, dep Ref) {
	t.Helper()
	var seen, ready time.Time
	var ok, ok2 bool
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c.mu.Lock()
		seen, ok = c.seen[dependent]
		ready, ok2 = c.done[dep]
		c.mu.Unlock()
		if ok && ok2 {
			break
		}
	}
	if !ok || !ok2 {
		t.Errorf("%s seen=%v, %s ready=%v", dependent, ok, dep, ok2)
		return
	}
	if !seen.After(ready) {
		t.Errorf("%s appeared at %s, before %s was ready at %s", dependent, seen.Format(time.StampMicro), dep, ready.Format(time.StampMicro))
	}
}
