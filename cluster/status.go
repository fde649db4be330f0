package cluster

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Row is one object of a target, as `stack ps --target kube` lists it.
type Row struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Status string `json:"status"`
	// Ready is whether a workload is ready for its dependents (always true
	// for other kinds).
	Ready bool `json:"ready"`
}

// List reads every object of the target in the namespace, in apply order.
func List(ctx context.Context, api API, t Target) ([]Row, error) {
	o, err := Observe(ctx, api, t, nil)
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, ref := range sortedRefs(o.Owned) {
		ready, status := describe(o.Owned[ref])
		rows = append(rows, Row{Kind: ref.Kind, Name: ref.Name, Status: status, Ready: ready})
	}
	return rows, nil
}

// describe says in a few words what state an object is in.
func describe(obj *unstructured.Unstructured) (bool, string) {
	str := func(f ...string) string {
		s, _, _ := unstructured.NestedString(obj.Object, f...)
		return s
	}
	if obj.GetDeletionTimestamp() != nil {
		return false, "deleting"
	}
	switch obj.GetKind() {
	case "Deployment", "Job":
		ready, status, err := Readiness(obj)
		if err != nil {
			return false, err.Error()
		}
		if ready && obj.GetKind() == "Deployment" {
			status = "available, " + status
		}
		return ready, status
	case "Service":
		s := str("spec", "type")
		if ip := str("spec", "clusterIP"); ip != "" {
			s += " " + ip
		}
		return true, s
	case "PersistentVolumeClaim":
		phase := str("status", "phase")
		if phase == "" {
			phase = "Pending"
		}
		if size := str("spec", "resources", "requests", "storage"); size != "" {
			phase += ", " + size
		}
		return true, phase
	case "ConfigMap", "Secret":
		data, _, _ := unstructured.NestedMap(obj.Object, "data")
		return true, fmt.Sprintf("%d %s", len(data), plural(len(data), "key", "keys"))
	}
	return true, ""
}
