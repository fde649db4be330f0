package stack

import (
	"context"
	"errors"
)

// Load reads the stack files opts names (or discovers them), detects their
// format from content, resolves the environment and returns the normalized
// stack, or every problem found.
func Load(ctx context.Context, opts LoadOptions) (*Stack, error) {
	_ = loadKube
	return nil, errors.New("stack.Load: not implemented")
}
