package planner

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/podstack/podstack/stack"
)

// Validate checks the stack and its grouping before anything runs and returns
// every problem at once (a stack.Problems), or nil.
func Validate(s *stack.Stack, pods []*Pod) error {
	ix := newIndex(s)
	return validate(s, pods, ix, podsAt(ix, pods), nil, nil)
}

// validate is Validate with s's index, each service's pod by position,
// and, when not nil, the desired containers (see containers).
func validate(s *stack.Stack, pods []*Pod, ix *index, podAt []*Pod, cs []*Container, first []int) error {
	v := &validator{s: s, ix: ix, podAt: podAt, containers: cs, first: first}
	// What only running needs (the files of secrets and configs) comes
	// from loading, which lets the stack load for down and ps anyway.
	v.problems = append(v.problems, s.RunProblems...)
	v.run(pods)
	v.problems = append(v.problems, v.host...)
	return v.problems.Err()
}

// ValidateDefinition runs Validate's checks except those about binding host
// ports here (a host port published twice, replicas with a fixed host
// port): `config` and the exports bind nothing, and Kubernetes publishes
// through Services. Those findings come back apart, as host, for callers
// whose output will bind host ports where it runs (convert, Quadlet) to warn.
func ValidateDefinition(s *stack.Stack, pods []*Pod) (host stack.Problems, err error) {
	ix := newIndex(s)
	v := &validator{s: s, ix: ix, podAt: podsAt(ix, pods)}
	v.run(pods)
	return v.host, v.problems.Err()
}

// podsAt is each service's pod in pods, by position in ix.
func podsAt(ix *index, pods []*Pod) []*Pod {
	byService := podOf(pods)
	out := make([]*Pod, len(ix.names))
	for i, name := range ix.names {
		out[i] = byService[name]
	}
	return out
}

func (v *validator) run(pods []*Pod) {
	v.dependencies()
	v.cycles()
	v.ports(pods)
	v.sharedNamespaces(pods)
	v.names(pods)
	v.addresses(pods)
	v.networks()
	// Messages quote the stack's values: no credential's value is shown.
	for _, ps := range []stack.Problems{v.problems, v.host} {
		for i, p := range ps {
			ps[i].Message, ps[i].Fix = v.s.Scrub(p.Message), v.s.Scrub(p.Fix)
		}
	}
}

// addresses: a static address (ipv4_address, mac_address, ...) belongs to
// one container on one network, so neither replicas nor two members of a
// pod (which share its network identity) may ask for one together.
func (v *validator) addresses(pods []*Pod) {
	if !v.ix.static {
		return
	}
	for _, p := range pods {
		claimed := map[string]string{} // network key -> member asking
		for _, m := range p.Services {
			i := v.ix.position(m)
			if i < 0 || !v.ix.info[i].static {
				continue
			}
			svc := v.ix.svcs[i]
			for _, n := range v.ix.info[i].networks {
				k, sn := n.key, n.ServiceNetwork
				if sn == nil || (sn.IPv4Address == "" && sn.IPv6Address == "" && sn.MACAddress == "") {
					continue
				}
				for _, ip := range []string{sn.IPv4Address, sn.IPv6Address} {
					if ip != "" && net.ParseIP(ip) == nil {
						v.add(m, fmt.Sprintf("network %q: %q is not an IP address", k, ip), "")
					}
				}
				if sn.MACAddress != "" {
					if _, err := net.ParseMAC(sn.MACAddress); err != nil {
						v.add(m, fmt.Sprintf("network %q: %q is not a MAC address", k, sn.MACAddress), "write it as 02:42:ac:11:00:02")
					}
				}
				if n := v.s.Networks[k]; n != nil && sn.IPv4Address != "" && len(n.Subnets) > 0 && !inSubnets(sn.IPv4Address, n.Subnets) {
					v.add(m, fmt.Sprintf("ipv4_address %s is outside the subnets of network %q", sn.IPv4Address, k),
						"pick an address in "+subnetList(n.Subnets))
				}
				if svc.Replicas > 1 {
					v.add(m, fmt.Sprintf("has %d replicas but a static address on network %q: only one container can have it", svc.Replicas, k),
						"drop the replicas or the static address (ipv4_address, ipv6_address, mac_address)")
				}
				if other, ok := claimed[k]; ok {
					v.add(m, fmt.Sprintf("shares pod %q with %q and both set a static address on network %q; a pod has one address per network", p.Key, other, k),
						"set the address on one of them")
				}
				claimed[k] = m
			}
		}
	}
}

