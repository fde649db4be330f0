package stack

import (
	"context"
	"errors"
)

// sourceFile is one stack file's name and raw content.
type sourceFile struct {
	Name    string
	Content []byte
}

// loadKube turns Kubernetes YAML documents into a Stack. env is the resolved
// interpolation environment (process env, env files) for ${VAR} substitution.
func loadKube(ctx context.Context, files []sourceFile, env map[string]string, opts LoadOptions) (*Stack, error) {
	return nil, errors.New("kubernetes input: not implemented")
}
