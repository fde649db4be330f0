package planner

import (
	"maps"

	"github.com/podstack/podstack/stack"
)

// OneOffRequest is what `stack run` asks of a service: a one-off container
// named Name, with Cmd (when set) instead of the service's command and Env
// added to its environment.
type OneOffRequest struct {
	Service, Name    string
	Cmd              []string
	Env              map[string]string
	TTY, Interactive bool
	// ServicePorts publishes the service's ports (`run --service-ports`);
	// Ports publishes these instead (`run -p`). By default a one-off
	// publishes none.
	ServicePorts bool
	Ports        []stack.Port
	// UseAliases makes the one-off answer to the service's name and
	// aliases on its networks (`run --use-aliases`).
	UseAliases bool
}

// OneOff returns the one-off container req asks for, from the plan's stack
// (a plan made with Options.OneOff), and the pod it joins: a network
// namespace of its own on the networks of the service's pod, answering to
// none of the service's aliases, with no published ports and no
// container_name, labelled as a one-off so reconcile and down keep apart
// from it. Nil when the stack has no such service.
func (p *Plan) OneOff(req OneOffRequest) (*Container, *Pod) {
	s := p.Stack
	src := s.Services[req.Service]
	if src == nil {
		return nil, nil
	}
	svc := *src
	if len(req.Cmd) > 0 {
		svc.Command = req.Cmd
	}
	switch {
	case len(req.Ports) > 0:
		svc.Ports = req.Ports
	case !req.ServicePorts:
		svc.Ports = nil
	}
	svc.ContainerName = ""
	if len(req.Env) > 0 {
		env := maps.Clone(svc.Environment)
		if env == nil {
			env = map[string]string{}
		}
		maps.Copy(env, req.Env)
		svc.Environment = env
	}
	svc.Tty = req.TTY
	svc.StdinOpen = req.Interactive
	// A one-off never restarts: a migration must run once (compose).
	svc.Restart = ""
	c := &Container{Name: req.Name, Service: req.Service, Spec: &svc,
		Labels: Labels(s.Name, s.Environment, LabelService, req.Service, LabelComposeService, req.Service, LabelOneOff, "true")}
	solo := &Pod{Networks: map[string][]string{}, Ports: svc.Ports}
	if pod := p.PodOf(req.Service); pod != nil {
		for n := range pod.Networks {
			solo.Networks[n] = nil
		}
	}
	if req.UseAliases {
		nets := svc.Networks
		if len(nets) == 0 {
			nets = map[string]*stack.ServiceNetwork{"default": nil}
		}
		for key, sn := range nets {
			n := s.Networks[key]
			if n == nil {
				continue
			}
			if _, joined := solo.Networks[n.Name]; joined {
				aliases := []string{req.Service}
				if sn != nil {
					aliases = append(aliases, sn.Aliases...)
				}
				solo.Networks[n.Name] = aliases
			}
		}
	}
	return c, solo
}
