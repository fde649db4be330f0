package planner

import (
	"slices"

	"github.com/podstack/podstack/stack"
)

// index is what planning asks of a stack many times over, worked out once
// per Reconcile: the enabled services' names in order, and the keys of
// each one's depends_on and networks in order. Sorting the names of 1000
// services, and the keys of each service's small maps, in every phase was
// a fifth of planning a large stack.
type index struct {
	names []string
	of    map[*stack.Service]*serviceIndex // by pointer: hashing names cost more
}

// serviceIndex is what index knows of one service.
type serviceIndex struct {
	deps     []string // depends_on's keys, sorted
	networks []string // networks' keys, sorted
	static   bool     // asks for a fixed address on a network
}

func newIndex(s *stack.Stack) *index {
	ix := &index{names: s.ServiceNames(), of: make(map[*stack.Service]*serviceIndex, len(s.Services))}
	n := 0
	for _, svc := range s.Services {
		n += len(svc.DependsOn) + len(svc.Networks)
	}
	all := make([]string, 0, n) // one array for every service's keys
	infos := make([]serviceIndex, len(ix.names))
	for i, name := range ix.names {
		svc := s.Services[name]
		info := &infos[i]
		info.deps, all = sortedKeysInto(all, svc.DependsOn)
		info.networks, all = sortedKeysInto(all, svc.Networks)
		for _, k := range info.networks {
			if fixedAddress(svc.Networks[k]) {
				info.static = true
			}
		}
		ix.of[svc] = info
	}
	return ix
}

// sortedKeysInto appends m's keys to all and returns them, sorted, as a
// slice of their own (nil for none), and all.
func sortedKeysInto[V any](all []string, m map[string]V) (keys, _ []string) {
	if len(m) == 0 {
		return nil, all
	}
	start := len(all)
	for k := range m {
		all = append(all, k)
	}
	keys = all[start:len(all):len(all)]
	sortStrings(keys)
	return keys, all
}

// depsOf are the names svc depends on, sorted.
func (ix *index) depsOf(svc *stack.Service) []string {
	if len(svc.DependsOn) == 0 {
		return nil
	}
	if info := ix.of[svc]; info != nil {
		return info.deps
	}
	return sortedKeys(svc.DependsOn) // not a service of the indexed stack
}

// networksOf are the keys of svc's networks, sorted.
func (ix *index) networksOf(svc *stack.Service) []string {
	if len(svc.Networks) == 0 {
		return nil
	}
	if info := ix.of[svc]; info != nil {
		return info.networks
	}
	return sortedKeys(svc.Networks)
}

// hasStaticAddress says whether svc asks for a fixed address on a network.
func (ix *index) hasStaticAddress(svc *stack.Service) bool {
	if info := ix.of[svc]; info != nil {
		return info.static
	}
	for _, sn := range svc.Networks {
		if fixedAddress(sn) {
			return true
		}
	}
	return false
}

// fixedAddress says whether a service asks for a fixed address on sn.
func fixedAddress(sn *stack.ServiceNetwork) bool {
	return sn != nil && (sn.IPv4Address != "" || sn.IPv6Address != "" || sn.MACAddress != "")
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
