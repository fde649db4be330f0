package planner

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/podstack/podstack/stack"
)

// projectPodKey is the pod key under PolicyProject.
const projectPodKey = "pod"

// resolvePolicy applies the default: the stack's x-podstack.pods, else auto.
func resolvePolicy(s *stack.Stack, p Policy) (Policy, error) {
	if p == "" {
		p = Policy(s.Options.Pods)
	}
	if p == "" {
		p = PolicyAuto
	}
	if slices.Contains(stack.PodPolicies, string(p)) {
		return p, nil
	}
	return "", stack.Problems{{Message: fmt.Sprintf("invalid pod policy %q", p), Fix: stack.PodPolicyFix}}
}

// Name joins the project and an object key into a Podman name, normalized
// to a DNS-1123 label (lowercase, '_' and '.' become '-'): pod names are
// resolved through DNS, so they must be valid host names.
func Name(project, key string) string {
	return normalizeName(project + "-" + key)
}

func normalizeName(s string) string {
	normal := true
	for i := 0; i < len(s) && normal; i++ {
		c := s[i]
		normal = c < utf8.RuneSelf && !('A' <= c && c <= 'Z') && c != '_' && c != '.'
	}
	if normal {
		return s
	}
	s = strings.ToLower(s)
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '.' {
			return '-'
		}
		return r
	}, s)
}

// ContainerName is the name of replica index (from 1) of a service.
func ContainerName(s *stack.Stack, svc *stack.Service, index int) string {
	if svc.ContainerName != "" {
		return svc.ContainerName
	}
	return normalizeName(s.Name + "-" + svc.Name + "-" + strconv.Itoa(index)) // Name, in one concatenation
}

// Group assigns every enabled service of s to a pod under policy.
// Services joined by network_mode "service:X" always share a pod: they share
// a network namespace, which in Podman means a pod. pid and ipc "service:X"
// do too: Podman only joins namespaces within a pod.
func Group(s *stack.Stack, policy Policy) ([]*Pod, error) {
	pods, _, err := group(s, policy, newIndex(s), nil)
	return pods, err
}

// group is Group with s's index. podAt is the position in pods of each
// service's pod, by the service's position in ix. built, when not nil,
// is called with each pod once it is made and the positions of its
// members: Reconcile makes their containers then, while what it reads of
// the services is still in the processor's cache (on a large stack, a
// pass of its own over the services cost up to a tenth more).
func group(s *stack.Stack, policy Policy, ix *index, built func(p *Pod, members []int)) (pods []*Pod, podAt []int, err error) {
	names := ix.names
	policy, err = resolvePolicy(s, policy)
	if err != nil {
		return nil, nil, err
	}
	// Union-find over positions: a set's root is its smallest name, which
	// is its smallest position.
	parent := make([]int, len(names))
	for i := range parent {
		parent[i] = i
	}
	find := func(n int) int {
		for parent[n] != n {
			parent[n] = parent[parent[n]]
			n = parent[n]
		}
		return n
	}
	union := func(a, b int) {
		ra, rb := find(a), find(b)
		if ra == rb {
			return
		}
		if rb < ra {
			ra, rb = rb, ra
		}
		parent[rb] = ra
	}
	for i, svc := range ix.svcs {
		// Podman lets a container of a pod join only namespaces of that
		// pod's members: pid and ipc service:X share the pod too.
		owners := svc.NamespaceOwners()
		if target, ok := strings.CutPrefix(svc.NetworkMode, "service:"); ok {
			owners = append(owners, target)
		}
		for _, target := range owners {
			if t := ix.position(target); t >= 0 {
				union(i, t)
			}
		}
	}
	byPod := map[string]int{}
	for i, svc := range ix.svcs {
		pod := svc.Pod
		if pod == "" {
			continue
		}
		// Kubernetes Pods always stay whole: their containers expect localhost.
		if policy == PolicyAuto || s.Format == stack.FormatKube {
			if first, ok := byPod[pod]; ok {
				union(first, i)
			} else {
				byPod[pod] = i
			}
			// x-pod naming a service means "share that service's pod".
			if joinsService(s, pod) {
				union(i, ix.position(pod))
			}
		}
	}
	if policy == PolicyProject {
		for i := 1; i < len(names); i++ {
			union(0, i)
		}
	}

	// Each set's members, in position (so name) order, as pieces of one
	// array.
	root := make([]int, len(names))
	start := make([]int, len(names)+1) // a root's first member, counted first
	roots := 0
	for i := range names {
		root[i] = find(i)
		start[root[i]+1]++
		if root[i] == i {
			roots++
		}
	}
	for i := range names {
		start[i+1] += start[i]
	}
	memberNames := make([]string, len(names))
	memberPos := make([]int, len(names))
	fill := make([]int, len(names))
	for i, r := range root {
		memberNames[start[r]+fill[r]] = names[i]
		memberPos[start[r]+fill[r]] = i
		fill[r]++
	}
	type made struct {
		pod     *Pod
		members []int
	}
	groups := make([]made, 0, roots)
	all := make([]Pod, roots) // one allocation for every pod
	for r := range names {
		if root[r] != r {
			continue
		}
		lo, hi := start[r], start[r]+fill[r]
		members := memberNames[lo:hi:hi]
		p := &all[len(groups)]
		buildPod(s, ix, p, podKey(s, ix, policy, members, memberPos[lo:hi]), members, memberPos[lo:hi])
		if built != nil {
			built(p, memberPos[lo:hi])
		}
		groups = append(groups, made{p, memberPos[lo:hi]})
	}
	slices.SortFunc(groups, func(a, b made) int { return strings.Compare(a.pod.Key, b.pod.Key) })
	pods = make([]*Pod, len(groups))
	podAt = root // the roots are read no more
	for k, g := range groups {
		pods[k] = g.pod
		for _, i := range g.members {
			podAt[i] = k
		}
	}
	return pods, podAt, nil
}

