package planner

import (
	"testing"
)

// TestPlanOneOff: a one-off is the service's definition with the run's
// overrides, its own namespace on the service's networks, no published
// ports, labelled as a one-off, and never restarted by a restart policy
// (`stack run` of a service with restart: unless-stopped used to run its
// command over and over).
func TestPlanOneOff(t *testing.T) {
	s := load(t, writeCompose(t, `name: one
services:
  api:
    image: api:1
    command: ["serve"]
    restart: unless-stopped
    ports: ["8080:80"]
    container_name: the-api
    environment: {MODE: serve}
    networks: [front, back]
networks:
  front: {}
  back: {}
`))
	p := reconcile(t, s, nil, Options{OneOff: "api"})
	c, pod := p.OneOff(OneOffRequest{Service: "api", Name: "one-api-run-1", Cmd: []string{"migrate"}, Env: map[string]string{"X": "1"}})
	if c == nil || pod == nil {
		t.Fatal("no one-off for api")
	}
	spec := c.Spec
	if spec.Restart != "" {
		t.Errorf("the one-off inherits restart %q", spec.Restart)
	}
	if len(spec.Ports) != 0 || spec.ContainerName != "" {
		t.Errorf("ports %v, container_name %q: a one-off publishes nothing and has its own name", spec.Ports, spec.ContainerName)
	}
	if len(spec.Command) != 1 || spec.Command[0] != "migrate" || spec.Environment["X"] != "1" || spec.Environment["MODE"] != "serve" {
		t.Errorf("command %v, environment %v", spec.Command, spec.Environment)
	}
	if s.Services["api"].Restart != "unless-stopped" || s.Services["api"].Environment["X"] != "" {
		t.Errorf("the one-off changed the service's own definition: %+v", s.Services["api"])
	}
	if c.Labels[LabelOneOff] != "true" || c.Labels[LabelProject] != "one" || c.Labels[LabelService] != "api" {
		t.Errorf("labels %v", c.Labels)
	}
	if len(pod.Networks) != 2 || pod.Infra || len(pod.Networks["one_front"]) != 0 {
		t.Errorf("pod %+v: want the service's two networks, no aliases, no infra", pod)
	}
	if c, _ := p.OneOff(OneOffRequest{Service: "nope"}); c != nil {
		t.Error("a one-off of an unknown service")
	}
}
