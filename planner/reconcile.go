package planner

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/podstack/podstack/stack"
)

// Reconcile computes the steps that take observed to desired. It is a pure
// function: no I/O, and the same inputs always give the same plan. It is a
// short driver over one method per phase, each adding its steps in a fixed
// order, so step IDs are stable.
func Reconcile(desired *stack.Stack, observed *ObservedState, opts Options) (*Plan, error) {
	r, err := newReconciler(desired, observed, opts)
	if err != nil {
		return nil, err
	}
	r.buildPhase()
	r.decide()
	r.environmentWarnings()
	if err := r.imagePhase(); err != nil {
		return nil, err
	}
	if err := r.networkPhase(); err != nil {
		return nil, err
	}
	r.volumePhase()
	r.directoryPhase()
	if r.secretStep, err = r.secretPhase(); err != nil {
		return nil, err
	}
	r.orphanPhase()
	r.podsAndContainersPhase()
	r.oneOffPhase()
	r.waitPhase()
	return r.plan, nil
}

// reconciler holds one Reconcile call's inputs, what it decided, and the
// steps later phases depend on.
type reconciler struct {
	s        *stack.Stack
	ix       *index
	observed *ObservedState
	opts     Options
	plan     *Plan
	b        *builder

	pods      []*Pod
	byService map[string]*Pod              // service -> its pod
	ofService map[string][]*Container      // service -> its desired containers
	selected  map[string]bool              // services the plan acts on
	order     []string                     // selected services, dependencies first
	obsC      map[string]ObservedContainer // the project's containers, by name
	storage   map[string]ObservedContainer // storage-only leftovers, by name
	projectCs []ObservedContainer          // the same, in name order
	obsP      map[string]ObservedPod
	volumes   map[string]ObservedVolume  // every observed volume, by name
	networks  map[string]ObservedNetwork // every observed network, by name
	images    map[string]bool
	builds    map[string]*imageBuild // image ref -> what the plan does with a built image
	noHealth  map[string]bool        // services whose image has no test to keep (imageHealth)

	decisions   map[string]*decision // container name -> what happens to it
	podRecreate map[string]bool
	podCause    map[string]string // why a pod is recreated, where not its configuration
	creates     map[string]bool   // services with a container to (re)create, and the one-off's
	podCreated  map[string]bool
	oneOffNets  map[string]bool
	oneOffVols  map[string]bool

	imageStep   map[string]*Step // image ref -> pull/build step
	netStep     map[string]*Step // network name -> create step
	volStep     map[string]*Step // volume key -> create step
	secretStep  map[string]*Step // secret name -> create step
	dirStep     map[string]*Step // bind source -> create step
	orphanSteps []*Step
	podStep     map[string]*Step // pod name -> create step
	createStep  map[string]*Step // container name -> create step
	startStep   map[string]*Step // container name -> start step
	removeStep  map[string]*Step // container name -> remove step
	waits       map[waitKey]*Step
}

// waitKey names a wait step: a container and the condition waited for.
type waitKey struct {
	container string
	condition stack.Condition
}

