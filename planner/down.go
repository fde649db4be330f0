package planner

import (
	"sort"
	"strconv"
	"strings"

	"github.com/podstack/podstack/stack"
)

// PlanDown computes the teardown of a project: stop containers in reverse
// dependency order, remove them, then their pods, the project networks and
// (with Volumes) its volumes. Only objects labelled with the project are
// touched. s may be nil when only the project name is known; containers then
// stop all at once.
func PlanDown(project string, s *stack.Stack, observed *ObservedState, opts DownOptions) (*Plan, error) {
	if observed == nil {
		observed = &ObservedState{}
	}
	plan := &Plan{Stack: s, Project: project}
	if s != nil {
		plan.Environment = s.Environment
	}
	b := &builder{plan: plan}
	only := map[string]bool{}
	for _, svc := range opts.Services {
		only[svc] = true
	}

	var targets []ObservedContainer
	for _, c := range observed.Containers {
		if c.State == StateStorage && storageLeftover(project, s, c.Name) {
			targets = append(targets, c)
			continue
		}
		if c.Labels[LabelProject] != project {
			continue
		}
		svc := c.Labels[LabelService]
		if len(only) > 0 && !only[svc] {
			continue
		}
		if s != nil && !opts.RemoveOrphans && c.Labels[LabelOneOff] != "true" {
			_, enabled := s.Services[svc]
			_, disabled := s.Disabled[svc]
			if !enabled && !disabled {
				plan.Warnings = append(plan.Warnings, "container "+c.Name+" belongs to service \""+svc+"\", which the stack no longer declares; remove it with --remove-orphans")
				continue
			}
		}
		targets = append(targets, c)
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].Name < targets[j].Name })

	// A container stops after every container that depends on it has.
	dependents := map[string][]string{} // service -> services depending on it
	if s != nil {
		for _, name := range s.ServiceNames() {
			for dep := range s.Services[name].DependsOn {
				dependents[dep] = append(dependents[dep], name)
			}
		}
	}
	byService := map[string][]ObservedContainer{}
	for _, c := range targets {
		svc := c.Labels[LabelService]
		byService[svc] = append(byService[svc], c)
	}
	stopped := map[string][]*Step{} // service -> its stop (or remove) steps
	var visit func(svc string, seen map[string]bool)
	var removeSteps []*Step
	removedOf := map[string][]*Step{} // service -> its remove steps
	visited := map[string]bool{}
	visit = func(svc string, path map[string]bool) {
		if visited[svc] || path[svc] {
			return
		}
		path[svc] = true
		var deps, dependentsGone []*Step
		for _, d := range sortedStrings(dependents[svc]) {
			visit(d, path)
			deps = append(deps, stopped[d]...)
			dependentsGone = append(dependentsGone, removedOf[d]...)
		}
		delete(path, svc)
		visited[svc] = true
		for _, c := range byService[svc] {
			var sv *stack.Service
			if s != nil {
				sv = s.Services[svc]
			}
			var stop *Step
			if needsStop(c, sv) {
				cause := "down"
				if opts.StopOnly {
					cause = "stop"
				}
				stop = b.add(&Step{Kind: StepStopContainer, Target: c.Name, Service: svc, Pod: c.Pod,
					StopTimeout: StopTimeout(sv, opts.Timeout), Cause: cause}, deps...)
				stopped[svc] = append(stopped[svc], stop)
			}
			if opts.StopOnly {
				continue
			}
			// A container goes after those that depend on it: Podman
			// refuses to remove one whose pid or ipc namespace another
			// still joins.
			rm := b.add(&Step{Kind: StepRemoveContainer, Target: c.Name, Service: svc, Pod: c.Pod, Cause: "down", RemoveVolumes: opts.Volumes},
				append([]*Step{stop}, dependentsGone...)...)
			if stop == nil {
				stopped[svc] = append(stopped[svc], rm)
			}
			removedOf[svc] = append(removedOf[svc], rm)
			removeSteps = append(removeSteps, rm)
		}
	}
	for _, svc := range sortedKeys(byService) {
		visit(svc, map[string]bool{})
	}

	if opts.StopOnly {
		return plan, nil
	}
	// Pods go once all their containers are gone; with a service subset,
	// only pods left empty.
	remaining := map[string]int{}
	for _, c := range observed.Containers {
		if c.Labels[LabelProject] == project && c.Pod != "" {
			remaining[c.Pod]++
		}
	}
	for _, c := range targets {
		if c.Pod != "" {
			remaining[c.Pod]--
		}
	}
	var podSteps []*Step
	for _, p := range observed.Pods {
		if p.Labels[LabelProject] != project || remaining[p.Name] > 0 {
			continue
		}
		if len(only) > 0 && !podHasTarget(p.Name, targets) {
			continue
		}
		podSteps = append(podSteps, b.add(&Step{Kind: StepRemovePod, Target: p.Name, Pod: p.Name, Cause: "down"}, removeSteps...))
	}
	after := append(append([]*Step{}, removeSteps...), podSteps...)
	if opts.RemoveImages != "" {
		// Optional: an image another project's container uses stays, with
		// a warning, as docker compose leaves it.
		for _, ref := range downImages(project, s, observed, targets, only, opts.RemoveImages) {
			b.add(&Step{Kind: StepRemoveImage, Target: ref, Cause: "down --rmi " + opts.RemoveImages, Optional: true}, after...)
		}
	}
	if len(only) > 0 {
		return plan, nil
	}
	for _, n := range observed.Networks {
		if n.Labels[LabelProject] == project {
			b.add(&Step{Kind: StepRemoveNetwork, Target: n.Name, Cause: "down"}, after...)
		}
	}
	// Secrets are made from the stack's files at every up: none outlives
	// the stack (they hold what the files held).
	for _, sec := range observed.Secrets {
		if sec.Labels[LabelProject] == project {
			b.add(&Step{Kind: StepRemoveSecret, Target: sec.Name, Cause: "down"}, after...)
		}
	}
	if opts.Volumes {
		for _, v := range observed.Volumes {
			if v.Labels[LabelProject] == project {
				b.add(&Step{Kind: StepRemoveVolume, Target: v.Name, Cause: "down -v"}, after...)
			}
		}
	}
	return plan, nil
}

