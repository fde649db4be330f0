package stack

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	units "github.com/docker/go-units"
	"go.yaml.in/yaml/v3"
)

// durationOf is a compose duration, or def when the file leaves it unset.
func durationOf(d *types.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

// converter turns a compose-go project into the model, collecting problems
// that compose-go does not check (or stops at the first of).
type converter struct {
	project  *types.Project
	idx      map[string]positions
	files    []sourceFile
	problems Problems
	// warnings are the converter's own, for Stack.Warnings.
	warnings []Warning
}

// where returns the last file (in merge order) that defines path, and its line.
func (c *converter) where(path string) Position {
	for i := len(c.files) - 1; i >= 0; i-- {
		f := c.files[i]
		if l := c.idx[f.Name].exact(path); l > 0 {
			return Position{File: f.Name, Line: l}
		}
	}
	for i := len(c.files) - 1; i >= 0; i-- {
		f := c.files[i]
		if l := c.idx[f.Name].line(path); l > 0 {
			return Position{File: f.Name, Line: l}
		}
	}
	return Position{File: c.files[0].Name}
}

func (c *converter) problem(path, service, msg, fix string) {
	c.problems = append(c.problems, Problem{Position: c.where(path), Service: service, Message: msg, Fix: fix})
}

func (c *converter) convert() *Stack {
	p := c.project
	s := &Stack{
		Name:       p.Name,
		Format:     FormatCompose,
		WorkingDir: p.WorkingDir,
		Services:   map[string]*Service{},
		Volumes:    map[string]*Volume{},
		Networks:   map[string]*Network{},
		Secrets:    map[string]*Secret{},
		Configs:    map[string]*Config{},
	}
	c.extension(s)
	for key, v := range p.Volumes {
		s.Volumes[key] = &Volume{Key: key, Name: v.Name, Driver: v.Driver, Options: v.DriverOpts,
			Labels: v.Labels, External: bool(v.External), Size: stringExt(v.Extensions, "x-size")}
	}
	for key, n := range p.Networks {
		nw := &Network{Key: key, Name: n.Name, Driver: n.Driver, Options: n.DriverOpts, Internal: n.Internal,
			IPv6: n.EnableIPv6 != nil && *n.EnableIPv6, IPAMDriver: n.Ipam.Driver, Labels: n.Labels, External: bool(n.External),
			Source: c.where("networks." + key)}
		for _, pool := range n.Ipam.Config {
			if pool != nil && pool.Subnet != "" {
				nw.Subnets = append(nw.Subnets, Subnet{Subnet: pool.Subnet, Gateway: pool.Gateway, IPRange: pool.IPRange})
			}
		}
		s.Networks[key] = nw
	}
	for key, sc := range p.Secrets {
		s.Secrets[key] = &Secret{Key: key, Name: sc.Name, File: sc.File, Environment: sc.Environment,
			Content: sc.Content, External: bool(sc.External)}
	}
	for key, cf := range p.Configs {
		s.Configs[key] = &Config{Key: key, Name: cf.Name, File: cf.File, Environment: cf.Environment,
			Content: cf.Content, External: bool(cf.External)}
	}
	profiles := map[string]bool{}
	for name, svc := range p.Services {
		s.Services[name] = c.service(svc)
		for _, pr := range svc.Profiles {
			profiles[pr] = true
		}
	}
	if len(p.DisabledServices) > 0 {
		s.Disabled = map[string]*Service{}
		for name, svc := range p.DisabledServices {
			s.Disabled[name] = c.service(svc)
			for _, pr := range svc.Profiles {
				profiles[pr] = true
			}
		}
	}
	for pr := range profiles {
		s.Profiles = append(s.Profiles, pr)
	}
	sort.Strings(s.Profiles)
	s.Warnings = append(s.Warnings, c.warnings...)
	if len(s.Services) == 0 && len(s.Disabled) == 0 {
		c.problem("services", "", "the stack defines no services", "add a services: section with at least one service")
	}
	return s
}

// extension decodes the top-level x-podstack block strictly.
func (c *converter) extension(s *Stack) {
	raw, ok := c.project.Extensions["x-podstack"]
	if !ok {
		return
	}
	data, err := yaml.Marshal(raw)
	if err != nil {
		c.problem("x-podstack", "", fmt.Sprintf("x-podstack: %v", err), "")
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s.Options); err != nil {
		msg := err.Error()
		if m := unknownFieldYAMLRe().FindStringSubmatch(msg); m != nil {
			c.problem("x-podstack."+m[1], "", fmt.Sprintf("unknown key %q in x-podstack", m[1]),
				"valid keys are pods, volume-size, secret-env, plain-env")
			return
		}
		c.problem("x-podstack", "", "invalid x-podstack: "+strings.TrimPrefix(msg, "yaml: "), "")
		return
	}
	if s.Options.Pods != "" && !slices.Contains(PodPolicies, s.Options.Pods) {
		c.problem("x-podstack.pods", "", fmt.Sprintf("invalid x-podstack.pods %q", s.Options.Pods),
			PodPolicyFix)
	}
}

func stringExt(ext types.Extensions, key string) string {
	if v, ok := ext[key].(string); ok {
		return v
	}
	return ""
}

func (c *converter) service(svc types.ServiceConfig) *Service {
	base := "services." + svc.Name
	out := &Service{
		Name:          svc.Name,
		Image:         svc.Image,
		PullPolicy:    svc.PullPolicy,
		WorkingDir:    svc.WorkingDir,
		User:          svc.User,
		Hostname:      svc.Hostname,
		ContainerName: svc.ContainerName,
		NetworkMode:   svc.NetworkMode,
		StopSignal:    svc.StopSignal,
		Tty:           svc.Tty,
		StdinOpen:     svc.StdinOpen,
		Privileged:    svc.Privileged,
		ReadOnly:      svc.ReadOnly,
		CapAdd:        svc.CapAdd,
		CapDrop:       svc.CapDrop,
		Profiles:      svc.Profiles,
		Labels:        map[string]string(svc.Labels),
		Replicas:      1,
		Source:        c.where(base),
	}
	if svc.Entrypoint != nil {
		out.Entrypoint = []string(svc.Entrypoint)
	}
	if svc.Command != nil {
		out.Command = []string(svc.Command)
	}
	if svc.Init != nil {
		out.Init = *svc.Init
	}
	if len(svc.Environment) > 0 {
		out.Environment = map[string]string{}
		for k, v := range svc.Environment {
			if v != nil {
				out.Environment[k] = *v
			}
		}
	}
	if svc.Build != nil {
		out.Build = c.build(svc, base)
		out.Unsupported = append(out.Unsupported, buildUnsupported(svc.Build)...)
	}
	if out.Image == "" && out.Build == nil {
		c.problem(base, svc.Name, "has neither image nor build", "add image: NAME or a build: section")
	}
	if pod, ok := svc.Extensions["x-pod"]; ok {
		name, isString := pod.(string)
		if !isString || name == "" {
			c.problem(base+".x-pod", svc.Name, fmt.Sprintf("x-pod must be a pod name (a string), got %v", pod), `write x-pod: NAME`)
		}
		out.Pod = name
	}
	for k := range svc.Extensions {
		if k != "x-pod" && strings.HasPrefix(k, "x-podstack") {
			c.problem(base+"."+k, svc.Name, fmt.Sprintf("unknown podstack extension %q", k), "the service-level extension is x-pod")
		}
	}

	for i, port := range svc.Ports {
		path := fmt.Sprintf("%s.ports.%d", base, i)
		if port.Target == 0 || port.Target > 65535 {
			c.problem(path, svc.Name, fmt.Sprintf("invalid container port %d", port.Target), "ports are 1-65535")
			continue
		}
		pub, err := parsePublished(port.Published)
		if err != nil {
			c.problem(path, svc.Name, fmt.Sprintf("invalid published port %q: %v", port.Published, err), `write "HOST:CONTAINER", e.g. "8080:80"`)
			continue
		}
		proto := port.Protocol
		if proto == "" {
			proto = "tcp"
		}
		out.Ports = append(out.Ports, Port{Target: uint16(port.Target), Published: pub, Ephemeral: pub == 0,
			HostIP: port.HostIP, Protocol: proto, Name: port.Name})
	}
	for i, e := range svc.Expose {
		n, err := strconv.ParseUint(strings.SplitN(e, "/", 2)[0], 10, 16)
		if err != nil || n == 0 {
			c.problem(fmt.Sprintf("%s.expose.%d", base, i), svc.Name, fmt.Sprintf("invalid expose port %q", e), "ports are 1-65535")
			continue
		}
		out.Expose = append(out.Expose, uint16(n))
	}
	if len(svc.Networks) > 0 {
		out.Networks = map[string]*ServiceNetwork{}
		for name, n := range svc.Networks {
			sn := &ServiceNetwork{}
			if n != nil {
				sn.Aliases = n.Aliases
				sn.IPv4Address = n.Ipv4Address
				sn.IPv6Address = n.Ipv6Address
				sn.MACAddress = n.MacAddress
				sn.InterfaceName = n.InterfaceName
				// podman-compose's spellings, from before the spec had them.
				if sn.MACAddress == "" {
					sn.MACAddress = stringExt(n.Extensions, "x-podman.mac_address")
				}
				if sn.InterfaceName == "" {
					sn.InterfaceName = stringExt(n.Extensions, "x-podman.interface_name")
				}
			}
			out.Networks[name] = sn
		}
	}
	if svc.MacAddress != "" && svc.NetworkMode == "" {
		// The service-level mac_address is for its primary network.
		primary := "default"
		if keys := sortedKeysOf(out.Networks); len(keys) > 0 {
			primary = keys[0]
		}
		if out.Networks == nil {
			out.Networks = map[string]*ServiceNetwork{}
		}
		if out.Networks[primary] == nil {
			out.Networks[primary] = &ServiceNetwork{}
		}
		if out.Networks[primary].MACAddress == "" {
			out.Networks[primary].MACAddress = svc.MacAddress
		}
	}
	for host, ips := range svc.ExtraHosts {
		for _, ip := range ips {
			out.ExtraHosts = append(out.ExtraHosts, host+":"+ip)
		}
	}
	sort.Strings(out.ExtraHosts)
	out.DNS = []string(svc.DNS)

	for _, v := range svc.Volumes {
		m := Mount{Type: MountType(v.Type), Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeBind:
			if v.Bind != nil {
				m.SELinux = v.Bind.SELinux
			}
		case types.VolumeTypeVolume:
			if v.Volume != nil {
				m.SubPath = v.Volume.Subpath
			}
		case types.VolumeTypeTmpfs:
			if v.Tmpfs != nil {
				m.TmpfsSize = int64(v.Tmpfs.Size)
			}
		default:
			out.Unsupported = append(out.Unsupported, "volumes (type "+v.Type+")")
			continue
		}
		out.Mounts = append(out.Mounts, m)
	}
	for _, t := range svc.Tmpfs {
		target, opts, _ := strings.Cut(t, ":")
		m := Mount{Type: MountTmpfs, Target: target}
		for _, o := range strings.Split(opts, ",") {
			if size, ok := strings.CutPrefix(o, "size="); ok {
				if n, err := units.RAMInBytes(size); err == nil {
					m.TmpfsSize = n
				}
			}
		}
		out.Mounts = append(out.Mounts, m)
	}
	for _, sec := range svc.Secrets {
		out.Secrets = append(out.Secrets, fileRef(types.FileReferenceConfig(sec), "/run/secrets/"))
	}
	for _, cf := range svc.Configs {
		out.Configs = append(out.Configs, fileRef(types.FileReferenceConfig(cf), "/"))
	}
	out.Health = c.health(svc, base)
	if len(svc.DependsOn) > 0 {
		out.DependsOn = map[string]Dependency{}
		for name, d := range svc.DependsOn {
			cond := Condition(d.Condition)
			if cond == "" {
				cond = ConditionStarted
			}
			out.DependsOn[name] = Dependency{Condition: cond, Required: d.Required, Restart: d.Restart}
		}
	}
	out.Restart = c.restart(svc, base)
	if svc.StopGracePeriod != nil {
		d := time.Duration(*svc.StopGracePeriod)
		out.StopGracePeriod = &d
	}
	out.Resources = resources(svc)
	out.PID, out.IPC, out.UsernsMode = svc.Pid, svc.Ipc, svc.UserNSMode
	out.SecurityOpt = svc.SecurityOpt
	out.ShmSize = int64(svc.ShmSize)
	out.GroupAdd = svc.GroupAdd
	out.DNSSearch, out.DNSOptions = []string(svc.DNSSearch), svc.DNSOpts
	out.OomScoreAdj = int(svc.OomScoreAdj)
	if svc.Logging != nil && (svc.Logging.Driver != "" || len(svc.Logging.Options) > 0) {
		out.Logging = &Logging{Driver: svc.Logging.Driver, Options: svc.Logging.Options}
	}
	c.namespaces(out, base)
	for _, dep := range out.NamespaceOwners() {
		// Joining another service's namespace needs it started first, as
		// compose's implicit dependency has it.
		if dep == svc.Name {
			continue
		}
		if out.DependsOn == nil {
			out.DependsOn = map[string]Dependency{}
		}
		if _, set := out.DependsOn[dep]; !set {
			out.DependsOn[dep] = Dependency{Condition: ConditionStarted, Required: true}
		}
	}
	if svc.Deploy != nil {
		out.DeployMode = svc.Deploy.Mode
	}
	if svc.Deploy != nil && svc.Deploy.Replicas != nil {
		out.Replicas = *svc.Deploy.Replicas
	} else if svc.Scale != nil {
		out.Replicas = *svc.Scale
	}
	if out.Replicas < 0 {
		c.problem(base, svc.Name, fmt.Sprintf("replicas must not be negative, got %d", out.Replicas), "use 0 or more")
	}
	out.Ulimits = ulimits(svc.Ulimits)
	if len(svc.Sysctls) > 0 {
		out.Sysctls = map[string]string(svc.Sysctls)
	}
	for _, d := range svc.Devices {
		dev := d.Source
		if d.Target != "" {
			dev += ":" + d.Target
		}
		if d.Permissions != "" {
			dev += ":" + d.Permissions
		}
		out.Devices = append(out.Devices, dev)
	}
	c.develop(svc, out, base)
	out.Keys = setKeys(svc)
	out.Unsupported = append(out.Unsupported, unsupported(svc, out.Keys)...)
	if out.Build != nil && out.Build.Platform == svc.Platform {
		// The build makes the image for it (buildPlatform): carried.
		out.Unsupported = slices.DeleteFunc(out.Unsupported, func(k string) bool { return k == "platform" })
	}
	sort.Strings(out.Unsupported)
	c.checkService(svc, out, base)
	return out
}

// ulimits converts compose's ulimits (one number, or soft and hard); nil
// when there are none.
func ulimits(in map[string]*types.UlimitsConfig) map[string]Ulimit {
	if len(in) == 0 {
		return nil
	}
	out := map[string]Ulimit{}
	for k, u := range in {
		switch {
		case u == nil:
		case u.Single != 0:
			out[k] = Ulimit{Soft: int64(u.Single), Hard: int64(u.Single)}
		default:
			out[k] = Ulimit{Soft: int64(u.Soft), Hard: int64(u.Hard)}
		}
	}
	return out
}

func fileRef(f types.FileReferenceConfig, dir string) FileRef {
	r := FileRef{Source: f.Source, Target: f.Target, UID: f.UID, GID: f.GID}
	if r.Target == "" {
		r.Target = dir + f.Source
	} else if !strings.HasPrefix(r.Target, "/") {
		r.Target = dir + r.Target
	}
	if f.Mode != nil {
		m := uint32(*f.Mode)
		r.Mode = &m
	}
	return r
}

func parsePublished(p string) (uint16, error) {
	if p == "" {
		return 0, nil
	}
	if strings.Contains(p, "-") {
		lo, hi, _ := strings.Cut(p, "-")
		if lo == hi {
			p = lo
		} else {
			return 0, fmt.Errorf("port ranges are not supported")
		}
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("not a port number")
	}
	return uint16(n), nil
}

func (c *converter) health(svc types.ServiceConfig, base string) *HealthCheck {
	h := svc.HealthCheck
	if h == nil || h.Disable {
		return nil
	}
	test := []string(h.Test)
	if len(test) == 0 && h.Interval == nil && h.Timeout == nil && h.Retries == nil && h.StartPeriod == nil && h.StartInterval == nil {
		return nil // nothing set: the image's own healthcheck, as without the key
	}
	// No test with timings is valid compose: the image's test, run with
	// these timings (HealthCheck.InheritsTest).
	first := ""
	if len(test) > 0 {
		first = test[0]
	}
	switch first {
	case "":
	case "NONE":
		return nil
	case "CMD", "CMD-SHELL":
		if len(test) < 2 || strings.TrimSpace(strings.Join(test[1:], "")) == "" {
			c.problem(base+".healthcheck.test", svc.Name, "healthcheck test has no command", `write test: ["CMD", "pg_isready"]`)
			return nil
		}
	default:
		c.problem(base+".healthcheck.test", svc.Name, fmt.Sprintf("healthcheck test must start with CMD, CMD-SHELL or NONE, got %q", first),
			`write test: ["CMD", "argv0", ...] or test: "shell command"`)
		return nil
	}
	for _, d := range []struct {
		key string
		v   *types.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start_period", h.StartPeriod}, {"start_interval", h.StartInterval}} {
		if d.v != nil && *d.v < 0 {
			c.problem(base+".healthcheck."+d.key, svc.Name, fmt.Sprintf("healthcheck %s must not be negative, got %v", d.key, time.Duration(*d.v)),
				"use a positive duration such as 5s, or leave it out for the default")
		}
	}
	out := &HealthCheck{
		Test:          test,
		Interval:      durationOf(h.Interval, DefaultHealthInterval),
		Timeout:       durationOf(h.Timeout, DefaultHealthTimeout),
		StartPeriod:   durationOf(h.StartPeriod, 0),
		StartInterval: durationOf(h.StartInterval, DefaultStartInterval),
		Retries:       DefaultHealthRetries,
	}
	if h.Retries != nil {
		out.Retries = int(*h.Retries)
	}
	// Zero would make Podman 4.x fail every probe; compose treats 0 as "default".
	if out.Interval <= 0 {
		out.Interval = DefaultHealthInterval
	}
	if out.Timeout <= 0 {
		out.Timeout = DefaultHealthTimeout
	}
	if out.Retries <= 0 {
		out.Retries = DefaultHealthRetries
	}
	return out
}

var restartRe = lazyRegexp(`^(no|always|unless-stopped|on-failure(:\d+)?)$`)

func (c *converter) restart(svc types.ServiceConfig, base string) RestartPolicy {
	r := svc.Restart
	if r == "" && svc.Deploy != nil && svc.Deploy.RestartPolicy != nil {
		switch svc.Deploy.RestartPolicy.Condition {
		case "none":
			r = "no"
		case "on-failure":
			r = "on-failure"
			if mx := svc.Deploy.RestartPolicy.MaxAttempts; mx != nil {
				r = fmt.Sprintf("on-failure:%d", *mx)
			}
		case "any", "":
			r = "always"
		}
	}
	if r == "" {
		return ""
	}
	if !restartRe().MatchString(r) {
		c.problem(base+".restart", svc.Name, fmt.Sprintf("invalid restart policy %q", r), `use "no", "always", "on-failure[:N]" or "unless-stopped"`)
		return ""
	}
	return RestartPolicy(r)
}

func resources(svc types.ServiceConfig) Resources {
	var r Resources
	if svc.Deploy != nil {
		if l := svc.Deploy.Resources.Limits; l != nil {
			r.CPUs = float64(l.NanoCPUs)
			r.MemoryBytes = int64(l.MemoryBytes)
			r.Pids = l.Pids
		}
		if q := svc.Deploy.Resources.Reservations; q != nil {
			r.CPUsReservation = float64(q.NanoCPUs)
			r.MemoryReservation = int64(q.MemoryBytes)
		}
	}
	if r.CPUs == 0 && svc.CPUS > 0 {
		r.CPUs = float64(svc.CPUS)
	}
	if r.MemoryBytes == 0 && svc.MemLimit > 0 {
		r.MemoryBytes = int64(svc.MemLimit)
	}
	if r.MemoryReservation == 0 && svc.MemReservation > 0 {
		r.MemoryReservation = int64(svc.MemReservation)
	}
	if r.Pids == 0 && svc.PidsLimit > 0 {
		r.Pids = svc.PidsLimit
	}
	r.CPUShares = svc.CPUShares
	r.CPUSet = svc.CPUSet
	return r
}

// namespaces checks pid, ipc, userns_mode and security_opt, which Podman
// would otherwise refuse only when the container is created.
func (c *converter) namespaces(svc *Service, base string) {
	check := func(key, v string, plain ...string) {
		if v == "" {
			return
		}
		for _, p := range plain {
			if v == p {
				return
			}
		}
		if kind, name, ok := strings.Cut(v, ":"); ok && name != "" && (kind == "service" || kind == "container") {
			_, enabled := c.project.Services[name]
			_, disabled := c.project.DisabledServices[name]
			if kind == "service" && !enabled && !disabled {
				c.problem(base+"."+key, svc.Name, fmt.Sprintf("%s %s: no such service", key, v), "name a service of this stack")
			}
			return
		}
		c.problem(base+"."+key, svc.Name, fmt.Sprintf("%s %q is not supported", key, v),
			fmt.Sprintf("use %s, service:NAME or container:NAME", strings.Join(plain, ", ")))
	}
	check("pid", svc.PID, "host", "private")
	check("ipc", svc.IPC, "host", "private", "shareable", "none")
	userns := svc.UsernsMode
	for _, prefix := range []string{"keep-id:", "auto:", "ns:"} {
		if strings.HasPrefix(userns, prefix) {
			userns = "" // Podman's own forms with options; it checks those
		}
	}
	check("userns_mode", userns, "host", "private", "keep-id", "auto", "nomap")
	for i, opt := range svc.SecurityOpt {
		if _, err := ParseSecurityOpt(opt); err != nil {
			c.problem(fmt.Sprintf("%s.security_opt.%d", base, i), svc.Name, err.Error(),
				"use no-new-privileges, label=..., seccomp=..., apparmor=..., mask=... or unmask=...")
		}
	}
}

// SecurityOption is one parsed security_opt entry.
type SecurityOption struct {
	Key, Value string
}

// ParseSecurityOpt reads a docker-style security_opt entry ("label=disable",
// "label:disable", "no-new-privileges", "no-new-privileges:true",
// "seccomp=unconfined", "apparmor=unconfined", "mask=/x", "unmask=ALL").
func ParseSecurityOpt(opt string) (SecurityOption, error) {
	key, value, ok := strings.Cut(opt, "=")
	if !ok {
		key, value, _ = strings.Cut(opt, ":")
	}
	switch key {
	case "no-new-privileges":
		if value == "" {
			value = "true"
		}
		if value != "true" && value != "false" {
			return SecurityOption{}, fmt.Errorf("security_opt %q: no-new-privileges takes true or false", opt)
		}
	case "label", "seccomp", "apparmor", "mask", "unmask":
		if value == "" {
			return SecurityOption{}, fmt.Errorf("security_opt %q has no value", opt)
		}
	default:
		return SecurityOption{}, fmt.Errorf("security_opt %q is not supported", opt)
	}
	return SecurityOption{Key: key, Value: value}, nil
}
