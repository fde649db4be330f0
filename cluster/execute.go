package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/podstack/podstack/planner"
)

// ExecOptions tune how a plan runs.
type ExecOptions struct {
	// DryRun sends every apply and delete as a server-side dry run: the
	// API server admits and validates each, stores nothing, and every
	// rejection is reported (not only the first). Waits are skipped.
	DryRun bool
	// WaitTimeout bounds each wait (0: no limit).
	WaitTimeout time.Duration
	// Poll is how often a wait reads the workload (default 1s).
	Poll time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Execute walks the plan's DAG, running each step once its dependencies
// are done and steps that do not depend on each other at once. It makes
// no decisions. On a failure it starts nothing new and returns the
// failures, each naming its object; in a dry run it tries every step.
func Execute(ctx context.Context, plan *Plan, api API, events planner.Events, opts ExecOptions) error {
	errs := execute(ctx, plan, api, events, opts)
	switch {
	case len(errs) == 1:
		return errs[0]
	case len(errs) > 1:
		return fmt.Errorf("%d steps failed:\n  %s", len(errs), indent(errs))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return nil
}

// indent lists errors one per line, indented under a heading.
func indent(errs []error) string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = strings.ReplaceAll(e.Error(), "\n", "\n  ")
	}
	return strings.Join(lines, "\n  ")
}