// downImages are the images down --rmi removes: with "local", those built
// under the project's default names (services without an image: name),
// with "all" every image the services use. With the stack file they come
// from its services (those present); without it, from the containers'
// images. Sorted, each once.
func downImages(project string, s *stack.Stack, observed *ObservedState, targets []ObservedContainer, only map[string]bool, mode string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(ref string) {
		if ref != "" && !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	if s != nil {
		present := map[string]bool{}
		for _, ref := range observed.Images {
			present[ref] = true
		}
		for _, name := range s.ServiceNames() {
			svc := s.Services[name]
			if (len(only) > 0 && !only[name]) || (mode == "local" && svc.Image != "") {
				continue
			}
			if ref := ImageRef(s, svc); present[ref] {
				add(ref)
			}
		}
	} else {
		for _, c := range targets {
			svc := c.Labels[LabelService]
			if mode == "local" && !isDefaultName(c.Image, project+"-"+svc) {
				continue
			}
			add(c.Image)
		}
	}
	sort.Strings(out)
	return out
}

// isDefaultName reports whether image is name as Podman stores a build
// tagged with it: localhost/name:latest.
func isDefaultName(image, name string) bool {
	image = strings.TrimPrefix(image, "localhost/")
	image = strings.TrimSuffix(image, ":latest")
	return image == name
}

// storageLeftover reports whether a storage-only container's name is one
// this project's containers have: <project>-<service>-<n>, for a service of
// the stack when there is one.
func storageLeftover(project string, s *stack.Stack, name string) bool {
	rest, ok := strings.CutPrefix(name, project+"-")
	i := strings.LastIndex(rest, "-")
	if !ok || i <= 0 {
		return false
	}
	if _, err := strconv.Atoi(rest[i+1:]); err != nil {
		return false
	}
	if s == nil {
		return true
	}
	svc := rest[:i]
	_, enabled := s.Services[svc]
	_, disabled := s.Disabled[svc]
	return enabled || disabled
}

func podHasTarget(pod string, targets []ObservedContainer) bool {
	for _, c := range targets {
		if c.Pod == pod {
			return true
		}
	}
	return false
}

func sortedStrings(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

// needsStop reports whether stopping the services must stop c: it runs, is
// paused or being stopped, or it exited and its restart policy is about to
// start it again: caught between two runs, it is not running, so Podman's
// stop does not count; the stop step waits for the policy's restart and
// stops that run (podmanapi StopContainer).
func needsStop(c ObservedContainer, sv *stack.Service) bool {
	switch c.State {
	case "running", "paused", "stopping":
		return true
	case "exited", "stopped":
		return sv != nil && sv.Restart.RestartsAfter(c.ExitCode)
	}
	return false
}