type validator struct {
	s     *stack.Stack
	ix    *index
	podAt []*Pod // each service's pod, by position
	// containers are the desired containers, those of the service at
	// position i at [first[i]:first[i+1]]; nil when not made yet.
	containers []*Container
	first      []int
	problems   stack.Problems
	// host are the problems of binding host ports (see ValidateDefinition).
	host stack.Problems
}

func (v *validator) add(service, msg, fix string) {
	var pos stack.Position
	if svc := v.s.Services[service]; svc != nil {
		pos = svc.Source
	}
	v.problems = append(v.problems, stack.Problem{Position: pos, Service: service, Message: msg, Fix: fix})
}

func (v *validator) addHost(service, msg, fix string) {
	v.add(service, msg, fix)
	n := len(v.problems) - 1
	v.host = append(v.host, v.problems[n])
	v.problems = v.problems[:n]
}

// dependencies: targets exist and are enabled; service_healthy needs a
// healthcheck.
func (v *validator) dependencies() {
	for i, name := range v.ix.names {
		for _, d := range v.ix.info[i].deps {
			dep := d.name
			if d.pos < 0 {
				if dis, ok := v.s.Disabled[dep]; ok {
					if !d.Required {
						continue
					}
					fix := "enable it with --profile " + strings.Join(dis.Profiles, " or --profile ")
					v.add(name, fmt.Sprintf("depends on service %q, which is disabled by its profiles (%s)", dep, strings.Join(dis.Profiles, ", ")), fix)
					continue
				}
				v.add(name, fmt.Sprintf("depends on undefined service %q", dep), "")
				continue
			}
			target := v.ix.svcs[d.pos]
			if d.Condition == stack.ConditionHealthy && target.Health == nil {
				v.add(name, fmt.Sprintf("waits for %q to be healthy (service_healthy), but %q has no healthcheck", dep, dep),
					fmt.Sprintf("add a healthcheck to %q or use condition service_started", dep))
			}
		}
	}
}

// cycles reports each dependency cycle once, with its whole path, starting
// from its smallest service name.
func (v *validator) cycles() {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(v.ix.names)) // by position
	var stackPath []int
	seen := map[string]bool{}
	var visit func(n int)
	visit = func(n int) {
		color[n] = grey
		stackPath = append(stackPath, n)
		for _, d := range v.ix.info[n].deps {
			dep := d.pos
			if dep < 0 {
				continue
			}
			switch color[dep] {
			case white:
				visit(dep)
			case grey:
				i := slices.Index(stackPath, dep)
				var names []string
				for _, p := range stackPath[i:] {
					names = append(names, v.ix.names[p])
				}
				cycle := rotateToMin(names)
				key := strings.Join(cycle, ",")
				if !seen[key] {
					seen[key] = true
					path := strings.Join(append(cycle, cycle[0]), " -> ")
					v.add(cycle[0], "dependency cycle: "+path, "remove one of these depends_on entries")
				}
			}
		}
		stackPath = stackPath[:len(stackPath)-1]
		color[n] = black
	}
	for n := range v.ix.names {
		if color[n] == white {
			visit(n)
		}
	}
}

func rotateToMin(c []string) []string {
	min := 0
	for i := range c {
		if c[i] < c[min] {
			min = i
		}
	}
	return append(append([]string(nil), c[min:]...), c[:min]...)
}

