package planner

import (
	"slices"
	"strings"

	"github.com/podstack/podstack/stack"
)

// index is what planning asks of a stack many times over, worked out once
// per Reconcile: the enabled services in name order, each known by its
// position in that order, and each one's depends_on and networks keys in
// order, its dependencies resolved to positions. Planning keeps what it
// learns of services, containers and pods in slices by position rather
// than in maps by name: looking names up in a dozen maps, and sorting the
// names of 1000 services and the keys of their small maps in every phase,
// were most of planning a large stack.
type index struct {
	names []string
	svcs  []*stack.Service // by position
	info  []serviceIndex   // by position
	// static says some service asks for a fixed address on a network.
	static bool
}

// serviceIndex is what index knows of one service.
type serviceIndex struct {
	deps     []dependency     // depends_on, by name
	networks []serviceNetwork // networks, by key
	static   bool             // asks for a fixed address on a network
}

// serviceNetwork is one entry of a service's networks.
type serviceNetwork struct {
	key string
	*stack.ServiceNetwork
}

// dependency is one depends_on entry: the name, its position (-1 for a
// name that is not an enabled service) and how the dependent waits.
type dependency struct {
	name string
	pos  int
	stack.Dependency
}

func newIndex(s *stack.Stack) *index {
	names := s.ServiceNames()
	ix := &index{names: names, svcs: make([]*stack.Service, len(names)), info: make([]serviceIndex, len(names))}
	nDeps, nNets := 0, 0
	for i, name := range names {
		svc := s.Services[name]
		ix.svcs[i] = svc
		nDeps += len(svc.DependsOn)
		nNets += len(svc.Networks)
	}
	deps := make([]dependency, 0, nDeps) // one array for every service's entries
	nets := make([]serviceNetwork, 0, nNets)
	for i, svc := range ix.svcs {
		info := &ix.info[i]
		if len(svc.DependsOn) > 0 {
			start := len(deps)
			for name, d := range svc.DependsOn {
				deps = append(deps, dependency{name: name, pos: ix.position(name), Dependency: d})
			}
			info.deps = deps[start:len(deps):len(deps)]
			sortDependencies(info.deps)
		}
		info.networks, nets = networksInto(nets, svc)
		for _, n := range info.networks {
			if fixedAddress(n.ServiceNetwork) {
				info.static, ix.static = true, true
			}
		}
	}
	return ix
}

// position is the position of the enabled service name, or -1.
func (ix *index) position(name string) int {
	if i, ok := slices.BinarySearch(ix.names, name); ok {
		return i
	}
	return -1
}

// sortDependencies sorts by name the one- and two-entry lists most are
// without calling into the general sort.
func sortDependencies(d []dependency) {
	switch len(d) {
	case 0, 1:
	case 2:
		if d[1].name < d[0].name {
			d[0], d[1] = d[1], d[0]
		}
	default:
		slices.SortFunc(d, func(a, b dependency) int { return strings.Compare(a.name, b.name) })
	}
}

// networksInto appends svc's networks to all and returns them, sorted by
// key, as a slice of their own (nil for none), and all.
func networksInto(all []serviceNetwork, svc *stack.Service) (nets, _ []serviceNetwork) {
	if len(svc.Networks) == 0 {
		return nil, all
	}
	start := len(all)
	for k, n := range svc.Networks {
		all = append(all, serviceNetwork{k, n})
	}
	nets = all[start:len(all):len(all)]
	switch len(nets) {
	case 1:
	case 2:
		if nets[1].key < nets[0].key {
			nets[0], nets[1] = nets[1], nets[0]
		}
	default:
		slices.SortFunc(nets, func(a, b serviceNetwork) int { return strings.Compare(a.key, b.key) })
	}
	return nets, all
}

// fixedAddress says whether a service asks for a fixed address on sn.
func fixedAddress(sn *stack.ServiceNetwork) bool {
	return sn != nil && (sn.IPv4Address != "" || sn.IPv6Address != "" || sn.MACAddress != "")
}
