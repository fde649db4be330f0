package planner

import (
	"slices"

	"github.com/podstack/podstack/stack"
)

// index is what planning asks of a stack many times over, worked out once
// per Reconcile: the enabled services' names in order, and each one's
// depends_on keys in order. Sorting the names of 1000 services, and the
// keys of each service's small depends_on map, in every phase was a fifth
// of planning a large stack.
type index struct {
	names []string
	deps  map[*stack.Service][]string // looked up by pointer: hashing names cost more
}

func newIndex(s *stack.Stack) *index {
	ix := &index{names: s.ServiceNames(), deps: make(map[*stack.Service][]string, len(s.Services))}
	n := 0
	for _, svc := range s.Services {
		n += len(svc.DependsOn)
	}
	all := make([]string, 0, n) // one array for every service's keys
	for _, name := range ix.names {
		svc := s.Services[name]
		if len(svc.DependsOn) == 0 {
			continue
		}
		start := len(all)
		for dep := range svc.DependsOn {
			all = append(all, dep)
		}
		keys := all[start:len(all):len(all)]
		sortStrings(keys)
		ix.deps[svc] = keys
	}
	return ix
}

// depsOf are the names svc depends on, sorted.
func (ix *index) depsOf(svc *stack.Service) []string {
	if len(svc.DependsOn) == 0 {
		return nil
	}
	if keys, ok := ix.deps[svc]; ok {
		return keys
	}
	return sortedKeys(svc.DependsOn) // not a service of the indexed stack
}

// sortStrings sorts the one- and two-element slices most are without
// calling into the general sort.
func sortStrings(s []string) {
	switch len(s) {
	case 0, 1:
	case 2:
		if s[1] < s[0] {
			s[0], s[1] = s[1], s[0]
		}
	default:
		slices.Sort(s)
	}
}
