package planner

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/podstack/podstack/stack"
)

// DefaultStopTimeout is the grace period before a stop turns into a kill,
// as in docker compose.
const DefaultStopTimeout = 10 * time.Second

// builder accumulates steps; IDs follow insertion order, and every step is
// added after the steps it depends on, so ID order is a topological order.
type builder struct {
	plan *Plan
}

func (b *builder) add(st *Step, deps ...*Step) *Step {
	st.ID = len(b.plan.Steps) + 1
	seen := map[int]bool{}
	for _, d := range deps {
		if d != nil && !seen[d.ID] {
			seen[d.ID] = true
			st.Deps = append(st.Deps, d.ID)
		}
	}
	sort.Ints(st.Deps)
	b.plan.Steps = append(b.plan.Steps, st)
	return st
}

// Reconcile computes the steps that take observed to desired. It is a pure
// function: no I/O, and the same inputs always give the same plan.
func Reconcile(desired *stack.Stack, observed *ObservedState, opts Options) (*Plan, error) {
	s, err := scaled(desired, opts.Scale)
	if err != nil {
		return nil, err
	}
	if observed == nil {
		observed = &ObservedState{}
	}
	healthNotes, noHealth, err := imageHealth(s, observed)
	if err != nil {
		return nil, err
	}
	pods, err := Group(s, opts.Policy)
	if err != nil {
		return nil, err
	}
	if err := Validate(s, pods); err != nil {
		return nil, err
	}
	var selected map[string]bool
	if opts.OneOff != "" {
		selected, err = oneOffServices(s, opts.OneOff, opts.NoDeps)
	} else {
		selected, err = selectServices(s, opts.Services, opts.NoDeps)
	}
	if err != nil {
		return nil, err
	}
	containers := Containers(s, pods)
	ofService := map[string][]*Container{}
	for _, c := range containers {
		ofService[c.Service] = append(ofService[c.Service], c)
	}
	plan := &Plan{Stack: s, Project: s.Name, Environment: s.Environment, Pods: pods, Containers: containers, Warnings: healthNotes}
	b := &builder{plan: plan}
	byService := podOf(pods)

	// What exists, keyed by name, restricted to this project's labelled objects.
	obsC := map[string]ObservedContainer{}
	var projectContainers []ObservedContainer
	for _, c := range observed.Containers {
		if c.Labels[LabelProject] != s.Name || c.Labels[LabelOneOff] == "true" {
			continue
		}
		obsC[c.Name] = c
		projectContainers = append(projectContainers, c)
	}
	obsP := map[string]ObservedPod{}
	for _, p := range observed.Pods {
		if p.Labels[LabelProject] == s.Name {
			obsP[p.Name] = p
		}
	}
	hasVolume := map[string]bool{}
	for _, v := range observed.Volumes {
		hasVolume[v.Name] = true
	}
	hasNetwork := map[string]bool{}
	for _, n := range observed.Networks {
		hasNetwork[n.Name] = true
	}
	hasImage := map[string]bool{}
	for _, i := range observed.Images {
		hasImage[i] = true
	}

	// Decide per container: keep, start, create or recreate.
	decisions := map[string]*decision{}
	podRecreate := map[string]bool{}
	for _, p := range pods {
		if op, ok := obsP[p.Name]; ok && op.Labels[LabelConfigHash] != p.Hash && !opts.NoRecreate && anySelected(p, selected) {
			podRecreate[p.Name] = true
		}
	}
	for _, c := range containers {
		if !selected[c.Service] {
			continue
		}
		d := &decision{c: c}
		decisions[c.Name] = d
		ex, ok := obsC[c.Name]
		switch {
		case !ok:
			d.create, d.cause = true, "no existing container"
		case podRecreate[c.Pod]:
			d.existing, d.create, d.cause = &ex, true, "pod configuration changed"
		case opts.ForceRecreate:
			d.existing, d.create, d.cause = &ex, true, "--force-recreate"
		case ex.Labels[LabelConfigHash] != c.Hash && !opts.NoRecreate:
			d.existing, d.create, d.cause = &ex, true, "configuration changed"
		default:
			d.existing = &ex
			switch ex.State {
			case "running", "paused":
			case "exited", "stopped":
				if ex.ExitCode == 0 && awaitedForCompletion(s, c.Service) {
					d.cause = "completed"
				} else {
					d.start, d.cause = true, "not running"
				}
			default:
				d.start, d.cause = true, "not running"
			}
		}
		if d.create {
			d.start = true
		}
		if opts.NoStart {
			d.start = false
		}
	}
	created, podCreated := map[string]bool{}, map[string]bool{} // services and pods with a container to (re)create
	for _, d := range decisions {
		if d.create {
			created[d.c.Service] = true
			podCreated[d.c.Pod] = true
		}
	}
	oneOffNets, oneOffVols := map[string]bool{}, map[string]bool{}
	if svc := s.Services[opts.OneOff]; svc != nil {
		created[svc.Name] = true // its image
		if p := byService[svc.Name]; p != nil {
			for n := range p.Networks {
				oneOffNets[n] = true
			}
		}
		for _, m := range svc.Mounts {
			if m.Type == stack.MountVolume {
				oneOffVols[m.Source] = true
			}
		}
	}

	// Images, for the services that get new containers.
	imageStep := map[string]*Step{}
	var imageProblems stack.Problems
	for _, name := range s.ServiceNames() {
		svc := s.Services[name]
		if !created[name] {
			continue
		}
		ref := ImageRef(s, svc)
		if _, done := imageStep[ref]; done {
			continue
		}
		policy := opts.Pull
		if policy == "" || (policy == "missing" && svc.PullPolicy != "") {
			policy = normalizePull(svc.PullPolicy)
		}
		switch {
		case svc.Build != nil && (!hasImage[ref] || policy == "build" || policy == "always"):
			imageStep[ref] = b.add(&Step{Kind: StepBuildImage, Target: ref, Service: name, Image: ref, Build: svc.Build,
				Cause: buildCause(hasImage[ref])})
		case svc.Build != nil:
			imageStep[ref] = nil
		case policy == "always":
			imageStep[ref] = b.add(&Step{Kind: StepPullImage, Target: ref, Service: name, Image: ref, Policy: "always", Cause: "--pull always"})
		case hasImage[ref]:
			imageStep[ref] = nil
		case policy == "never":
			imageProblems = append(imageProblems, stack.Problem{Position: svc.Source, Service: name,
				Message: fmt.Sprintf("image %s is not present locally and --pull never forbids pulling it", ref),
				Fix:     "pull or build it first, or use --pull missing"})
		default:
			imageStep[ref] = b.add(&Step{Kind: StepPullImage, Target: ref, Service: name, Image: ref, Policy: "missing", Cause: "image not present"})
		}
	}
	if err := imageProblems.Err(); err != nil {
		return nil, err
	}

	// Networks and volumes the new objects use.
	netStep := map[string]*Step{}
	for _, key := range sortedKeys(s.Networks) {
		n := s.Networks[key]
		if n.External || hasNetwork[n.Name] || !(networkUsed(pods, n.Name, podCreated) || oneOffNets[n.Name]) {
			continue
		}
		netStep[n.Name] = b.add(&Step{Kind: StepCreateNetwork, Target: n.Name, Network: n, Cause: "no existing network"})
	}
	volStep := map[string]*Step{}
	for _, key := range sortedKeys(s.Volumes) {
		v := s.Volumes[key]
		if v.External || hasVolume[v.Name] || !(volumeUsed(s, key, decisions) || oneOffVols[key]) {
			continue
		}
		volStep[key] = b.add(&Step{Kind: StepCreateVolume, Target: v.Name, Volume: v, Cause: "no existing volume"})
	}

	// Orphans and scaled-down replicas: stop and remove before new objects
	// might reuse their names or ports.
	desiredNames := map[string]bool{}
	for _, c := range containers {
		desiredNames[c.Name] = true
	}
	var orphanSteps []*Step
	for _, ex := range projectContainers {
		if desiredNames[ex.Name] {
			continue
		}
		svcName := ex.Labels[LabelService]
		svc, enabled := s.Services[svcName]
		_, disabled := s.Disabled[svcName]
		switch {
		case enabled && selected[svcName]:
			n, _ := strconv.Atoi(ex.Labels[LabelNumber])
			if n > svc.Replicas {
				orphanSteps = append(orphanSteps, removeContainer(b, ex, stopTimeout(svc, 0), "scaled down")...)
			}
		case enabled || disabled:
		case opts.RemoveOrphans:
			orphanSteps = append(orphanSteps, removeContainer(b, ex, DefaultStopTimeout, "orphan")...)
		default:
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("container %s belongs to service %q, which the stack no longer declares; remove it with --remove-orphans", ex.Name, svcName))
		}
	}
	desiredPods := map[string]bool{}
	for _, p := range pods {
		desiredPods[p.Name] = true
	}
	for _, name := range sortedKeys(obsP) {
		if desiredPods[name] {
			continue
		}
		if opts.RemoveOrphans {
			orphanSteps = append(orphanSteps, b.add(&Step{Kind: StepRemovePod, Target: name, Cause: "orphan"}, orphanSteps...))
		} else if len(opts.Services) == 0 && opts.OneOff == "" {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("pod %s is not declared by the stack; remove it with --remove-orphans", name))
		}
	}

	// Pods and containers, in dependency order of their services.
	order := topoOrder(s, selected)
	podStep := map[string]*Step{}
	podDone := map[string]bool{}
	startStep := map[string]*Step{} // container -> its start step
	createStep := map[string]*Step{}
	removeStep := map[string]*Step{}
	waits := map[string]*Step{}
	for _, name := range order {
		p := byService[name]
		if p != nil && !podDone[p.Name] {
			podDone[p.Name] = true
			var deps []*Step
			deps = append(deps, orphanSteps...)
			for net := range p.Networks {
				deps = append(deps, netStep[net])
			}
			_, exists := obsP[p.Name]
			if podRecreate[p.Name] {
				var removed []*Step
				for _, ex := range projectContainers {
					if ex.Pod == p.Name || ex.Labels[LabelPod] == p.Key {
						rs := removeContainer(b, ex, stopTimeout(s.Services[ex.Labels[LabelService]], 0), "pod configuration changed")
						removeStep[ex.Name] = rs[len(rs)-1]
						removed = append(removed, rs...)
					}
				}
				rp := b.add(&Step{Kind: StepRemovePod, Target: p.Name, Pod: p.Name, Cause: "pod configuration changed"}, removed...)
				deps = append(deps, rp)
				exists = false
			}
			if !exists && podCreated[p.Name] {
				podStep[p.Name] = b.add(&Step{Kind: StepCreatePod, Target: p.Name, Pod: p.Name, PodSpec: p, Cause: podCause(podRecreate[p.Name])},
					sortSteps(deps)...)
			}
		}
		svc := s.Services[name]
		for _, c := range ofService[name] {
			d := decisions[c.Name]
			if d == nil {
				continue
			}
			var cs *Step
			if d.create {
				var deps []*Step
				if d.existing != nil && removeStep[c.Name] == nil {
					rs := removeContainer(b, *d.existing, stopTimeout(svc, 0), d.cause)
					removeStep[c.Name] = rs[len(rs)-1]
				}
				deps = append(deps, removeStep[c.Name], podStep[c.Pod], imageStep[ImageRef(s, svc)])
				for _, target := range svc.NamespaceOwners() {
					// Podman looks the namespace's owner up at create time.
					if owner := ofService[target]; len(owner) > 0 {
						deps = append(deps, createStep[owner[0].Name])
					}
				}
				deps = append(deps, orphanSteps...)
				for _, m := range svc.Mounts {
					if m.Type == stack.MountVolume {
						deps = append(deps, volStep[m.Source])
					}
				}
				if p != nil && !p.Infra {
					for net := range p.Networks {
						deps = append(deps, netStep[net])
					}
				}
				cs = b.add(&Step{Kind: StepCreateContainer, Target: c.Name, Service: name, Pod: c.Pod, Container: c, Cause: d.cause}, sortSteps(deps)...)
				createStep[c.Name] = cs
			}
			if !d.start {
				continue
			}
			deps := []*Step{cs}
			deps = append(deps, gates(b, s, svc, ofService, decisions, startStep, obsC, waits)...)
			cause := d.cause
			if d.create {
				cause = "created"
			}
			st := b.add(&Step{Kind: StepStartContainer, Target: c.Name, Service: name, Pod: c.Pod, Container: c, Cause: cause}, sortSteps(deps)...)
			startStep[c.Name] = st
		}
	}

	if svc := s.Services[opts.OneOff]; svc != nil && !opts.NoDeps {
		// The one-off starts once the plan is done: its dependency
		// conditions are the plan's last steps.
		gates(b, s, svc, ofService, decisions, startStep, obsC, waits)
	}

	if opts.Wait && !opts.NoStart {
		for _, name := range order {
			svc := s.Services[name]
			for _, c := range ofService[name] {
				if decisions[c.Name] == nil {
					continue
				}
				cond := stack.ConditionStarted
				if svc.Health != nil && !noHealth[name] {
					cond = stack.ConditionHealthy
				}
				if waits[c.Name+"/"+string(cond)] != nil {
					continue
				}
				b.add(&Step{Kind: StepWait, Target: c.Name, Service: name, Pod: c.Pod, Condition: cond, Health: svc.Health, Cause: "--wait"}, startStep[c.Name])
			}
		}
	}
	return plan, nil
}

