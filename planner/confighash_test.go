package planner

import (
	"testing"

	"github.com/podstack/podstack/stack"
)

// TestConfigHashesMatchContainers: the hash config --hash prints is the
// one up labels the service's containers with, and it changes with what
// the container is, not with how many run.
func TestConfigHashesMatchContainers(t *testing.T) {
	s := &stack.Stack{Name: "demo", Services: map[string]*stack.Service{
		"web": {Name: "web", Image: "busybox", Replicas: 2},
		"off": {Name: "off", Image: "busybox", Replicas: 0},
	}}
	pods, err := Group(s, PolicyService)
	if err != nil {
		t.Fatal(err)
	}
	hashes := ConfigHashes(s, pods)
	for _, c := range Containers(s, pods) {
		if c.Hash != hashes[c.Service] || c.Labels[LabelConfigHash] != hashes[c.Service] {
			t.Errorf("%s: container hash %s, config hash %s", c.Name, c.Hash, hashes[c.Service])
		}
	}
	if hashes["off"] == "" {
		t.Error("a service scaled to zero has no hash")
	}
	before := hashes["web"]
	s.Services["web"].Replicas = 5
	if ConfigHashes(s, pods)["web"] != before {
		t.Error("the replica count changed the hash")
	}
	s.Services["web"].Command = []string{"sleep", "1"}
	if ConfigHashes(s, pods)["web"] == before {
		t.Error("a new command did not change the hash")
	}
}
