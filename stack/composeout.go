package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// MarshalCompose writes the stack as a compose file ("yaml" or "json")
// that docker compose and podstack both read back to the same stack:
// everything is resolved (interpolation, env_file, overrides, extends,
// defaults such as healthcheck timings), relative paths are absolute, a
// literal $ is written $$ so that reading it back does not interpolate it,
// and services switched off by profiles are kept with their profiles. What
// podstack does not carry (the keys load warned about) is not written.
// With Placeholders (LoadOptions.KeepVars), the ${VAR} expressions come
// back instead of their values.
//
// A Kubernetes stack is written as compose too: its pods join the
// project's default network, as compose services do, and a container port
// published nowhere becomes expose. A secret whose content came inline
// from a Kubernetes Secret, which a compose file cannot hold, is an error.
func (s *Stack) MarshalCompose(format string) ([]byte, error) {
	p, err := s.composeProject()
	if err != nil {
		return nil, err
	}
	data, err := p.MarshalYAML()
	if err != nil {
		return nil, fmt.Errorf("render compose: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("render compose: %w", err)
	}
	escapeDollars(&doc)
	switch format {
	case "json":
		var v any
		if err := doc.Decode(&v); err != nil {
			return nil, fmt.Errorf("render compose: %w", err)
		}
		data, err = json.MarshalIndent(v, "", "  ")
		data = append(data, '\n')
	default:
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		err = enc.Encode(&doc)
		data = b.Bytes()
	}
	if err != nil {
		return nil, fmt.Errorf("render compose: %w", err)
	}
	return s.Placeholders.Restore(data), nil
}

// escapeDollars doubles every $ in the document's string values: they are
// resolved values, and compose would interpolate them again.
func escapeDollars(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			escapeDollars(c)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			escapeDollars(n.Content[i])
		}
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			n.Value = strings.ReplaceAll(n.Value, "$", "$$")
		}
	}
}

