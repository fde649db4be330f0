package cluster

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// StepKind is what a step does to one object.
type StepKind string

const (
	// StepApply creates or changes an object with server-side apply.
	StepApply StepKind = "Apply"
	// StepWait waits until a workload is available (a Job: complete).
	StepWait StepKind = "Wait"
	// StepDelete deletes an object.
	StepDelete StepKind = "Delete"
)

// Step is one node of the plan DAG.
type Step struct {
	ID     int      `json:"id"`
	Kind   StepKind `json:"kind"`
	Object Ref      `json:"object"`
	// Deps are the IDs of the steps that must finish first.
	Deps []int `json:"deps,omitempty"`
	// Cause says why the step is needed.
	Cause string `json:"cause"`
	// Changes are the fields an Apply of an existing object changes.
	Changes []FieldChange `json:"changes,omitempty"`
	// Manifest is what an Apply applies.
	Manifest *unstructured.Unstructured `json:"-"`
	// UID is the object a Delete deletes: if the name meanwhile belongs to
	// another object, that one is left alone.
	UID types.UID `json:"-"`
}

// String renders the step on one line, as Plan.String does.
func (st *Step) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s", st.ID, st.Kind, st.Object)
	if len(st.Deps) > 0 {
		b.WriteString(" <-")
		for _, d := range st.Deps {
			fmt.Fprintf(&b, " #%d", d)
		}
	}
	if st.Cause != "" {
		b.WriteString(": " + st.Cause)
	}
	return b.String()
}

