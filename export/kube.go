package export

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// KubeOptions tune Kube and Convert.
type KubeOptions struct {
	// Type is "pod" (default) or "deployment".
	Type string
	// Namespace is set on every object when not empty.
	Namespace string
	// HostPorts publishes ports on the host (for podman kube play) instead
	// of through a ClusterIP Service; Convert sets it.
	HostPorts bool
	// InlineEnv puts environment values in the containers instead of a
	// ConfigMap and Secret; Convert sets it.
	InlineEnv bool
}

// Result is a set of Kubernetes objects and what was dropped on the way.
type Result struct {
	Objects  []runtime.Object
	Warnings []string
}

// exporter builds the objects of one stack.
type exporter struct {
	s        *stack.Stack
	pods     []*planner.Pod
	opts     KubeOptions
	names    *names
	warn     map[string]bool
	warnings []string
	env      *corev1.ConfigMap
	secrets  *corev1.Secret
	objects  []runtime.Object
}

func (e *exporter) warnf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if !e.warn[msg] {
		e.warn[msg] = true
		e.warnings = append(e.warnings, msg)
	}
}

// Kube exports the stack, grouped as the planner groups it, to Kubernetes
// objects: a Pod or Deployment and a ClusterIP Service per pod, a claim per
// named volume, a ConfigMap for plain environment values and configs, and a
// Secret for secrets and secret-looking values (never in a ConfigMap).
func Kube(s *stack.Stack, pods []*planner.Pod, opts KubeOptions) (*Result, error) {
	if opts.Type == "" {
		opts.Type = "pod"
	}
	if opts.Type != "pod" && opts.Type != "deployment" {
		return nil, fmt.Errorf("invalid --type %q: use pod or deployment", opts.Type)
	}
	e := &exporter{s: s, pods: pods, opts: opts, names: newNames(), warn: map[string]bool{}}
	base := s.Name
	if s.Environment != "" {
		base += "-" + s.Environment
	}
	if !opts.InlineEnv {
		e.env = &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: e.meta(e.names.get("configmap", base+"-env", base+"-env"), nil), Data: map[string]string{}}
		e.secrets = &corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: e.meta(e.names.get("secret", base+"-env", base+"-env"), nil), StringData: map[string]string{}, Type: corev1.SecretTypeOpaque}
	}
	for _, key := range sortedKeys(s.Volumes) {
		v := s.Volumes[key]
		if v.External {
			e.warnf("volume %s is external: no PersistentVolumeClaim is exported for it", key)
		}
		size := firstNonEmpty(v.Size, s.Options.VolumeSize, "1Gi")
		q, err := resource.ParseQuantity(size)
		if err != nil {
			return nil, fmt.Errorf("volume %s: invalid size %q: %v", key, size, err)
		}
		e.objects = append(e.objects, &corev1.PersistentVolumeClaim{TypeMeta: typeMeta("v1", "PersistentVolumeClaim"),
			ObjectMeta: e.meta(e.names.get("claim", key, e.claimName(key)), nil),
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q}}}})
	}
	for _, p := range pods {
		if err := e.pod(p); err != nil {
			return nil, err
		}
	}
	if err := e.names.err(); err != nil {
		return nil, err
	}
	if e.env != nil && len(e.env.Data) > 0 {
		e.objects = append(e.objects, e.env)
	}
	if e.secrets != nil && len(e.secrets.StringData) > 0 {
		e.objects = append(e.objects, e.secrets)
	}
	sortObjects(e.objects)
	return &Result{Objects: e.objects, Warnings: e.warnings}, nil
}

func (e *exporter) claimName(key string) string {
	if e.opts.HostPorts {
		return dnsName(key) // podman kube play names the volume after the claim
	}
	return dnsName(e.s.Name + "-" + key)
}

func typeMeta(api, kind string) metav1.TypeMeta { return metav1.TypeMeta{APIVersion: api, Kind: kind} }

func (e *exporter) meta(name string, labels map[string]string) metav1.ObjectMeta {
	l := map[string]string{"app.kubernetes.io/part-of": dnsLabelValue(e.s.Name)}
	if e.s.Environment != "" {
		l["podstack.io/environment"] = dnsLabelValue(e.s.Environment)
	}
	for k, v := range labels {
		l[k] = v
	}
	return metav1.ObjectMeta{Name: name, Namespace: e.opts.Namespace, Labels: l}
}

