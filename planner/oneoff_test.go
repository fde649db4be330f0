package planner

import (
	"testing"

	"github.com/podstack/podstack/stack"
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

// TestPlanOneOffPortsAndAliases: `run --service-ports` publishes the
// service's ports on the one-off (by default it publishes none), and
// `run --use-aliases` has it answer to the service's name and aliases on
// the service's networks (by default to none of them).
func TestPlanOneOffPortsAndAliases(t *testing.T) {
	s := load(t, writeCompose(t, `name: one
services:
  api:
    image: api:1
    ports: ["8080:80"]
    networks:
      front: {aliases: [the-api]}
      back: {}
networks:
  front: {}
  back: {}
`))
	p := reconcile(t, s, nil, Options{OneOff: "api"})
	c, pod := p.OneOff(OneOffRequest{Service: "api", Name: "one-api-run-1", ServicePorts: true, UseAliases: true})
	if len(c.Spec.Ports) != 1 || len(pod.Ports) != 1 || pod.Ports[0].Published != 8080 || pod.Ports[0].Target != 80 {
		t.Errorf("--service-ports: spec ports %v, pod ports %v; want 8080:80", c.Spec.Ports, pod.Ports)
	}
	if got := pod.Networks["one_front"]; len(got) != 2 || got[0] != "api" || got[1] != "the-api" {
		t.Errorf("--use-aliases on front: %v, want [api the-api]", got)
	}
	if got := pod.Networks["one_back"]; len(got) != 1 || got[0] != "api" {
		t.Errorf("--use-aliases on back: %v, want [api]", got)
	}
	_, published := p.OneOff(OneOffRequest{Service: "api", Name: "one-api-run-3", Ports: []stack.Port{{Target: 80, Published: 18199, Protocol: "tcp"}}})
	if len(published.Ports) != 1 || published.Ports[0].Published != 18199 {
		t.Errorf("run -p 18199:80: pod ports %v", published.Ports)
	}
	_, plain := p.OneOff(OneOffRequest{Service: "api", Name: "one-api-run-2"})
	if len(plain.Ports) != 0 || len(plain.Networks["one_front"]) != 0 {
		t.Errorf("a plain one-off publishes %v and answers to %v", plain.Ports, plain.Networks)
	}
}