// Plan is what podstack will do to make a namespace hold a stack's
// environment. Plans are computed without I/O from Desired and Observed.
type Plan struct {
	Target Target  `json:"target"`
	Steps  []*Step `json:"steps"`
	// Unchanged are the declared objects that are already as declared.
	Unchanged []Ref    `json:"unchanged,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// Writes reports whether running the plan changes the cluster.
func (p *Plan) Writes() bool {
	for _, st := range p.Steps {
		if st.Kind != StepWait {
			return true
		}
	}
	return false
}

// Options shape an up plan.
type Options struct {
	// RemoveOrphans deletes the target's objects the stack no longer
	// declares; claims are kept (their data with them) even then.
	RemoveOrphans bool
	// Wait waits for every workload to be available at the end.
	Wait bool
}

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

// Up plans the way from what the namespace holds to the desired objects:
// objects that are missing are created, objects whose podstack-managed
// fields differ are changed (a Deployment whose selector changed, or a
// Job, which cannot change, is deleted and created again), and objects
// of the target that are no longer declared are deleted with
// RemoveOrphans. Objects are applied so that a workload comes after what
// it reads and after the workloads it depends on are available.
func Up(d *Desired, o *Observed, opts Options) (*Plan, error) {
	plan := &Plan{Target: d.Target, Warnings: append([]string(nil), d.Warnings...)}
	if err := conflicts(d, o); err != nil {
		return nil, err
	}
	deps := map[Ref][]Dependency{}
	var problems []string
	for _, u := range d.Objects {
		ds, ps := dependencies(u, d.Objects)
		deps[RefOf(u)] = ds
		problems = append(problems, ps...)
	}
	order, err := topoOrder(d.Objects, deps)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("cannot plan:\n  %s", strings.Join(problems, "\n  "))
	}
	b := &builder{plan: plan}
	applied := map[Ref]*Step{}
	waits := map[Ref]*Step{}
	waitFor := func(ref Ref, cause string) *Step {
		if w := waits[ref]; w != nil {
			return w
		}
		w := b.add(&Step{Kind: StepWait, Object: ref, Cause: cause}, applied[ref])
		waits[ref] = w
		return w
	}
	for _, u := range order {
		ref := RefOf(u)
		kind, _ := KindOf(ref.Kind)
		var after []*Step
		if kind.Workload {
			for _, r := range reads(u) {
				after = append(after, applied[r])
			}
		}
		live := o.Owned[ref]
		if live == nil {
			if kind.Workload {
				after = append(after, dependencyWaits(u, deps[ref], waitFor)...)
			}
			applied[ref] = b.add(&Step{Kind: StepApply, Object: ref, Cause: "not in the cluster", Manifest: u}, after...)
			continue
		}
		changes, err := diff(o.Types, live, u)
		if err != nil {
			return nil, err
		}
		if len(changes) == 0 {
			plan.Unchanged = append(plan.Unchanged, ref)
			continue
		}
		if kind.Workload {
			after = append(after, dependencyWaits(u, deps[ref], waitFor)...)
		}
		cause := fmt.Sprintf("%d %s changed", len(changes), plural(len(changes), "field", "fields"))
		if why := mustReplace(ref, changes); why != "" {
			del := b.add(&Step{Kind: StepDelete, Object: ref, UID: live.GetUID(), Cause: why}, after...)
			after = []*Step{del}
			cause += "; created again"
		}
		applied[ref] = b.add(&Step{Kind: StepApply, Object: ref, Cause: cause, Changes: changes, Manifest: u}, after...)
	}
	for _, u := range order {
		ref := RefOf(u)
		for _, dep := range deps[ref] {
			if dep.Condition == "completed" && dep.Kind != "Job" {
				plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s waits for %s to complete, but a %s runs until it is stopped: podstack waits for it to be available instead", ref, dep.Ref, dep.Kind))
			}
		}
	}
	if opts.Wait {
		for _, u := range order {
			if k, _ := KindOf(u.GetKind()); k.Workload {
				waitFor(RefOf(u), "--wait")
			}
		}
	}
	declared := map[Ref]bool{}
	for _, u := range d.Objects {
		declared[RefOf(u)] = true
	}
	var orphans []*unstructured.Unstructured
	for _, ref := range sortedRefs(o.Owned) {
		if !declared[ref] {
			orphans = append(orphans, o.Owned[ref])
		}
	}
	if len(orphans) > 0 {
		deleteOrphans(b, orphans, opts.RemoveOrphans)
	}
	return plan, nil
}

// dependencyWaits are the waits a workload's apply comes after.
func dependencyWaits(u *unstructured.Unstructured, deps []Dependency, waitFor func(Ref, string) *Step) []*Step {
	var out []*Step
	for _, dep := range deps {
		out = append(out, waitFor(dep.Ref, fmt.Sprintf("%s depends on it", RefOf(u))))
	}
	return out
}

// deleteOrphans plans deleting the target's objects the stack no longer
// declares (with remove), or warns about them.
func deleteOrphans(b *builder, orphans []*unstructured.Unstructured, remove bool) {
	var workloads []*Step
	for _, pass := range []bool{true, false} {
		for _, obj := range orphans {
			ref := RefOf(obj)
			kind, _ := KindOf(ref.Kind)
			switch {
			case kind.Workload != pass:
			case ref.Kind == "PersistentVolumeClaim":
				b.plan.Warnings = append(b.plan.Warnings, fmt.Sprintf("%s is no longer declared; it is kept with its data ('stack down --target kube --volumes' deletes it)", ref))
			case !remove:
				b.plan.Warnings = append(b.plan.Warnings, fmt.Sprintf("%s is no longer declared ('--remove-orphans' deletes it)", ref))
			case pass:
				workloads = append(workloads, b.add(&Step{Kind: StepDelete, Object: ref, UID: obj.GetUID(), Cause: "no longer declared"}))
			default:
				b.add(&Step{Kind: StepDelete, Object: ref, UID: obj.GetUID(), Cause: "no longer declared"}, workloads...)
			}
		}
	}
}

// mustReplace says why an object cannot be changed in place, or "".
func mustReplace(ref Ref, changes []FieldChange) string {
	switch ref.Kind {
	case "Job":
		return "a Job's pod template cannot change"
	case "Deployment":
		for _, c := range changes {
			if strings.HasPrefix(c.Path, "spec.selector") {
				return "a Deployment's selector cannot change"
			}
		}
	}
	return ""
}

// conflicts reports every desired object whose name is taken by an
// object that is not the target's: nothing is applied over it.
func conflicts(d *Desired, o *Observed) error {
	var lines []string
	for _, u := range d.Objects {
		ref := RefOf(u)
		if other := o.Foreign[ref]; other != nil {
			lines = append(lines, fmt.Sprintf("%s exists in namespace %s and %s", ref, d.Target.Namespace, whose(other)))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("podstack changes only objects labelled as its own, and these names are taken:\n  %s\nrename the services, remove those objects, or deploy to another namespace (--namespace)", strings.Join(lines, "\n  "))
}

// topoOrder lists objects so that the objects a workload reads and the
// workloads it depends on come before it; ties keep sortObjects' order.
func topoOrder(objects []*unstructured.Unstructured, deps map[Ref][]Dependency) ([]*unstructured.Unstructured, error) {
	byRef := map[Ref]*unstructured.Unstructured{}
	for _, u := range objects {
		byRef[RefOf(u)] = u
	}
	state := map[Ref]int{} // 1 visiting, 2 done
	var out []*unstructured.Unstructured
	var path []string
	var visit func(u *unstructured.Unstructured) error
	visit = func(u *unstructured.Unstructured) error {
		ref := RefOf(u)
		switch state[ref] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("dependency cycle: %s -> %s", strings.Join(path, " -> "), ref.Name)
		}
		state[ref] = 1
		path = append(path, ref.Name)
		for _, dep := range deps[ref] {
			if err := visit(byRef[dep.Ref]); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[ref] = 2
		out = append(out, u)
		return nil
	}
	for _, u := range objects {
		if err := visit(u); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DownOptions shape a down plan.
type DownOptions struct {
	// Volumes deletes the target's claims too, and their data with them.
	Volumes bool
}

// Down plans deleting every object of the target: workloads first, each
// before the workloads it depends on, then what they read.
func Down(t Target, o *Observed, opts DownOptions) *Plan {
	plan := &Plan{Target: t}
	b := &builder{plan: plan}
	var workloads []*unstructured.Unstructured
	var others []*unstructured.Unstructured
	for _, ref := range sortedRefs(o.Owned) {
		if k, _ := KindOf(ref.Kind); k.Workload {
			workloads = append(workloads, o.Owned[ref])
		} else {
			others = append(others, o.Owned[ref])
		}
	}
	deps := map[Ref][]Dependency{}
	for _, u := range workloads {
		deps[RefOf(u)], _ = dependencies(u, workloads)
	}
	order, err := topoOrder(workloads, deps)
	if err != nil {
		order = workloads // a cycle on the cluster: delete in name order
	}
	deleted := map[Ref]*Step{}
	for i := len(order) - 1; i >= 0; i-- {
		u := order[i]
		ref := RefOf(u)
		var after []*Step
		for _, other := range order[i+1:] {
			for _, dep := range deps[RefOf(other)] {
				if dep.Ref == ref {
					after = append(after, deleted[RefOf(other)])
				}
			}
		}
		deleted[ref] = b.add(&Step{Kind: StepDelete, Object: ref, UID: u.GetUID(), Cause: "stack down"}, after...)
	}
	for _, u := range others {
		ref := RefOf(u)
		if ref.Kind == "PersistentVolumeClaim" && !opts.Volumes {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s is kept with its data (--volumes deletes it)", ref))
			continue
		}
		var after []*Step
		for _, w := range workloads {
			for _, r := range reads(w) {
				if r == ref {
					after = append(after, deleted[RefOf(w)])
				}
			}
		}
		b.add(&Step{Kind: StepDelete, Object: ref, UID: u.GetUID(), Cause: "stack down"}, after...)
	}
	return plan
}

func sortedRefs(m map[Ref]*unstructured.Unstructured) []Ref {
	out := make([]Ref, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := kindRank(out[i].Kind), kindRank(out[j].Kind)
		if ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