// podName is the exported name of a pod: its key for Kubernetes (where the
// pod's Service makes it resolvable as such), and the Podman name stack up
// gives it (<project>-<key>) for convert, whose output runs on a shared host.
func (e *exporter) podName(key string) string {
	if e.opts.HostPorts {
		return dnsName(e.s.Name + "-" + key)
	}
	return dnsName(key)
}

// pod exports one planner pod.
func (e *exporter) pod(p *planner.Pod) error {
	name := e.names.get("pod", p.Key, e.podName(p.Key))
	selector := map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": dnsLabelValue(e.s.Name)}
	spec := corev1.PodSpec{}
	replicas := 1
	// One-shots that a member of the same pod waits for run first, as init containers.
	inits := map[string]bool{}
	for _, m := range p.Services {
		for dep, d := range e.s.Services[m].DependsOn {
			if d.Condition == stack.ConditionCompleted && contains(p.Services, dep) {
				inits[dep] = true
			}
		}
	}
	var restart []string
	var grace *int64
	for _, m := range p.Services {
		svc := e.s.Services[m]
		c, vols, err := e.container(svc)
		if err != nil {
			return err
		}
		if inits[m] || svc.InitContainer {
			spec.InitContainers = append(spec.InitContainers, c)
		} else {
			spec.Containers = append(spec.Containers, c)
			restart = append(restart, string(svc.Restart))
		}
		spec.Volumes = appendVolumes(spec.Volumes, vols)
		if len(p.Addresses) > 0 && m == p.Services[0] {
			e.warnf("pod %s: static addresses (ipv4_address, mac_address, interface_name) have no Kubernetes equivalent; not exported", p.Key)
		}
		if svc.Replicas > replicas {
			if replicas > 1 && svc.Replicas != replicas {
				e.warnf("pod %s: members have different replica counts; exporting %d", p.Key, svc.Replicas)
			}
			replicas = svc.Replicas
		}
		if svc.NetworkMode == "host" {
			spec.HostNetwork = true
		}
		if svc.PID == "host" {
			spec.HostPID = true
		}
		if svc.IPC == "host" {
			spec.HostIPC = true
		}
		if strings.HasPrefix(svc.PID, "service:") {
			share := true
			spec.ShareProcessNamespace = &share // the pod's members already share IPC
		}
		if svc.StopGracePeriod != nil {
			g := int64(math.Ceil(svc.StopGracePeriod.Seconds()))
			if grace == nil || g > *grace {
				grace = &g
			}
		}
		for _, h := range svc.ExtraHosts {
			host, ip, _ := strings.Cut(h, ":")
			spec.HostAliases = append(spec.HostAliases, corev1.HostAlias{IP: ip, Hostnames: []string{host}})
		}
	}
	spec.TerminationGracePeriodSeconds = grace
	if len(spec.Containers) == 0 {
		spec.Containers, spec.InitContainers = spec.InitContainers, nil
	}
	annotations := e.dependsOn(p)
	meta := e.meta(name, selector)
	meta.Annotations = annotations
	switch e.opts.Type {
	case "deployment":
		spec.RestartPolicy = corev1.RestartPolicyAlways
		r := int32(replicas)
		tmeta := metav1.ObjectMeta{Labels: meta.Labels, Annotations: annotations}
		e.objects = append(e.objects, &appsv1.Deployment{TypeMeta: typeMeta("apps/v1", "Deployment"), ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{Replicas: &r, Selector: &metav1.LabelSelector{MatchLabels: selector},
				Template: corev1.PodTemplateSpec{ObjectMeta: tmeta, Spec: spec}}})
	default:
		spec.RestartPolicy = e.restartPolicy(p, restart)
		if replicas > 1 {
			e.warnf("pod %s: %d replicas need --type deployment; a Pod runs one", p.Key, replicas)
		}
		e.objects = append(e.objects, &corev1.Pod{TypeMeta: typeMeta("v1", "Pod"), ObjectMeta: meta, Spec: spec})
	}
	if !e.opts.HostPorts {
		if svc := e.service(p, name, selector); svc != nil {
			e.objects = append(e.objects, svc)
		}
	}
	return nil
}