// podKey names a group: the project pod, the x-pod/kube pod name, the
// service the others share a namespace with, or the single service.
// members are the names of its services, sorted, at positions pos.
func podKey(s *stack.Stack, ix *index, policy Policy, members []string, pos []int) string {
	if policy == PolicyProject {
		return projectPodKey
	}
	if policy == PolicyAuto || s.Format == stack.FormatKube {
		// A pod name wins over a service that others joined by naming it.
		joined := ""
		for _, i := range pos {
			p := ix.svcs[i].Pod
			switch {
			case p == "":
			case !joinsService(s, p):
				return p
			case joined == "" || p < joined:
				joined = p
			}
		}
		if joined != "" {
			return joined
		}
	}
	for k, i := range pos {
		if !strings.HasPrefix(ix.svcs[i].NetworkMode, "service:") {
			return members[k]
		}
	}
	return members[0]
}

// joinsService reports whether x-pod value pod names a service of the
// (compose) stack: the user asks to share that service's pod, whose name is
// the service's. In Kubernetes input the pod is always the Pod document.
func joinsService(s *stack.Stack, pod string) bool {
	_, ok := s.Services[pod]
	return ok && s.Format != stack.FormatKube
}

// buildPod makes p the pod key of the services members, sorted, at
// positions pos.
func buildPod(s *stack.Stack, ix *index, p *Pod, key string, members []string, pos []int) {
	*p = Pod{Key: key, Name: Name(s.Name, key), Services: members, Networks: map[string][]string{}}
	hostname, mixed := "", false // the members' hostname, if they set one and only one
	for _, i := range pos {
		svc := ix.svcs[i]
		p.Ports = append(p.Ports, svc.Ports...)
		switch h := svc.Hostname; {
		case h == "":
		case hostname == "":
			hostname = h
		case h != hostname:
			mixed = true
		}
		switch svc.NetworkMode {
		case "host", "none":
			p.NetworkMode = svc.NetworkMode
		}
	}
	// Only services that share a pod need its shared namespace. Replicas of
	// a lone service each keep their own (as in docker compose) and all
	// answer to the service name, so they may listen on the same port.
	p.Infra = len(members) > 1
	p.Hostname = key
	if hostname != "" && !mixed {
		p.Hostname = hostname
	}
	if len(members) > 1 {
		for _, m := range members {
			p.AddHosts = append(p.AddHosts, m+":127.0.0.1")
		}
	}
	for _, i := range pos {
		svc := ix.svcs[i]
		p.AddHosts = append(p.AddHosts, svc.ExtraHosts...)
		p.DNS = append(p.DNS, svc.DNS...)
		p.DNSSearch = append(p.DNSSearch, svc.DNSSearch...)
		p.DNSOptions = append(p.DNSOptions, svc.DNSOptions...)
	}
	if p.NetworkMode == "" {
		// Every member is reachable at the pod's address, so every member
		// (and the pod key) is an alias on every network the pod joins;
		// a member's declared aliases only on the network it declares them
		// for, as in docker compose.
		common := make([]string, 0, len(members)+1)
		common = append(common, members...)
		if key != projectPodKey {
			common = append(common, key)
		}
		for _, i := range pos {
			svc := ix.svcs[i]
			nets := ix.info[i].networks
			if len(nets) == 0 && !strings.HasPrefix(svc.NetworkMode, "service:") {
				nets = defaultNetworks
			}
			for _, sn := range nets {
				n := s.Networks[sn.key]
				if n == nil {
					continue
				}
				aliases := p.Networks[n.Name]
				if aliases == nil {
					aliases = common
				}
				if sn.ServiceNetwork != nil && len(sn.Aliases) > 0 {
					aliases = append(append([]string(nil), aliases...), sn.Aliases...)
				}
				p.Networks[n.Name] = uniqueSorted(aliases)
				if sn.ServiceNetwork != nil && (sn.IPv4Address != "" || sn.IPv6Address != "" || sn.MACAddress != "" || sn.InterfaceName != "") {
					if p.Addresses == nil {
						p.Addresses = map[string]Address{}
					}
					p.Addresses[n.Name] = Address{IPv4: sn.IPv4Address, IPv6: sn.IPv6Address, MAC: sn.MACAddress, Interface: sn.InterfaceName}
				}
			}
		}
	}
	p.Hash = podHash(p)
	p.Labels = Labels(s.Name, s.Environment, LabelPod, key, LabelConfigHash, p.Hash)
}

