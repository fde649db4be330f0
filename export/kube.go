package export

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
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
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// KubeOptions tune Kube and Convert.
type KubeOptions struct {
	// Type is "deployment" (default: replicas, rolling updates, restarts)
	// or "pod".
	Type string
	// Namespace is set on every object when not empty.
	Namespace string
	// HostPorts publishes ports on the host (for podman kube play) instead
	// of through a ClusterIP Service; Convert sets it.
	HostPorts bool
	// ImagePorts, when set, returns the ports a local image exposes
	// ("6379/tcp"), and false when the image is not local. A service others
	// reach that declares no port gets its Service from them.
	ImagePorts func(image string) ([]string, bool)
	// InlineEnv puts plain environment values in the containers instead of
	// a ConfigMap (credentials always go to a Secret); Convert sets it.
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
		opts.Type = "deployment"
	}
	if opts.Type != "pod" && opts.Type != "deployment" {
		return nil, fmt.Errorf("invalid --type %q: use pod or deployment", opts.Type)
	}
	e := &exporter{s: s, pods: pods, opts: opts, names: newNames(), warn: map[string]bool{}}
	if len(s.Services) == 0 {
		e.warnf("%s", nothingEnabled(s))
	}
	base := s.Name
	if s.Environment != "" {
		base += "-" + s.Environment
	}
	if !opts.InlineEnv {
		e.env = &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: e.meta(e.names.get("configmap", base+"-env", dnsName(base+"-env")), nil), Data: map[string]string{}}
	}
	// Credentials always go to a Secret, inline environment or not.
	e.secrets = &corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: e.meta(e.names.get("secret", base+"-env", dnsName(base+"-env")), nil), StringData: map[string]string{}, Type: corev1.SecretTypeOpaque}
	for _, key := range sortedKeys(s.Networks) {
		n := s.Networks[key]
		used := false
		for _, svc := range s.Services {
			_, joins := svc.Networks[key]
			used = used || joins || (key == "default" && len(svc.Networks) == 0)
		}
		if !used || (key == "default" && !n.Internal && n.Driver == "" && len(n.Options) == 0 && len(n.Subnets) == 0) {
			continue
		}
		msg := "networks: %s is not exported: pods share one network in Kubernetes and under kube play, so services reach each other across what were separate networks"
		if n.Internal {
			msg += "; its isolation (internal: true) would need a NetworkPolicy"
		}
		e.warnf(msg, key)
	}
	for _, key := range sortedKeys(s.Volumes) {
		v := s.Volumes[key]
		if v.External {
			e.warnf("volume %s is external: no PersistentVolumeClaim is exported for it", key)
		}
		if (v.Driver != "" && v.Driver != "local") || len(v.Options) > 0 {
			e.warnf("volume %s: driver and driver_opts are not exported: the claim gets the cluster's default storage class", key)
		}
		size := firstNonEmpty(v.Size, s.Options.VolumeSize, "1Gi")
		q, err := resource.ParseQuantity(size)
		if err != nil {
			return nil, fmt.Errorf("volume %s: invalid size %q: %v", key, size, err)
		}
		meta := e.meta(e.names.get("claim", key, e.claimName(key)), nil)
		meta.Annotations = map[string]string{stack.VolumeAnnotation: key}
		e.objects = append(e.objects, &corev1.PersistentVolumeClaim{TypeMeta: typeMeta("v1", "PersistentVolumeClaim"),
			ObjectMeta: meta,
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
	if len(e.secrets.StringData) > 0 {
		e.objects = append(e.objects, e.secrets)
	}
	sortObjects(e.objects)
	return &Result{Objects: e.objects, Warnings: e.warnings}, nil
}

// claimName is <project>-<volume>: podman kube play names the volume after
// the claim, so two converted projects do not share a volume by accident.
func (e *exporter) claimName(key string) string {
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

// podName is the exported name of a pod: its key for Kubernetes, where the
// pod's Service makes it resolvable as such. podman kube play registers a
// pod in DNS under its name and nothing else of it, and its output runs on
// a shared host: convert names the pod <key>.<project>, and every converted
// pod searches the <project> domain (see projectDomain), so the key
// resolves as it does under stack up and two projects keep apart.
func (e *exporter) podName(key string) string {
	if e.opts.HostPorts {
		return dnsName(key) + "." + e.projectDomain()
	}
	return dnsName(key)
}

// projectDomain is the DNS search domain of convert's pods.
func (e *exporter) projectDomain() string { return dnsName(e.s.Name) }

// pod exports one planner pod.
func (e *exporter) pod(p *planner.Pod) error {
	name := e.names.get("pod", p.Key, e.podName(p.Key))
	selector := map[string]string{"app.kubernetes.io/name": dnsName(p.Key), "app.kubernetes.io/part-of": dnsLabelValue(e.s.Name)}
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
	var restart []string // the regular members' services, in order
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
			restart = append(restart, m)
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
	labels, annotations := e.podSettings(p, &spec)
	if e.opts.HostPorts {
		e.playNetwork(p, &spec)
	}
	for k, v := range e.dependsOn(p) {
		annotations[k] = v
	}
	annotations[stack.ProjectAnnotation] = e.s.Name
	annotations[stack.PodAnnotation] = p.Key
	for k, v := range selector {
		labels[k] = v
	}
	meta := e.meta(name, labels)
	meta.Annotations = annotations
	switch e.opts.Type {
	case "deployment":
		spec.RestartPolicy = corev1.RestartPolicyAlways
		e.deploymentRestarts(p)
		r := int32(replicas)
		tmeta := metav1.ObjectMeta{Labels: meta.Labels, Annotations: annotations}
		e.objects = append(e.objects, &appsv1.Deployment{TypeMeta: typeMeta("apps/v1", "Deployment"), ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{Replicas: &r, Selector: &metav1.LabelSelector{MatchLabels: selector},
				Strategy: e.strategy(p, spec, replicas),
				Template: corev1.PodTemplateSpec{ObjectMeta: tmeta, Spec: spec}}})
	default:
		spec.RestartPolicy = e.restartPolicy(p, restart)
		if replicas > 1 {
			e.warnf("pod %s: %d replicas need --type deployment; a Pod runs one", p.Key, replicas)
		}
		e.objects = append(e.objects, &corev1.Pod{TypeMeta: typeMeta("v1", "Pod"), ObjectMeta: meta, Spec: spec})
	}
	if !e.opts.HostPorts {
		e.objects = append(e.objects, e.services(p, name, selector)...)
	}
	return nil
}

// podSettings gathers what compose sets per service and Kubernetes per
// pod: hostname, DNS servers, search domains and options (dnsConfig, on top
// of the cluster's DNS), sysctls, numeric supplementary groups; and the
// compose labels of the members, as pod labels where Kubernetes accepts
// them as labels, else as annotations. Members that disagree are warned.
func (e *exporter) podSettings(p *planner.Pod, spec *corev1.PodSpec) (labels, annotations map[string]string) {
	labels, annotations = map[string]string{}, map[string]string{}
	var dns corev1.PodDNSConfig
	sysctls := map[string]string{}
	var groups []int64
	hostnames := map[string]bool{}
	for _, m := range p.Services {
		svc := e.s.Services[m]
		for _, k := range sortedKeys(svc.Labels) {
			v := svc.Labels[k]
			if len(validation.IsQualifiedName(k)) > 0 {
				e.warnf("service %s: labels: %q is not a valid Kubernetes label or annotation key; not exported", m, k)
				continue
			}
			into := annotations
			if len(validation.IsValidLabelValue(v)) == 0 && !strings.HasPrefix(k, "app.kubernetes.io/") {
				into = labels
			}
			if old, ok := into[k]; ok && old != v {
				e.warnf("pod %s: members set label %s to %q and %q; exporting %q", p.Key, k, old, v, v)
			}
			into[k] = v
		}
		if svc.Hostname != "" {
			hostnames[svc.Hostname] = true
		}
		dns.Nameservers = appendNew(dns.Nameservers, svc.DNS...)
		dns.Searches = appendNew(dns.Searches, svc.DNSSearch...)
		for _, o := range svc.DNSOptions {
			name, value, hasValue := strings.Cut(strings.Replace(o, ":", "=", 1), "=")
			opt := corev1.PodDNSConfigOption{Name: name}
			if hasValue {
				opt.Value = &value
			}
			dns.Options = append(dns.Options, opt)
		}
		for _, k := range sortedKeys(svc.Sysctls) {
			if old, ok := sysctls[k]; ok && old != svc.Sysctls[k] {
				e.warnf("pod %s: members set sysctl %s to %q and %q; exporting %q", p.Key, k, old, svc.Sysctls[k], svc.Sysctls[k])
			}
			sysctls[k] = svc.Sysctls[k]
		}
		var named []string
		for _, g := range svc.GroupAdd {
			if n, err := strconv.ParseInt(g, 10, 64); err == nil {
				if !slices.Contains(groups, n) {
					groups = append(groups, n)
				}
			} else {
				named = append(named, g)
			}
		}
		if len(named) > 0 {
			e.warnf("service %s: group_add %s: Kubernetes takes group IDs only (supplementalGroups); not exported", m, strings.Join(named, ", "))
		}
	}
	switch {
	case len(hostnames) > 1:
		e.warnf("pod %s: members set different hostnames (%s); a pod has one: not exported", p.Key, strings.Join(sortedKeys(hostnames), ", "))
	case len(hostnames) == 1 && !spec.HostNetwork:
		for h := range hostnames {
			spec.Hostname = dnsName(h)
		}
	}
	if len(dns.Nameservers)+len(dns.Searches)+len(dns.Options) > 0 {
		spec.DNSConfig = &dns
	}
	if len(sysctls)+len(groups) > 0 {
		spec.SecurityContext = &corev1.PodSecurityContext{SupplementalGroups: groups}
		for _, k := range sortedKeys(sysctls) {
			spec.SecurityContext.Sysctls = append(spec.SecurityContext.Sysctls, corev1.Sysctl{Name: k, Value: sysctls[k]})
		}
	}
	return labels, annotations
}

// deploymentRestarts warns about what a Deployment, which always restarts
// its containers, does not keep of compose's restart policies: a service
// that should stay down, or that others wait for to complete.
func (e *exporter) deploymentRestarts(p *planner.Pod) {
	for _, m := range p.Services {
		svc := e.s.Services[m]
		if svc.InitContainer {
			continue
		}
		switch r := string(svc.Restart); {
		case r == "no" || strings.HasPrefix(r, "on-failure"):
			e.warnf("service %s: restart policy %s (restart, deploy.restart_policy) is not exported: a Deployment restarts its containers whenever they exit; use --type pod", m, r)
		case len(e.dependentsWaitingFor(p, m)) > 0 && r == "":
			e.warnf("service %s: %s wait for it to complete, but a Deployment restarts it whenever it exits: run it as a Job, or use --type pod",
				m, strings.Join(e.dependentsWaitingFor(p, m), ", "))
		}
	}
}

// dependentsWaitingFor lists the services of other pods that wait for
// service to complete (service_completed_successfully).
func (e *exporter) dependentsWaitingFor(p *planner.Pod, service string) []string {
	var out []string
	for _, name := range e.dependentsOutside(p, service) {
		if e.s.Services[name].DependsOn[service].Condition == stack.ConditionCompleted {
			out = append(out, name)
		}
	}
	return out
}

func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

// strategy is Recreate for a pod that mounts a claim (ReadWriteOnce: a
// rolling update would start the new pod while the old one holds it), else
// a rolling update, as compose's default update order (stop-first) is not
// Kubernetes' and a Deployment with no downtime is what users expect.
func (e *exporter) strategy(p *planner.Pod, spec corev1.PodSpec, replicas int) appsv1.DeploymentStrategy {
	var claims []string
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims = append(claims, v.PersistentVolumeClaim.ClaimName)
		}
	}
	if len(claims) == 0 {
		return appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
	}
	if replicas > 1 {
		e.warnf("pod %s: %d replicas share claim %s, which is ReadWriteOnce: they must run on one node", p.Key, replicas, strings.Join(claims, ", "))
	}
	return appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
}

// playNetwork gives a converted pod what stack up gives it on the project
// network, in the terms podman kube play knows: the pod's hostname, the
// project domain to search (so a pod's key resolves: see podName), and
// for a pod of several services each member's name on 127.0.0.1. Other
// pods reach such a pod by its key only: a member named by a dependent in
// another pod is warned about.
func (e *exporter) playNetwork(p *planner.Pod, spec *corev1.PodSpec) {
	if spec.HostNetwork {
		return
	}
	for a, m := range e.aliases(p) {
		e.warnf("service %s: networks: alias %s is not exported: podman kube play resolves a pod by its name only", m, a)
	}
	spec.Hostname = dnsName(p.Hostname)
	if spec.DNSConfig == nil {
		spec.DNSConfig = &corev1.PodDNSConfig{}
	}
	spec.DNSConfig.Searches = append([]string{e.projectDomain()}, spec.DNSConfig.Searches...)
	if len(p.Services) < 2 {
		return
	}
	var members []string
	for _, m := range p.Services {
		if m != p.Key {
			members = append(members, m)
		}
	}
	spec.HostAliases = append([]corev1.HostAlias{{IP: "127.0.0.1", Hostnames: members}}, spec.HostAliases...)
	for _, m := range members {
		if deps := e.dependentsOutside(p, m); len(deps) > 0 {
			e.warnf("service %s shares pod %s: under podman kube play other pods reach it as %s, not %s (%s %s it by name)",
				m, p.Key, p.Key, m, strings.Join(deps, ", "), plural(len(deps), "uses", "use"))
		}
	}
}

// dependentsOutside lists the services of other pods that depend on or
// link to service.
func (e *exporter) dependentsOutside(p *planner.Pod, service string) []string {
	var out []string
	for _, name := range e.s.ServiceNames() {
		if contains(p.Services, name) {
			continue
		}
		if _, ok := e.s.Services[name].DependsOn[service]; ok {
			out = append(out, name)
		}
	}
	return out
}

// restartPolicy is the pod's one policy for its regular members (the
// services named): compose's restart of each, where "no" is Never and
// on-failure OnFailure. Unset is Always (compose's default "no" would leave
// a Kubernetes workload down after any exit), except for a one-shot, a
// service others wait for to complete (service_completed_successfully):
// Always would run it again after its success, so it is OnFailure, retried
// until it succeeds (as a Job's pod), since nothing in Kubernetes starts
// it after what it needs, as depends_on did.
func (e *exporter) restartPolicy(p *planner.Pod, members []string) corev1.RestartPolicy {
	seen := map[corev1.RestartPolicy]bool{}
	for _, m := range members {
		switch r := string(e.s.Services[m].Restart); {
		case r == "no":
			seen[corev1.RestartPolicyNever] = true
		case strings.HasPrefix(r, "on-failure"):
			seen[corev1.RestartPolicyOnFailure] = true
			if _, n, ok := strings.Cut(r, ":"); ok {
				e.warnf("service %s: restart %s: the retry count %s is not exported (a Pod retries without limit; a Job's backoffLimit would count)", m, r, n)
			}
		case r == "" && len(e.dependentsWaitingFor(p, m)) > 0:
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
	}
	if svc.Build != nil {
		e.warnf("service %s: build is not exported: the image %s must be in a registry the cluster pulls from", svc.Name, c.Image)
	}
	c.ImagePullPolicy = e.pullPolicy(svc)
	for _, k := range sortedKeys(svc.Environment) {
		v := svc.Environment[k]
		ev := corev1.EnvVar{Name: k}
		switch {
		case e.s.IsCredential(k, v):
			key := envKey(svc.Name, k)
			e.secrets.StringData[key] = v
			ev.ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: e.secrets.Name}, Key: key}}
		case e.opts.InlineEnv:
			ev.Value = v
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
		} else if !e.opts.HostPorts && pt.HostIP != "" && pt.HostIP != "0.0.0.0" && pt.HostIP != "::" {
			e.warnf("service %s: ports: host IP %s of port %d is not exported (a Service listens on its cluster IP)", svc.Name, pt.HostIP, pt.Target)
		} else if e.opts.HostPorts && pt.Ephemeral {
			e.warnf("service %s: port %d is published on a host port Podman picks; Pod YAML has no such port: give it a host port (\"8080:%d\") to publish it", svc.Name, pt.Target, pt.Target)
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
	// What the service sets that Kubernetes has no field for comes from
	// the one table of service keys; below, what it has no field for only
	// with some values.
	for _, k := range svc.NotCarried(stack.KubeKeys) {
		e.warnf("service %s: %s is not exported", svc.Name, k)
	}
	for _, x := range []struct {
		key string
		set bool
	}{
		{"pid " + svc.PID, svc.PID != "" && svc.PID != "host" && !strings.HasPrefix(svc.PID, "service:")},
		{"ipc " + svc.IPC, svc.IPC != "" && svc.IPC != "host" && !strings.HasPrefix(svc.IPC, "service:")},
		{"deploy.mode " + svc.DeployMode + " (one replica is exported; a DaemonSet would run one per node)", svc.DeployMode == "global"},
	} {
		if x.set {
			e.warnf("service %s: %s is not exported", svc.Name, x.key)
		}
	}
	return c, vols, err
}

// pullPolicy maps compose's pull_policy. Unset, a Kubernetes export keeps
// the cluster's default; convert, which runs on this host, pulls only
// missing images, as compose and stack up do.
func (e *exporter) pullPolicy(svc *stack.Service) corev1.PullPolicy {
	switch svc.PullPolicy {
	case "always":
		return corev1.PullAlways
	case "never":
		return corev1.PullNever
	case "missing", "if_not_present", "build":
		return corev1.PullIfNotPresent
	case "":
		if e.opts.HostPorts {
			return corev1.PullIfNotPresent
		}
		return ""
	}
	e.warnf("service %s: pull_policy %s has no Kubernetes equivalent; the cluster's default applies", svc.Name, svc.PullPolicy)
	return ""
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
		vname := dnsName("secret-" + ref.Source)
		if e.opts.HostPorts && sec.File != "" {
			// convert's output runs on this host, as compose does: the file
			// is mounted where it is, as compose binds it, and its content
			// is not copied into a pods.yaml that may be committed.
			file := corev1.HostPathFile
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vname, MountPath: ref.Target, ReadOnly: true})
			vols = append(vols, corev1.Volume{Name: vname, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: sec.File, Type: &file}}})
			e.fileOwnership(svc, "secret", ref, true)
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
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vname, MountPath: ref.Target, SubPath: "value", ReadOnly: true})
		vols = append(vols, corev1.Volume{Name: vname, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name,
			DefaultMode: e.fileOwnership(svc, "secret", ref, false)}}})
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
		vols = append(vols, corev1.Volume{Name: vname, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name},
			DefaultMode: e.fileOwnership(svc, "config", ref, false)}}})
	}
	return vols, nil
}