func (e *exporter) restartPolicy(p *planner.Pod, policies []string) corev1.RestartPolicy {
	seen := map[corev1.RestartPolicy]bool{}
	for _, r := range policies {
		switch {
		case r == "no":
			seen[corev1.RestartPolicyNever] = true
		case strings.HasPrefix(r, "on-failure"):
			seen[corev1.RestartPolicyOnFailure] = true
		default:
			seen[corev1.RestartPolicyAlways] = true
		}
	}
	if len(seen) > 1 {
		e.warnf("pod %s: members have different restart policies; Kubernetes has one per pod: Always", p.Key)
		return corev1.RestartPolicyAlways
	}
	for r := range seen {
		return r
	}
	return corev1.RestartPolicyAlways
}

// dependsOn records depends_on across pods in the annotation the kube
// loader reads back: "db:healthy, cache".
func (e *exporter) dependsOn(p *planner.Pod) map[string]string {
	podOf := map[string]string{}
	for _, q := range e.pods {
		for _, m := range q.Services {
			podOf[m] = q.Key
		}
	}
	conds := map[string]string{}
	for _, m := range p.Services {
		for dep, d := range e.s.Services[m].DependsOn {
			target := podOf[dep]
			if target == "" || target == p.Key {
				continue
			}
			c := "started"
			switch d.Condition {
			case stack.ConditionHealthy:
				c = "healthy"
			case stack.ConditionCompleted:
				c = "completed"
			}
			if rank(c) > rank(conds[target]) {
				conds[target] = c
			}
		}
	}
	if len(conds) == 0 {
		return nil
	}
	var parts []string
	for _, t := range sortedKeys(conds) {
		part := e.podName(t)
		if conds[t] != "started" {
			part += ":" + conds[t]
		}
		parts = append(parts, part)
	}
	return map[string]string{stack.DependsOnAnnotation: strings.Join(parts, ", ")}
}

func rank(c string) int {
	return map[string]int{"started": 1, "healthy": 2, "completed": 3}[c]
}

