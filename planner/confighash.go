package planner

import "github.com/podstack/podstack/stack"

// ConfigHashes are the config hashes of the stack's enabled services, as
// their containers carry them (LabelConfigHash) when grouped into pods:
// `stack config --hash` prints them, so a user can tell which services
// the next up recreates. A service scaled to zero has one too.
func ConfigHashes(s *stack.Stack, pods []*Pod) map[string]string {
	byService := podOf(pods)
	out := make(map[string]string, len(s.Services))
	for name, svc := range s.Services {
		out[name] = containerHash(s, svc, byService[name])
	}
	return out
}
