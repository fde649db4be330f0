package planner

import (
	"errors"

	"github.com/podstack/podstack/stack"
)

// Reconcile computes the steps that take observed to desired. It is a pure
// function: no I/O, and the same inputs always give the same plan.
func Reconcile(desired *stack.Stack, observed *ObservedState, opts Options) (*Plan, error) {
	return nil, errors.New("planner.Reconcile: not implemented")
}

// PlanDown computes the teardown of a project: stop in reverse dependency
// order, then remove containers, pods, the project networks and (with
// Volumes) its volumes. s may be nil when only the project name is known.
func PlanDown(project string, s *stack.Stack, observed *ObservedState, opts DownOptions) (*Plan, error) {
	return nil, errors.New("planner.PlanDown: not implemented")
}
