package podmanapi

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/specgen"
	spec "github.com/opencontainers/runtime-spec/specs-go"
	nettypes "go.podman.io/common/libnetwork/types"
	netutil "go.podman.io/common/libnetwork/util"
	"go.podman.io/image/v5/manifest"
	"golang.org/x/sys/unix"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// podSpec translates a planner pod. Pods with an infra container carry the
// ports, hostname, hosts and network aliases; an infra-less pod is only a
// group, and its single container carries them (see containerSpec).
func podSpec(p *planner.Pod, s *stack.Stack) *specgen.PodSpecGenerator {
	psg := specgen.NewPodSpecGenerator()
	psg.Name = p.Name
	psg.Labels = p.Labels
	if !p.Infra {
		psg.NoInfra = true
		return psg
	}
	psg.Hostname = p.Hostname
	psg.PortMappings = portMappings(p.Ports)
	psg.HostAdd = p.AddHosts
	switch p.NetworkMode {
	case "host":
		psg.NetNS = specgen.Namespace{NSMode: specgen.Host}
	case "none":
		psg.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
	default:
		// Networks need bridge mode, and rootless Podman defaults to
		// slirp4netns (4.x) or pasta (5.x), where it refuses them: say so.
		if psg.Networks = networks(p); psg.Networks != nil {
			psg.NetNS = specgen.Namespace{NSMode: specgen.Bridge}
		}
	}
	if dns := ips(p.DNS); len(dns) > 0 {
		psg.DNSServer = dns
	}
	psg.DNSSearch, psg.DNSOption = p.DNSSearch, p.DNSOptions
	return psg
}

func networks(p *planner.Pod) map[string]nettypes.PerNetworkOptions {
	if len(p.Networks) == 0 {
		return nil
	}
	out := map[string]nettypes.PerNetworkOptions{}
	for name, aliases := range p.Networks {
		o := nettypes.PerNetworkOptions{Aliases: aliases}
		if a, ok := p.Addresses[name]; ok {
			// The planner validated the addresses.
			for _, ip := range []string{a.IPv4, a.IPv6} {
				if parsed := net.ParseIP(ip); parsed != nil {
					o.StaticIPs = append(o.StaticIPs, parsed)
				}
			}
			if mac, err := net.ParseMAC(a.MAC); err == nil {
				o.StaticMAC = nettypes.HardwareAddr(mac)
			}
			o.InterfaceName = a.Interface
		}
		out[name] = o
	}
	return out
}

// networkSpec is the Podman network a stack network asks for.
func networkSpec(n *stack.Network, labels map[string]string) (*nettypes.Network, error) {
	nw := &nettypes.Network{Name: n.Name, DNSEnabled: true, Internal: n.Internal, IPv6Enabled: n.IPv6,
		Options: n.Options, Labels: mergeLabels(n.Labels, labels)}
	if n.Driver != "" && n.Driver != "bridge" {
		nw.Driver = n.Driver
	}
	if n.IPAMDriver != "" && n.IPAMDriver != "default" {
		nw.IPAMOptions = map[string]string{"driver": n.IPAMDriver}
	}
	for _, sn := range n.Subnets {
		ipnet, err := nettypes.ParseCIDR(sn.Subnet)
		if err != nil {
			return nil, fmt.Errorf("network %s: subnet %q: %w", n.Key, sn.Subnet, err)
		}
		sub := nettypes.Subnet{Subnet: ipnet}
		if sn.Gateway != "" {
			if sub.Gateway = net.ParseIP(sn.Gateway); sub.Gateway == nil {
				return nil, fmt.Errorf("network %s: gateway %q is not an IP address", n.Key, sn.Gateway)
			}
		}
		if sn.IPRange != "" {
			_, r, err := net.ParseCIDR(sn.IPRange)
			if err != nil {
				return nil, fmt.Errorf("network %s: ip_range %q: %w", n.Key, sn.IPRange, err)
			}
			first, _ := netutil.FirstIPInSubnet(r)
			last, _ := netutil.LastIPInSubnet(r)
			sub.LeaseRange = &nettypes.LeaseRange{StartIP: first, EndIP: last}
		}
		nw.Subnets = append(nw.Subnets, sub)
	}
	return nw, nil
}