// composeProject is the stack as compose-go's model.
func (s *Stack) composeProject() (*types.Project, error) {
	p := &types.Project{Name: s.Name, Services: types.Services{}}
	var problems Problems
	defaultNetwork := false
	add := func(svc *Service) {
		cs := composeService(svc)
		if cs.NetworkMode == "" && len(cs.Networks) == 0 {
			// Compose puts such a service on the project's default
			// network (Kubernetes input has none): say so.
			cs.Networks = map[string]*types.ServiceNetworkConfig{"default": {}}
			defaultNetwork = true
		}
		p.Services[svc.Name] = cs
	}
	for _, name := range sortedKeysOf(s.Services) {
		add(s.Services[name])
	}
	for _, name := range sortedKeysOf(s.Disabled) {
		add(s.Disabled[name])
	}
	if len(s.Volumes) > 0 {
		p.Volumes = types.Volumes{}
		for key, v := range s.Volumes {
			vc := types.VolumeConfig{Name: v.Name, Driver: v.Driver, DriverOpts: v.Options, External: types.External(v.External), Labels: v.Labels}
			if v.Size != "" {
				vc.Extensions = types.Extensions{"x-size": v.Size}
			}
			p.Volumes[key] = vc
		}
	}
	if len(s.Networks) > 0 {
		p.Networks = types.Networks{}
		for key, n := range s.Networks {
			nc := types.NetworkConfig{Name: n.Name, Driver: n.Driver, DriverOpts: n.Options, Internal: n.Internal,
				External: types.External(n.External), Labels: n.Labels, Ipam: types.IPAMConfig{Driver: n.IPAMDriver}}
			if n.IPv6 {
				nc.EnableIPv6 = ptr(true)
			}
			for _, sn := range n.Subnets {
				nc.Ipam.Config = append(nc.Ipam.Config, &types.IPAMPool{Subnet: sn.Subnet, Gateway: sn.Gateway, IPRange: sn.IPRange})
			}
			p.Networks[key] = nc
		}
	}
	if _, ok := p.Networks["default"]; defaultNetwork && !ok {
		if p.Networks == nil {
			p.Networks = types.Networks{}
		}
		p.Networks["default"] = types.NetworkConfig{Name: s.Name + "_default"}
	}
	if len(s.Secrets) > 0 {
		p.Secrets = types.Secrets{}
		for _, key := range sortedKeysOf(s.Secrets) {
			sec := s.Secrets[key]
			if sec.File == "" && sec.Environment == "" && !sec.External {
				problems = append(problems, Problem{Message: fmt.Sprintf("secret %q has inline content, which a compose file cannot hold", key),
					Fix: "write it to a file and refer to it with file:, or print podstack's model with --format podstack"})
				continue
			}
			p.Secrets[key] = types.SecretConfig{Name: sec.Name, File: sec.File, Environment: sec.Environment, External: types.External(sec.External)}
		}
	}
	if len(s.Configs) > 0 {
		p.Configs = types.Configs{}
		for key, c := range s.Configs {
			cc := types.ConfigObjConfig{Name: c.Name, File: c.File, Environment: c.Environment, External: types.External(c.External)}
			if c.File == "" && c.Environment == "" {
				cc.Content = c.Content
			}
			p.Configs[key] = cc
		}
	}
	if opts := s.Options; opts.Pods != "" || opts.VolumeSize != "" || len(opts.SecretEnv) > 0 || len(opts.PlainEnv) > 0 {
		p.Extensions = types.Extensions{"x-podstack": opts}
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

func ptr[T any](v T) *T { return &v }

func duration(d interface{ Nanoseconds() int64 }) *types.Duration {
	v := types.Duration(d.Nanoseconds())
	return &v
}

// composeService is one service as compose-go's model.
func composeService(svc *Service) types.ServiceConfig {
	cs := types.ServiceConfig{
		Name: svc.Name, Profiles: svc.Profiles, Restart: string(svc.Restart), ContainerName: svc.ContainerName,
	}
	c := &cs.ContainerSpec
	w := &cs.WorkloadSpec
	c.Image, c.PullPolicy = svc.Image, svc.PullPolicy
	if svc.Entrypoint != nil {
		c.Entrypoint = types.ShellCommand(svc.Entrypoint)
	}
	if svc.Command != nil {
		c.Command = types.ShellCommand(svc.Command)
	}
	c.WorkingDir, c.User, c.Hostname = svc.WorkingDir, svc.User, svc.Hostname
	if len(svc.Environment) > 0 {
		c.Environment = types.MappingWithEquals{}
		for k, v := range svc.Environment {
			c.Environment[k] = ptr(v)
		}
	}
	c.Labels = types.Labels(svc.Labels)
	if b := svc.Build; b != nil {
		bc := &types.BuildConfig{Context: b.Context, Dockerfile: b.Dockerfile, Target: b.Target, Labels: types.Labels(b.Labels),
			NoCache: b.NoCache, Pull: b.Pull, DockerfileInline: b.DockerfileInline, AdditionalContexts: types.Mapping(b.AdditionalContexts),
			ShmSize: types.UnitBytes(b.ShmSize), Network: b.Network, CacheFrom: types.StringList(b.CacheFrom),
			Tags: types.StringList(b.Tags)}
		if b.Platform != "" {
			bc.Platforms = types.StringList{b.Platform}
		}
		for _, name := range sortedKeysOf(b.Ulimits) {
			if bc.Ulimits == nil {
				bc.Ulimits = map[string]*types.UlimitsConfig{}
			}
			u := b.Ulimits[name]
			bc.Ulimits[name] = &types.UlimitsConfig{Soft: int(u.Soft), Hard: int(u.Hard)}
		}
		for _, h := range b.ExtraHosts {
			if bc.ExtraHosts == nil {
				bc.ExtraHosts = types.HostsList{}
			}
			host, ip, _ := strings.Cut(h, ":")
			bc.ExtraHosts[host] = append(bc.ExtraHosts[host], ip)
		}
		for _, sec := range b.Secrets {
			ref := types.ServiceSecretConfig{Source: sec.Source}
			if sec.ID != sec.Source {
				ref.Target = sec.ID
			}
			bc.Secrets = append(bc.Secrets, ref)
		}
		if len(b.Args) > 0 {
			bc.Args = types.MappingWithEquals{}
			for k, v := range b.Args {
				bc.Args[k] = ptr(v)
			}
		}
		w.Build = bc
	}
	for _, pt := range svc.Ports {
		if pt.Published == 0 && !pt.Ephemeral {
			// A container port published nowhere (Kubernetes input): in
			// compose, that is expose.
			w.Expose = append(w.Expose, strconv.Itoa(int(pt.Target)))
			continue
		}
		pc := types.ServicePortConfig{Name: pt.Name, HostIP: pt.HostIP, Target: uint32(pt.Target), Protocol: pt.Protocol}
		if pt.Published != 0 {
			pc.Published = strconv.Itoa(int(pt.Published))
		}
		w.Ports = append(w.Ports, pc)
	}
	for _, e := range svc.Expose {
		w.Expose = append(w.Expose, strconv.Itoa(int(e)))
	}
	c.NetworkMode = svc.NetworkMode
	if len(svc.Networks) > 0 {
		c.Networks = map[string]*types.ServiceNetworkConfig{}
		for name, n := range svc.Networks {
			if n == nil {
				c.Networks[name] = nil
				continue
			}
			c.Networks[name] = &types.ServiceNetworkConfig{Aliases: n.Aliases, Ipv4Address: n.IPv4Address, Ipv6Address: n.IPv6Address,
				MacAddress: n.MACAddress, InterfaceName: n.InterfaceName}
		}
	}
	if len(svc.ExtraHosts) > 0 {
		c.ExtraHosts = types.HostsList{}
		for _, h := range svc.ExtraHosts {
			host, ip, _ := strings.Cut(h, ":")
			c.ExtraHosts[host] = append(c.ExtraHosts[host], ip)
		}
	}
	c.DNS, c.DNSSearch, c.DNSOpts = types.StringList(svc.DNS), types.StringList(svc.DNSSearch), svc.DNSOptions
	for _, m := range svc.Mounts {
		v := types.ServiceVolumeConfig{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		switch m.Type {
		case MountBind:
			v.Bind = &types.ServiceVolumeBind{SELinux: m.SELinux, CreateHostPath: true}
		case MountVolume:
			if m.SubPath != "" {
				v.Volume = &types.ServiceVolumeVolume{Subpath: m.SubPath}
			}
		case MountTmpfs:
			if m.TmpfsSize > 0 {
				v.Tmpfs = &types.ServiceVolumeTmpfs{Size: types.UnitBytes(m.TmpfsSize)}
			}
		}
		c.Volumes = append(c.Volumes, v)
	}
	for _, r := range svc.Secrets {
		c.Secrets = append(c.Secrets, types.ServiceSecretConfig(composeFileRef(r)))
	}
	for _, r := range svc.Configs {
		c.Configs = append(c.Configs, types.ServiceConfigObjConfig(composeFileRef(r)))
	}
	if h := svc.Health; h != nil {
		hc := &types.HealthCheckConfig{Test: types.HealthCheckTest(h.Test), Interval: duration(h.Interval), Timeout: duration(h.Timeout),
			StartPeriod: duration(h.StartPeriod), Retries: ptr(uint64(h.Retries))}
		if h.StartInterval > 0 {
			hc.StartInterval = duration(h.StartInterval)
		}
		w.HealthCheck = hc
	}
	if len(svc.DependsOn) > 0 {
		w.DependsOn = types.DependsOnConfig{}
		for name, d := range svc.DependsOn {
			w.DependsOn[name] = types.ServiceDependency{Condition: string(d.Condition), Required: d.Required, Restart: d.Restart}
		}
	}
	c.StopSignal = svc.StopSignal
	if svc.StopGracePeriod != nil {
		c.StopGracePeriod = duration(*svc.StopGracePeriod)
	}
	r := svc.Resources
	var deploy types.DeployConfig
	if r.CPUs != 0 || r.MemoryBytes != 0 || r.Pids != 0 {
		deploy.Resources.Limits = &types.Resource{NanoCPUs: types.NanoCPUs(r.CPUs), MemoryBytes: types.UnitBytes(r.MemoryBytes), Pids: r.Pids}
	}
	if r.CPUsReservation != 0 || r.MemoryReservation != 0 {
		deploy.Resources.Reservations = &types.Resource{NanoCPUs: types.NanoCPUs(r.CPUsReservation), MemoryBytes: types.UnitBytes(r.MemoryReservation)}
	}
	if svc.Replicas != 1 {
		deploy.Replicas = ptr(svc.Replicas)
	}
	deploy.Mode = svc.DeployMode
	if deploy.Replicas != nil || deploy.Mode != "" || deploy.Resources.Limits != nil || deploy.Resources.Reservations != nil {
		cs.Deploy = &deploy
	}
	c.CPUShares, c.CPUSet = r.CPUShares, r.CPUSet
	if svc.Init {
		c.Init = ptr(true)
	}
	w.Tty, w.StdinOpen = svc.Tty, svc.StdinOpen
	c.Privileged, c.ReadOnly, c.CapAdd, c.CapDrop = svc.Privileged, svc.ReadOnly, svc.CapAdd, svc.CapDrop
	if len(svc.Ulimits) > 0 {
		c.Ulimits = map[string]*types.UlimitsConfig{}
		for k, u := range svc.Ulimits {
			c.Ulimits[k] = &types.UlimitsConfig{Soft: int(u.Soft), Hard: int(u.Hard)}
		}
	}
	c.Sysctls = types.Mapping(svc.Sysctls)
	for _, d := range svc.Devices {
		parts := strings.SplitN(d, ":", 3)
		dm := types.DeviceMapping{Source: parts[0], Target: parts[0]}
		if len(parts) > 1 {
			dm.Target = parts[1]
		}
		if len(parts) > 2 {
			dm.Permissions = parts[2]
		}
		c.Devices = append(c.Devices, dm)
	}
	c.Pid, c.Ipc, c.UserNSMode, c.SecurityOpt = svc.PID, svc.IPC, svc.UsernsMode, svc.SecurityOpt
	c.ShmSize, c.GroupAdd, c.OomScoreAdj = types.UnitBytes(svc.ShmSize), svc.GroupAdd, int64(svc.OomScoreAdj)
	if l := svc.Logging; l != nil {
		c.Logging = &types.LoggingConfig{Driver: l.Driver, Options: l.Options}
	}
	if svc.Pod != "" {
		cs.Extensions = types.Extensions{"x-pod": svc.Pod}
	}
	if d := svc.Develop; d != nil {
		dc := &types.DevelopConfig{}
		for _, r := range d.Watch {
			t := types.Trigger{Path: r.Path, Action: types.WatchAction(r.Action), Target: r.Target, Ignore: r.Ignore,
				Include: r.Include, InitialSync: r.InitialSync}
			if x := r.Exec; x != nil {
				t.Exec = types.ServiceHook{Command: types.ShellCommand(x.Command), User: x.User, WorkingDir: x.WorkingDir}
				for k, v := range x.Environment {
					if t.Exec.Environment == nil {
						t.Exec.Environment = types.MappingWithEquals{}
					}
					t.Exec.Environment[k] = ptr(v)
				}
			}
			dc.Watch = append(dc.Watch, t)
		}
		cs.Develop = dc
	}
	return cs
}

func composeFileRef(r FileRef) types.FileReferenceConfig {
	f := types.FileReferenceConfig{Source: r.Source, Target: r.Target, UID: r.UID, GID: r.GID}
	if r.Mode != nil {
		m := types.FileMode(*r.Mode)
		f.Mode = &m
	}
	return f
}
