package planner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/podstack/podstack/stack"
)

// imageBuild is what a plan does with the image of a service that has a
// build section, decided before the containers are.
type imageBuild struct {
	// build says the plan builds it (when a container needs it); cause says
	// why.
	build bool
	cause string
	// digest is the LabelBuildDigest the image has once the plan ran: the
	// stack's when built, else the present image's ("" when it has none).
	digest string
	// known is false when the stack's digest is unknown (not resolved, or a
	// remote context): then containers are not compared with it.
	known bool
}

// buildPhase decides, for each selected service with a build section,
// whether its image is built and what digest it will carry. An image is
// rebuilt when missing, when asked (--build, pull_policy build or always),
// or when stack built it from other inputs than the stack's now. An image
// without a digest label was made elsewhere (pulled, or built by hand) and
// is used as it is, as docker compose does.
func (r *reconciler) buildPhase() {
	for i, name := range r.ix.names {
		svc := r.ix.svcs[i]
		if svc.Build == nil || !(r.selected[i] || r.opts.OneOff == name) {
			continue
		}
		ref := ImageRef(r.s, svc)
		if r.builds[ref] != nil {
			continue
		}
		ib := r.decideBuild(name, svc)
		r.builds[ref] = ib
		if ib.known && ib.digest != "" {
			for _, c := range r.plan.Containers[r.first[i]:r.first[i+1]] {
				c.Labels[LabelBuildDigest] = ib.digest
			}
		}
	}
}

// decideBuild decides whether the image of svc (which has a build section)
// is built, and what digest it will carry.
func (r *reconciler) decideBuild(name string, svc *stack.Service) *imageBuild {
	s, opts := r.s, r.opts
	ref := ImageRef(s, svc)
	want := svc.Build.Digest
	label, labelled := r.observed.BuildDigests[ref]
	policy := opts.Pull
	if policy == "" || (policy == "missing" && svc.PullPolicy != "") {
		policy = normalizePull(svc.PullPolicy)
	}
	ib := &imageBuild{known: want != ""}
	switch {
	case !r.images[ref]:
		ib.cause = "image not present"
	case opts.NoBuild:
	case opts.Build:
		ib.cause = "--build"
	case policy == "build" || policy == "always":
		ib.cause = "pull policy " + policy
	case ib.known && labelled && label != want:
		ib.cause = "build context changed"
	}
	ib.build = ib.cause != "" && !opts.NoBuild
	ib.digest = label
	if ib.build {
		ib.digest = want
	}
	if opts.NoBuild && ib.known && labelled && label != want {
		r.plan.Warnings = append(r.plan.Warnings, fmt.Sprintf("image %s of service %q was built from other files than the stack's now; "+
			"--no-build keeps it (stack build %s rebuilds it)", ref, name, name))
	}
	return ib
}

// contextBuilds returns the steps that make the images svc's build reads
// through "service:NAME" contexts (nil for one that is present and
// current), planning the builds of those not planned yet: a service not
// selected, or getting no new container, still has its image built first
// when it is missing or out of date. The loader refused cycles.
func (r *reconciler) contextBuilds(svc *stack.Service) []*Step {
	var deps []*Step
	for _, name := range svc.Build.ServiceContexts() {
		dep := r.s.Services[name]
		if dep == nil || dep.Build == nil {
			continue
		}
		ref := ImageRef(r.s, dep)
		step, done := r.imageStep[ref]
		if !done {
			ib := r.builds[ref]
			if ib == nil {
				ib = r.decideBuild(name, dep)
				r.builds[ref] = ib
			}
			if ib.build {
				cause := ib.cause + " (a build context of " + svc.Name + ")"
				step = r.b.add(&Step{Kind: StepBuildImage, Target: ref, Service: name, Image: ref,
					Build: buildSpec(r.s, dep.Build, ib.digest), Cause: cause}, r.contextBuilds(dep)...)
			}
			r.imageStep[ref] = step
		}
		deps = append(deps, step)
	}
	return deps
}