// gates returns the steps a service's start must wait for: its
// dependencies' starts (service_started) or wait steps (healthy, completed),
// adding each wait step on first use.
func gates(b *builder, s *stack.Stack, svc *stack.Service, ofService map[string][]*Container, decisions map[string]*decision,
	starts map[string]*Step, obs map[string]ObservedContainer, waits map[string]*Step) []*Step {
	var out []*Step
	for _, dep := range sortedKeys(svc.DependsOn) {
		d := svc.DependsOn[dep]
		target := s.Services[dep]
		if target == nil {
			continue
		}
		for _, c := range ofService[dep] {
			started := starts[c.Name]
			dd := decisions[c.Name]
			ex, exists := obs[c.Name]
			if d.Condition == stack.ConditionStarted || d.Condition == "" {
				if started != nil {
					out = append(out, started)
				}
				continue
			}
			fresh := started != nil || (dd != nil && dd.create)
			if !fresh {
				if !exists {
					continue // not in the plan (--no-deps) and not there: nothing to wait for
				}
				if d.Condition == stack.ConditionCompleted && (ex.State == "exited" || ex.State == "stopped") && ex.ExitCode == 0 {
					continue
				}
				// A dependency observed healthy is still checked: the
				// status is the last check's, which without systemd timers
				// may be long stale. The wait costs one check when healthy.
			}
			key := c.Name + "/" + string(d.Condition)
			w := waits[key]
			if w == nil {
				w = b.add(&Step{Kind: StepWait, Target: c.Name, Service: dep, Pod: c.Pod, Condition: d.Condition,
					Health: target.Health, Optional: !d.Required, Cause: fmt.Sprintf("%s depends on it", svc.Name)}, started)
				waits[key] = w
			}
			out = append(out, w)
		}
	}
	return out
}

