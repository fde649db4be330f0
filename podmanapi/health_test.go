package podmanapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// TestSlowProbeIsAFailedTry: Podman 4.3 answers a probe that outlives its
// timeout with HTTP 500 "healthcheck command exceeded timeout" and counts it
// as one failed try itself. RunHealthCheck must report the aggregated status
// (starting, then unhealthy once retries are used up), not fail the wait on
// the first slow probe.
func TestSlowProbeIsAFailedTry(t *testing.T) {
	c := testClient(t)
	ctx := context.Background()
	project := fmt.Sprintf("slowprobe%d", time.Now().UnixNano()%1000000)
	s := &stack.Stack{Name: project, Services: map[string]*stack.Service{
		"web": {Name: "web", Image: "localhost/busybox:test", Replicas: 1, NetworkMode: "none",
			Command: []string{"sleep", "300"},
			Health:  &stack.HealthCheck{Test: []string{"CMD", "sleep", "5"}, Interval: time.Second, Timeout: time.Second, Retries: 2}},
	}}
	pods, err := planner.Group(s, planner.PolicyAuto)
	if err != nil {
		t.Fatal(err)
	}
	ct := planner.Containers(s, pods)[0]
	t.Cleanup(func() {
		c.RemoveContainer(context.Background(), ct.Name, true)
		c.RemovePod(context.Background(), pods[0].Name)
	})
	if err := c.CreatePod(ctx, pods[0], s); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateContainer(ctx, ct, pods[0], s); err != nil {
		t.Fatal(err)
	}
	if err := c.StartContainer(ctx, ct.Name); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for i := 0; i < 4; i++ {
		status, err := c.RunHealthCheck(ctx, ct.Name)
		if err != nil {
			t.Fatalf("probe %d: a slow probe must count as a failed try, got error: %v", i+1, err)
		}
		seen = append(seen, status)
		if status == "unhealthy" {
			break
		}
	}
	if seen[len(seen)-1] != "unhealthy" {
		t.Errorf("statuses %v: want unhealthy once the 2 retries are used up", seen)
	}
	if seen[0] == "healthy" {
		t.Errorf("a probe that timed out reported healthy: %v", seen)
	}
}
