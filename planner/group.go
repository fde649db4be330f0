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
	return Name(s.Name, svc.Name+"-"+strconv.Itoa(index))
}

// Group assigns every enabled service of s to a pod under policy.
// Services joined by network_mode "service:X" always share a pod: they share
// a network namespace, which in Podman means a pod. pid and ipc "service:X"
// do too: Podman only joins namespaces within a pod.
func Group(s *stack.Stack, policy Policy) ([]*Pod, error) {
	return group(s, policy, newIndex(s))
}

// group is Group with s's index.
func group(s *stack.Stack, policy Policy, ix *index) ([]*Pod, error) {
	names := ix.names
	policy, err := resolvePolicy(s, policy)
	if err != nil {
		return nil, err
	}
	parent := make(map[string]string, len(names))
	for _, n := range names {
		parent[n] = n
	}
	var find func(string) string
	find = func(n string) string {
		for parent[n] != n {
			parent[n] = parent[parent[n]]
			n = parent[n]
		}
		return n
	}
	union := func(a, b string) {
		ra, rb := find(a), find(b)
		if ra == rb {
			return
		}
		if rb < ra {
			ra, rb = rb, ra
		}
		parent[rb] = ra
	}
	for _, n := range names {
		svc := s.Services[n]
		// Podman lets a container of a pod join only namespaces of that
		// pod's members: pid and ipc service:X share the pod too.
		owners := svc.NamespaceOwners()
		if target, ok := strings.CutPrefix(svc.NetworkMode, "service:"); ok {
			owners = append(owners, target)
		}
		for _, target := range owners {
			if _, exists := s.Services[target]; exists {
				union(n, target)
			}
		}
	}
	byPod := map[string]string{}
	for _, n := range names {
		pod := s.Services[n].Pod
		if pod == "" {
			continue
		}
		// Kubernetes Pods always stay whole: their containers expect localhost.
		if policy == PolicyAuto || s.Format == stack.FormatKube {
			if first, ok := byPod[pod]; ok {
				union(first, n)
			} else {
				byPod[pod] = n
			}
			// x-pod naming a service means "share that service's pod".
			if joinsService(s, pod) {
				union(n, pod)
			}
		}
	}
	if policy == PolicyProject {
		for _, n := range names[1:] {
			union(names[0], n)
		}
	}

	groups := make(map[string][]string, len(names))
	for _, n := range names {
		r := find(n)
		groups[r] = append(groups[r], n)
	}
	var pods []*Pod
	for _, members := range groups {
		sort.Strings(members)
		pods = append(pods, buildPod(s, ix, podKey(s, policy, members), members))
	}
	slices.SortFunc(pods, func(a, b *Pod) int { return strings.Compare(a.Key, b.Key) })
	return pods, nil
}

// podKey names a group: the project pod, the x-pod/kube pod name, the
// service the others share a namespace with, or the single service.
func podKey(s *stack.Stack, policy Policy, members []string) string {
	if policy == PolicyProject {
		return projectPodKey
	}
	if policy == PolicyAuto || s.Format == stack.FormatKube {
		// A pod name wins over a service that others joined by naming it.
		joined := ""
		for _, m := range members {
			p := s.Services[m].Pod
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
	for _, m := range members {
		if !strings.HasPrefix(s.Services[m].NetworkMode, "service:") {
			return m
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

func buildPod(s *stack.Stack, ix *index, key string, members []string) *Pod {
	p := &Pod{Key: key, Name: Name(s.Name, key), Services: members, Networks: map[string][]string{}}
	hostname, mixed := "", false // the members' hostname, if they set one and only one
	for _, m := range members {
		svc := s.Services[m]
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
	for _, m := range members {
		svc := s.Services[m]
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
		for _, m := range members {
			svc := s.Services[m]
			keys := ix.networksOf(svc)
			if len(keys) == 0 && !strings.HasPrefix(svc.NetworkMode, "service:") {
				keys = []string{"default"}
			}
			for _, k := range keys {
				n := s.Networks[k]
				if n == nil {
					continue
				}
				aliases := p.Networks[n.Name]
				if aliases == nil {
					aliases = common
				}
				sn := svc.Networks[k]
				if sn != nil {
					aliases = append(append([]string(nil), aliases...), sn.Aliases...)
				}
				p.Networks[n.Name] = uniqueSorted(aliases)
				if sn != nil && (sn.IPv4Address != "" || sn.IPv6Address != "" || sn.MACAddress != "" || sn.InterfaceName != "") {
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
	return p
}

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
	return containers(s, newIndex(s), podOf(pods))
}

// containers is Containers with s's index and each service's pod.
func containers(s *stack.Stack, ix *index, byService map[string]*Pod) []*Container {
	n := 0
	for _, svc := range s.Services {
		n += svc.Replicas
	}
	out := make([]*Container, 0, n)
	for _, name := range ix.names {
		svc := s.Services[name]
		pod := byService[name]
		hash := containerHashKeys(s, svc, pod, ix.networksOf(svc)) // replicas share their service's configuration
		for i := 1; i <= svc.Replicas; i++ {
			c := &Container{Name: ContainerName(s, svc, i), Service: name, Index: i, Spec: svc}
			if pod != nil {
				c.Pod = pod.Name
			}
			c.Hash = hash
			podKey := ""
			if pod != nil {
				podKey = pod.Key
			}
			c.Labels = Labels(s.Name, s.Environment, LabelService, name, LabelComposeService, name,
				LabelNumber, strconv.Itoa(i), LabelConfigHash, c.Hash, LabelPod, podKey)
			out = append(out, c)
		}
	}
	return out
}
