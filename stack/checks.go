package stack

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"
)

// Offline checks of values that compose-go accepts and Podman refuses only
// when it creates the container: by then `up` has made the network and the
// pod, so each is caught at load time, with its line and a fix.

// checkService checks the settings of one converted compose service.
func (c *converter) checkService(svc types.ServiceConfig, out *Service, base string) {
	for i, d := range out.DNS {
		if net.ParseIP(d) == nil {
			c.problem(fmt.Sprintf("%s.dns.%d", base, i), svc.Name, fmt.Sprintf("dns %q is not an IP address", d),
				"write the DNS server's address, e.g. 1.1.1.1 (names go in dns_search)")
		}
	}
	c.checkExtraHosts(out.ExtraHosts, base, svc.Name)
	if g := out.StopGracePeriod; g != nil && *g < 0 {
		c.problem(base+".stop_grace_period", svc.Name, fmt.Sprintf("stop_grace_period must not be negative, got %v", *g), "use 0s or more, e.g. 10s")
	}
	if out.StopSignal != "" && !validSignal(out.StopSignal) {
		c.problem(base+".stop_signal", svc.Name, fmt.Sprintf("stop_signal %q is not a signal", out.StopSignal), "use a name such as SIGTERM or SIGINT, or a number")
	}
	c.checkUlimits(out.Ulimits, base, svc.Name)
	negative := func(key string, v float64) {
		if v < 0 {
			c.problem(base+"."+key, svc.Name, fmt.Sprintf("%s must not be negative", key), "use a positive value, or leave it out")
		}
	}
	negative("cpus", float64(svc.CPUS))
	negative("mem_limit", float64(svc.MemLimit))
	negative("mem_reservation", float64(svc.MemReservation))
	negative("shm_size", float64(svc.ShmSize))
	if svc.Deploy != nil {
		if l := svc.Deploy.Resources.Limits; l != nil {
			negative("deploy.resources.limits.cpus", float64(l.NanoCPUs))
			negative("deploy.resources.limits.memory", float64(l.MemoryBytes))
		}
		if r := svc.Deploy.Resources.Reservations; r != nil {
			negative("deploy.resources.reservations.cpus", float64(r.NanoCPUs))
			negative("deploy.resources.reservations.memory", float64(r.MemoryBytes))
		}
	}
	for i, v := range svc.Volumes {
		if !strings.HasPrefix(v.Target, "/") {
			c.problem(fmt.Sprintf("%s.volumes.%d", base, i), svc.Name, fmt.Sprintf("mount target %q is not an absolute path", v.Target),
				`write "SOURCE:/container/path", or "/container/path" for an anonymous volume`)
		}
	}
	for i, t := range svc.Tmpfs {
		_, opts, _ := strings.Cut(t, ":")
		for _, o := range strings.Split(opts, ",") {
			if size, ok := strings.CutPrefix(o, "size="); ok {
				if n, err := units.RAMInBytes(size); err != nil || n < 0 {
					c.problem(fmt.Sprintf("%s.tmpfs.%d", base, i), svc.Name, fmt.Sprintf("tmpfs %s: invalid size %q", t, size), "write a size such as 64m")
				}
			}
		}
	}
}

// problemAt records a problem at a position found otherwise than by path.
// checkExtraHosts checks "HOST:IP" entries of base's extra_hosts (a
// service's, or its build's).
func (c *converter) checkExtraHosts(hosts []string, base, service string) {
	for _, h := range hosts {
		host, ip, _ := strings.Cut(h, ":")
		ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
		if ip != "host-gateway" && net.ParseIP(ip) == nil {
			c.problemAt(c.whereValue(base+".extra_hosts", h, ip, host), service, fmt.Sprintf("extra_hosts %s: %q is not an IP address", host, ip),
				`write "HOST:IP", e.g. "db:10.0.0.5", or "HOST:host-gateway"`)
		}
	}
}

