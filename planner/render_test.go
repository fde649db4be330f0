package planner

import (
	"encoding/json"
	"testing"
)

// TestPlanJSONListsAreNeverNull: a plan with nothing to do is `"steps": []`
// in JSON, so `jq '.steps | length'` works on it; it used to be null.
func TestPlanJSONListsAreNeverNull(t *testing.T) {
	data, err := (&Plan{Project: "demo"}).JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"steps", "pods", "containers"} {
		if string(m[key]) != "[]" {
			t.Errorf("%s is %s, want []", key, m[key])
		}
	}
}
