package export

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
	"github.com/podstack/podstack/templates"
)

// Quadlet renders systemd Quadlet units for a single host: a .pod per
// planner pod (published ports on the pod), a .container per service with
// Requires=/After= on its dependencies, health settings, and Notify=healthy
// where a dependent waits for it to be healthy; a .volume per named volume
// and a .network per network. It returns file name -> content, and warnings.
func Quadlet(s *stack.Stack, pods []*planner.Pod) (map[string][]byte, []string, error) {
	tmpl, err := templates.Quadlet()
	if err != nil {
		return nil, nil, err
	}
	files := map[string][]byte{}
	var warnings []string
	render := func(file, name string, data any) error {
		var b bytes.Buffer
		if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		files[file] = b.Bytes()
		return nil
	}
	unit := func(name string) string { return dnsName(s.Name + "-" + name) }
	netUnit := map[string]string{}
	for _, key := range sortedKeys(s.Networks) {
		n := s.Networks[key]
		netUnit[n.Name] = unit("net-" + key)
		var opts []string
		for _, k := range sortedKeys(n.Options) {
			opts = append(opts, k+"="+n.Options[k])
		}
		driver, ipam := n.Driver, n.IPAMDriver
		if driver == "bridge" {
			driver = ""
		}
		if ipam == "default" {
			ipam = ""
		}
		if err := render(netUnit[n.Name]+".network", "network.tmpl", map[string]any{"Project": s.Name, "Name": n.Name,
			"Driver": driver, "Internal": n.Internal, "IPv6": n.IPv6, "IPAMDriver": ipam, "Subnets": n.Subnets, "Options": opts}); err != nil {
			return nil, nil, err
		}
	}
	for _, key := range sortedKeys(s.Volumes) {
		v := s.Volumes[key]
		if err := render(unit("vol-"+key)+".volume", "volume.tmpl", map[string]any{"Project": s.Name, "Name": v.Name}); err != nil {
			return nil, nil, err
		}
	}
	healthyNeeded := map[string]bool{}
	for _, svc := range s.Services {
		for dep, d := range svc.DependsOn {
			if d.Condition == stack.ConditionHealthy {
				healthyNeeded[dep] = true
			}
		}
	}
	podOf := map[string]*planner.Pod{}
	for _, p := range pods {
		var ports, nets []string
		for _, pt := range p.Ports {
			if pt.Published == 0 && !pt.Ephemeral {
				continue
			}
			spec := fmt.Sprintf("%d:%d/%s", pt.Published, pt.Target, pt.Protocol)
			if pt.Ephemeral {
				spec = fmt.Sprintf(":%d/%s", pt.Target, pt.Protocol) // Podman picks the host port
			}
			if pt.HostIP != "" {
				spec = pt.HostIP + ":" + spec
			} else if pt.Ephemeral {
				spec = spec[1:]
			}
			ports = append(ports, spec)
		}
		for n := range p.Networks {
			nets = append(nets, netUnit[n])
		}
		if len(p.Addresses) > 0 {
			warnings = append(warnings, fmt.Sprintf("pod %s: static addresses (ipv4_address, mac_address, interface_name) are not exported", p.Key))
		}
		sort.Strings(nets)
		if err := render(unit(p.Key)+".pod", "pod.tmpl", map[string]any{"Project": s.Name, "Environment": s.Environment,
			"Name": p.Name, "Ports": ports, "Networks": nets}); err != nil {
			return nil, nil, err
		}
		for _, m := range p.Services {
			podOf[m] = p
		}
	}
	for _, name := range s.ServiceNames() {
		svc := s.Services[name]
		data := map[string]any{"Project": s.Name, "Environment": s.Environment, "Service": name,
			"Name": planner.ContainerName(s, svc, 1), "Image": planner.ImageRef(s, svc), "Pod": unit(podOf[name].Key),
			"Restart": quadletRestart(svc.Restart), "Notify": healthyNeeded[name] && svc.Health != nil}
		if len(svc.Entrypoint) > 0 {
			data["Entrypoint"] = strings.Join(svc.Entrypoint, " ")
		}
		if len(svc.Command) > 0 {
			data["Exec"] = shellJoin(svc.Command)
		}
		var env, vols, labels, requires []string
		for _, k := range sortedKeys(svc.Environment) {
			env = append(env, shellJoin([]string{k + "=" + svc.Environment[k]}))
		}
		for _, m := range svc.Mounts {
			switch m.Type {
			case stack.MountVolume:
				if m.Source != "" {
					vols = append(vols, unit("vol-"+m.Source)+".volume:"+m.Target+roSuffix(m.ReadOnly))
				}
			case stack.MountBind:
				vols = append(vols, m.Source+":"+m.Target+roSuffix(m.ReadOnly))
			case stack.MountTmpfs:
				warnings = append(warnings, fmt.Sprintf("service %s: tmpfs %s is not exported to Quadlet", name, m.Target))
			}
		}
		for _, k := range sortedKeys(svc.Labels) {
			labels = append(labels, shellJoin([]string{k + "=" + svc.Labels[k]}))
		}
		labels = append(labels, planner.LabelProject+"="+s.Name, planner.LabelService+"="+name)
		for _, dep := range sortedKeys(svc.DependsOn) {
			if _, ok := s.Services[dep]; ok {
				requires = append(requires, unit(dep)+".service")
			}
		}
		data["Env"], data["Volumes"], data["Labels"], data["Requires"] = env, vols, labels, requires
		for _, svc2 := range s.Services {
			if d, ok := svc2.DependsOn[name]; ok && d.Condition == stack.ConditionCompleted {
				data["OneShot"] = true
			}
		}
		if h := svc.Health; h != nil {
			cmd := strings.Join(h.Test[1:], " ")
			if h.Test[0] == "CMD" {
				cmd = shellJoin(h.Test[1:])
			}
			data["Health"] = map[string]any{"Cmd": cmd, "Interval": h.Interval.String(), "Timeout": h.Timeout.String(),
				"Retries": h.Retries, "StartPeriod": durationOrEmpty(h.StartPeriod.String())}
		}
		if svc.Replicas > 1 {
			warnings = append(warnings, fmt.Sprintf("service %s: %d replicas: Quadlet runs one container per unit", name, svc.Replicas))
		}
		if dropped := quadletDropped(svc); len(dropped) > 0 {
			warnings = append(warnings, fmt.Sprintf("service %s: not exported to Quadlet: %s", name, strings.Join(dropped, ", ")))
		}
		if err := render(unit(name)+".container", "container.tmpl", data); err != nil {
			return nil, nil, err
		}
	}
	return files, warnings, nil
}

