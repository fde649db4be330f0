package main

import (
	"context"
	"errors"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/podmanapi"
	"github.com/podstack/podstack/stack"
)

// attach follows the services' logs until the context is cancelled, then
// stops the stack gracefully.
func attach(ctx context.Context, g *globalOptions, c *podmanapi.Client, s *stack.Stack, opts planner.Options) error {
	return errors.New("attached mode is not available yet: use 'stack up -d' and 'stack logs -f'")
}
