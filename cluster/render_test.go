package cluster

import (
	"strings"
	"testing"
)

// TestPlanJSONStepsNeverNull: an up-to-date namespace's plan has
// "steps": [], as the Podman plan has.
func TestPlanJSONStepsNeverNull(t *testing.T) {
	data, err := (&Plan{}).JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"steps": []`) {
		t.Errorf("plan JSON %s, want \"steps\": []", data)
	}
}
