package stack

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Checks of Kubernetes input that the API server would make and that
// podstack used to skip: the object silently dropped, merged or renamed.
// Each problem names the file and line of the offending field.

// objectGroup is the name space an object's name lives in for podstack:
// Pods and Deployments both become Podman pods, so they share one.
func objectGroup(kind string) string {
	if kind == "Deployment" {
		return "Pod"
	}
	return kind
}

// checkName refuses a metadata.name Kubernetes refuses (uppercase, '_'),
// which podstack would otherwise rename on the way to Podman. The document
// is still read, for the problems in the rest of it.
func (l *kubeLoader) checkName(d *kubeDoc) {
	if len(validation.IsDNS1123Subdomain(d.name)) == 0 {
		return
	}
	l.problems = append(l.problems, Problem{Position: l.at(d, "metadata.name"), Service: d.name,
		Message: fmt.Sprintf("%s name %q is not a valid Kubernetes name (podstack would have to rename it)", d.kind, d.name),
		Fix:     fmt.Sprintf("rename it %q (lowercase letters, digits, '-' and '.')", kubeName(d.name))})
}

// checkDuplicate refuses a second object with the name of one before it:
// two Pods, or a Pod and a Deployment, would be one Podman pod.
func (l *kubeLoader) checkDuplicate(d *kubeDoc, seen map[string]*kubeDoc) bool {
	key := objectGroup(d.kind) + "/" + d.name
	first, ok := seen[key]
	if !ok {
		seen[key] = d
		return true
	}
	what := fmt.Sprintf("a second %s named %q", d.kind, d.name)
	if first.kind != d.kind {
		what = fmt.Sprintf("%s %q has the name of the %s", d.kind, d.name, first.kind)
	}
	l.problems = append(l.problems, Problem{Position: l.at(d, "metadata.name"), Service: d.name,
		Message: fmt.Sprintf("%s at %s:%d; both would be pod %q", what, first.file, first.pos.line("metadata.name"), d.name),
		Fix:     "give each Pod and Deployment its own name"})
	return false
}

// at is the position of path in d, or of d's first line.
func (l *kubeLoader) at(d *kubeDoc, path string) Position {
	if line := d.pos.line(path); line > 0 {
		return Position{File: d.file, Line: line}
	}
	return Position{File: d.file, Line: d.line}
}

// kubeName suggests a valid name for s: lowercase, '_' as '-'.
func kubeName(s string) string {
	s = strings.ToLower(strings.ReplaceAll(s, "_", "-"))
	return strings.Trim(s, "-.")
}

// checkPodSpec checks the settings of a pod spec that apply to all its
// containers.
func (l *kubeLoader) checkPodSpec(d *kubeDoc, specPath, podName string, spec corev1.PodSpec) {
	switch spec.RestartPolicy {
	case "", corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
	default:
		l.problems = append(l.problems, Problem{Position: l.at(d, specPath+".restartPolicy"), Service: podName,
			Message: fmt.Sprintf("restartPolicy %q is not one Kubernetes knows", spec.RestartPolicy), Fix: "use Always, OnFailure or Never"})
	}
}

