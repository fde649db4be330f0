package planner

import (
	"fmt"
	"sort"

	"github.com/podstack/podstack/stack"
)

// SecretName is the Podman secret a stack secret (kind "secret") or an
// inline or environment config (kind "config") becomes.
func SecretName(s *stack.Stack, kind, key string) string {
	name := ""
	switch kind {
	case "secret":
		if sec := s.Secrets[key]; sec != nil {
			name = sec.Name
		}
	case "config":
		if cfg := s.Configs[key]; cfg != nil {
			name = cfg.Name
		}
	}
	if name == "" {
		name = s.Name + "_" + key
	}
	return name
}

// ServiceSecrets returns the Podman secrets a service's containers use,
// keyed "secret/KEY" or "config/KEY", with their Podman names. Configs backed
// by a file are bind-mounted instead and are not listed.
func ServiceSecrets(s *stack.Stack, svc *stack.Service) map[string]string {
	out := map[string]string{}
	for _, ref := range svc.Secrets {
		if s.Secrets[ref.Source] != nil {
			out["secret/"+ref.Source] = SecretName(s, "secret", ref.Source)
		}
	}
	for _, ref := range svc.Configs {
		if cfg := s.Configs[ref.Source]; cfg != nil && cfg.File == "" {
			out["config/"+ref.Source] = SecretName(s, "config", ref.Source)
		}
	}
	return out
}

// secretSpecs lists the Podman secrets svc needs, external ones marked by
// an empty Digest and External true.
func secretSpecs(s *stack.Stack, svc *stack.Service) []secretWant {
	var out []secretWant
	for _, ref := range svc.Secrets {
		if sec := s.Secrets[ref.Source]; sec != nil {
			out = append(out, secretWant{SecretSpec{Name: SecretName(s, "secret", sec.Key), Kind: "secret", Key: sec.Key, Digest: sec.Digest}, sec.External})
		}
	}
	for _, ref := range svc.Configs {
		if cfg := s.Configs[ref.Source]; cfg != nil && cfg.File == "" {
			out = append(out, secretWant{SecretSpec{Name: SecretName(s, "config", cfg.Key), Kind: "config", Key: cfg.Key, Digest: cfg.Digest}, cfg.External})
		}
	}
	return out
}

type secretWant struct {
	SecretSpec
	external bool
}

// secretPhase plans the Podman secrets the containers being created need:
// created when missing, replaced when their content changed (a secret cannot
// be updated in place), refused when a secret of that name exists that this
// project did not create. It returns the step each container create must
// follow, by secret name.
func (r *reconciler) secretPhase() (map[string]*Step, error) {
	s, b := r.s, r.b
	observed := map[string]ObservedSecret{}
	for _, o := range r.observed.Secrets {
		observed[o.Name] = o
	}
	// Which secrets the containers to create use, and the spec of each name.
	wanted := map[string]secretWant{}
	needed := map[string]bool{}
	var problems stack.Problems
	addService := func(svc *stack.Service, need bool) {
		for _, w := range secretSpecs(s, svc) {
			if prev, ok := wanted[w.Name]; ok && (prev.Kind != w.Kind || prev.Key != w.Key) {
				problems = append(problems, stack.Problem{Position: svc.Source, Service: svc.Name,
					Message: fmt.Sprintf("%s %q and %s %q would both be the Podman secret %q", prev.Kind, prev.Key, w.Kind, w.Key, w.Name),
					Fix:     "give one of them another name: (name: ...)"})
				continue
			}
			wanted[w.Name] = w
			if need {
				needed[w.Name] = true
			}
		}
	}
	for i, name := range r.ix.names {
		addService(r.ix.svcs[i], r.creates[i] || name == r.opts.OneOff)
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}

	steps := map[string]*Step{}
	for _, name := range sortedKeys(wanted) {
		w := wanted[name]
		o, exists := observed[name]
		ours := exists && o.Labels[LabelProject] == s.Name
		switch {
		case !needed[name]:
		case w.external:
			if !exists {
				problems = append(problems, stack.Problem{Message: fmt.Sprintf("external %s %q: no Podman secret %q exists", w.Kind, w.Key, name),
					Fix: fmt.Sprintf("create it first (podman secret create %s FILE), or drop external: true", name)})
			}
		case exists && !ours:
			return nil, fmt.Errorf("a Podman secret named %q already exists and was not created by stack for project %q (it has no %s=%s label): "+
				"remove it (podman secret rm %s) or declare %s %q external: true to use it as it is", name, s.Name, LabelProject, s.Name, name, w.Kind, w.Key)
		case ours && o.Labels[LabelConfigHash] == w.Digest:
		case ours:
			rm := b.add(&Step{Kind: StepRemoveSecret, Target: name, Cause: "content changed"})
			spec := w.SecretSpec
			steps[name] = b.add(&Step{Kind: StepCreateSecret, Target: name, Secret: &spec, Cause: "content changed"}, rm)
		default:
			spec := w.SecretSpec
			steps[name] = b.add(&Step{Kind: StepCreateSecret, Target: name, Secret: &spec, Cause: "no existing secret"})
		}
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	if r.opts.RemoveOrphans && r.opts.OneOff == "" {
		for _, o := range r.observed.Secrets {
			if o.Labels[LabelProject] == s.Name {
				if _, declared := wanted[o.Name]; !declared {
					b.add(&Step{Kind: StepRemoveSecret, Target: o.Name, Cause: "orphan"})
				}
			}
		}
	}
	return steps, nil
}

// secretNamesFor returns the Podman secret names of a service, sorted.
func secretNamesFor(s *stack.Stack, svc *stack.Service) []string {
	if len(svc.Secrets) == 0 && len(svc.Configs) == 0 {
		return nil // most services: no map to make
	}
	var out []string
	for _, n := range ServiceSecrets(s, svc) {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