// defaultNetworks are the networks of a service that names none.
var defaultNetworks = []serviceNetwork{{key: "default"}}

func uniqueSorted(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, v := range in {
		if i == 0 || v != in[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// podOf maps each service to its pod.
func podOf(pods []*Pod) map[string]*Pod {
	n := 0
	for _, p := range pods {
		n += len(p.Services)
	}
	out := make(map[string]*Pod, n)
	for _, p := range pods {
		for _, svc := range p.Services {
			out[svc] = p
		}
	}
	return out
}

// PodOf returns the pod of service in the plan, or nil.
func (p *Plan) PodOf(service string) *Pod {
	return podOf(p.Pods)[service]
}

// Containers lists the desired containers of every enabled service, in
// service then replica order, with their labels and hashes.
func Containers(s *stack.Stack, pods []*Pod) []*Container {
	ix := newIndex(s)
	byService := podOf(pods)
	cs := newContainerSet(s, ix)
	for i, name := range ix.names {
		cs.add(i, byService[name])
	}
	return cs.out
}

// containerSet makes the desired containers of s's services, one service
// at a time, in any order.
type containerSet struct {
	s  *stack.Stack
	ix *index
	// out are the containers in service then replica order, those of the
	// service at position i at out[first[i]:first[i+1]].
	out   []*Container
	first []int
	all   []Container // one allocation for every container
}

func newContainerSet(s *stack.Stack, ix *index) *containerSet {
	cs := &containerSet{s: s, ix: ix, first: make([]int, len(ix.names)+1)}
	for i, svc := range ix.svcs {
		cs.first[i+1] = cs.first[i] + max(svc.Replicas, 0)
	}
	n := cs.first[len(ix.names)]
	cs.out, cs.all = make([]*Container, n), make([]Container, n)
	return cs
}

// add makes the containers of the service at position i, in pod.
func (cs *containerSet) add(i int, pod *Pod) {
	s, svc, name := cs.s, cs.ix.svcs[i], cs.ix.names[i]
	hash := containerHashOf(s, svc, pod, cs.ix.info[i].networks) // replicas share their service's configuration
	podName, podKey := "", ""
	if pod != nil {
		podName, podKey = pod.Name, pod.Key
	}
	for r := 1; r <= svc.Replicas; r++ {
		j := cs.first[i] + r - 1
		c := &cs.all[j]
		*c = Container{Name: ContainerName(s, svc, r), Service: name, Index: r, Spec: svc, Pod: podName, Hash: hash}
		c.Labels = Labels(s.Name, s.Environment, LabelService, name, LabelComposeService, name,
			LabelNumber, strconv.Itoa(r), LabelConfigHash, c.Hash, LabelPod, podKey)
		cs.out[j] = c
	}
}