func portMappings(ports []stack.Port) []nettypes.PortMapping {
	var out []nettypes.PortMapping
	for _, pt := range ports {
		if pt.Published == 0 && !pt.Ephemeral {
			continue
		}
		out = append(out, nettypes.PortMapping{HostIP: pt.HostIP, HostPort: pt.Published,
			ContainerPort: pt.Target, Protocol: pt.Protocol, Range: 1})
	}
	return out
}

// ips parses the addresses the planner validated.
func ips(in []string) []net.IP {
	var out []net.IP
	for _, d := range in {
		if ip := net.ParseIP(d); ip != nil {
			out = append(out, ip)
		}
	}
	return out
}

// containerSpec translates one container of a service. warn reports a
// setting that cannot be carried out (once per service and setting).
func containerSpec(c *planner.Container, p *planner.Pod, s *stack.Stack, image string, secretNames map[string]string, warn func(string)) (*specgen.SpecGenerator, error) {
	svc := c.Spec
	g := specgen.NewSpecGenerator(image, false)
	g.Name = c.Name
	g.Labels = map[string]string{}
	for k, v := range svc.Labels {
		g.Labels[k] = v
	}
	for k, v := range c.Labels {
		g.Labels[k] = v
	}
	if p != nil {
		g.Pod = p.Name
	}
	g.Entrypoint = svc.Entrypoint
	g.Command = svc.Command
	g.Env = svc.Environment
	g.WorkDir = svc.WorkingDir
	g.User = svc.User
	if svc.Tty {
		g.Terminal = &svc.Tty
	}
	if svc.StdinOpen {
		g.Stdin = &svc.StdinOpen
	}
	if svc.Init {
		g.Init = &svc.Init
	}
	if svc.Privileged {
		g.Privileged = &svc.Privileged
	}
	if svc.ReadOnly {
		g.ReadOnlyFilesystem = &svc.ReadOnly
	}
	g.CapAdd, g.CapDrop = svc.CapAdd, svc.CapDrop

	// An infra-less pod's single container carries what the pod would.
	if p != nil && !p.Infra {
		if svc.Hostname != "" {
			g.Hostname = svc.Hostname
		} else {
			g.Hostname = p.Hostname
		}
		g.PortMappings = portMappings(p.Ports)
		g.HostAdd = p.AddHosts
		switch p.NetworkMode {
		case "host":
			g.NetNS = specgen.Namespace{NSMode: specgen.Host}
		case "none":
			g.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
		default:
			if nets := networks(p); nets != nil {
				g.Networks = nets
				g.NetNS = specgen.Namespace{NSMode: specgen.Bridge}
			}
		}
		g.DNSServers = ips(p.DNS)
		g.DNSSearch, g.DNSOptions = p.DNSSearch, p.DNSOptions
	}

	for _, m := range svc.Mounts {
		switch m.Type {
		case stack.MountVolume:
			name := ""
			if m.Source != "" {
				if v := s.Volumes[m.Source]; v != nil {
					name = v.Name
				} else {
					name = m.Source
				}
			}
			opts := []string{}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			nv := &specgen.NamedVolume{Name: name, Dest: m.Target, Options: opts, SubPath: m.SubPath}
			if name == "" {
				g.Volumes = append(g.Volumes, nv)
				continue
			}
			g.Volumes = append(g.Volumes, nv)
		case stack.MountBind:
			opts := []string{"rbind"}
			if m.ReadOnly {
				opts = append(opts, "ro")
			} else {
				opts = append(opts, "rw")
			}
			if m.SELinux != "" {
				opts = append(opts, m.SELinux)
			}
			g.Mounts = append(g.Mounts, spec.Mount{Type: "bind", Source: m.Source, Destination: m.Target, Options: opts})
		case stack.MountTmpfs:
			opts := []string{"rw", "nosuid", "nodev"}
			if m.TmpfsSize > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.TmpfsSize, 10))
			}
			g.Mounts = append(g.Mounts, spec.Mount{Type: "tmpfs", Source: "tmpfs", Destination: m.Target, Options: opts})
		}
	}
	for _, ref := range svc.Secrets {
		name := secretNames["secret/"+ref.Source]
		if name == "" {
			return nil, fmt.Errorf("secret %q has no Podman secret", ref.Source)
		}
		g.Secrets = append(g.Secrets, specgen.Secret{Source: name, Target: ref.Target, UID: atoiU32(ref.UID), GID: atoiU32(ref.GID), Mode: modeOf(ref.Mode)})
	}
	for _, ref := range svc.Configs {
		cfg := s.Configs[ref.Source]
		if cfg != nil && cfg.File != "" {
			g.Mounts = append(g.Mounts, spec.Mount{Type: "bind", Source: cfg.File, Destination: ref.Target, Options: []string{"rbind", "ro"}})
			continue
		}
		name := secretNames["config/"+ref.Source]
		if name == "" {
			warn(fmt.Sprintf("config %q has no file or content podstack can mount; skipped", ref.Source))
			continue
		}
		g.Secrets = append(g.Secrets, specgen.Secret{Source: name, Target: ref.Target, Mode: modeOf(ref.Mode)})
	}

	if h := svc.Health; h != nil {
		g.HealthConfig = &manifest.Schema2HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	if err := restartPolicy(g, svc.Restart); err != nil {
		return nil, err
	}
	if svc.StopSignal != "" {
		sig := unix.SignalNum(normalizeSignal(svc.StopSignal))
		if sig == 0 {
			if n, err := strconv.Atoi(svc.StopSignal); err == nil {
				sig = syscall.Signal(n)
			}
		}
		if sig == 0 {
			return nil, fmt.Errorf("unknown stop_signal %q", svc.StopSignal)
		}
		g.StopSignal = &sig
	}
	if svc.StopGracePeriod != nil {
		t := uint(svc.StopGracePeriod.Seconds())
		g.StopTimeout = &t
	}
	if r := resources(svc.Resources); r != nil {
		g.ResourceLimits = r
	}
	if err := namespacesAndSecurity(g, svc, s); err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(svc.Ulimits) {
		u := svc.Ulimits[name]
		g.Rlimits = append(g.Rlimits, spec.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}
	if len(svc.Sysctls) > 0 {
		g.Sysctl = svc.Sysctls
	}
	for _, d := range svc.Devices {
		g.Devices = append(g.Devices, spec.LinuxDevice{Path: d})
	}
	return g, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func normalizeSignal(s string) string {
	s = strings.ToUpper(s)
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	return s
}

func atoiU32(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

func modeOf(m *uint32) uint32 {
	if m == nil {
		return 0
	}
	return *m
}

func restartPolicy(g *specgen.SpecGenerator, r stack.RestartPolicy) error {
	policy, retries, _ := strings.Cut(string(r), ":")
	switch policy {
	case "":
		return nil
	case "no":
		g.RestartPolicy = define.RestartPolicyNo
	case "always":
		g.RestartPolicy = define.RestartPolicyAlways
	case "unless-stopped":
		g.RestartPolicy = define.RestartPolicyUnlessStopped
	case "on-failure":
		g.RestartPolicy = define.RestartPolicyOnFailure
		if retries != "" {
			n, err := strconv.ParseUint(retries, 10, 32)
			if err != nil {
				return fmt.Errorf("invalid restart retries %q", retries)
			}
			u := uint(n)
			g.RestartRetries = &u
		}
	default:
		return fmt.Errorf("unknown restart policy %q", r)
	}
	return nil
}

func resources(r stack.Resources) *spec.LinuxResources {
	if r.CPUs == 0 && r.MemoryBytes == 0 && r.Pids == 0 && r.MemoryReservation == 0 && r.CPUShares == 0 && r.CPUSet == "" {
		return nil
	}
	out := &spec.LinuxResources{}
	if r.CPUs > 0 || r.CPUShares > 0 || r.CPUSet != "" {
		out.CPU = &spec.LinuxCPU{Cpus: r.CPUSet}
	}
	if r.CPUs > 0 {
		period := uint64(100000)
		quota := int64(r.CPUs * float64(period))
		out.CPU.Quota, out.CPU.Period = &quota, &period
	}
	if r.CPUShares > 0 {
		shares := uint64(r.CPUShares)
		out.CPU.Shares = &shares
	}
	if r.MemoryBytes > 0 || r.MemoryReservation > 0 {
		out.Memory = &spec.LinuxMemory{}
		if r.MemoryBytes > 0 {
			out.Memory.Limit = &r.MemoryBytes
		}
		if r.MemoryReservation > 0 {
			out.Memory.Reservation = &r.MemoryReservation
		}
	}
	if r.Pids > 0 {
		out.Pids = &spec.LinuxPids{Limit: r.Pids}
	}
	return out
}

// namespacesAndSecurity sets pid, ipc, userns, security_opt and the smaller
// process settings. service:NAME namespaces join that service's first
// container, which the plan starts first.
func namespacesAndSecurity(g *specgen.SpecGenerator, svc *stack.Service, s *stack.Stack) error {
	join := func(v string) string {
		if name, ok := strings.CutPrefix(v, "service:"); ok {
			if target := s.Services[name]; target != nil {
				return "container:" + planner.ContainerName(s, target, 1)
			}
		}
		return v
	}
	if svc.PID != "" {
		ns, err := specgen.ParseNamespace(join(svc.PID))
		if err != nil {
			return fmt.Errorf("service %s: pid %q: %w", svc.Name, svc.PID, err)
		}
		g.PidNS = ns
	}
	if svc.IPC != "" {
		ns, err := specgen.ParseIPCNamespace(join(svc.IPC))
		if err != nil {
			return fmt.Errorf("service %s: ipc %q: %w", svc.Name, svc.IPC, err)
		}
		g.IpcNS = ns
	}
	if svc.UsernsMode != "" {
		ns, err := specgen.ParseUserNamespace(svc.UsernsMode)
		if err != nil {
			return fmt.Errorf("service %s: userns_mode %q: %w", svc.Name, svc.UsernsMode, err)
		}
		g.UserNS = ns
	}
	for _, opt := range svc.SecurityOpt {
		o, err := stack.ParseSecurityOpt(opt)
		if err != nil {
			return fmt.Errorf("service %s: %w", svc.Name, err)
		}
		switch o.Key {
		case "no-new-privileges":
			yes := o.Value == "true"
			g.NoNewPrivileges = &yes
		case "label":
			g.SelinuxOpts = append(g.SelinuxOpts, o.Value)
		case "seccomp":
			g.SeccompProfilePath = o.Value
		case "apparmor":
			g.ApparmorProfile = o.Value
		case "mask":
			g.Mask = append(g.Mask, strings.Split(o.Value, ":")...)
		case "unmask":
			g.Unmask = append(g.Unmask, strings.Split(o.Value, ":")...)
		}
	}
	if svc.ShmSize > 0 {
		g.ShmSize = &svc.ShmSize
	}
	g.Groups = svc.GroupAdd
	if svc.OomScoreAdj != 0 {
		g.OOMScoreAdj = &svc.OomScoreAdj
	}
	if svc.Logging != nil {
		driver := svc.Logging.Driver
		if driver == "json-file" {
			driver = "k8s-file" // Podman's file driver; json-file is docker's name for it
		}
		g.LogConfiguration = &specgen.LogConfig{Driver: driver, Options: svc.Logging.Options}
	}
	return nil
}