// ports: no two containers of a pod on the same container port, and no host
// port published twice in the stack.
func (v *validator) ports(pods []*Pod) {
	type hostKey struct {
		port  uint16
		proto string
	}
	published := map[hostKey][]string{} // -> "service@ip"
	for _, p := range pods {
		if len(p.Services) == 1 && !p.Infra {
			continue // one container, or replicas each in a namespace of their own
		}
		users := map[string][]string{}
		for _, name := range p.Services {
			svc := v.s.Services[name]
			ports := map[string]bool{}
			for _, pt := range svc.Ports {
				ports[fmt.Sprintf("%d/%s", pt.Target, pt.Protocol)] = true
			}
			for _, e := range svc.Expose {
				ports[fmt.Sprintf("%d/tcp", e)] = true
			}
			// Replicas share the namespace only in a pod with an infra container.
			n := 1
			if p.Infra {
				n = svc.Replicas
			}
			for key := range ports {
				for i := 0; i < n; i++ {
					users[key] = append(users[key], name)
				}
			}
		}
		for _, key := range sortedKeys(users) {
			if us := users[key]; len(us) > 1 {
				who := describeUsers(us)
				v.add(us[0], fmt.Sprintf("%s share pod %s and all listen on container port %s", who, p.Name, key),
					"containers of one pod share a network namespace: use different ports, or --pods service to split the pod")
			}
		}
	}
	for i, name := range v.ix.names {
		svc := v.ix.svcs[i]
		for _, pt := range svc.Ports {
			if pt.Published == 0 {
				continue
			}
			ip := pt.HostIP
			if ip == "" || ip == "::" {
				ip = "0.0.0.0"
			}
			k := hostKey{pt.Published, pt.Protocol}
			for _, other := range published[k] {
				oname, oip, _ := strings.Cut(other, "@")
				if oip == ip || oip == "0.0.0.0" || ip == "0.0.0.0" {
					v.addHost(name, fmt.Sprintf("publishes host port %d/%s, which %q publishes too", pt.Published, pt.Protocol, oname),
						"publish a different host port")
				}
			}
			published[k] = append(published[k], name+"@"+ip)
			if svc.Replicas > 1 {
				v.addHost(name, fmt.Sprintf("has %d replicas but publishes fixed host port %d: only one can bind it", svc.Replicas, pt.Published),
					"publish only the container port, or use one replica")
			}
		}
	}
}

func describeUsers(us []string) string {
	count := map[string]int{}
	var order []string
	for _, u := range us {
		if count[u] == 0 {
			order = append(order, u)
		}
		count[u]++
	}
	var parts []string
	for _, u := range order {
		if count[u] > 1 {
			parts = append(parts, fmt.Sprintf("%d replicas of %q", count[u], u))
		} else {
			parts = append(parts, fmt.Sprintf("%q", u))
		}
	}
	return strings.Join(parts, " and ")
}

// sharedNamespaces: a network_mode service: member cannot set what only the
// namespace owner can.
func (v *validator) sharedNamespaces(pods []*Pod) {
	for i, name := range v.ix.names {
		svc := v.ix.svcs[i]
		target, ok := strings.CutPrefix(svc.NetworkMode, "service:")
		if !ok {
			continue
		}
		t := v.ix.position(target)
		if t < 0 {
			if _, dis := v.s.Disabled[target]; dis {
				v.add(name, fmt.Sprintf("network_mode service:%s refers to a service disabled by its profiles", target), "enable its profile")
			}
			continue
		}
		if len(svc.Ports) > 0 {
			v.add(name, fmt.Sprintf("publishes ports but shares the network namespace of %q (network_mode service:%s)", target, target),
				fmt.Sprintf("move the ports to %q", target))
		}
		if svc.Hostname != "" {
			v.add(name, fmt.Sprintf("sets hostname but shares the namespace of %q", target), "remove hostname; the namespace owner sets it")
		}
		if len(svc.Networks) > 0 {
			v.add(name, fmt.Sprintf("joins networks but shares the network namespace of %q", target), "remove networks; it uses those of "+target)
		}
		if svc.Pod != "" && v.s.Services[target].Pod != "" && svc.Pod != v.s.Services[target].Pod {
			v.add(name, fmt.Sprintf("x-pod %q conflicts with network_mode service:%s, which is in x-pod %q", svc.Pod, target, v.s.Services[target].Pod),
				"services sharing a network namespace must be in the same pod")
		}
		if p, q := v.podAt[i], v.podAt[t]; p != nil && q != nil && p != q {
			v.add(name, fmt.Sprintf("shares the network namespace of %q but is grouped into another pod", target), "")
		}
	}
}

