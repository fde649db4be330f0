package planner

import "github.com/podstack/podstack/stack"

// Validate checks the stack and its grouping before anything runs and returns
// every problem at once (a stack.Problems), or nil.
func Validate(s *stack.Stack, pods []*Pod) error {
	return nil
}
