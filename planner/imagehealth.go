package planner

import (
	"fmt"
	"slices"

	"github.com/podstack/podstack/stack"
)

// imageHealth settles healthchecks that keep the image's test (timings
// only) where the image is present: an image without a HEALTHCHECK leaves
// the service without one (noHealth), which the plan says, and a service
// waiting for it to be healthy is refused now rather than failing half-way
// through up. An image still to be pulled or built is settled when the
// container is created.
func imageHealth(s *stack.Stack, ix *index, observed *ObservedState) (notes []string, noHealth map[string]bool, err error) {
	var problems stack.Problems
	noHealth = map[string]bool{}
	for i, name := range ix.names {
		svc := ix.svcs[i]
		if !svc.Health.InheritsTest() {
			continue
		}
		ref := ImageRef(s, svc)
		if !slices.Contains(observed.Images, ref) || len(observed.ImageHealth[ref]) > 0 {
			continue
		}
		waiting := false
		for k, other := range ix.names {
			if d, ok := ix.svcs[k].DependsOn[name]; ok && d.Condition == stack.ConditionHealthy {
				waiting = true
				problems = append(problems, stack.Problem{Position: ix.svcs[k].Source, Service: other,
					Message: fmt.Sprintf("waits for %q to be healthy, but its healthcheck keeps the image's test and image %s has none", name, ref),
					Fix:     fmt.Sprintf("give %q's healthcheck a test, or wait for service_started", name)})
			}
		}
		if waiting {
			continue
		}
		notes = append(notes, fmt.Sprintf("service %s: the healthcheck keeps the image's own test, but image %s has none: it runs without a healthcheck", name, ref))
		noHealth[name] = true
	}
	if err := problems.Err(); err != nil {
		return nil, nil, err
	}
	return notes, noHealth, nil
}
