package cluster

import (
	"context"

	"github.com/podstack/podstack/planner"
)

// PlanUp observes the target in the namespace and plans the way to d.
// With validate, every apply and delete of the plan is also sent as a
// server-side dry run, so what the API server's admission and validation
// would reject is reported, all of it, before anything changes.
func PlanUp(ctx context.Context, api API, d *Desired, opts Options, validate bool) (*Plan, error) {
	observed, err := Observe(ctx, api, d.Target, d.Objects)
	if err != nil {
		return nil, err
	}
	plan, err := Up(d, observed, opts)
	if err != nil {
		return nil, err
	}
	if validate {
		if err := Validate(ctx, api, plan); err != nil {
			return plan, err
		}
	}
	return plan, nil
}

// Validate sends every write of the plan as a server-side dry run and
// returns every rejection, each naming its object and field. An apply
// that follows a delete of the same object (a replacement) is not sent:
// the server would judge it against the object still there.
func Validate(ctx context.Context, api API, plan *Plan) error {
	check := &Plan{Target: plan.Target}
	deleted := map[Ref]bool{}
	for _, st := range plan.Steps {
		switch {
		case st.Kind == StepWait:
		case st.Kind == StepApply && deleted[st.Object]:
		default:
			if st.Kind == StepDelete {
				deleted[st.Object] = true
			}
			c := *st
			c.Deps = nil
			check.Steps = append(check.Steps, &c)
		}
	}
	if errs := execute(ctx, check, api, planner.NoEvents, ExecOptions{DryRun: true}); len(errs) > 0 {
		return &rejected{errs: errs}
	}
	return ctx.Err()
}

// Deploy makes the namespace hold d: observe, plan, validate the whole
// plan with a server-side dry run, then execute it. A plan that changes
// nothing sends no write. It returns the plan, also on failure.
func Deploy(ctx context.Context, api API, d *Desired, opts Options, exec ExecOptions, events planner.Events) (*Plan, error) {
	plan, err := PlanUp(ctx, api, d, opts, true)
	if err != nil || exec.DryRun {
		return plan, err
	}
	return plan, Execute(ctx, plan, api, events, exec)
}

// Remove deletes every object of the target from the namespace (claims
// only with opts.Volumes). It needs no stack file: the labels find them.
func Remove(ctx context.Context, api API, t Target, opts DownOptions, exec ExecOptions, events planner.Events) (*Plan, error) {
	observed, err := Observe(ctx, api, t, nil)
	if err != nil {
		return nil, err
	}
	plan := Down(t, observed, opts)
	if exec.DryRun {
		return plan, Validate(ctx, api, plan)
	}
	return plan, Execute(ctx, plan, api, events, exec)
}

// rejected is what the API server refused in a dry run.
type rejected struct{ errs []error }

func (r *rejected) Error() string {
	return "the API server rejects the change (nothing was changed):\n  " + indent(r.errs)
}

func (r *rejected) Unwrap() []error { return r.errs }
