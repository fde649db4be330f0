package planner

import (
	"errors"

	"github.com/podstack/podstack/stack"
)

// Group assigns every enabled service of s to a pod under policy.
func Group(s *stack.Stack, policy Policy) ([]*Pod, error) {
	return nil, errors.New("planner.Group: not implemented")
}