// container exports one service and returns the pod volumes it needs.
func (e *exporter) container(svc *stack.Service) (corev1.Container, []corev1.Volume, error) {
	c := corev1.Container{Name: e.names.get("container "+svc.Pod, svc.Name, dnsName(svc.Name)), Image: svc.Image,
		Command: svc.Entrypoint, Args: svc.Command, WorkingDir: svc.WorkingDir, TTY: svc.Tty, Stdin: svc.StdinOpen}
	if c.Image == "" {
		c.Image = planner.ImageRef(e.s, svc)
		e.warnf("service %s: build: is not exported; the image is referenced as %s", svc.Name, c.Image)
	}
	for _, k := range sortedKeys(svc.Environment) {
		v := svc.Environment[k]
		ev := corev1.EnvVar{Name: k}
		switch {
		case e.opts.InlineEnv:
			ev.Value = v
		case e.s.IsCredential(k, v):
			key := envKey(svc.Name, k)
			e.secrets.StringData[key] = v
			ev.ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: e.secrets.Name}, Key: key}}
		default:
			key := envKey(svc.Name, k)
			e.env.Data[key] = v
			ev.ValueFrom = &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: e.env.Name}, Key: key}}
		}
		c.Env = append(c.Env, ev)
	}
	for _, pt := range svc.Ports {
		cp := corev1.ContainerPort{ContainerPort: int32(pt.Target), Protocol: corev1.Protocol(strings.ToUpper(pt.Protocol))}
		if e.opts.HostPorts && pt.Published != 0 {
			cp.HostPort = int32(pt.Published)
			cp.HostIP = pt.HostIP
		}
		c.Ports = append(c.Ports, cp)
	}
	for _, x := range svc.Expose {
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: int32(x), Protocol: corev1.ProtocolTCP})
	}
	c.Resources = resources(svc.Resources)
	if h := svc.Health; h.InheritsTest() {
		e.warnf("service %s: the healthcheck keeps the image's own test, which the export cannot see; no probe is written", svc.Name)
	} else if h != nil {
		pr := probe(h)
		if e.opts.HostPorts && h.Test[0] == "CMD-SHELL" {
			// podman kube play joins an exec probe's argv with spaces and runs
			// it as a shell command: a script without shell syntax is given
			// as its words, which mean the same to Kubernetes and to Podman.
			if words, ok := plainWords(strings.Join(h.Test[1:], " ")); ok {
				pr.Exec.Command = words
			} else {
				e.warnf("service %s: podman kube play joins exec probes with spaces, so the /bin/sh -c healthcheck will not run as written there (stack up runs it correctly)", svc.Name)
			}
		}
		c.LivenessProbe = pr
		if !e.opts.HostPorts {
			ready := *pr
			c.ReadinessProbe = &ready
		}
	}
	noNewPrivs := false
	for _, opt := range svc.SecurityOpt {
		if o, err := stack.ParseSecurityOpt(opt); err == nil && o.Key == "no-new-privileges" && o.Value == "true" {
			noNewPrivs = true
		} else {
			e.warnf("service %s: security_opt %s is not exported", svc.Name, opt)
		}
	}
	if svc.Privileged || svc.ReadOnly || len(svc.CapAdd) > 0 || len(svc.CapDrop) > 0 || svc.User != "" || noNewPrivs {
		sc := &corev1.SecurityContext{}
		if noNewPrivs {
			no := false
			sc.AllowPrivilegeEscalation = &no
		}
		if svc.Privileged {
			sc.Privileged = &svc.Privileged
		}
		if svc.ReadOnly {
			sc.ReadOnlyRootFilesystem = &svc.ReadOnly
		}
		if len(svc.CapAdd)+len(svc.CapDrop) > 0 {
			sc.Capabilities = &corev1.Capabilities{}
			for _, cp := range svc.CapAdd {
				sc.Capabilities.Add = append(sc.Capabilities.Add, corev1.Capability(cp))
			}
			for _, cp := range svc.CapDrop {
				sc.Capabilities.Drop = append(sc.Capabilities.Drop, corev1.Capability(cp))
			}
		}
		if svc.User != "" {
			uid, gid, _ := strings.Cut(svc.User, ":")
			if n, err := strconv.ParseInt(uid, 10, 64); err == nil {
				sc.RunAsUser = &n
				if g, err := strconv.ParseInt(gid, 10, 64); err == nil {
					sc.RunAsGroup = &g
				}
			} else {
				e.warnf("service %s: user %q is not numeric; Kubernetes needs a UID (runAsUser), dropped", svc.Name, svc.User)
			}
		}
		c.SecurityContext = sc
	}
	vols, err := e.mounts(svc, &c)
	for _, k := range svc.Unsupported {
		e.warnf("service %s: %s is not exported", svc.Name, k)
	}
	if len(svc.Ulimits) > 0 {
		e.warnf("service %s: ulimits are not exported (Kubernetes has no per-container rlimits)", svc.Name)
	}
	if len(svc.Sysctls) > 0 {
		e.warnf("service %s: sysctls are not exported", svc.Name)
	}
	if len(svc.Devices) > 0 {
		e.warnf("service %s: devices are not exported", svc.Name)
	}
	for _, x := range []struct {
		key string
		set bool
	}{
		{"pid " + svc.PID, svc.PID != "" && svc.PID != "host" && !strings.HasPrefix(svc.PID, "service:")},
		{"ipc " + svc.IPC, svc.IPC != "" && svc.IPC != "host" && !strings.HasPrefix(svc.IPC, "service:")},
		{"userns_mode", svc.UsernsMode != ""},
		{"shm_size", svc.ShmSize > 0},
		{"group_add", len(svc.GroupAdd) > 0},
		{"oom_score_adj", svc.OomScoreAdj != 0},
		{"logging", svc.Logging != nil},
		{"dns_search/dns_opt", len(svc.DNSSearch)+len(svc.DNSOptions) > 0},
	} {
		if x.set {
			e.warnf("service %s: %s is not exported", svc.Name, x.key)
		}
	}
	return c, vols, err
}

// envKey is a ConfigMap/Secret key for one service's variable.
func envKey(service, name string) string {
	return dnsName(service) + "." + name
}