// newReconciler scales, groups and validates the stack, selects the
// services the plan acts on and indexes what exists.
func newReconciler(desired *stack.Stack, observed *ObservedState, opts Options) (*reconciler, error) {
	s, err := scaled(desired, opts.Scale)
	if err != nil {
		return nil, err
	}
	if observed == nil {
		observed = &ObservedState{}
	}
	ix := newIndex(s)
	pods, err := group(s, opts.Policy, ix)
	if err != nil {
		return nil, err
	}
	byService := podOf(pods)
	if err := validate(s, pods, ix, byService); err != nil {
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
	if err := checkHost(s, ix.names, selected, observed.Host); err != nil {
		return nil, err
	}
	healthNotes, noHealth, err := imageHealth(s, ix.names, observed)
	if err != nil {
		return nil, err
	}
	containers := containers(s, ix, byService)
	r := &reconciler{s: s, ix: ix, observed: observed, opts: opts, pods: pods, byService: byService, selected: selected,
		order: topoOrder(s, ix, selected), ofService: make(map[string][]*Container, len(s.Services)),
		obsC: make(map[string]ObservedContainer, len(observed.Containers)), storage: map[string]ObservedContainer{},
		obsP: make(map[string]ObservedPod, len(observed.Pods)), volumes: map[string]ObservedVolume{},
		networks: map[string]ObservedNetwork{}, images: map[string]bool{}, builds: map[string]*imageBuild{},
		decisions: make(map[string]*decision, len(containers)), podRecreate: map[string]bool{}, podCause: map[string]string{},
		creates: make(map[string]bool, len(s.Services)), podCreated: make(map[string]bool, len(pods)),
		oneOffNets: map[string]bool{}, oneOffVols: map[string]bool{},
		imageStep: map[string]*Step{}, netStep: map[string]*Step{}, volStep: map[string]*Step{}, secretStep: map[string]*Step{}, dirStep: map[string]*Step{},
		podStep: make(map[string]*Step, len(pods)), createStep: make(map[string]*Step, len(containers)),
		startStep: make(map[string]*Step, len(containers)), removeStep: map[string]*Step{},
		waits: make(map[waitKey]*Step, len(containers))}
	r.noHealth = noHealth
	// Room for a create, a start and a wait per container and a create per pod:
	// what `up` of a fresh stack whose services are health-gated takes.
	steps := make([]*Step, 0, 3*len(containers)+len(pods))
	r.plan = &Plan{Stack: s, Project: s.Name, Environment: s.Environment, Pods: pods, Containers: containers, Warnings: healthNotes, Steps: steps}
	r.b = &builder{plan: r.plan}
	// A service's replicas are next to each other in containers: each
	// service's slice is a piece of it (capped, so an append copies).
	for i := 0; i < len(containers); {
		j := i + 1
		for j < len(containers) && containers[j].Service == containers[i].Service {
			j++
		}
		r.ofService[containers[i].Service] = containers[i:j:j]
		i = j
	}
	// Containers and pods count only when labelled with this project;
	// volumes and networks are kept whoever made them, to tell ours from
	// foreign ones of the same name.
	for _, c := range observed.Containers {
		if c.State == StateStorage {
			r.storage[c.Name] = c
			continue
		}
		if c.Labels[LabelProject] != s.Name || c.Labels[LabelOneOff] == "true" {
			continue
		}
		r.obsC[c.Name] = c
		r.projectCs = append(r.projectCs, c)
	}
	for _, p := range observed.Pods {
		if p.Labels[LabelProject] == s.Name {
			r.obsP[p.Name] = p
		}
	}
	for _, v := range observed.Volumes {
		r.volumes[v.Name] = v
	}
	for _, n := range observed.Networks {
		r.networks[n.Name] = n
	}
	for _, i := range observed.Images {
		r.images[i] = true
	}
	return r, nil
}

// interrupted are the states an interrupted run (a killed `stack up`, a
// Podman service that died mid-way) leaves a container in: created but not
// started, or half-way through a stop or removal that Podman goes on with.
// Starting one fails ("container with given ID already exists", "runc start
// failed", "container state improper"), so they are recreated. A "stopped"
// container is started again as usual: Podman 5 shows that state between
// an exit and a restart by the restart policy.
var interrupted = map[string]bool{"created": true, "configured": true, "initialized": true,
	"stopping": true, "removing": true, "unknown": true}

// decide says, per desired container of the selected services: keep, start,
// create or recreate.
func (r *reconciler) decide() {
	s, opts := r.s, r.opts
	for _, p := range r.pods {
		op, ok := r.obsP[p.Name]
		if !ok || opts.NoRecreate || !anySelected(p, r.selected) {
			continue
		}
		if cause := r.environmentChange(op.Labels); cause != "" {
			r.podRecreate[p.Name], r.podCause[p.Name] = true, cause
		} else if op.Labels[LabelConfigHash] != p.Hash {
			r.podRecreate[p.Name] = true
		}
	}
	all := make([]decision, len(r.plan.Containers))
	for i, c := range r.plan.Containers {
		if !r.selected[c.Service] {
			continue
		}
		d := &all[i]
		d.c = c
		r.decisions[c.Name] = d
		ex, ok := r.obsC[c.Name]
		switch {
		case !ok:
			d.create, d.cause = true, "no existing container"
			if left, inStorage := r.storage[c.Name]; inStorage {
				d.existing, d.cause = addressOf(left), "left in storage by an interrupted run"
			}
		case r.podRecreate[c.Pod]:
			d.existing, d.create, d.cause = addressOf(ex), true, "pod configuration changed"
			if cause := r.podCause[c.Pod]; cause != "" {
				d.cause = cause
			}
		case r.forced(c.Service):
			d.existing, d.create, d.cause = addressOf(ex), true, r.forceCause(c.Service)
		case r.environmentChange(ex.Labels) != "" && !opts.NoRecreate:
			d.existing, d.create, d.cause = addressOf(ex), true, r.environmentChange(ex.Labels)
		case ex.Labels[LabelConfigHash] != c.Hash && !opts.NoRecreate:
			d.existing, d.create, d.cause = addressOf(ex), true, "configuration changed"
		case r.staleImage(c, ex) != "" && !opts.NoRecreate:
			d.existing, d.create, d.cause = addressOf(ex), true, r.staleImage(c, ex)
		case interrupted[ex.State] && !opts.NoRecreate:
			d.existing, d.create, d.cause = addressOf(ex), true, "left "+ex.State+" by an interrupted run"
		default:
			d.existing = addressOf(ex)
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
	r.repairPods()
	for _, d := range r.decisions {
		if d.create {
			r.creates[d.c.Service] = true
			r.podCreated[d.c.Pod] = true
		}
	}
	if svc := s.Services[opts.OneOff]; svc != nil {
		r.creates[svc.Name] = true // its image and secrets
		if p := r.byService[svc.Name]; p != nil {
			for n := range p.Networks {
				r.oneOffNets[n] = true
			}
		}
		for _, m := range svc.Mounts {
			if m.Type == stack.MountVolume {
				r.oneOffVols[m.Source] = true
			}
		}
	}
}

// addressOf is a pointer to a copy of c: taking the address of a loop's
// variable would put every iteration's on the heap.
func addressOf(c ObservedContainer) *ObservedContainer { return &c }

// environmentChange says why an object labelled labels is made again:
// its environment is not the stack's. Labels cannot change in place, and a
// project half in one environment and half in another would read as the
// new one in `stack ls` while running some of the old one's objects; ""
// when the environment is the same.
func (r *reconciler) environmentChange(labels map[string]string) string {
	if old := labels[LabelEnvironment]; old != r.s.Environment {
		return fmt.Sprintf("environment changed from %s to %s", environmentName(old), environmentName(r.s.Environment))
	}
	return ""
}

func environmentName(env string) string {
	if env == "" {
		return "none"
	}
	return strconv.Quote(env)
}

// environmentWarnings warn when the project runs in another environment
// than the stack's: that the switch makes its containers and pods again,
// and which containers this plan leaves in their old environment (not
// selected, or --no-recreate).
func (r *reconciler) environmentWarnings() {
	olds := map[string]bool{}
	stay := map[string][]string{}
	switching := false
	for _, c := range r.plan.Containers {
		ex, ok := r.obsC[c.Name]
		if !ok || r.environmentChange(ex.Labels) == "" {
			continue
		}
		old := ex.Labels[LabelEnvironment]
		olds[old] = true
		if d := r.decisions[c.Name]; d != nil && d.create {
			switching = true
		} else {
			stay[old] = append(stay[old], c.Name)
		}
	}
	if switching {
		var names []string
		for _, old := range sortedKeys(olds) {
			names = append(names, environmentName(old))
		}
		r.plan.Warnings = append(r.plan.Warnings, fmt.Sprintf("project %q runs environment %s; switching it to %s makes its containers and pods again",
			r.s.Name, strings.Join(names, " and "), environmentName(r.s.Environment)))
	}
	for _, old := range sortedKeys(stay) {
		names := stay[old]
		sort.Strings(names)
		r.plan.Warnings = append(r.plan.Warnings, fmt.Sprintf("%s stay in environment %s: run up with no service names and without --no-recreate to switch them to %s",
			strings.Join(names, ", "), environmentName(old), environmentName(r.s.Environment)))
	}
}

// forced says whether svc is recreated whatever its hash: a named service
// (every one when none is named) with --force-recreate, a dependency with
// --always-recreate-deps, as docker compose decides.
func (r *reconciler) forced(svc string) bool {
	if r.opts.NoRecreate {
		return false
	}
	if r.named(svc) {
		return r.opts.ForceRecreate
	}
	return r.opts.AlwaysRecreateDeps
}

func (r *reconciler) forceCause(svc string) string {
	if r.named(svc) {
		return "--force-recreate"
	}
	return "--always-recreate-deps"
}

// named says whether svc was named on the command line, or none was.
func (r *reconciler) named(svc string) bool {
	return len(r.opts.Services) == 0 || slices.Contains(r.opts.Services, svc)
}

// repairPods recreates a pod that does not run when every one of its
// containers is to be made again anyway: an interrupted run can leave its
// infra container half-made, and starting a member then fails with
// "internal libpod error". It costs one infra container, and only where
// nothing of the pod runs.
func (r *reconciler) repairPods() {
	for _, p := range r.pods {
		op, ok := r.obsP[p.Name]
		if !ok || !p.Infra || r.podRecreate[p.Name] || r.opts.NoRecreate {
			continue
		}
		switch op.State {
		case "Running", "Degraded", "Paused":
			continue
		}
		all := true
		for _, svc := range p.Services {
			if !r.selected[svc] {
				all = false
			}
			for _, c := range r.ofService[svc] {
				if d := r.decisions[c.Name]; d == nil || !d.create {
					all = false
				}
			}
		}
		if all {
			r.podRecreate[p.Name] = true
			r.podCause[p.Name] = "left " + strings.ToLower(op.State) + " by an interrupted run"
		}
	}
}

// imagePhase pulls or builds the images of the services that get new
// containers, and with Options.Build builds every selected service's.
func (r *reconciler) imagePhase() error {
	s, opts := r.s, r.opts
	var problems stack.Problems
	for _, name := range r.ix.names {
		svc := s.Services[name]
		if !r.creates[name] && !(opts.Build && svc.Build != nil && r.selected[name]) {
			continue
		}
		ref := ImageRef(s, svc)
		if _, done := r.imageStep[ref]; done {
			continue
		}
		has := r.images[ref]
		if ib := r.builds[ref]; ib != nil {
			switch {
			case ib.build:
				r.imageStep[ref] = r.b.add(&Step{Kind: StepBuildImage, Target: ref, Service: name, Image: ref,
					Build: buildSpec(svc.Build, ib.digest), Cause: ib.cause})
				continue
			case has:
				r.imageStep[ref] = nil
				continue
			case svc.Image == "": // --no-build
				problems = append(problems, stack.Problem{Position: svc.Source, Service: name,
					Message: fmt.Sprintf("image %s is not present locally and --no-build forbids building it", ref),
					Fix:     "build it first (stack build " + name + "), or drop --no-build"})
				continue
			}
			// --no-build with an image: name that is not here: pull it.
		}
		policy := opts.Pull
		if policy == "" || (policy == "missing" && svc.PullPolicy != "") {
			policy = normalizePull(svc.PullPolicy)
		}
		switch {
		case policy == "always":
			r.imageStep[ref] = r.b.add(&Step{Kind: StepPullImage, Target: ref, Service: name, Image: ref, Policy: "always", Cause: "--pull always"})
		case has:
			r.imageStep[ref] = nil
		case policy == "never":
			problems = append(problems, stack.Problem{Position: svc.Source, Service: name,
				Message: fmt.Sprintf("image %s is not present locally and --pull never forbids pulling it", ref),
				Fix:     "pull or build it first, or use --pull missing"})
		default:
			r.imageStep[ref] = r.b.add(&Step{Kind: StepPullImage, Target: ref, Service: name, Image: ref, Policy: "missing", Cause: "image not present"})
		}
	}
	return problems.Err()
}

// networkPhase creates the networks new pods and containers join. A network
// of that name that this project did not create is refused, as docker
// compose does: joining it would put the stack on someone else's network.
func (r *reconciler) networkPhase() error {
	s := r.s
	for _, key := range sortedKeys(s.Networks) {
		n := s.Networks[key]
		if n.External || !(networkUsed(r.pods, n.Name, r.podCreated) || r.oneOffNets[n.Name]) {
			continue
		}
		if ex, exists := r.networks[n.Name]; exists {
			if ex.Labels[LabelProject] != s.Name {
				return fmt.Errorf("network %q already exists and was not created by stack for project %q (it has no %s=%s label): "+
					"remove it (podman network rm %s), or declare network %q external: true to join it as it is",
					n.Name, s.Name, LabelProject, s.Name, n.Name, key)
			}
			continue
		}
		r.netStep[n.Name] = r.b.add(&Step{Kind: StepCreateNetwork, Target: n.Name, Network: n, Cause: "no existing network"})
	}
	return nil
}

// volumePhase creates the named volumes new containers mount. A volume of
// that name this project did not create is used as it is, but never
// silently: the plan shows it and a warning says how to make that explicit.
func (r *reconciler) volumePhase() {
	s := r.s
	for _, key := range sortedKeys(s.Volumes) {
		v := s.Volumes[key]
		if v.External || !(volumeUsed(s, key, r.decisions) || r.oneOffVols[key]) {
			continue
		}
		if ex, exists := r.volumes[v.Name]; exists {
			if ex.Labels[LabelProject] != s.Name {
				r.b.add(&Step{Kind: StepUseVolume, Target: v.Name, Volume: v,
					Cause: "exists, not created by stack: its data is mounted as is"})
				r.plan.Warnings = append(r.plan.Warnings, fmt.Sprintf("volume %q already exists and was not created by stack for project %q: "+
					"its data will be mounted as it is; declare volume %q external: true to say so, or remove it (podman volume rm %s) for a fresh one",
					v.Name, s.Name, key, v.Name))
			}
			continue
		}
		r.volStep[key] = r.b.add(&Step{Kind: StepCreateVolume, Target: v.Name, Volume: v, Cause: "no existing volume"})
	}
}

// directoryPhase creates the missing bind-mount sources of the containers
// to create, as docker compose does, before them.
func (r *reconciler) directoryPhase() {
	missing := map[string]bool{}
	for _, d := range r.observed.MissingDirectories {
		missing[d] = true
	}
	if len(missing) == 0 {
		return
	}
	for _, name := range r.ix.names {
		if !r.creates[name] {
			continue
		}
		for _, m := range r.s.Services[name].Mounts {
			if m.Type == stack.MountBind && missing[m.Source] && r.dirStep[m.Source] == nil {
				r.dirStep[m.Source] = r.b.add(&Step{Kind: StepCreateDirectory, Target: m.Source, Service: name, Cause: "bind-mount source missing"})
			}
		}
	}
}

// orphanPhase stops and removes orphans and scaled-down replicas before new
// objects might reuse their names or ports.
func (r *reconciler) orphanPhase() {
	s, opts, b := r.s, r.opts, r.b
	var desiredNames map[string]bool
	if len(r.projectCs) > 0 {
		desiredNames = make(map[string]bool, len(r.plan.Containers))
		for _, c := range r.plan.Containers {
			desiredNames[c.Name] = true
		}
	}
	for _, ex := range r.projectCs {
		if desiredNames[ex.Name] {
			continue
		}
		svcName := ex.Labels[LabelService]
		svc, enabled := s.Services[svcName]
		_, disabled := s.Disabled[svcName]
		switch {
		case enabled && r.selected[svcName]:
			n, _ := strconv.Atoi(ex.Labels[LabelNumber])
			if n > svc.Replicas {
				r.orphanSteps = append(r.orphanSteps, removeContainer(b, ex, StopTimeout(svc, r.opts.Timeout), "scaled down")...)
			}
		case enabled || disabled:
		case opts.RemoveOrphans:
			r.orphanSteps = append(r.orphanSteps, removeContainer(b, ex, StopTimeout(nil, r.opts.Timeout), "orphan")...)
		default:
			r.plan.Warnings = append(r.plan.Warnings, fmt.Sprintf("container %s belongs to service %q, which the stack no longer declares; remove it with --remove-orphans", ex.Name, svcName))
		}
	}
	desiredPods := make(map[string]bool, len(r.pods))
	for _, p := range r.pods {
		desiredPods[p.Name] = true
	}
	for _, name := range sortedKeys(r.obsP) {
		if desiredPods[name] {
			continue
		}
		if opts.RemoveOrphans {
			r.orphanSteps = append(r.orphanSteps, b.add(&Step{Kind: StepRemovePod, Target: name, Cause: "orphan"}, r.orphanSteps...))
		} else if len(opts.Services) == 0 && opts.OneOff == "" {
			r.plan.Warnings = append(r.plan.Warnings, fmt.Sprintf("pod %s is not declared by the stack; remove it with --remove-orphans", name))
		}
	}
}

// podsAndContainersPhase creates pods and creates/starts containers, in
// dependency order of their services.
func (r *reconciler) podsAndContainersPhase() {
	podDone := make(map[string]bool, len(r.pods))
	for _, name := range r.order {
		if p := r.byService[name]; p != nil && !podDone[p.Name] {
			podDone[p.Name] = true
			r.pod(p)
		}
		for _, c := range r.ofService[name] {
			if d := r.decisions[c.Name]; d != nil {
				r.container(d)
			}
		}
	}
}

// pod (re)creates p when one of its containers is created.
func (r *reconciler) pod(p *Pod) {
	b := r.b
	var deps []*Step
	deps = append(deps, r.orphanSteps...)
	for net := range p.Networks {
		deps = append(deps, r.netStep[net])
	}
	_, exists := r.obsP[p.Name]
	if r.podRecreate[p.Name] {
		var removed []*Step
		for _, ex := range r.projectCs {
			if ex.Pod == p.Name || ex.Labels[LabelPod] == p.Key {
				cause := "pod configuration changed"
				if c := r.podCause[p.Name]; c != "" {
					cause = c
				}
				var image *Step
				if svc := r.s.Services[ex.Labels[LabelService]]; svc != nil {
					image = r.imageStep[ImageRef(r.s, svc)]
				}
				rs := removeContainer(b, ex, StopTimeout(r.s.Services[ex.Labels[LabelService]], r.opts.Timeout), cause, image)
				r.removeStep[ex.Name] = rs[len(rs)-1]
				removed = append(removed, rs...)
			}
		}
		cause := "pod configuration changed"
		if c := r.podCause[p.Name]; c != "" {
			cause = c
		}
		rp := b.add(&Step{Kind: StepRemovePod, Target: p.Name, Pod: p.Name, Cause: cause}, removed...)
		deps = append(deps, rp)
		exists = false
	}
	if !exists && r.podCreated[p.Name] {
		cause := podCause(r.podRecreate[p.Name])
		if c := r.podCause[p.Name]; c != "" {
			cause = c
		}
		r.podStep[p.Name] = b.add(&Step{Kind: StepCreatePod, Target: p.Name, Pod: p.Name, PodSpec: p, Cause: cause},
			deps...)
	}
}

// container adds d's remove, create and start steps.
func (r *reconciler) container(d *decision) {
	s, b, c := r.s, r.b, d.c
	svc := s.Services[c.Service]
	p := r.byService[c.Service]
	var cs *Step
	if d.create {
		var deps []*Step
		if d.existing != nil && r.removeStep[c.Name] == nil {
			// The old container runs until its new image is there: a
			// failed build or pull leaves it running.
			rs := removeContainer(b, *d.existing, StopTimeout(svc, r.opts.Timeout), d.cause, r.imageStep[ImageRef(s, svc)])
			r.removeStep[c.Name] = rs[len(rs)-1]
		}
		deps = append(deps, r.removeStep[c.Name], r.podStep[c.Pod], r.imageStep[ImageRef(s, svc)])
		for _, target := range svc.NamespaceOwners() {
			// Podman looks the namespace's owner up at create time.
			if owner := r.ofService[target]; len(owner) > 0 {
				deps = append(deps, r.createStep[owner[0].Name])
			}
		}
		deps = append(deps, r.orphanSteps...)
		for _, m := range svc.Mounts {
			if m.Type == stack.MountVolume {
				deps = append(deps, r.volStep[m.Source])
			}
		}
		for _, name := range secretNamesFor(s, svc) {
			deps = append(deps, r.secretStep[name])
		}
		for _, m := range svc.Mounts {
			if m.Type == stack.MountBind {
				deps = append(deps, r.dirStep[m.Source])
			}
		}
		if p != nil && !p.Infra {
			for net := range p.Networks {
				deps = append(deps, r.netStep[net])
			}
		}
		cs = b.add(&Step{Kind: StepCreateContainer, Target: c.Name, Service: c.Service, Pod: c.Pod, Container: c, Cause: d.cause}, deps...)
		r.createStep[c.Name] = cs
	}
	if !d.start {
		return
	}
	deps := r.gates(svc, append(make([]*Step, 0, 1+2*len(svc.DependsOn)), cs))
	cause := d.cause
	if d.create {
		cause = "created"
	}
	r.startStep[c.Name] = b.add(&Step{Kind: StepStartContainer, Target: c.Name, Service: c.Service, Pod: c.Pod, Container: c, Cause: cause}, deps...)
}

// oneOffPhase: the one-off starts once the plan is done, so its
// dependency conditions are the plan's last steps.
func (r *reconciler) oneOffPhase() {
	if svc := r.s.Services[r.opts.OneOff]; svc != nil && !r.opts.NoDeps {
		r.gates(svc, nil)
	}
}

// waitPhase adds `up --wait`'s wait for every started service: healthy
// where it has a healthcheck, running otherwise.
func (r *reconciler) waitPhase() {
	if !r.opts.Wait || r.opts.NoStart {
		return
	}
	for _, name := range r.order {
		svc := r.s.Services[name]
		for _, c := range r.ofService[name] {
			if r.decisions[c.Name] == nil {
				continue
			}
			cond := stack.ConditionStarted
			if svc.Health != nil && !r.noHealth[name] {
				cond = stack.ConditionHealthy
			}
			if r.waits[waitKey{c.Name, cond}] != nil {
				continue
			}
			r.b.add(&Step{Kind: StepWait, Target: c.Name, Service: name, Pod: c.Pod, Condition: cond, Health: svc.Health, Cause: "--wait"}, r.startStep[c.Name])
		}
	}
}

// gates appends to out the steps a service's start must wait for: its
// dependencies' starts (service_started) or wait steps (healthy, completed),
// adding each wait step on first use.
func (r *reconciler) gates(svc *stack.Service, out []*Step) []*Step {
	s := r.s
	for _, dep := range r.ix.depsOf(svc) {
		d := svc.DependsOn[dep]
		target := s.Services[dep]
		if target == nil {
			continue
		}
		for _, c := range r.ofService[dep] {
			started := r.startStep[c.Name]
			dd := r.decisions[c.Name]
			ex, exists := r.obsC[c.Name]
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
			key := waitKey{c.Name, d.Condition}
			w := r.waits[key]
			if w == nil {
				w = r.b.add(&Step{Kind: StepWait, Target: c.Name, Service: dep, Pod: c.Pod, Condition: d.Condition,
					Health: target.Health, Optional: !d.Required, Cause: svc.Name + " depends on it"}, started)
				r.waits[key] = w
			}
			out = append(out, w)
		}
	}
	return out
}