func durationOrEmpty(d string) string {
	if d == "0s" {
		return ""
	}
	return d
}

func roSuffix(ro bool) string {
	if ro {
		return ":ro"
	}
	return ""
}

func quadletRestart(r stack.RestartPolicy) string {
	switch {
	case r == "always" || r == "unless-stopped":
		return "always"
	case strings.HasPrefix(string(r), "on-failure"):
		return "on-failure"
	}
	return "no"
}

// shellJoin quotes words for systemd's command-line splitting.
func shellJoin(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w == "" || strings.ContainsAny(w, " \t\"'\\$;") {
			w = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w) + `"`
		}
		out[i] = w
	}
	return strings.Join(out, " ")
}

// quadletDropped names the service settings the .container template does not
// carry, so the export says so instead of losing them silently.
func quadletDropped(svc *stack.Service) []string {
	var out []string
	for _, x := range []struct {
		key string
		set bool
	}{
		{"user", svc.User != ""},
		{"working_dir", svc.WorkingDir != ""},
		{"hostname", svc.Hostname != ""},
		{"secrets", len(svc.Secrets) > 0},
		{"configs", len(svc.Configs) > 0},
		{"privileged", svc.Privileged},
		{"read_only", svc.ReadOnly},
		{"cap_add/cap_drop", len(svc.CapAdd)+len(svc.CapDrop) > 0},
		{"resources", svc.Resources != (stack.Resources{})},
		{"ulimits", len(svc.Ulimits) > 0},
		{"sysctls", len(svc.Sysctls) > 0},
		{"devices", len(svc.Devices) > 0},
		{"stop_signal", svc.StopSignal != ""},
		{"stop_grace_period", svc.StopGracePeriod != nil},
		{"init", svc.Init},
		{"tty/stdin_open", svc.Tty || svc.StdinOpen},
		{"extra_hosts", len(svc.ExtraHosts) > 0},
		{"dns", len(svc.DNS)+len(svc.DNSSearch)+len(svc.DNSOptions) > 0},
		{"pid", svc.PID != ""},
		{"ipc", svc.IPC != ""},
		{"userns_mode", svc.UsernsMode != ""},
		{"security_opt", len(svc.SecurityOpt) > 0},
		{"shm_size", svc.ShmSize > 0},
		{"group_add", len(svc.GroupAdd) > 0},
		{"oom_score_adj", svc.OomScoreAdj != 0},
		{"logging", svc.Logging != nil},
	} {
		if x.set {
			out = append(out, x.key)
		}
	}
	return append(out, svc.Unsupported...)
}