func (e *exporter) mounts(svc *stack.Service, c *corev1.Container) ([]corev1.Volume, error) {
	var vols []corev1.Volume
	for i, m := range svc.Mounts {
		vname := dnsName(fmt.Sprintf("%s-%d", svc.Name, i))
		vm := corev1.VolumeMount{Name: vname, MountPath: m.Target, ReadOnly: m.ReadOnly, SubPath: m.SubPath}
		var src corev1.VolumeSource
		switch m.Type {
		case stack.MountVolume:
			if m.Source == "" {
				src.EmptyDir = &corev1.EmptyDirVolumeSource{}
				break
			}
			vm.Name = dnsName(m.Source)
			src.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: e.claimName(m.Source)}
		case stack.MountBind:
			e.warnf("service %s: bind mount %s becomes a hostPath volume (it reads the node's file system)", svc.Name, m.Source)
			src.HostPath = &corev1.HostPathVolumeSource{Path: m.Source}
		case stack.MountTmpfs:
			src.EmptyDir = &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
			if m.TmpfsSize > 0 {
				q := resource.NewQuantity(m.TmpfsSize, resource.BinarySI)
				src.EmptyDir.SizeLimit = q
			}
		}
		c.VolumeMounts = append(c.VolumeMounts, vm)
		vols = append(vols, corev1.Volume{Name: vm.Name, VolumeSource: src})
	}
	for _, ref := range svc.Secrets {
		sec := e.s.Secrets[ref.Source]
		if sec == nil {
			continue
		}
		data, err := secretData(sec.File, sec.Environment, sec.Content, sec.External)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", ref.Source, err)
		}
		name := e.names.get("secret", "file "+ref.Source, dnsName(e.s.Name+"-"+ref.Source))
		if data != nil {
			e.objects = appendOnce(e.objects, &corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: e.meta(name, nil),
				Type: corev1.SecretTypeOpaque, StringData: map[string]string{"value": *data}})
		}
		vname := dnsName("secret-" + ref.Source)
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vname, MountPath: ref.Target, SubPath: "value", ReadOnly: true})
		vols = append(vols, corev1.Volume{Name: vname, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}})
	}
	for _, ref := range svc.Configs {
		cfg := e.s.Configs[ref.Source]
		if cfg == nil {
			continue
		}
		data, err := secretData(cfg.File, cfg.Environment, cfg.Content, cfg.External)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", ref.Source, err)
		}
		name := e.names.get("configmap", "config "+ref.Source, dnsName(e.s.Name+"-"+ref.Source))
		if data != nil {
			e.objects = appendOnce(e.objects, &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: e.meta(name, nil),
				Data: map[string]string{"value": *data}})
		}
		vname := dnsName("config-" + ref.Source)
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vname, MountPath: ref.Target, SubPath: "value", ReadOnly: true})
		vols = append(vols, corev1.Volume{Name: vname, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}})
	}
	return vols, nil
}

func secretData(file, env, content string, external bool) (*string, error) {
	switch {
	case external:
		return nil, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		s := string(b)
		return &s, nil
	case env != "":
		s := os.Getenv(env)
		return &s, nil
	}
	return &content, nil
}

func appendOnce(objs []runtime.Object, o runtime.Object) []runtime.Object {
	name := o.(metav1.Object).GetName()
	kind := o.GetObjectKind().GroupVersionKind().Kind
	for _, x := range objs {
		if x.(metav1.Object).GetName() == name && x.GetObjectKind().GroupVersionKind().Kind == kind {
			return objs
		}
	}
	return append(objs, o)
}

func appendVolumes(have, add []corev1.Volume) []corev1.Volume {
	for _, v := range add {
		dup := false
		for _, h := range have {
			if h.Name == v.Name {
				dup = true
			}
		}
		if !dup {
			have = append(have, v)
		}
	}
	return have
}

// service is the ClusterIP Service of a pod, for its published and exposed ports.
func (e *exporter) service(p *planner.Pod, name string, selector map[string]string) *corev1.Service {
	var ports []corev1.ServicePort
	seen := map[string]bool{}
	for _, m := range p.Services {
		svc := e.s.Services[m]
		add := func(port, target uint16, proto string) {
			key := fmt.Sprintf("%d/%s", port, proto)
			if seen[key] {
				return
			}
			seen[key] = true
			ports = append(ports, corev1.ServicePort{Name: portName(proto, port), Port: int32(port), TargetPort: intstr.FromInt32(int32(target)),
				Protocol: corev1.Protocol(strings.ToUpper(proto))})
		}
		for _, pt := range svc.Ports {
			port := pt.Published
			if port == 0 {
				port = pt.Target
			}
			add(port, pt.Target, pt.Protocol)
		}
		for _, x := range svc.Expose {
			add(x, x, "tcp")
		}
	}
	if len(ports) == 0 {
		return nil
	}
	return &corev1.Service{TypeMeta: typeMeta("v1", "Service"), ObjectMeta: e.meta(e.names.get("service", p.Key, name), nil),
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: selector, Ports: ports}}
}