// fileOwnership maps a secret's or config's mode to the volume's
// defaultMode, as kompose does, and warns about what has no field: the
// owner (uid, gid: Kubernetes sets a pod-wide fsGroup at most), and any of
// them on a host file (convert), which keeps the host's.
func (e *exporter) fileOwnership(svc *stack.Service, kind string, ref stack.FileRef, hostFile bool) *int32 {
	var dropped []string
	if ref.UID != "" {
		dropped = append(dropped, "uid")
	}
	if ref.GID != "" {
		dropped = append(dropped, "gid")
	}
	var mode *int32
	if ref.Mode != nil {
		if hostFile {
			dropped = append(dropped, "mode")
		} else {
			m := int32(*ref.Mode)
			mode = &m
		}
	}
	if len(dropped) > 0 {
		why := "Kubernetes sets no owner per file"
		if hostFile {
			why = "the file is mounted from the host as it is"
		}
		e.warnf("service %s: %s %s: %s not exported (%s)", svc.Name, kind, ref.Source, strings.Join(dropped, ", "), why)
	}
	return mode
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

// services are the ClusterIP Services of a pod. Compose services reach each
// other by name on the container port, with or without ports:; Kubernetes
// needs a Service for that. A pod gets one, named after it, when it
// publishes or exposes ports or when services of other pods depend on (or
// link to) one of its members; such a member that is not the pod's
// namesake gets its own (in compose input). The ports are the container ports (and published
// ones where they differ), from ports and expose, else from the ports the
// image exposes when it is local. When no port is known a warning names
// the dependents that cannot reach it.
func (e *exporter) services(p *planner.Pod, name string, selector map[string]string) []runtime.Object {
	var ports []corev1.ServicePort
	seen := map[string]bool{}
	add := func(port, target uint16, proto string) {
		key := fmt.Sprintf("%d/%s", port, proto)
		if seen[key] {
			return
		}
		seen[key] = true
		ports = append(ports, corev1.ServicePort{Name: portName(proto, port), Port: int32(port), TargetPort: intstr.FromInt32(int32(target)),
			Protocol: corev1.Protocol(strings.ToUpper(proto))})
	}
	for _, m := range p.Services {
		svc := e.s.Services[m]
		for _, pt := range svc.Ports {
			add(pt.Target, pt.Target, pt.Protocol)
			if pt.Published != 0 && pt.Published != pt.Target {
				add(pt.Published, pt.Target, pt.Protocol)
			}
		}
		for _, x := range svc.Expose {
			add(x, x, "tcp")
		}
	}
	reached := map[string][]string{} // member -> dependents in other pods
	for _, m := range p.Services {
		if deps := e.dependentsOutside(p, m); len(deps) > 0 {
			reached[m] = deps
		}
	}
	aliases := e.aliases(p) // alias -> member
	if len(ports) == 0 && len(reached)+len(aliases) > 0 && e.opts.ImagePorts != nil {
		for _, m := range p.Services {
			exposed, _ := e.opts.ImagePorts(planner.ImageRef(e.s, e.s.Services[m]))
			for _, x := range exposed {
				num, proto, _ := strings.Cut(x, "/")
				if n, err := strconv.ParseUint(num, 10, 16); err == nil && n > 0 {
					add(uint16(n), uint16(n), firstNonEmpty(proto, "tcp"))
				}
			}
		}
	}
	if len(ports) == 0 {
		for _, m := range sortedKeys(reached) {
			deps := reached[m]
			e.warnf("service %s: %s %s on it, but no port is known (no ports, expose, or local image exposing one): "+
				"no Service is exported, so it is not reachable by name; add expose: [PORT] to %s",
				m, strings.Join(deps, ", "), plural(len(deps), "depends", "depend"), m)
		}
		for _, a := range sortedKeys(aliases) {
			e.warnf("service %s: networks: alias %s is not exported: no port is known for its Service; add expose: [PORT]", aliases[a], a)
		}
		return nil
	}
	sort.SliceStable(ports, func(i, j int) bool { return ports[i].Port < ports[j].Port })
	service := func(svcName, original string) *corev1.Service {
		return &corev1.Service{TypeMeta: typeMeta("v1", "Service"), ObjectMeta: e.meta(e.names.get("service", original, svcName), nil),
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: selector, Ports: ports}}
	}
	out := []runtime.Object{service(name, p.Key)}
	made := map[string]bool{name: true}
	// Kubernetes input reaches pods by their name; compose reaches a
	// service by its name and its network aliases.
	if e.s.Format != stack.FormatKube {
		for _, m := range sortedKeys(reached) {
			if !made[dnsName(m)] {
				made[dnsName(m)] = true
				out = append(out, service(dnsName(m), m))
			}
		}
		for _, a := range sortedKeys(aliases) {
			if !made[dnsName(a)] {
				made[dnsName(a)] = true
				out = append(out, service(dnsName(a), "alias "+a))
			}
		}
	}
	return out
}

// aliases maps the network aliases of a pod's members to the member.
func (e *exporter) aliases(p *planner.Pod) map[string]string {
	out := map[string]string{}
	for _, m := range p.Services {
		for _, k := range sortedKeys(e.s.Services[m].Networks) {
			if sn := e.s.Services[m].Networks[k]; sn != nil {
				for _, a := range sn.Aliases {
					out[a] = m
				}
			}
		}
	}
	return out
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

// nothingEnabled says why a stack has no service to export, and how to get
// them: every service is behind a profile that is not enabled.
func nothingEnabled(s *stack.Stack) string {
	if len(s.Disabled) == 0 {
		return "the stack defines no service: no workload is exported"
	}
	profiles := map[string]bool{}
	for _, svc := range s.Disabled {
		for _, p := range svc.Profiles {
			profiles[p] = true
		}
	}
	var flags []string
	for _, p := range sortedKeys(profiles) {
		flags = append(flags, "--profile "+p)
	}
	return fmt.Sprintf("no service is enabled: %s %s behind profiles that are not enabled, so no workload is exported (enable them with %s)",
		strings.Join(sortedKeys(s.Disabled), ", "), plural(len(s.Disabled), "is", "are"), strings.Join(flags, " or "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