// checkUlimits checks base's ulimits (a service's, or its build's).
func (c *converter) checkUlimits(limits map[string]Ulimit, base, service string) {
	for _, name := range sortedKeysOf(limits) {
		u := limits[name]
		switch {
		case u.Soft < 0 || u.Hard < 0:
			c.problem(base+".ulimits."+name, service, fmt.Sprintf("ulimit %s must not be negative", name), "use 0 or more")
		case u.Soft > u.Hard:
			c.problem(base+".ulimits."+name, service, fmt.Sprintf("ulimit %s: soft limit %d is above the hard limit %d", name, u.Soft, u.Hard),
				"make soft at most hard")
		}
	}
}

func (c *converter) problemAt(pos Position, service, msg, fix string) {
	c.problems = append(c.problems, Problem{Position: pos, Service: service, Message: msg, Fix: fix})
}

// whereValue finds, below path, the first scalar that contains one of
// values (tried in order), for entries compose-go normalizes into a form
// that has no path of its own (extra_hosts lists become maps).
func (c *converter) whereValue(path string, values ...string) Position {
	for i := len(c.files) - 1; i >= 0; i-- {
		f := c.files[i]
		if len(f.docs) == 0 {
			continue
		}
		n := nodeAt(f.docs[0], path)
		if n == nil {
			continue
		}
		for _, v := range values {
			if v == "" {
				continue
			}
			if _, line := findValueIn(n, v); line > 0 {
				return Position{File: f.Name, Line: line}
			}
		}
	}
	return c.where(path)
}

// implicitReferences checks links and volumes_from, which compose-go turns
// into depends_on entries that have no line of their own: an undefined
// target is reported at the entry that names it.
func (c *converter) implicitReferences(s *Stack) Problems {
	var ps Problems
	for _, name := range s.ServiceNames() {
		svc, ok := c.project.Services[name]
		if !ok {
			continue
		}
		check := func(key string, i int, target string) {
			if _, ok := s.Services[target]; ok {
				return
			}
			if _, ok := s.Disabled[target]; ok {
				return
			}
			p := Problem{Position: c.where(fmt.Sprintf("services.%s.%s.%d", name, key, i)), Service: name,
				Message: fmt.Sprintf("%s refers to undefined service %q", key, target)}
			if sug := closest(target, s.ServiceNames()); sug != "" {
				p.Fix = fmt.Sprintf("did you mean %q?", sug)
			}
			ps = append(ps, p)
		}
		for i, l := range svc.Links {
			target, _, _ := strings.Cut(l, ":")
			check("links", i, target)
		}
		for i, v := range svc.VolumesFrom {
			if strings.HasPrefix(v, "container:") {
				continue
			}
			target, _, _ := strings.Cut(v, ":")
			check("volumes_from", i, target)
		}
	}
	return ps
}

var rtSignal = lazyRegexp(`^RTM(IN|AX)([+-]\d+)?$`)

// validSignal accepts what Podman's signal parser does: a name with or
// without SIG, RTMIN+n / RTMAX-n, or a number from 1 to 64.
func validSignal(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n >= 1 && n <= 64
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	return unix.SignalNum("SIG"+name) != 0 || rtSignal().MatchString(name)
}

// runProblems finds what stops the stack from running but not from being
// read: a secret or config file that an enabled service uses and that does
// not exist. (A missing build context is not one: the image may be there
// already, and then nothing is built.) `down` and `ps` still work
// on such a stack; validate, plan and up report them (planner.Validate).
func (c *converter) runProblems(s *Stack) {
	used := map[string]bool{}
	for _, svc := range s.Services {
		for _, r := range svc.Secrets {
			used["secrets."+r.Source] = true
		}
		for _, r := range svc.Configs {
			used["configs."+r.Source] = true
		}
	}
	missing := func(kind, key, file string) {
		path := kind + "s." + key
		if !used[path] || file == "" {
			return
		}
		if _, err := os.Stat(file); err != nil {
			s.RunProblems = append(s.RunProblems, Problem{Position: c.where(path + ".file"),
				Message: fmt.Sprintf("%s %q: cannot read its file %s: %s", kind, key, file, statReason(err)),
				Fix:     "create the file, or correct the path (relative to the stack file's directory)"})
		}
	}
	for _, k := range sortedKeysOf(s.Secrets) {
		if sec := s.Secrets[k]; !sec.External {
			missing("secret", k, sec.File)
		}
	}
	for _, k := range sortedKeysOf(s.Configs) {
		if cf := s.Configs[k]; !cf.External {
			missing("config", k, cf.File)
		}
	}
}

