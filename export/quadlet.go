package export

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
	"github.com/podstack/podstack/templates"
)

// File is one file of an export and the mode to write it with: files that
// hold credentials are private (0600), units are not.
type File struct {
	Data []byte
	Mode os.FileMode
}

// Quadlet renders systemd Quadlet units for a single host: a .pod per
// planner pod (published ports on the pod), a .container per service with
// Requires=/After= on its dependencies, health settings, and Notify=healthy
// where a dependent waits for it to be healthy; a .volume per named volume
// and a .network per network. Credential-like variables (stack.IsCredential)
// never become Environment= lines: they go to a private <unit>.env file the
// unit reads with EnvironmentFile=, or, when a value spans lines (which an
// environment file cannot hold), to a Podman secret the unit names with
// Secret= and whose value is written to a private <secret>.secret file.
// It returns file name -> file, and warnings.
func Quadlet(s *stack.Stack, pods []*planner.Pod) (map[string]File, []string, error) {
	tmpl, err := templates.Quadlet()
	if err != nil {
		return nil, nil, err
	}
	files := map[string]File{}
	var warnings []string
	render := func(file, name string, data any) error {
		var b bytes.Buffer
		if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		files[file] = File{Data: b.Bytes(), Mode: 0o644}
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
		var env, vols, labels, requires, secrets []string
		var private bytes.Buffer // the credentials' environment file
		for _, k := range sortedKeys(svc.Environment) {
			v := svc.Environment[k]
			switch {
			case !s.IsCredential(k, v):
				env = append(env, shellJoin([]string{k + "=" + v}))
			case strings.ContainsAny(v, "\r\n"):
				secret := dnsName(unit(name) + "-" + k)
				files[secret+".secret"] = File{Data: []byte(v), Mode: 0o600}
				secrets = append(secrets, secret+",type=env,target="+k)
				warnings = append(warnings, fmt.Sprintf("service %s: %s spans several lines, which an environment file cannot hold: "+
					"its unit reads the Podman secret %s; create it first: podman secret create %s %s.secret", name, k, secret, secret, secret))
			default:
				fmt.Fprintf(&private, "%s=%s\n", k, v)
			}
		}
		if private.Len() > 0 {
			envFile := unit(name) + ".env"
			files[envFile] = File{Data: private.Bytes(), Mode: 0o600}
			data["EnvironmentFile"] = envFile
		}
		data["Secrets"] = secrets
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
		if h := svc.Health; h.InheritsTest() {
			warnings = append(warnings, fmt.Sprintf("service %s: the healthcheck keeps the image's own test, which the export cannot see; no HealthCmd is written", name))
		} else if h != nil {
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
		args, dropped := quadletArgs(svc)
		if len(args) > 0 {
			data["PodmanArgs"] = shellJoin(args)
		}
		if len(dropped) > 0 {
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

// quadletArgs turns the service settings the .container template has no key
// for into podman run arguments for PodmanArgs= (Quadlet in Podman 4.5 and
// later), and names those it cannot carry at all: a container in a pod
// cannot set hosts or DNS (the pod does), and secrets and configs need
// Podman-side objects the export does not create.
func quadletArgs(svc *stack.Service) (args, dropped []string) {
	add := func(a ...string) { args = append(args, a...) }
	if svc.User != "" {
		add("--user", svc.User)
	}
	if svc.WorkingDir != "" {
		add("--workdir", svc.WorkingDir)
	}
	if svc.Privileged {
		add("--privileged")
	}
	if svc.ReadOnly {
		add("--read-only")
	}
	for _, c := range svc.CapAdd {
		add("--cap-add", c)
	}
	for _, c := range svc.CapDrop {
		add("--cap-drop", c)
	}
	r := svc.Resources
	if r.CPUs > 0 {
		add("--cpus", strconv.FormatFloat(r.CPUs, 'f', -1, 64))
	}
	if r.MemoryBytes > 0 {
		add("--memory", strconv.FormatInt(r.MemoryBytes, 10))
	}
	if r.MemoryReservation > 0 {
		add("--memory-reservation", strconv.FormatInt(r.MemoryReservation, 10))
	}
	if r.Pids > 0 {
		add("--pids-limit", strconv.FormatInt(r.Pids, 10))
	}
	if r.CPUShares > 0 {
		add("--cpu-shares", strconv.FormatInt(r.CPUShares, 10))
	}
	if r.CPUSet != "" {
		add("--cpuset-cpus", r.CPUSet)
	}
	for _, name := range sortedKeys(svc.Ulimits) {
		u := svc.Ulimits[name]
		add("--ulimit", fmt.Sprintf("%s=%d:%d", name, u.Soft, u.Hard))
	}
	for _, k := range sortedKeys(svc.Sysctls) {
		add("--sysctl", k+"="+svc.Sysctls[k])
	}
	for _, d := range svc.Devices {
		add("--device", d)
	}
	if svc.StopSignal != "" {
		add("--stop-signal", svc.StopSignal)
	}
	if svc.StopGracePeriod != nil {
		add("--stop-timeout", strconv.Itoa(int(svc.StopGracePeriod.Seconds())))
	}
	if svc.Init {
		add("--init")
	}
	if svc.Tty {
		add("--tty")
	}
	if svc.StdinOpen {
		add("--interactive")
	}
	for _, ns := range []struct{ flag, value string }{{"--pid", svc.PID}, {"--ipc", svc.IPC}} {
		switch {
		case ns.value == "":
		case strings.HasPrefix(ns.value, "service:"):
			dropped = append(dropped, strings.TrimPrefix(ns.flag, "--")+" "+ns.value)
		default:
			add(ns.flag, ns.value)
		}
	}
	if svc.UsernsMode != "" {
		add("--userns", svc.UsernsMode)
	}
	for _, o := range svc.SecurityOpt {
		add("--security-opt", o)
	}
	if svc.ShmSize > 0 {
		add("--shm-size", strconv.FormatInt(svc.ShmSize, 10))
	}
	for _, g := range svc.GroupAdd {
		add("--group-add", g)
	}
	if svc.OomScoreAdj != 0 {
		add("--oom-score-adj", strconv.Itoa(svc.OomScoreAdj))
	}
	if l := svc.Logging; l != nil {
		if l.Driver != "" {
			driver := l.Driver
			if driver == "json-file" {
				driver = "k8s-file"
			}
			add("--log-driver", driver)
		}
		for _, k := range sortedKeys(l.Options) {
			add("--log-opt", k+"="+l.Options[k])
		}
	}
	// What a Quadlet unit cannot carry comes from the one table of service
	// keys.
	return args, append(dropped, svc.NotCarried(stack.QuadletKeys)...)
}
