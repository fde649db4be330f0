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
// steps later phases depend on. Services, containers and pods are known
// by position (see index): services in ix, containers in plan.Containers,
// pods in pods.
type reconciler struct {
	s        *stack.Stack
	ix       *index
	observed *ObservedState
	opts     Options
	plan     *Plan
	b        *builder

	pods      []*Pod
	podStates []podState       // by position in pods
	podAt     []int            // service position -> position in pods
	first     []int            // the containers of service i are plan.Containers[first[i]:first[i+1]]
	cs        []containerState // by position in plan.Containers
	selected  []bool           // services the plan acts on
	creates   []bool           // services with a container to (re)create, and the one-off's
	order     []int            // selected services, dependencies first

	projectCs []*ObservedContainer         // the project's containers, as observed
	obsC      map[string]int               // name -> position in projectCs
	matched   []bool                       // projectCs a desired container has the name of
	obsP      map[string]int               // the project's pods: name -> position in observed.Pods
	storage   map[string]ObservedContainer // storage-only leftovers, by name
	volumes   map[string]ObservedVolume    // every observed volume, by name
	networks  map[string]ObservedNetwork   // every observed network, by name
	images    map[string]bool
	builds    map[string]*imageBuild // image ref -> what the plan does with a built image
	noHealth  map[string]bool        // services whose image has no test to keep (imageHealth)
	awaited   []bool                 // services a service_completed_successfully waits for, once asked

	oneOffNets map[string]bool
	oneOffVols map[string]bool

	imageStep   map[string]*Step // image ref -> pull/build step
	netSteps    []namedStep      // network name and create step, in plan order
	volStep     map[string]*Step // volume key -> create step
	secretStep  map[string]*Step // secret name -> create step
	dirStep     map[string]*Step // bind source -> create step
	orphanSteps []*Step
	removeStep  map[string]*Step  // container name -> remove step
	waits       map[waitKey]*Step // waits for a condition without a slot in containerState
	deps        []*Step           // scratch for the dependencies of a step being added
}

// podState is what Reconcile knows and decides of one desired pod.
type podState struct {
	observed *ObservedPod // nil when none of its name is there
	selected bool         // a member service is selected
	recreate bool
	cause    string // why it is recreated, where not its configuration
	created  bool   // a container of it is (re)created
	step     *Step  // its create step
	done     bool   // its steps are added
}

// containerState is what Reconcile knows and decides of one desired
// container.
type containerState struct {
	svc        int // its service's position
	obs        int // its namesake's position in projectCs; -1 for none
	decision       // decided for a selected service (c is set)
	createStep *Step
	startStep  *Step
	waits      [3]*Step // the wait for each of conditions
}

// namedStep is a step and the name of what it makes.
type namedStep struct {
	name string
	step *Step
}