func statReason(err error) string {
	if os.IsNotExist(err) {
		return "no such file"
	}
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// consistency checks references across the project, reporting all at once
// (compose-go's own check stops at the first).
func (c *converter) consistency(s *Stack) Problems {
	var ps Problems
	names := s.ServiceNames()
	for _, name := range names {
		svc := s.Services[name]
		base := "services." + name
		pos := func(path string) Position { return c.where(path) }
		for _, dep := range sortedDeps(svc.DependsOn) {
			if _, ok := s.Services[dep]; ok {
				continue
			}
			if _, ok := s.Disabled[dep]; ok {
				continue // the planner says which profile enables it
			}
			if pos(base+".depends_on").Line == pos(base).Line {
				continue // implied by network_mode, links or volumes_from: reported there
			}
			p := Problem{Position: pos(base + ".depends_on." + dep), Service: name,
				Message: fmt.Sprintf("depends on undefined service %q", dep)}
			if sug := closest(dep, names); sug != "" {
				p.Fix = fmt.Sprintf("did you mean %q?", sug)
			}
			if p.Line == 0 {
				p.Position = pos(base + ".depends_on")
			}
			ps = append(ps, p)
		}
		if target, ok := strings.CutPrefix(svc.NetworkMode, "service:"); ok {
			if _, ok := s.Services[target]; !ok {
				if _, dis := s.Disabled[target]; !dis {
					p := Problem{Position: pos(base + ".network_mode"), Service: name,
						Message: fmt.Sprintf("network_mode refers to undefined service %q", target)}
					if sug := closest(target, names); sug != "" {
						p.Fix = fmt.Sprintf("did you mean %q?", sug)
					}
					ps = append(ps, p)
				}
			}
		}
		for i, m := range svc.Mounts {
			if m.Type == MountVolume && m.Source != "" {
				if _, ok := s.Volumes[m.Source]; !ok {
					ps = append(ps, Problem{Position: pos(fmt.Sprintf("%s.volumes.%d", base, i)), Service: name,
						Message: fmt.Sprintf("refers to undefined volume %q", m.Source),
						Fix:     fmt.Sprintf("declare it under the top-level volumes: (%s: {})", m.Source)})
				}
			}
		}
		for _, n := range sortedKeysOf(svc.Networks) {
			if _, ok := s.Networks[n]; !ok {
				ps = append(ps, Problem{Position: pos(base + ".networks." + n), Service: name,
					Message: fmt.Sprintf("refers to undefined network %q", n),
					Fix:     fmt.Sprintf("declare it under the top-level networks: (%s: {})", n)})
			}
		}
		for i, sec := range svc.Secrets {
			if _, ok := s.Secrets[sec.Source]; !ok {
				ps = append(ps, Problem{Position: pos(fmt.Sprintf("%s.secrets.%d", base, i)), Service: name,
					Message: fmt.Sprintf("refers to undefined secret %q", sec.Source),
					Fix:     fmt.Sprintf("declare it under the top-level secrets: (%s: {file: ./%s.txt})", sec.Source, sec.Source)})
			}
		}
		for i, cf := range svc.Configs {
			if _, ok := s.Configs[cf.Source]; !ok {
				ps = append(ps, Problem{Position: pos(fmt.Sprintf("%s.configs.%d", base, i)), Service: name,
					Message: fmt.Sprintf("refers to undefined config %q", cf.Source),
					Fix:     "declare it under the top-level configs:"})
			}
		}
	}
	return ps
}

func sortedDeps(m map[string]Dependency) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// closest returns the candidate nearest to s by edit distance, if it is
// close enough to be a likely typo.
func closest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := levenshtein(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