// checkContainer checks one container: its name, env names, ports, pull
// policy and probes.
func (l *kubeLoader) checkContainer(d *kubeDoc, path, service string, c corev1.Container) {
	add := func(p string, msg, fix string) {
		l.problems = append(l.problems, Problem{Position: l.at(d, path+p), Service: service, Message: msg, Fix: fix})
	}
	if len(validation.IsDNS1123Label(c.Name)) > 0 {
		add(".name", fmt.Sprintf("container name %q is not a valid Kubernetes name (podstack would have to rename it)", c.Name),
			fmt.Sprintf("rename it %q (lowercase letters, digits and '-')", kubeName(c.Name)))
	}
	for i, e := range c.Env {
		if errs := validation.IsRelaxedEnvVarName(e.Name); len(errs) > 0 {
			add(fmt.Sprintf(".env.%d.name", i), fmt.Sprintf("env name %q is not valid: %s", e.Name, strings.Join(errs, "; ")),
				"write the name and the value apart: name: NAME, value: VALUE")
		}
	}
	for i, p := range c.Ports {
		switch p.Protocol {
		case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			add(fmt.Sprintf(".ports.%d.protocol", i), fmt.Sprintf("port protocol %q is not one Kubernetes knows", p.Protocol), "use TCP, UDP or SCTP")
		}
	}
	switch c.ImagePullPolicy {
	case "", corev1.PullAlways, corev1.PullNever, corev1.PullIfNotPresent:
	default:
		add(".imagePullPolicy", fmt.Sprintf("imagePullPolicy %q is not one Kubernetes knows", c.ImagePullPolicy), "use Always, IfNotPresent or Never")
	}
	for _, pr := range []struct {
		key string
		p   *corev1.Probe
	}{{"readinessProbe", c.ReadinessProbe}, {"livenessProbe", c.LivenessProbe}, {"startupProbe", c.StartupProbe}} {
		if pr.p != nil {
			l.checkProbe(d, path+"."+pr.key, service, pr.key, pr.p, c)
		}
	}
}

// checkProbe refuses a probe podstack would drop or run wrong: no handler,
// an empty command, a port out of range or named after no container port,
// negative timings.
func (l *kubeLoader) checkProbe(d *kubeDoc, path, service, key string, p *corev1.Probe, c corev1.Container) {
	add := func(sub, msg, fix string) {
		l.problems = append(l.problems, Problem{Position: l.at(d, path+sub), Service: service, Message: key + ": " + msg, Fix: fix})
	}
	const handlers = "exec: {command: [...]}, httpGet: {port: N} or tcpSocket: {port: N}"
	switch {
	case p.Exec != nil:
		if len(p.Exec.Command) == 0 {
			add(".exec", "exec has no command", "write exec: {command: [CMD, ARG...]}")
		}
	case p.HTTPGet != nil:
		if _, err := probePort(p.HTTPGet.Port, c); err != nil {
			add(".httpGet.port", err.Error(), "name a port of 1-65535, or a containerPort's name")
		}
	case p.TCPSocket != nil:
		if _, err := probePort(p.TCPSocket.Port, c); err != nil {
			add(".tcpSocket.port", err.Error(), "name a port of 1-65535, or a containerPort's name")
		}
	case p.GRPC != nil:
		add(".grpc", "grpc probes are not supported", "use exec with a grpc health client, httpGet or tcpSocket")
	default:
		add("", "the probe has no handler", "add "+handlers)
	}
	for _, f := range []struct {
		name string
		v    int32
	}{{"initialDelaySeconds", p.InitialDelaySeconds}, {"periodSeconds", p.PeriodSeconds}, {"timeoutSeconds", p.TimeoutSeconds},
		{"failureThreshold", p.FailureThreshold}, {"successThreshold", p.SuccessThreshold}} {
		if f.v < 0 {
			add("."+f.name, fmt.Sprintf("%s must not be negative, got %d", f.name, f.v), "use 0 for the default, or more")
		}
	}
}

// probePort resolves a probe's port: a number, or the name of one of the
// container's ports.
func probePort(port intstr.IntOrString, c corev1.Container) (int, error) {
	if port.Type == intstr.Int {
		if port.IntVal < 1 || port.IntVal > 65535 {
			return 0, fmt.Errorf("port %d is not in 1-65535", port.IntVal)
		}
		return int(port.IntVal), nil
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil {
		return probePort(intstr.FromInt32(int32(min(max(n, -1), 1<<20))), c)
	}
	for _, cp := range c.Ports {
		if cp.Name != "" && cp.Name == port.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if port.StrVal == "" {
		return 0, fmt.Errorf("the probe has no port")
	}
	return 0, fmt.Errorf("port %q names no port of the container", port.StrVal)
}