func portName(proto string, port uint16) string {
	return fmt.Sprintf("%s-%d", strings.ToLower(proto), port)
}

func resources(r stack.Resources) corev1.ResourceRequirements {
	var out corev1.ResourceRequirements
	if r.CPUs > 0 || r.MemoryBytes > 0 {
		out.Limits = corev1.ResourceList{}
		if r.CPUs > 0 {
			out.Limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(math.Round(r.CPUs*1000)), resource.DecimalSI)
		}
		if r.MemoryBytes > 0 {
			out.Limits[corev1.ResourceMemory] = *resource.NewQuantity(r.MemoryBytes, resource.BinarySI)
		}
	}
	if r.CPUsReservation > 0 || r.MemoryReservation > 0 {
		out.Requests = corev1.ResourceList{}
		if r.CPUsReservation > 0 {
			out.Requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(math.Round(r.CPUsReservation*1000)), resource.DecimalSI)
		}
		if r.MemoryReservation > 0 {
			out.Requests[corev1.ResourceMemory] = *resource.NewQuantity(r.MemoryReservation, resource.BinarySI)
		}
	}
	return out
}

// probe turns a healthcheck into an exec probe: CMD is the argv, CMD-SHELL
// runs under /bin/sh -c. Durations are explicit (at least 1 s).
func probe(h *stack.HealthCheck) *corev1.Probe {
	var cmd []string
	switch h.Test[0] {
	case "CMD":
		cmd = h.Test[1:]
	case "CMD-SHELL":
		cmd = []string{"/bin/sh", "-c", strings.Join(h.Test[1:], " ")}
	}
	secs := func(d time.Duration) int32 {
		s := int32(math.Ceil(d.Seconds()))
		if s < 1 {
			s = 1
		}
		return s
	}
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}},
		PeriodSeconds: secs(h.Interval), TimeoutSeconds: secs(h.Timeout), FailureThreshold: int32(h.Retries),
		InitialDelaySeconds: int32(h.StartPeriod.Seconds())}
}

// plainWords splits a shell script that uses no shell syntax (quotes,
// pipes, redirections, variables, globs...) into its words.
func plainWords(script string) ([]string, bool) {
	if strings.ContainsAny(script, "|&;<>()$`\\\"'*?[]#~=%{}\n") {
		return nil, false
	}
	words := strings.Fields(script)
	return words, len(words) > 0
}

var kindOrder = map[string]int{"ConfigMap": 0, "Secret": 1, "PersistentVolumeClaim": 2, "Service": 3, "Pod": 4, "Deployment": 4}

func sortObjects(objs []runtime.Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		ki, kj := objs[i].GetObjectKind().GroupVersionKind().Kind, objs[j].GetObjectKind().GroupVersionKind().Kind
		if kindOrder[ki] != kindOrder[kj] {
			return kindOrder[ki] < kindOrder[kj]
		}
		return objs[i].(metav1.Object).GetName() < objs[j].(metav1.Object).GetName()
	})
}

// WriteYAML writes the objects as one multi-document YAML stream, without
// the empty status and creationTimestamp fields the API types carry.
func (r *Result) WriteYAML(w *bytes.Buffer) error {
	for i, o := range r.Objects {
		data, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			return err
		}
		delete(m, "status")
		clean(m)
		data, err = yaml.Marshal(m)
		if err != nil {
			return err
		}
		if i > 0 {
			w.WriteString("---\n")
		}
		w.Write(data)
	}
	return nil
}

// clean drops creationTimestamp: null and empty resources/status maps.
func clean(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "creationTimestamp" && val == nil {
				delete(x, k)
				continue
			}
			if m, ok := val.(map[string]any); ok && len(m) == 0 && (k == "resources" || k == "status" || k == "strategy") {
				delete(x, k)
				continue
			}
			clean(val)
		}
	case []any:
		for _, e := range x {
			clean(e)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