// staleImage says why an existing container must be made again from its
// service's image ("" when it need not): the image it was made from is not
// the one the service runs. For a built service the build digests tell
// (the plan may rebuild the image); for any service, an image ID other
// than the one its image's name points to now does (it was rebuilt or
// pulled since), as docker compose decides.
func (r *reconciler) staleImage(c *Container, ex *ObservedContainer) string {
	ref := ImageRef(r.s, c.Spec)
	if ib := r.builds[ref]; ib != nil && ib.known && ex.Labels[LabelBuildDigest] != ib.digest {
		if ib.build {
			return "image rebuilt: " + ib.cause
		}
		return "image changed"
	}
	if id := r.observed.ImageIDs[ref]; id != "" && ex.ImageID != "" && ex.ImageID != id {
		return "image changed"
	}
	return ""
}

// buildSpec is what a build step builds: b, with the image labelled with
// the digest of its inputs so a later plan knows whether it is current,
// and each "service:NAME" context made the image the stack builds for NAME
// ("docker-image://REF", which Podman reads). Project and service labels
// stay off the image: containers inherit an image's labels, and one run
// from it by hand would then look like ours.
func buildSpec(s *stack.Stack, b *stack.Build, digest string) *stack.Build {
	spec := *b
	spec.Labels = maps.Clone(b.Labels)
	if len(b.ServiceContexts()) > 0 {
		spec.AdditionalContexts = maps.Clone(b.AdditionalContexts)
		for name, v := range spec.AdditionalContexts {
			if target, ok := strings.CutPrefix(v, "service:"); ok && s.Services[target] != nil {
				spec.AdditionalContexts[name] = "docker-image://" + ImageRef(s, s.Services[target])
			}
		}
	}
	if digest != "" {
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		spec.Labels[LabelBuildDigest] = digest
	}
	return &spec
}

// BuildOptions tune PlanBuild: `stack build`.
type BuildOptions struct {
	// Services to build; none means every service with a build section.
	Services []string
	// WithDependencies builds the images of the services they depend on too.
	WithDependencies bool
	// NoCache and Pull apply to every build, beside the build sections' own.
	NoCache, Pull bool
	// Args override the build sections' args (--build-arg).
	Args map[string]string
	// Host is the runtime's host, as BuildHost describes it: builds that
	// read what it cannot are refused before any runs.
	Host Host
}

// PlanBuild plans the builds of the services' images: one step per image,
// each after the builds of the images it reads through "service:NAME"
// contexts (those services' images are built too). The images carry the builds' digests when
// resolved (stack.ResolveBuildDigests), so a later up finds them current;
// Args do not change the digest: an image built with them is the user's
// choice, and up runs it (recreating the containers made from the image
// before, as their image ID tells) until the stack's own inputs change.
// A named service without a build section has nothing to build.
func PlanBuild(s *stack.Stack, o BuildOptions) (*Plan, error) {
	selected, err := selectServices(s, o.Services, !o.WithDependencies)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Stack: s, Project: s.Name, Environment: s.Environment}
	b := &builder{plan: plan}
	done := map[string]*Step{}
	var add func(name, cause string) *Step
	add = func(name, cause string) *Step {
		svc := s.Services[name]
		ref := ImageRef(s, svc)
		if st, ok := done[ref]; ok {
			return st
		}
		done[ref] = nil
		var deps []*Step
		for _, dep := range svc.Build.ServiceContexts() {
			if t := s.Services[dep]; t != nil && t.Build != nil {
				deps = append(deps, add(dep, "stack build (a build context of "+name+")"))
			}
		}
		spec := buildSpec(s, svc.Build, svc.Build.Digest)
		spec.NoCache = spec.NoCache || o.NoCache
		spec.Pull = spec.Pull || o.Pull
		if len(o.Args) > 0 {
			spec.Args = maps.Clone(spec.Args)
			if spec.Args == nil {
				spec.Args = map[string]string{}
			}
			maps.Copy(spec.Args, o.Args)
		}
		done[ref] = b.add(&Step{Kind: StepBuildImage, Target: ref, Service: name, Image: ref, Build: spec, Cause: cause}, deps...)
		return done[ref]
	}
	for _, name := range s.ServiceNames() {
		if svc := s.Services[name]; selected[name] && svc.Build != nil {
			add(name, "stack build")
		}
	}
	if err := checkBuildHost(s, plan, o.Host); err != nil {
		return nil, err
	}
	return plan, nil
}