// decision is what Reconcile does with one desired container.
type decision struct {
	c        *Container
	existing *ObservedContainer
	create   bool // (re)create
	start    bool
	cause    string
}

func normalizePull(p string) string {
	switch p {
	case "if_not_present", "missing", "":
		return "missing"
	case "always", "never", "build":
		return p
	}
	if strings.HasPrefix(p, "daily") || strings.HasPrefix(p, "weekly") || strings.HasPrefix(p, "every_") {
		return "missing"
	}
	return "missing"
}

func buildCause(present bool) string {
	if present {
		return "pull_policy build"
	}
	return "image not present"
}

func podCause(recreate bool) string {
	if recreate {
		return "pod configuration changed"
	}
	return "no existing pod"
}

func sortSteps(in []*Step) []*Step {
	var out []*Step
	for _, s := range in {
		if s != nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// removeContainer adds stop (when running) and remove steps for ex.
func removeContainer(b *builder, ex ObservedContainer, timeout time.Duration, cause string) []*Step {
	var steps []*Step
	var stop *Step
	if ex.State == "running" || ex.State == "paused" {
		stop = b.add(&Step{Kind: StepStopContainer, Target: ex.Name, Service: ex.Labels[LabelService], Pod: ex.Pod, StopTimeout: timeout, Cause: cause})
		steps = append(steps, stop)
	}
	steps = append(steps, b.add(&Step{Kind: StepRemoveContainer, Target: ex.Name, Service: ex.Labels[LabelService], Pod: ex.Pod, Cause: cause}, stop))
	return steps
}

func stopTimeout(svc *stack.Service, override time.Duration) time.Duration {
	if override > 0 {
		return override
	}
	if svc != nil && svc.StopGracePeriod != nil {
		return *svc.StopGracePeriod
	}
	return DefaultStopTimeout
}

// awaitedForCompletion reports whether some service waits for name with
// service_completed_successfully: an exited one-shot is then done, not down.
func awaitedForCompletion(s *stack.Stack, name string) bool {
	for _, svc := range s.Services {
		if d, ok := svc.DependsOn[name]; ok && d.Condition == stack.ConditionCompleted {
			return true
		}
	}
	return false
}

func anySelected(p *Pod, selected map[string]bool) bool {
	for _, svc := range p.Services {
		if selected[svc] {
			return true
		}
	}
	return false
}

// scaled returns s with the replica counts of scale, leaving s as it was.
// imageHealth settles healthchecks that keep the image's test (timings
// only) where the image is present: an image without a HEALTHCHECK leaves
// the service without one (noHealth), which the plan says, and a service
// waiting for it to be healthy is refused now rather than failing half-way
// through up. An image still to be pulled or built is settled when the
// container is created.
func imageHealth(s *stack.Stack, observed *ObservedState) (notes []string, noHealth map[string]bool, err error) {
	var problems stack.Problems
	noHealth = map[string]bool{}
	for _, name := range s.ServiceNames() {
		svc := s.Services[name]
		ref := ImageRef(s, svc)
		if !svc.Health.InheritsTest() || !slices.Contains(observed.Images, ref) || len(observed.ImageHealth[ref]) > 0 {
			continue
		}
		waiting := false
		for _, other := range s.ServiceNames() {
			if d, ok := s.Services[other].DependsOn[name]; ok && d.Condition == stack.ConditionHealthy {
				waiting = true
				problems = append(problems, stack.Problem{Position: s.Services[other].Source, Service: other,
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

func scaled(s *stack.Stack, scale map[string]int) (*stack.Stack, error) {
	if len(scale) == 0 {
		return s, nil
	}
	out := *s
	out.Services = maps.Clone(s.Services)
	var problems stack.Problems
	for _, name := range sortedKeys(scale) {
		svc, ok := s.Services[name]
		switch {
		case !ok:
			p := noSuchService(s, name)
			p.Message = fmt.Sprintf("--scale %s: no such service in stack %q", name, s.Name)
			problems = append(problems, p)
		case scale[name] < 0:
			problems = append(problems, stack.Problem{Service: name, Message: fmt.Sprintf("--scale %s=%d: a replica count cannot be negative", name, scale[name])})
		default:
			c := *svc
			c.Replicas = scale[name]
			out.Services[name] = &c
		}
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return &out, nil
}

// oneOffServices selects what a one-off container of service needs running:
// its dependencies and theirs (none with noDeps), not the service itself.
func oneOffServices(s *stack.Stack, service string, noDeps bool) (map[string]bool, error) {
	svc, ok := s.Services[service]
	if !ok {
		return nil, stack.Problems{noSuchService(s, service)}
	}
	var deps []string
	for dep := range svc.DependsOn {
		if _, ok := s.Services[dep]; ok && !noDeps {
			deps = append(deps, dep)
		}
	}
	if len(deps) == 0 {
		return map[string]bool{}, nil
	}
	return selectServices(s, deps, false)
}

func noSuchService(s *stack.Stack, name string) stack.Problem {
	return stack.Problem{Message: fmt.Sprintf("no such service %q in stack %q", name, s.Name),
		Fix: "stack config --services lists them"}
}

// selectServices expands the requested services with their dependencies
// (unless noDeps); empty means every enabled service.
func selectServices(s *stack.Stack, names []string, noDeps bool) (map[string]bool, error) {
	out := map[string]bool{}
	if len(names) == 0 {
		for n := range s.Services {
			out[n] = true
		}
		return out, nil
	}
	var problems stack.Problems
	var add func(n string)
	add = func(n string) {
		if out[n] {
			return
		}
		out[n] = true
		if noDeps {
			return
		}
		for dep := range s.Services[n].DependsOn {
			if _, ok := s.Services[dep]; ok {
				add(dep)
			}
		}
	}
	for _, n := range names {
		if _, ok := s.Services[n]; !ok {
			problems = append(problems, noSuchService(s, n))
			continue
		}
		add(n)
	}
	return out, problems.Err()
}

// topoOrder lists the selected services so that dependencies come first,
// ties broken by name (deterministic).
func topoOrder(s *stack.Stack, selected map[string]bool) []string {
	var order []string
	done := map[string]bool{}
	var visit func(n string)
	visit = func(n string) {
		if done[n] {
			return
		}
		done[n] = true
		for _, dep := range sortedKeys(s.Services[n].DependsOn) {
			if _, ok := s.Services[dep]; ok && selected[dep] {
				visit(dep)
			}
		}
		order = append(order, n)
	}
	for _, n := range s.ServiceNames() {
		if selected[n] {
			visit(n)
		}
	}
	return order
}

// networkUsed reports whether a pod or container joining the network is
// (re)created.
func networkUsed(pods []*Pod, name string, created map[string]bool) bool {
	for _, p := range pods {
		if _, ok := p.Networks[name]; ok && created[p.Name] {
			return true
		}
	}
	return false
}

// volumeUsed reports whether a container mounting the volume is (re)created.
func volumeUsed(s *stack.Stack, key string, decisions map[string]*decision) bool {
	for _, d := range decisions {
		if !d.create {
			continue
		}
		for _, m := range d.c.Spec.Mounts {
			if m.Type == stack.MountVolume && m.Source == key {
				return true
			}
		}
	}
	return false
}