// conditions are the conditions a container's waits have slots for.
var conditions = [3]stack.Condition{stack.ConditionStarted, stack.ConditionHealthy, stack.ConditionCompleted}

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
	set := newContainerSet(s, ix)
	pods, podAt, err := group(s, opts.Policy, ix, func(p *Pod, members []int) {
		for _, i := range members {
			set.add(i, p)
		}
	})
	if err != nil {
		return nil, err
	}
	podOf := make([]*Pod, len(podAt))
	for i, k := range podAt {
		podOf[i] = pods[k]
	}
	containers, first := set.out, set.first
	if err := validate(s, pods, ix, podOf, containers, first); err != nil {
		return nil, err
	}
	selected := make([]bool, len(ix.names))
	if opts.OneOff != "" || len(opts.Services) > 0 {
		var named map[string]bool
		if opts.OneOff != "" {
			named, err = oneOffServices(s, opts.OneOff, opts.NoDeps)
		} else {
			named, err = selectServices(s, opts.Services, opts.NoDeps)
		}
		if err != nil {
			return nil, err
		}
		for i, name := range ix.names {
			selected[i] = named[name]
		}
	} else {
		for i := range selected {
			selected[i] = true
		}
	}
	if err := checkHost(s, ix, selected, observed.Host); err != nil {
		return nil, err
	}
	healthNotes, noHealth, err := imageHealth(s, ix, observed)
	if err != nil {
		return nil, err
	}
	r := &reconciler{s: s, ix: ix, observed: observed, opts: opts, pods: pods, podStates: make([]podState, len(pods)), podAt: podAt,
		first: first, cs: make([]containerState, len(containers)), selected: selected, creates: make([]bool, len(ix.names)),
		order: topoOrder(ix, selected), volumes: map[string]ObservedVolume{}, networks: map[string]ObservedNetwork{},
		images: make(map[string]bool, len(observed.Images)), builds: map[string]*imageBuild{}, noHealth: noHealth,
		imageStep: map[string]*Step{}, volStep: map[string]*Step{}, secretStep: map[string]*Step{},
		dirStep: map[string]*Step{}, removeStep: map[string]*Step{}}
	// The steps before the pods' and containers' (podsAndContainersPhase
	// makes room for those).
	steps := make([]*Step, 0, 64)
	r.plan = &Plan{Stack: s, Project: s.Name, Environment: s.Environment, Pods: pods, Containers: containers, Warnings: healthNotes, Steps: steps}
	r.b = &builder{plan: r.plan}
	for i := range ix.names {
		if selected[i] {
			r.podStates[podAt[i]].selected = true
		}
		for j := first[i]; j < first[i+1]; j++ {
			r.cs[j].svc = i
		}
	}
	// Containers and pods count only when labelled with this project;
	// volumes and networks are kept whoever made them, to tell ours from
	// foreign ones of the same name.
	for k := range observed.Containers {
		c := &observed.Containers[k]
		if c.State == StateStorage {
			if r.storage == nil {
				r.storage = map[string]ObservedContainer{}
			}
			r.storage[c.Name] = *c
			continue
		}
		if c.Labels[LabelProject] != s.Name || c.Labels[LabelOneOff] == "true" {
			continue
		}
		r.projectCs = append(r.projectCs, c)
	}
	r.obsC = make(map[string]int, len(r.projectCs))
	for k, c := range r.projectCs {
		r.obsC[c.Name] = k
	}
	r.matched = make([]bool, len(r.projectCs))
	for j, c := range containers {
		r.cs[j].obs = -1
		if k, ok := r.obsC[c.Name]; ok {
			r.cs[j].obs = k
			r.matched[k] = true
		}
	}
	r.obsP = make(map[string]int, len(observed.Pods))
	for k, p := range observed.Pods {
		if p.Labels[LabelProject] == s.Name {
			r.obsP[p.Name] = k
		}
	}
	for k, p := range pods {
		if o, ok := r.obsP[p.Name]; ok {
			r.podStates[k].observed = &observed.Pods[o]
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

// observedOf is the project's container that exists under the name of
// the desired container at j, or nil.
func (r *reconciler) observedOf(j int) *ObservedContainer {
	if k := r.cs[j].obs; k >= 0 {
		return r.projectCs[k]
	}
	return nil
}

// interrupted says whether state is one an interrupted run (a killed
// `stack up`, a Podman service that died mid-way) leaves a container in:
// created but not started, or half-way through a stop or removal that
// Podman goes on with. Starting one fails ("container with given ID
// already exists", "runc start failed", "container state improper"), so
// they are recreated. A "stopped" container is started again as usual:
// Podman 5 shows that state between an exit and a restart by the restart
// policy.
func interrupted(state string) bool {
	switch state {
	case "created", "configured", "initialized", "stopping", "removing", "unknown":
		return true
	}
	return false
}

// decide says, per desired container of the selected services: keep, start,
// create or recreate.
func (r *reconciler) decide() {
	opts := r.opts
	for k, p := range r.pods {
		ps := &r.podStates[k]
		if ps.observed == nil || opts.NoRecreate || !ps.selected {
			continue
		}
		if cause := r.environmentChange(ps.observed.Labels); cause != "" {
			ps.recreate, ps.cause = true, cause
		} else if ps.observed.Labels[LabelConfigHash] != p.Hash {
			ps.recreate = true
		}
	}
	for j, c := range r.plan.Containers {
		st := &r.cs[j]
		if !r.selected[st.svc] {
			continue
		}
		d := &st.decision
		d.c = c
		ex := r.observedOf(j)
		ps := &r.podStates[r.podAt[st.svc]]
		switch {
		case ex == nil:
			d.create, d.cause = true, "no existing container"
			if left, inStorage := r.storage[c.Name]; inStorage {
				d.existing, d.cause = addressOf(left), "left in storage by an interrupted run"
			}
		case ps.recreate:
			d.existing, d.create, d.cause = ex, true, "pod configuration changed"
			if ps.cause != "" {
				d.cause = ps.cause
			}
		case r.forced(c.Service):
			d.existing, d.create, d.cause = ex, true, r.forceCause(c.Service)
		case r.environmentChange(ex.Labels) != "" && !opts.NoRecreate:
			d.existing, d.create, d.cause = ex, true, r.environmentChange(ex.Labels)
		case ex.Labels[LabelConfigHash] != c.Hash && !opts.NoRecreate:
			d.existing, d.create, d.cause = ex, true, "configuration changed"
		case r.staleImage(c, ex) != "" && !opts.NoRecreate:
			d.existing, d.create, d.cause = ex, true, r.staleImage(c, ex)
		case interrupted(ex.State) && !opts.NoRecreate:
			d.existing, d.create, d.cause = ex, true, "left "+ex.State+" by an interrupted run"
		default:
			d.existing = ex
			switch ex.State {
			case "running", "paused":
			case "exited", "stopped":
				if ex.ExitCode == 0 && r.awaitedForCompletion(st.svc) {
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
	for j := range r.cs {
		if st := &r.cs[j]; st.c != nil && st.create {
			r.creates[st.svc] = true
			r.podStates[r.podAt[st.svc]].created = true
		}
	}
	if svc := r.s.Services[opts.OneOff]; svc != nil {
		if i := r.ix.position(svc.Name); i >= 0 {
			r.creates[i] = true // its image and secrets
			r.oneOffNets = map[string]bool{}
			for n := range r.pods[r.podAt[i]].Networks {
				r.oneOffNets[n] = true
			}
		}
		for _, m := range svc.Mounts {
			if m.Type == stack.MountVolume {
				if r.oneOffVols == nil {
					r.oneOffVols = map[string]bool{}
				}
				r.oneOffVols[m.Source] = true
			}
		}
	}
}

// awaitedForCompletion reports whether some service waits for the one at
// position i with service_completed_successfully: an exited one-shot is
// then done, not down.
func (r *reconciler) awaitedForCompletion(i int) bool {
	if r.awaited == nil {
		r.awaited = make([]bool, len(r.ix.names))
		for k := range r.ix.names {
			for _, d := range r.ix.info[k].deps {
				if d.pos >= 0 && d.Condition == stack.ConditionCompleted {
					r.awaited[d.pos] = true
				}
			}
		}
	}
	return r.awaited[i]
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
	for j, c := range r.plan.Containers {
		ex := r.observedOf(j)
		if ex == nil || r.environmentChange(ex.Labels) == "" {
			continue
		}
		old := ex.Labels[LabelEnvironment]
		olds[old] = true
		if d := &r.cs[j]; d.c != nil && d.create {
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
	for k, p := range r.pods {
		ps := &r.podStates[k]
		if ps.observed == nil || !p.Infra || ps.recreate || r.opts.NoRecreate {
			continue
		}
		switch ps.observed.State {
		case "Running", "Degraded", "Paused":
			continue
		}
		all := true
		for _, svc := range p.Services {
			i := r.ix.position(svc)
			if i < 0 {
				all = false // not selected
				continue
			}
			if !r.selected[i] {
				all = false
			}
			for j := r.first[i]; j < r.first[i+1]; j++ {
				if d := &r.cs[j]; d.c == nil || !d.create {
					all = false
				}
			}
		}
		if all {
			ps.recreate = true
			ps.cause = "left " + strings.ToLower(ps.observed.State) + " by an interrupted run"
		}
	}
}

// imagePhase pulls or builds the images of the services that get new
// containers, and with Options.Build builds every selected service's.
func (r *reconciler) imagePhase() error {
	s, opts := r.s, r.opts
	var problems stack.Problems
	for i, name := range r.ix.names {
		svc := r.ix.svcs[i]
		if !r.creates[i] && !(opts.Build && svc.Build != nil && r.selected[i]) {
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
				deps := r.contextBuilds(svc)
				r.imageStep[ref] = r.b.add(&Step{Kind: StepBuildImage, Target: ref, Service: name, Image: ref,
					Build: buildSpec(s, svc.Build, ib.digest), Cause: ib.cause}, deps...)
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
		if n.External || !(r.networkUsed(n.Name) || r.oneOffNets[n.Name]) {
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
		st := r.b.add(&Step{Kind: StepCreateNetwork, Target: n.Name, Network: n, Cause: "no existing network"})
		r.netSteps = append(r.netSteps, namedStep{n.Name, st})
	}
	return nil
}

// networkUsed reports whether a pod or container joining the network is
// (re)created.
func (r *reconciler) networkUsed(name string) bool {
	for k, p := range r.pods {
		if _, ok := p.Networks[name]; ok && r.podStates[k].created {
			return true
		}
	}
	return false
}

// volumePhase creates the named volumes new containers mount. A volume of
// that name this project did not create is used as it is, but never
// silently: the plan shows it and a warning says how to make that explicit.
func (r *reconciler) volumePhase() {
	s := r.s
	if len(s.Volumes) == 0 {
		return
	}
	// The volumes the containers to (re)create mount.
	used := map[string]bool{}
	for j := range r.cs {
		d := &r.cs[j]
		if d.c == nil || !d.create {
			continue
		}
		for _, m := range d.c.Spec.Mounts {
			if m.Type == stack.MountVolume {
				used[m.Source] = true
			}
		}
	}
	for _, key := range sortedKeys(s.Volumes) {
		v := s.Volumes[key]
		if v.External || !(used[key] || r.oneOffVols[key]) {
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
	for i, name := range r.ix.names {
		if !r.creates[i] {
			continue
		}
		for _, m := range r.ix.svcs[i].Mounts {
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
	for k, ex := range r.projectCs {
		if r.matched[k] || r.matched[r.obsC[ex.Name]] {
			continue // desired (the second: the one of its name the plan took)
		}
		svcName := ex.Labels[LabelService]
		svc, enabled := s.Services[svcName]
		_, disabled := s.Disabled[svcName]
		switch {
		case enabled && r.selected[r.ix.position(svcName)]:
			n, _ := strconv.Atoi(ex.Labels[LabelNumber])
			if n > svc.Replicas {
				r.orphanSteps = append(r.orphanSteps, removeContainer(b, *ex, StopTimeout(svc, r.opts.Timeout), "scaled down")...)
			}
		case enabled || disabled:
		case opts.RemoveOrphans:
			r.orphanSteps = append(r.orphanSteps, removeContainer(b, *ex, StopTimeout(nil, r.opts.Timeout), "orphan")...)
		default:
			r.plan.Warnings = append(r.plan.Warnings, fmt.Sprintf("container %s belongs to service %q, which the stack no longer declares; remove it with --remove-orphans", ex.Name, svcName))
		}
	}
	// The pods of names the stack has none of (pod names are unique: a
	// desired pod that is there takes one of obsP's names).
	var orphans []string
	found := 0
	for k := range r.pods {
		if r.podStates[k].observed != nil {
			found++
		}
	}
	if found < len(r.obsP) {
		desired := make(map[string]bool, len(r.pods))
		for _, p := range r.pods {
			desired[p.Name] = true
		}
		for name := range r.obsP {
			if !desired[name] {
				orphans = append(orphans, name)
			}
		}
		sort.Strings(orphans)
	}
	for _, name := range orphans {
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
	// Room for a create per container and pod to create, and a start and
	// a wait per container to start: what `up` of a fresh stack whose
	// services are health-gated takes.
	n := 0
	for j := range r.cs {
		if d := &r.cs[j]; d.c != nil {
			n += b2i(d.create) + 2*b2i(d.start)
		}
	}
	for k := range r.podStates {
		n += b2i(r.podStates[k].created)
	}
	r.plan.Steps = slices.Grow(r.plan.Steps, n)
	for _, i := range r.order {
		if k := r.podAt[i]; !r.podStates[k].done {
			r.podStates[k].done = true
			r.pod(k)
		}
		for j := r.first[i]; j < r.first[i+1]; j++ {
			if r.cs[j].c != nil {
				r.container(j)
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// withDeps is r.deps emptied, with room for n.
func (r *reconciler) withDeps(n int) []*Step {
	if cap(r.deps) < n {
		r.deps = make([]*Step, 0, max(n, 16))
	}
	return r.deps[:0]
}

// joined appends to deps the create steps of the networks p joins.
func (r *reconciler) joined(deps []*Step, p *Pod) []*Step {
	for _, n := range r.netSteps {
		if _, ok := p.Networks[n.name]; ok {
			deps = append(deps, n.step)
		}
	}
	return deps
}

// pod (re)creates the pod at k when one of its containers is created.
func (r *reconciler) pod(k int) {
	b, p, ps := r.b, r.pods[k], &r.podStates[k]
	deps := append(r.withDeps(len(r.orphanSteps)+len(r.netSteps)+1), r.orphanSteps...)
	deps = r.joined(deps, p)
	exists := ps.observed != nil
	if ps.recreate {
		var removed []*Step
		for _, ex := range r.projectCs {
			if ex.Pod == p.Name || ex.Labels[LabelPod] == p.Key {
				cause := "pod configuration changed"
				if ps.cause != "" {
					cause = ps.cause
				}
				var image *Step
				if svc := r.s.Services[ex.Labels[LabelService]]; svc != nil {
					image = r.imageStep[ImageRef(r.s, svc)]
				}
				rs := removeContainer(b, *ex, StopTimeout(r.s.Services[ex.Labels[LabelService]], r.opts.Timeout), cause, image)
				r.removeStep[ex.Name] = rs[len(rs)-1]
				removed = append(removed, rs...)
			}
		}
		cause := "pod configuration changed"
		if ps.cause != "" {
			cause = ps.cause
		}
		rp := b.add(&Step{Kind: StepRemovePod, Target: p.Name, Pod: p.Name, Cause: cause}, removed...)
		deps = append(deps, rp)
		exists = false
	}
	if !exists && ps.created {
		cause := podCause(ps.recreate)
		if ps.cause != "" {
			cause = ps.cause
		}
		ps.step = b.add(&Step{Kind: StepCreatePod, Target: p.Name, Pod: p.Name, PodSpec: p, Cause: cause}, deps...)
	}
	r.deps = deps[:0]
}

// container adds the remove, create and start steps of the container at j.
func (r *reconciler) container(j int) {
	s, b, d := r.s, r.b, &r.cs[j]
	c := d.c
	svc := r.ix.svcs[d.svc]
	k := r.podAt[d.svc]
	p := r.pods[k]
	if d.create {
		image := r.imageStep[ImageRef(s, svc)]
		if d.existing != nil && r.removeStep[c.Name] == nil {
			// The old container runs until its new image is there: a
			// failed build or pull leaves it running.
			rs := removeContainer(b, *d.existing, StopTimeout(svc, r.opts.Timeout), d.cause, image)
			r.removeStep[c.Name] = rs[len(rs)-1]
		}
		deps := append(r.withDeps(8+len(r.orphanSteps)+len(r.netSteps)), r.removeStep[c.Name], r.podStates[k].step, image)
		for _, target := range svc.NamespaceOwners() {
			// Podman looks the namespace's owner up at create time.
			if i := r.ix.position(target); i >= 0 && r.first[i] < r.first[i+1] {
				deps = append(deps, r.cs[r.first[i]].createStep)
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
		if !p.Infra {
			deps = r.joined(deps, p)
		}
		d.createStep = b.add(&Step{Kind: StepCreateContainer, Target: c.Name, Service: c.Service, Pod: c.Pod, Container: r.intoStalePod(c, k), Cause: d.cause}, deps...)
		r.deps = deps[:0]
	}
	if !d.start {
		return
	}
	deps := r.gates(d.svc, append(r.withDeps(1+2*len(svc.DependsOn)), d.createStep))
	cause := d.cause
	if d.create {
		cause = "created"
	}
	d.startStep = b.add(&Step{Kind: StepStartContainer, Target: c.Name, Service: c.Service, Pod: c.Pod, Container: c, Cause: cause}, deps...)
	r.deps = deps[:0]
}

// oneOffPhase: the one-off starts once the plan is done, so its
// dependency conditions are the plan's last steps.
func (r *reconciler) oneOffPhase() {
	if svc := r.s.Services[r.opts.OneOff]; svc != nil && !r.opts.NoDeps {
		r.gates(r.ix.position(r.opts.OneOff), nil)
	}
}

// waitPhase adds `up --wait`'s wait for every started service: healthy
// where it has a healthcheck, running otherwise.
func (r *reconciler) waitPhase() {
	if !r.opts.Wait || r.opts.NoStart {
		return
	}
	for _, i := range r.order {
		name, svc := r.ix.names[i], r.ix.svcs[i]
		for j := r.first[i]; j < r.first[i+1]; j++ {
			d := &r.cs[j]
			if d.c == nil {
				continue
			}
			cond := stack.ConditionStarted
			if svc.Health != nil && !r.noHealth[name] {
				cond = stack.ConditionHealthy
			}
			if r.wait(j, cond) != nil {
				continue
			}
			r.b.add(&Step{Kind: StepWait, Target: d.c.Name, Service: name, Pod: d.c.Pod, Condition: cond, Health: svc.Health, Cause: "--wait"}, d.startStep)
		}
	}
}

// wait is the step that waits for the container at j to reach cond, or
// nil.
func (r *reconciler) wait(j int, cond stack.Condition) *Step {
	for n, c := range conditions {
		if c == cond {
			return r.cs[j].waits[n]
		}
	}
	return r.waits[waitKey{r.plan.Containers[j].Name, cond}]
}

// setWait makes w the wait of the container at j for cond.
func (r *reconciler) setWait(j int, cond stack.Condition, w *Step) {
	for n, c := range conditions {
		if c == cond {
			r.cs[j].waits[n] = w
			return
		}
	}
	if r.waits == nil {
		r.waits = map[waitKey]*Step{}
	}
	r.waits[waitKey{r.plan.Containers[j].Name, cond}] = w
}

// gates appends to out the steps the start of the service at position i
// must wait for: its dependencies' starts (service_started) or wait steps
// (healthy, completed), adding each wait step on first use.
func (r *reconciler) gates(i int, out []*Step) []*Step {
	svc := r.ix.svcs[i]
	for _, d := range r.ix.info[i].deps {
		if d.pos < 0 {
			continue
		}
		target := r.ix.svcs[d.pos]
		for j := r.first[d.pos]; j < r.first[d.pos+1]; j++ {
			dd := &r.cs[j]
			started := dd.startStep
			if d.Condition == stack.ConditionStarted || d.Condition == "" {
				if started != nil {
					out = append(out, started)
				}
				continue
			}
			fresh := started != nil || (dd.c != nil && dd.create)
			if !fresh {
				ex := r.observedOf(j)
				if ex == nil {
					continue // not in the plan (--no-deps) and not there: nothing to wait for
				}
				if d.Condition == stack.ConditionCompleted && (ex.State == "exited" || ex.State == "stopped") && ex.ExitCode == 0 {
					continue
				}
				// A dependency observed healthy is still checked: the
				// status is the last check's, which without systemd timers
				// may be long stale. The wait costs one check when healthy.
			}
			w := r.wait(j, d.Condition)
			if w == nil {
				c := r.plan.Containers[j]
				w = r.b.add(&Step{Kind: StepWait, Target: c.Name, Service: d.name, Pod: c.Pod, Condition: d.Condition,
					Health: target.Health, Optional: !d.Required, Cause: svc.Name + " depends on it"}, started)
				r.setWait(j, d.Condition, w)
			}
			out = append(out, w)
		}
	}
	return out
}