// podmanName is what Podman accepts as a container name.
var podmanName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// names: valid DNS labels, no pod named like a container, no duplicates,
// container_name only with one replica.
func (v *validator) names(pods []*Pod) {
	// owner says who claimed a name first: the pod at k (k below
	// len(pods)), else the containers of the service at k-len(pods).
	owner := make(map[string]int, len(pods)+len(v.s.Services))
	claimant := func(k int) (what, service string) {
		if k < len(pods) {
			return "pod", pods[k].Services[0]
		}
		if svc := v.ix.svcs[k-len(pods)]; svc.ContainerName != "" {
			return "container_name", v.ix.names[k-len(pods)]
		}
		return "container", v.ix.names[k-len(pods)]
	}
	claim := func(name string, k int) {
		what, service := claimant(k)
		if what == "container_name" {
			// Chosen by the user: Podman's rule, as docker's (underscores
			// and dots allowed); it is no DNS name, service names are.
			if !podmanName.MatchString(name) {
				v.add(service, fmt.Sprintf("container_name %q is not a valid container name", name),
					"start with a letter or digit; then letters, digits, '_', '.' or '-'")
			}
		} else if errs := dns1123Label(name); len(errs) > 0 {
			v.add(service, fmt.Sprintf("%s name %q is not a valid DNS label: %s", what, name, strings.Join(errs, "; ")),
				"use lowercase letters, digits and '-', at most 63 characters (shorten the project or service name)")
		}
		if prev, ok := owner[name]; ok {
			prevWhat, prevService := claimant(prev)
			v.add(service, fmt.Sprintf("%s name %q collides with the %s of service %q: Podman keeps pods and containers in one name space", what, name, prevWhat, prevService),
				"rename the service or the x-pod")
			return
		}
		owner[name] = k
	}
	for k, p := range pods {
		claim(p.Name, k)
	}
	for i, name := range v.ix.names {
		svc := v.ix.svcs[i]
		if svc.ContainerName != "" && svc.Replicas > 1 {
			v.add(name, fmt.Sprintf("sets container_name %q but has %d replicas: names must be unique", svc.ContainerName, svc.Replicas),
				"remove container_name or use one replica")
		}
		if errs := dns1123Label(normalizeName(name)); len(errs) > 0 {
			v.add(name, fmt.Sprintf("service name %q is not a valid DNS label after normalization: %s", name, strings.Join(errs, "; ")), "")
		}
		if v.containers != nil {
			for _, c := range v.containers[v.first[i]:v.first[i+1]] {
				claim(c.Name, len(pods)+i)
			}
			continue
		}
		for r := 1; r <= svc.Replicas; r++ {
			claim(ContainerName(v.s, svc, r), len(pods)+i)
		}
	}
}

// dns1123Label is validation.IsDNS1123Label, which matches a regular
// expression, with the common case (a valid label) decided without one:
// planning checks thousands of names.
func dns1123Label(name string) []string {
	ok := len(name) > 0 && len(name) <= 63
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		ok = alnum || c == '-' && i > 0 && i < len(name)-1
	}
	if ok {
		return nil
	}
	return validation.IsDNS1123Label(name)
}

func inSubnets(ip string, subnets []stack.Subnet) bool {
	addr := net.ParseIP(ip)
	for _, sn := range subnets {
		if _, n, err := net.ParseCIDR(sn.Subnet); err == nil && addr != nil && n.Contains(addr) {
			return true
		}
	}
	return false
}

func subnetList(subnets []stack.Subnet) string {
	var out []string
	for _, sn := range subnets {
		out = append(out, sn.Subnet)
	}
	return strings.Join(out, ", ")
}

// networks: ipam pools must parse.
func (v *validator) networks() {
	for _, k := range sortedKeys(v.s.Networks) {
		n := v.s.Networks[k]
		add := func(msg, fix string) {
			v.problems = append(v.problems, stack.Problem{Position: n.Source, Message: msg, Fix: fix})
		}
		for _, sn := range n.Subnets {
			if _, _, err := net.ParseCIDR(sn.Subnet); err != nil {
				add(fmt.Sprintf("network %q: subnet %q is not in CIDR form", k, sn.Subnet), "write it as 172.28.0.0/16")
			}
			if sn.IPRange != "" {
				if _, _, err := net.ParseCIDR(sn.IPRange); err != nil {
					add(fmt.Sprintf("network %q: ip_range %q is not in CIDR form", k, sn.IPRange), "write it as 172.28.5.0/24")
				}
			}
			if sn.Gateway != "" && net.ParseIP(sn.Gateway) == nil {
				add(fmt.Sprintf("network %q: gateway %q is not an IP address", k, sn.Gateway), "write it as 172.28.0.1")
			}
		}
	}
}
