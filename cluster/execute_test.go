package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// scriptedAPI answers Get from a script, one answer per call (the last
// repeats); other calls are not expected in these tests.
type scriptedAPI struct {
	mu     sync.Mutex
	gets   []func() (*unstructured.Unstructured, error)
	called int
}

func (s *scriptedAPI) Namespace() string                    { return "shop" }
func (s *scriptedAPI) CheckNamespace(context.Context) error { return nil }
func (s *scriptedAPI) List(context.Context, Kind, string) ([]*unstructured.Unstructured, error) {
	return nil, nil
}
func (s *scriptedAPI) Apply(context.Context, *unstructured.Unstructured, bool) (*unstructured.Unstructured, error) {
	return nil, errors.New("unexpected apply")
}
func (s *scriptedAPI) Delete(context.Context, Ref, types.UID, bool) error {
	return errors.New("unexpected delete")
}
func (s *scriptedAPI) Get(ctx context.Context, ref Ref) (*unstructured.Unstructured, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(s.called, len(s.gets)-1)
	s.called++
	return s.gets[i]()
}

func availableDeployment() (*unstructured.Unstructured, error) {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "db", "generation": int64(1)}, "spec": map[string]any{"replicas": int64(1)},
		"status": map[string]any{"observedGeneration": int64(1), "replicas": int64(1), "updatedReplicas": int64(1), "availableReplicas": int64(1),
			"conditions": []any{map[string]any{"type": "Available", "status": "True"}}}}}, nil
}

func waitPlan() *Plan {
	return &Plan{Steps: []*Step{{ID: 1, Kind: StepWait, Object: Ref{Kind: "Deployment", Name: "db"}, Cause: "Deployment/app depends on it"}}}
}

// A failed read while waiting (client-go throttling near a deadline did
// this in a test run, a network blip would do it in life) is read again,
// not taken for the workload's failure.
func TestWaitReadsAgainAfterAFailedRead(t *testing.T) {
	api := &scriptedAPI{gets: []func() (*unstructured.Unstructured, error){
		func() (*unstructured.Unstructured, error) {
			return nil, errors.New("rate: Wait(n=1) would exceed context deadline")
		},
		availableDeployment,
	}}
	if err := Execute(context.Background(), waitPlan(), api, nil, ExecOptions{Poll: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
}

// A workload deleted while podstack waits for it will never be ready:
// the wait fails at once, saying so.
func TestWaitFailsWhenTheWorkloadIsDeleted(t *testing.T) {
	api := &scriptedAPI{gets: []func() (*unstructured.Unstructured, error){
		func() (*unstructured.Unstructured, error) {
			return nil, fmt.Errorf("get Deployment/db: %w", ErrNotFound)
		},
	}}
	err := Execute(context.Background(), waitPlan(), api, nil, ExecOptions{Poll: time.Millisecond, WaitTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "wait Deployment/db (Deployment/app depends on it): deleted while podstack waited for it") {
		t.Fatalf("err = %v", err)
	}
}