// execute runs the plan and returns the failures sorted by message.
func execute(ctx context.Context, plan *Plan, api API, events planner.Events, opts ExecOptions) []error {
	if events == nil {
		events = planner.NoEvents
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	e := &executor{api: api, events: events, opts: opts}
	byID := map[int]*Step{}
	waiting := map[int]int{}
	dependents := map[int][]int{}
	var ready []int
	for _, st := range plan.Steps {
		byID[st.ID] = st
		waiting[st.ID] = len(st.Deps)
		for _, d := range st.Deps {
			dependents[d] = append(dependents[d], st.ID)
		}
		if len(st.Deps) == 0 {
			ready = append(ready, st.ID)
		}
	}
	type result struct {
		id  int
		err error
	}
	results := make(chan result)
	running := 0
	var errs []error
	for len(ready) > 0 || running > 0 {
		for (len(errs) == 0 || opts.DryRun) && ctx.Err() == nil && len(ready) > 0 {
			st := byID[ready[0]]
			ready = ready[1:]
			running++
			go func() { results <- result{st.ID, e.run(ctx, st)} }()
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		if r.err != nil {
			errs = append(errs, r.err)
			if !opts.DryRun {
				continue
			}
		}
		for _, d := range dependents[r.id] {
			if waiting[d]--; waiting[d] == 0 {
				ready = append(ready, d)
				sort.Ints(ready)
			}
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

type executor struct {
	api    API
	events planner.Events
	opts   ExecOptions
}

func (e *executor) emit(st *Step, status planner.Status, text, detail string, elapsed time.Duration) {
	e.events.Emit(planner.Event{Time: e.opts.Now(), StepID: st.ID, Kind: planner.StepKind(st.Kind), Object: st.Object.Kind,
		Resource: st.Object.Name, Status: status, Text: text, Detail: detail, Elapsed: elapsed})
}

func (e *executor) run(ctx context.Context, st *Step) error {
	start := e.opts.Now()
	working, done := "Applying", "Created"
	switch {
	case st.Kind == StepApply && len(st.Changes) > 0:
		done = "Configured"
	case st.Kind == StepDelete:
		working, done = "Deleting", "Deleted"
	case st.Kind == StepWait:
		working, done = "Waiting until "+readyWord(st.Object.Kind), readyTitle(st.Object.Kind)
	}
	if e.opts.DryRun {
		if st.Kind == StepWait {
			e.emit(st, planner.StatusSkipped, "Not waited for in a dry run", "", 0)
			return nil
		}
		done += " (dry run)"
	}
	e.emit(st, planner.StatusWorking, working, "", 0)
	var err error
	switch st.Kind {
	case StepApply:
		_, err = e.api.Apply(ctx, st.Manifest, e.opts.DryRun)
	case StepDelete:
		err = e.api.Delete(ctx, st.Object, st.UID, e.opts.DryRun)
		if errors.Is(err, ErrNotFound) {
			err = nil // gone already: what down wants
		}
	case StepWait:
		err = e.wait(ctx, st)
	}
	elapsed := e.opts.Now().Sub(start)
	if err != nil {
		err = describeError(st, err)
		e.emit(st, planner.StatusFailed, "Failed", err.Error(), elapsed)
		return err
	}
	e.emit(st, planner.StatusDone, done, "", elapsed)
	return nil
}

// wait polls a workload until it is ready for its dependents, fails, or
// the wait times out.
func (e *executor) wait(ctx context.Context, st *Step) error {
	if e.opts.WaitTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.opts.WaitTimeout)
		defer cancel()
	}
	last, seen := "not observed yet", false
	for {
		obj, err := e.api.Get(ctx, st.Object)
		switch {
		case errors.Is(err, ErrNotFound):
			return fmt.Errorf("deleted while podstack waited for it: %w", err)
		case err != nil:
			// A failed read (a network blip, client-side throttling near
			// the deadline) is not the workload's failure: read again.
			if !seen {
				last = err.Error()
			}
		default:
			ok, status, err := Readiness(obj)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
			last, seen = status, true
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("not %s after %s (%s)", readyWord(st.Object.Kind), e.opts.WaitTimeout, last)
			}
			return ctx.Err()
		case <-time.After(e.opts.Poll):
		}
	}
}

func readyWord(kind string) string {
	if kind == "Job" {
		return "complete"
	}
	return "available"
}

func readyTitle(kind string) string {
	if kind == "Job" {
		return "Complete"
	}
	return "Available"
}

// Readiness reports whether a workload is ready for its dependents (a
// Deployment rolled out and available, a Job complete), a short status,
// and an error when it never will be without a change.
func Readiness(obj *unstructured.Unstructured) (bool, string, error) {
	conditions := map[string]map[string]any{}
	list, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			if t, _ := m["type"].(string); t != "" {
				conditions[t] = m
			}
		}
	}
	isTrue := func(t string) bool { return conditions[t] != nil && conditions[t]["status"] == "True" }
	num := func(f ...string) int64 {
		n, _, _ := unstructured.NestedInt64(obj.Object, f...)
		return n
	}
	switch obj.GetKind() {
	case "Deployment":
		want := int64(1)
		if r, ok, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas"); ok {
			want = r
		}
		if num("status", "observedGeneration") < obj.GetGeneration() {
			return false, "change not yet seen by the deployment controller", nil
		}
		if c := conditions["Progressing"]; c != nil && c["reason"] == "ProgressDeadlineExceeded" {
			return false, "", fmt.Errorf("rollout failed: %v", c["message"])
		}
		updated, available, total := num("status", "updatedReplicas"), num("status", "availableReplicas"), num("status", "replicas")
		status := fmt.Sprintf("%d/%d available", available, want)
		switch {
		case updated < want:
			return false, fmt.Sprintf("%d/%d replicas updated", updated, want), nil
		case total > updated:
			return false, fmt.Sprintf("%d old replicas terminating", total-updated), nil
		case available < updated || !isTrue("Available"):
			return false, status, nil
		}
		return true, status, nil
	case "Job":
		if isTrue("Failed") {
			return false, "failed", fmt.Errorf("job failed: %v", conditions["Failed"]["message"])
		}
		if isTrue("Complete") {
			return true, "complete", nil
		}
		return false, fmt.Sprintf("%d running, %d succeeded", num("status", "active"), num("status", "succeeded")), nil
	}
	return true, "", nil
}

// describeError names the step's object and, for a rejection by the API
// server, each field it rejected:
//
//	Deployment/web: spec.template.spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1
func describeError(st *Step, err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		if s.Details != nil && len(s.Details.Causes) > 0 {
			var lines []string
			for _, c := range s.Details.Causes {
				if c.Field != "" {
					lines = append(lines, fmt.Sprintf("%s: %s: %s", st.Object, c.Field, strings.TrimPrefix(c.Message, c.Field+": ")))
				} else {
					lines = append(lines, fmt.Sprintf("%s: %s", st.Object, c.Message))
				}
			}
			return &stepError{step: st, msg: strings.Join(lines, "\n  "), err: err}
		}
		if s.Message != "" {
			return &stepError{step: st, msg: fmt.Sprintf("%s: %s", st.Object, s.Message), err: err}
		}
	}
	what := fmt.Sprintf("%s %s", strings.ToLower(string(st.Kind)), st.Object)
	if st.Kind == StepWait {
		what += " (" + st.Cause + ")"
	}
	return &stepError{step: st, msg: fmt.Sprintf("%s: %v", what, err), err: err}
}

type stepError struct {
	step *Step
	msg  string
	err  error
}

func (e *stepError) Error() string { return e.msg }
func (e *stepError) Unwrap() error { return e.err }