// PullOptions tune PlanPull: `stack pull`.
type PullOptions struct {
	// Services whose images to pull; none means all.
	Services []string
	// Policy is "always" (the default: pull even when present) or
	// "missing" (only what is not here).
	Policy string
	// IgnoreFailures warns about an image that cannot be pulled and goes
	// on with the others.
	IgnoreFailures bool
	// IgnoreBuildable leaves out the services that have a build section.
	IgnoreBuildable bool
	// IncludeDeps also pulls the images of the services they depend on.
	IncludeDeps bool
}

// PullPlan is a pull plan and what it left out, with why.
type PullPlan struct {
	*Plan
	// Skipped are "service: why" lines for the services it pulls nothing for.
	Skipped []string
}

// PlanPull plans the pulls of the services' images, all at once. A
// service with a build section and no image: name has nothing to pull,
// nor one whose pull_policy is build or never; one with both a build
// section and an image: name may fail to pull (it can be built), so its
// failure is a warning. observed says which images are present, for
// Policy missing.
func PlanPull(s *stack.Stack, observed *ObservedState, o PullOptions) (*PullPlan, error) {
	selected, err := selectServices(s, o.Services, !o.IncludeDeps)
	if err != nil {
		return nil, err
	}
	present := map[string]bool{}
	if observed != nil {
		for _, ref := range observed.Images {
			present[ref] = true
		}
	}
	plan := &PullPlan{Plan: &Plan{Stack: s, Project: s.Name, Environment: s.Environment}}
	b := &builder{plan: plan.Plan}
	done := map[string]bool{}
	for _, name := range s.ServiceNames() {
		svc := s.Services[name]
		if !selected[name] {
			continue
		}
		ref := ImageRef(s, svc)
		policy := normalizePull(svc.PullPolicy)
		switch {
		case svc.Build != nil && svc.Image == "":
			plan.Skipped = append(plan.Skipped, name+": built from its build section, not pulled")
			continue
		case svc.Build != nil && o.IgnoreBuildable:
			plan.Skipped = append(plan.Skipped, name+": has a build section (--ignore-buildable)")
			continue
		case policy == "never" || policy == "build":
			plan.Skipped = append(plan.Skipped, name+": pull_policy "+svc.PullPolicy)
			continue
		case o.Policy == "missing" && present[ref]:
			plan.Skipped = append(plan.Skipped, name+": "+ref+" is present (--policy missing)")
			continue
		case done[ref]:
			continue
		}
		done[ref] = true
		cause := "stack pull"
		if svc.Build != nil {
			cause = "stack pull (it can be built if the pull fails)"
		}
		b.add(&Step{Kind: StepPullImage, Target: ref, Service: name, Image: ref, Policy: "always",
			Optional: o.IgnoreFailures || svc.Build != nil, Cause: cause})
	}
	return plan, nil
}

// PushOptions tune PlanPush: `stack push`.
type PushOptions struct {
	// Services whose images to push; none means all.
	Services []string
	// IgnoreFailures warns about an image that cannot be pushed and goes
	// on with the others.
	IgnoreFailures bool
	// IncludeDeps also pushes the images of the services they depend on.
	IncludeDeps bool
}

// PlanPush plans the pushes of the images the stack builds and names
// (services with both a build section and an image: name, as docker
// compose pushes), all at once. A named service without both is an error
// that says what it lacks.
func PlanPush(s *stack.Stack, o PushOptions) (*Plan, error) {
	selected, err := selectServices(s, o.Services, !o.IncludeDeps)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Stack: s, Project: s.Name, Environment: s.Environment}
	b := &builder{plan: plan}
	var problems stack.Problems
	done := map[string]bool{}
	for _, name := range s.ServiceNames() {
		svc := s.Services[name]
		if !selected[name] {
			continue
		}
		if svc.Build == nil || svc.Image == "" {
			if slices.Contains(o.Services, name) {
				msg := "has no image: name to push its build under"
				if svc.Build == nil {
					msg = "has no build section: its image " + svc.Image + " is not built here, so there is nothing to push"
				}
				problems = append(problems, stack.Problem{Position: svc.Source, Service: name, Message: msg,
					Fix: "give it both build: and image: registry/name:tag"})
			}
			continue
		}
		if done[svc.Image] {
			continue
		}
		done[svc.Image] = true
		b.add(&Step{Kind: StepPushImage, Target: svc.Image, Service: name, Image: svc.Image,
			Optional: o.IgnoreFailures, Cause: "stack push"})
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return plan, nil
}
