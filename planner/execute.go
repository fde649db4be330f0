package planner

import (
	"context"
	"errors"
)

// Execute walks the plan's DAG with bounded parallelism, emitting progress
// events. It makes no decisions: every step it runs is in the plan. On the
// first failure it schedules nothing new, lets running steps finish and
// returns an error naming the failed step.
func Execute(ctx context.Context, plan *Plan, rt Runtime, events Events, opts ExecOptions) error {
	return errors.New("planner.Execute: not implemented")
}
