package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/interpolation"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// DependsOnAnnotation orders startup between Kubernetes pods:
// "db:healthy, cache" makes every container of the annotated pod wait for
// the containers of pod db to be healthy and those of cache to be started.
const DependsOnAnnotation = "podstack.io/depends-on"

// Annotations that stack convert and export kube write so that loading
// their output gives back the stack they came from, although the objects'
// names had to change for their target (podman kube play resolves a pod
// only by its name, so a converted pod is <service>.<project>):
//   - ProjectAnnotation on a Pod or Deployment: the project name, used
//     unless -p or COMPOSE_PROJECT_NAME give one;
//   - PodAnnotation on a Pod or Deployment: the pod's key (what the
//     project prefixes with <project>- in Podman);
//   - VolumeAnnotation on a PersistentVolumeClaim: the volume's key.
const (
	ProjectAnnotation = "podstack.io/project"
	PodAnnotation     = "podstack.io/pod"
	VolumeAnnotation  = "podstack.io/volume"
)

// kubeDoc is one YAML document of a Kubernetes file.
type kubeDoc struct {
	file  string
	line  int // line of the document's first key
	pos   positions
	node  *yaml.Node
	kind  string
	name  string
	value map[string]any
	// raw is value before interpolation: the source text of each scalar.
	raw map[string]any
}

// kubeSupported lists the kinds podstack reads, with their apiVersion.
var kubeSupported = map[string]string{
	"Pod": "v1", "Deployment": "apps/v1", "ConfigMap": "v1", "Secret": "v1",
	"PersistentVolumeClaim": "v1", "Service": "v1",
}

// kubeLoader turns Kubernetes documents into a Stack.
type kubeLoader struct {
	s          *Stack
	problems   Problems
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	pvcs       map[string]bool
	// claims maps a claim's name to its volume key (VolumeAnnotation).
	claims map[string]string
	docs   []*kubeDoc
	// named maps objectGroup/name to the first document with that name.
	named map[string]*kubeDoc
	// unset are the variables substituted as empty because they are not set.
	unset []string
}

// loadKube turns Kubernetes YAML documents into a Stack. env is the resolved
// interpolation environment (process env, env files) for ${VAR} substitution.
func loadKube(ctx context.Context, files []sourceFile, env map[string]string, opts LoadOptions) (*Stack, error) {
	l := &kubeLoader{
		s: &Stack{Format: FormatKube, WorkingDir: opts.WorkingDir,
			Services: map[string]*Service{}, Volumes: map[string]*Volume{}, Networks: map[string]*Network{},
			Secrets: map[string]*Secret{}, Configs: map[string]*Config{}},
		configMaps: map[string]*corev1.ConfigMap{},
		secrets:    map[string]*corev1.Secret{},
		pvcs:       map[string]bool{},
		named:      map[string]*kubeDoc{},
	}
	for _, f := range files {
		l.readFile(ctx, f, env, opts.KeepVars)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name, _ := projectName(opts, env, l.annotatedProject)
	l.s.Name = name
	l.s.Networks["default"] = &Network{Key: "default", Name: name + "_default"}
	// ConfigMaps, Secrets and claims first: pods refer to them.
	for _, d := range l.docs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch d.kind {
		case "ConfigMap":
			var cm corev1.ConfigMap
			if l.decode(d, &cm) {
				l.configMaps[cm.Name] = &cm
			}
		case "Secret":
			var sec corev1.Secret
			if l.decode(d, &sec) {
				for k, v := range sec.StringData {
					if sec.Data == nil {
						sec.Data = map[string][]byte{}
					}
					sec.Data[k] = []byte(v)
				}
				l.secrets[sec.Name] = &sec
			}
		case "PersistentVolumeClaim":
			var pvc corev1.PersistentVolumeClaim
			if l.decode(d, &pvc) {
				l.pvcs[pvc.Name] = true
				key := pvc.Name
				if k := pvc.Annotations[VolumeAnnotation]; k != "" {
					key = k
					if l.claims == nil {
						l.claims = map[string]string{}
					}
					l.claims[pvc.Name] = k
				}
				v := &Volume{Key: key, Name: name + "_" + key, Labels: pvc.Labels}
				if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
					v.Size = q.String()
				}
				l.s.Volumes[key] = v
			}
		case "Service":
			var svc corev1.Service
			if l.decode(d, &svc) {
				l.s.Warnings = append(l.s.Warnings, Warning{Position: Position{File: d.file, Line: d.line},
					Message: fmt.Sprintf("Service %q is not needed by podstack (pods reach each other by name on the project network); ignored", svc.Name)})
			}
		}
	}
	type podDoc struct {
		doc      *kubeDoc
		meta     map[string]string // annotations
		name     string
		spec     corev1.PodSpec
		labels   map[string]string
		replicas int
	}
	var pods []podDoc
	for _, d := range l.docs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch d.kind {
		case "Pod":
			var p corev1.Pod
			if l.decode(d, &p) {
				pods = append(pods, podDoc{doc: d, meta: p.Annotations, name: p.Name, spec: p.Spec, labels: p.Labels, replicas: 1})
			}
		case "Deployment":
			var dep appsv1.Deployment
			if l.decode(d, &dep) {
				r := 1
				if dep.Spec.Replicas != nil {
					r = int(*dep.Spec.Replicas)
				}
				if r < 0 {
					l.problems = append(l.problems, Problem{Position: l.at(d, "spec.replicas"), Service: dep.Name,
						Message: fmt.Sprintf("replicas must not be negative, got %d", r), Fix: "use 0 or more"})
					continue
				}
				ann := map[string]string{}
				for k, v := range dep.Spec.Template.Annotations {
					ann[k] = v
				}
				for k, v := range dep.Annotations {
					ann[k] = v
				}
				pods = append(pods, podDoc{doc: d, meta: ann, name: dep.Name, spec: dep.Spec.Template.Spec,
					labels: dep.Spec.Template.Labels, replicas: r})
			}
		}
	}
	// A container name used in several pods is qualified with its pod.
	uses := map[string]int{}
	for _, p := range pods {
		for _, c := range append(append([]corev1.Container{}, p.spec.InitContainers...), p.spec.Containers...) {
			uses[c.Name]++
		}
	}
	podServices := map[string][]string{}
	podNames := []string{}
	for _, p := range pods {
		podNames = append(podNames, p.name)
		key := p.name
		if k := p.meta[PodAnnotation]; k != "" {
			key = k
		}
		podServices[p.name] = l.pod(p.doc, key, p.spec, p.labels, p.replicas, uses)
	}
	for _, p := range pods {
		l.podDependencies(p.doc, p.name, p.meta[DependsOnAnnotation], podServices, podNames)
	}
	if len(pods) == 0 && len(l.problems) == 0 {
		l.problems = append(l.problems, Problem{Position: Position{File: files[0].Name},
			Message: "no Pod or Deployment in the Kubernetes input", Fix: "add a kind: Pod document"})
	}
	if err := explainUnset(l.problems, files, l.unset).Err(); err != nil {
		return nil, err
	}
	for _, svc := range l.s.Services {
		// What each target carries is decided by compose key: these are
		// the keys of what the Pod set.
		svc.Keys = modelKeys(svc)
	}
	l.s.warnUnsupported(func(svc *Service, _ string) Position { return svc.Source })
	return l.s, nil
}

// annotatedProject is the project named by the ProjectAnnotation of the
// file's Pods and Deployments (the first one found), or "".
func (l *kubeLoader) annotatedProject() string {
	for _, d := range l.docs {
		if d.kind != "Pod" && d.kind != "Deployment" {
			continue
		}
		meta, _ := d.value["metadata"].(map[string]any)
		annotations, _ := meta["annotations"].(map[string]any)
		if p, ok := annotations[ProjectAnnotation].(string); ok && p != "" {
			return p
		}
	}
	return ""
}

// readFile splits a file into documents, interpolates each and records it.
func (l *kubeLoader) readFile(ctx context.Context, f sourceFile, env map[string]string, keepVars bool) {
	for _, node := range f.docs {
		if ctx.Err() != nil {
			return // loadKube returns the context's error
		}
		if len(node.Content) == 0 || node.Content[0].Tag == "!!null" {
			continue // an empty document
		}
		if top := node.Content[0]; top.Kind != yaml.MappingNode {
			l.problems = append(l.problems, Problem{Position: Position{File: f.Name, Line: top.Line},
				Message: "this document is not a Kubernetes object (a mapping with apiVersion, kind and metadata)",
				Fix:     "remove it, or separate the documents with --- lines"})
			continue
		}
		d := &kubeDoc{file: f.Name, line: node.Content[0].Line, node: node, pos: indexNode(node)}
		if err := node.Decode(&d.value); err != nil {
			l.problems = append(l.problems, Problem{Position: Position{File: f.Name, Line: d.line}, Message: err.Error()})
			continue
		}
		d.raw = d.value
		if !keepVars {
			logs := &logCapture{}
			restore := captureLogs(logs)
			v, err := interpolation.Interpolate(d.value, interpolation.Options{LookupValue: func(k string) (string, bool) {
				v, ok := env[k]
				return v, ok
			}})
			restore()
			for _, name := range unsetVariables(logs.messages()) {
				line := d.line
				if _, at := findValueIn(node, "${"+name); at > 0 {
					line = at
				} else if _, at := findValueIn(node, "$"+name); at > 0 {
					line = at
				}
				l.s.Warnings = append(l.s.Warnings, Warning{Position: Position{File: f.Name, Line: line},
					Message: fmt.Sprintf("The %q variable is not set. Defaulting to a blank string.", name)})
				if !slices.Contains(l.unset, name) {
					l.unset = append(l.unset, name)
				}
			}
			if err != nil {
				l.interpolationProblem(d, err)
				continue
			}
			d.value = v
		}
		d.kind, _ = d.value["kind"].(string)
		api, _ := d.value["apiVersion"].(string)
		if meta, ok := d.value["metadata"].(map[string]any); ok {
			d.name, _ = meta["name"].(string)
		}
		want, ok := kubeSupported[d.kind]
		switch {
		case d.kind == "" && d.value["services"] != nil:
			l.problems = append(l.problems, Problem{Position: l.at(d, "services"),
				Message: "this document is a Compose file, not a Kubernetes object; one file is either Compose or Kubernetes YAML",
				Fix:     "move it to a file of its own and load that separately"})
			continue
		case d.kind == "":
			l.problems = append(l.problems, Problem{Position: Position{File: f.Name, Line: d.line},
				Message: "the document has no kind", Fix: "add kind: Pod (or Deployment, ConfigMap, Secret, PersistentVolumeClaim)"})
			continue
		case !ok:
			kinds := sortedKeysOf(kubeSupported)
			l.problems = append(l.problems, Problem{Position: Position{File: f.Name, Line: d.pos.line("kind")},
				Message: fmt.Sprintf("unknown kind %q", d.kind), Fix: "podstack reads " + strings.Join(kinds, ", ")})
			continue
		case api != want:
			l.problems = append(l.problems, Problem{Position: Position{File: f.Name, Line: d.pos.line("apiVersion")},
				Message: fmt.Sprintf("%s needs apiVersion %s, not %q", d.kind, want, api), Fix: "apiVersion: " + want})
			continue
		case d.name == "":
			l.problems = append(l.problems, Problem{Position: Position{File: f.Name, Line: d.line},
				Message: fmt.Sprintf("%s has no metadata.name", d.kind), Fix: "add metadata: {name: NAME}"})
			continue
		case !l.checkDuplicate(d, l.named):
			continue
		}
		l.checkName(d)
		l.docs = append(l.docs, d)
	}
	if err := f.parseErr; err != nil {
		p := Problem{Position: Position{File: f.Name}, Message: "invalid YAML: " + err.Error()}
		if m := yamlLineRe().FindStringSubmatch(err.Error()); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
		}
		l.problems = append(l.problems, p)
	}
}

var requiredVarRe = lazyRegexp(`required variable (\S+) is missing`)

var interpPathRe = lazyRegexp(`error while interpolating (\S+): (.*)$`)

func (l *kubeLoader) interpolationProblem(d *kubeDoc, err error) {
	name := ""
	if meta, ok := d.value["metadata"].(map[string]any); ok {
		name, _ = meta["name"].(string)
	}
	if ps, ok := interpolationProblems(err, []namedDoc{{name: d.file, root: d.node}}); ok {
		for _, p := range ps {
			p.Service = name
			l.problems = append(l.problems, p)
		}
		return
	}
	msg := err.Error()
	p := Problem{Position: Position{File: d.file, Line: d.line}, Message: msg}
	if meta, ok := d.value["metadata"].(map[string]any); ok {
		p.Service, _ = meta["name"].(string)
	}
	if m := interpPathRe().FindStringSubmatch(msg); m != nil {
		path := normalizePath(m[1])
		p.Line = d.pos.line(path)
		if v := requiredVarRe().FindStringSubmatch(m[2]); v != nil {
			if found, line := findValueIn(d.node, "${"+v[1]); line > 0 {
				path, p.Line = found, line
			}
		}
		p.Message = fmt.Sprintf("%s: %s", path, m[2])
		if strings.Contains(m[2], "required variable") {
			p.Fix = "set the variable in the environment, .env or an --env-file"
		}
	}
	l.problems = append(l.problems, p)
}

var unknownFieldRe = lazyRegexp(`unknown field "([^"]+)"`)

// decode strictly decodes a document into its k8s.io/api type: an unknown
// field is a problem, not something silently dropped.
func (l *kubeLoader) decode(d *kubeDoc, into any) bool {
	v := coerce(reflect.TypeOf(into), d.raw, d.value)
	data, err := json.Marshal(v)
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err = dec.Decode(into)
	}
	if err == nil {
		return true
	}
	if p, ok := l.typeProblem(d, err); ok {
		l.problems = append(l.problems, p)
		return false
	}
	if p, ok := l.quantityProblem(d, err); ok {
		l.problems = append(l.problems, p)
		return false
	}
	p := Problem{Position: Position{File: d.file, Line: d.line}, Service: d.name,
		Message: fmt.Sprintf("invalid %s: %v", d.kind, err)}
	if m := unknownFieldRe().FindStringSubmatch(err.Error()); m != nil {
		field := m[1]
		p.Message = fmt.Sprintf("%s %q: unknown field %q", d.kind, d.name, field)
		if line := d.pos.lineOfKey(lastSegment(field)); line > 0 {
			p.Line = line
		}
	}
	l.problems = append(l.problems, p)
	return false
}

func lastSegment(path string) string {
	if i := strings.LastIndex(path, "."); i >= 0 {
		return path[i+1:]
	}
	return path
}

// pod converts one pod spec into services and returns their names.
func (l *kubeLoader) pod(d *kubeDoc, podName string, spec corev1.PodSpec, labels map[string]string, replicas int, uses map[string]int) []string {
	var names []string
	seen := map[string]bool{}
	if len(spec.Containers) == 0 {
		l.problems = append(l.problems, Problem{Position: Position{File: d.file, Line: d.line}, Service: podName,
			Message: fmt.Sprintf("%s %q has no containers", d.kind, podName), Fix: "add spec.containers"})
		return nil
	}
	specPath := "spec"
	if d.kind == "Deployment" {
		specPath = "spec.template.spec"
	}
	var inits []string
	all := []struct {
		c    corev1.Container
		init bool
		path string
	}{}
	for i, c := range spec.InitContainers {
		all = append(all, struct {
			c    corev1.Container
			init bool
			path string
		}{c, true, fmt.Sprintf("%s.initContainers.%d", specPath, i)})
	}
	for i, c := range spec.Containers {
		all = append(all, struct {
			c    corev1.Container
			init bool
			path string
		}{c, false, fmt.Sprintf("%s.containers.%d", specPath, i)})
	}
	l.checkPodSpec(d, specPath, podName, spec)
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, e := range all {
		c := e.c
		pos := Position{File: d.file, Line: d.pos.line(e.path)}
		if seen[c.Name] {
			l.problems = append(l.problems, Problem{Position: pos, Service: podName,
				Message: fmt.Sprintf("duplicate container name %q in pod %q", c.Name, podName), Fix: "give each container its own name"})
			continue
		}
		seen[c.Name] = true
		name := c.Name
		if uses[c.Name] > 1 {
			name = podName + "-" + c.Name
		}
		l.checkContainer(d, e.path, name, c)
		if c.Image == "" {
			l.problems = append(l.problems, Problem{Position: pos, Service: name,
				Message: fmt.Sprintf("container %q in pod %q has no image", c.Name, podName), Fix: "add image: NAME"})
			continue
		}
		svc := &Service{Name: name, Image: c.Image, Pod: podName, Replicas: replicas, Source: pos,
			Entrypoint: c.Command, Command: c.Args, WorkingDir: c.WorkingDir, Labels: copyMap(labels),
			Tty: c.TTY, StdinOpen: c.Stdin, InitContainer: e.init}
		switch c.ImagePullPolicy {
		case corev1.PullAlways:
			svc.PullPolicy = "always"
		case corev1.PullNever:
			svc.PullPolicy = "never"
		}
		l.env(svc, c, pos)
		for _, p := range c.Ports {
			proto := strings.ToLower(string(p.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			if p.ContainerPort <= 0 || p.ContainerPort > 65535 || p.HostPort < 0 || p.HostPort > 65535 {
				l.problems = append(l.problems, Problem{Position: pos, Service: name,
					Message: fmt.Sprintf("invalid port %d (hostPort %d)", p.ContainerPort, p.HostPort), Fix: "ports are 1-65535"})
				continue
			}
			svc.Ports = append(svc.Ports, Port{Target: uint16(p.ContainerPort), Published: uint16(p.HostPort), HostIP: p.HostIP, Protocol: proto, Name: p.Name})
		}
		svc.Resources = kubeResources(c.Resources)
		l.mounts(svc, c, volumes, pos)
		svc.Health = probe(c.ReadinessProbe, c)
		if svc.Health == nil {
			svc.Health = probe(c.LivenessProbe, c)
		}
		if svc.Health == nil {
			svc.Health = probe(c.StartupProbe, c)
		}
		if sc := c.SecurityContext; sc != nil {
			if sc.RunAsUser != nil {
				svc.User = strconv.FormatInt(*sc.RunAsUser, 10)
				if sc.RunAsGroup != nil {
					svc.User += ":" + strconv.FormatInt(*sc.RunAsGroup, 10)
				}
			}
			if sc.Privileged != nil {
				svc.Privileged = *sc.Privileged
			}
			if sc.ReadOnlyRootFilesystem != nil {
				svc.ReadOnly = *sc.ReadOnlyRootFilesystem
			}
			if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
				svc.SecurityOpt = append(svc.SecurityOpt, "no-new-privileges:true")
			}
			if sc.Capabilities != nil {
				for _, cp := range sc.Capabilities.Add {
					svc.CapAdd = append(svc.CapAdd, string(cp))
				}
				for _, cp := range sc.Capabilities.Drop {
					svc.CapDrop = append(svc.CapDrop, string(cp))
				}
			}
		}
		switch spec.RestartPolicy {
		case corev1.RestartPolicyAlways, "":
			if !e.init {
				svc.Restart = "always"
			}
		case corev1.RestartPolicyOnFailure:
			svc.Restart = "on-failure"
		case corev1.RestartPolicyNever:
			svc.Restart = "no"
		}
		if spec.HostNetwork {
			svc.NetworkMode = "host"
		}
		if spec.HostPID {
			svc.PID = "host"
		}
		if spec.HostIPC {
			svc.IPC = "host"
		}
		svc.Hostname = spec.Hostname
		for _, ha := range spec.HostAliases {
			for _, h := range ha.Hostnames {
				svc.ExtraHosts = append(svc.ExtraHosts, h+":"+ha.IP)
			}
		}
		svc.Unsupported = kubeUnsupported(spec, c)
		if e.init {
			// Init containers run in order, each after the one before.
			if n := len(inits); n > 0 {
				svc.DependsOn = map[string]Dependency{inits[n-1]: {Condition: ConditionCompleted, Required: true}}
			}
			inits = append(inits, name)
		} else if len(inits) > 0 {
			svc.DependsOn = map[string]Dependency{}
			for _, in := range inits {
				svc.DependsOn[in] = Dependency{Condition: ConditionCompleted, Required: true}
			}
		}
		l.s.Services[name] = svc
		names = append(names, name)
	}
	return names
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// env resolves value, valueFrom and envFrom against the file's ConfigMaps
// and Secrets.
func (l *kubeLoader) env(svc *Service, c corev1.Container, pos Position) {
	env := map[string]string{}
	missing := func(kind, name string) {
		l.problems = append(l.problems, Problem{Position: pos, Service: svc.Name,
			Message: fmt.Sprintf("refers to %s %q, which is not defined in the stack files", kind, name),
			Fix:     fmt.Sprintf("add a kind: %s document named %s, or mark the reference optional", kind, name)})
	}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm := l.configMaps[from.ConfigMapRef.Name]
			if cm == nil {
				if from.ConfigMapRef.Optional == nil || !*from.ConfigMapRef.Optional {
					missing("ConfigMap", from.ConfigMapRef.Name)
				}
				continue
			}
			for k, v := range cm.Data {
				env[from.Prefix+k] = v
			}
		case from.SecretRef != nil:
			sec := l.secrets[from.SecretRef.Name]
			if sec == nil {
				if from.SecretRef.Optional == nil || !*from.SecretRef.Optional {
					missing("Secret", from.SecretRef.Name)
				}
				continue
			}
			for k, v := range sec.Data {
				env[from.Prefix+k] = string(v)
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
			continue
		}
		switch vf := e.ValueFrom; {
		case vf.ConfigMapKeyRef != nil:
			ref := vf.ConfigMapKeyRef
			cm := l.configMaps[ref.Name]
			if cm == nil {
				if ref.Optional == nil || !*ref.Optional {
					missing("ConfigMap", ref.Name)
				}
				continue
			}
			v, ok := cm.Data[ref.Key]
			if !ok && (ref.Optional == nil || !*ref.Optional) {
				l.problems = append(l.problems, Problem{Position: pos, Service: svc.Name,
					Message: fmt.Sprintf("ConfigMap %q has no key %q (env %s)", ref.Name, ref.Key, e.Name)})
				continue
			}
			env[e.Name] = v
		case vf.SecretKeyRef != nil:
			ref := vf.SecretKeyRef
			sec := l.secrets[ref.Name]
			if sec == nil {
				if ref.Optional == nil || !*ref.Optional {
					missing("Secret", ref.Name)
				}
				continue
			}
			v, ok := sec.Data[ref.Key]
			if !ok && (ref.Optional == nil || !*ref.Optional) {
				l.problems = append(l.problems, Problem{Position: pos, Service: svc.Name,
					Message: fmt.Sprintf("Secret %q has no key %q (env %s)", ref.Name, ref.Key, e.Name)})
				continue
			}
			env[e.Name] = string(v)
		default:
			l.s.Warnings = append(l.s.Warnings, Warning{Position: pos, Service: svc.Name,
				Message: fmt.Sprintf("env %s uses a fieldRef/resourceFieldRef, which podstack does not resolve; left unset", e.Name)})
		}
	}
	if len(env) > 0 {
		svc.Environment = env
	}
}

// mounts maps volumeMounts through the pod's volumes.
func (l *kubeLoader) mounts(svc *Service, c corev1.Container, volumes map[string]corev1.Volume, pos Position) {
	for _, vm := range c.VolumeMounts {
		v, ok := volumes[vm.Name]
		if !ok {
			l.problems = append(l.problems, Problem{Position: pos, Service: svc.Name,
				Message: fmt.Sprintf("volumeMount %q refers to no volume of the pod", vm.Name), Fix: "declare it under spec.volumes"})
			continue
		}
		m := Mount{Target: vm.MountPath, ReadOnly: vm.ReadOnly, SubPath: vm.SubPath}
		switch {
		case v.PersistentVolumeClaim != nil:
			claim := v.PersistentVolumeClaim.ClaimName
			if k, ok := l.claims[claim]; ok {
				claim = k
			}
			if _, ok := l.s.Volumes[claim]; !ok {
				// podman kube play creates a volume for an unknown claim; so do we.
				l.s.Volumes[claim] = &Volume{Key: claim, Name: l.s.Name + "_" + claim}
			}
			m.Type, m.Source = MountVolume, claim
			m.ReadOnly = m.ReadOnly || v.PersistentVolumeClaim.ReadOnly
		case v.HostPath != nil:
			m.Type, m.Source = MountBind, v.HostPath.Path
		case v.EmptyDir != nil:
			if v.EmptyDir.Medium == corev1.StorageMediumMemory {
				m.Type = MountTmpfs
				if v.EmptyDir.SizeLimit != nil {
					m.TmpfsSize = v.EmptyDir.SizeLimit.Value()
				}
			} else {
				m.Type = MountVolume
			}
		case v.ConfigMap != nil:
			cm := l.configMaps[v.ConfigMap.Name]
			if cm == nil {
				if v.ConfigMap.Optional == nil || !*v.ConfigMap.Optional {
					l.problems = append(l.problems, Problem{Position: pos, Service: svc.Name,
						Message: fmt.Sprintf("volume %q refers to ConfigMap %q, which is not defined", vm.Name, v.ConfigMap.Name)})
				}
				continue
			}
			// A ConfigMap volume is a directory with one file per key.
			for _, key := range keysOf(cm.Data, v.ConfigMap.Items) {
				id := cm.Name + "." + key.key
				l.s.Configs[id] = &Config{Key: id, Name: l.s.Name + "_" + normalizeKey(id), Content: cm.Data[key.key]}
				svc.Configs = append(svc.Configs, FileRef{Source: id, Target: filepath.Join(vm.MountPath, key.path)})
			}
			continue
		case v.Secret != nil:
			sec := l.secrets[v.Secret.SecretName]
			if sec == nil {
				if v.Secret.Optional == nil || !*v.Secret.Optional {
					l.problems = append(l.problems, Problem{Position: pos, Service: svc.Name,
						Message: fmt.Sprintf("volume %q refers to Secret %q, which is not defined", vm.Name, v.Secret.SecretName)})
				}
				continue
			}
			data := map[string]string{}
			for k, b := range sec.Data {
				data[k] = string(b)
			}
			for _, key := range keysOf(data, v.Secret.Items) {
				id := sec.Name + "." + key.key
				l.s.Secrets[id] = &Secret{Key: id, Name: l.s.Name + "_" + normalizeKey(id), Content: data[key.key]}
				svc.Secrets = append(svc.Secrets, FileRef{Source: id, Target: filepath.Join(vm.MountPath, key.path)})
			}
			continue
		default:
			svc.Unsupported = append(svc.Unsupported, "volumes."+vm.Name)
			continue
		}
		svc.Mounts = append(svc.Mounts, m)
	}
}

type keyPath struct{ key, path string }

func keysOf(data map[string]string, items []corev1.KeyToPath) []keyPath {
	if len(items) > 0 {
		out := make([]keyPath, 0, len(items))
		for _, it := range items {
			out = append(out, keyPath{it.Key, it.Path})
		}
		return out
	}
	var out []keyPath
	for _, k := range sortedKeysOf(data) {
		out = append(out, keyPath{k, k})
	}
	return out
}

func normalizeKey(s string) string {
	return strings.NewReplacer(".", "_", "/", "_").Replace(s)
}

func kubeResources(r corev1.ResourceRequirements) Resources {
	var out Resources
	if q, ok := r.Limits[corev1.ResourceCPU]; ok {
		out.CPUs = q.AsApproximateFloat64()
	}
	if q, ok := r.Limits[corev1.ResourceMemory]; ok {
		out.MemoryBytes = q.Value()
	}
	if q, ok := r.Requests[corev1.ResourceCPU]; ok {
		out.CPUsReservation = q.AsApproximateFloat64()
	}
	if q, ok := r.Requests[corev1.ResourceMemory]; ok {
		out.MemoryReservation = q.Value()
	}
	return out
}

// probe turns a Kubernetes probe of container c into a healthcheck with
// Kubernetes' defaults (period 10s, timeout 1s, failure threshold 3); nil
// for a probe checkProbe refuses.
func probe(p *corev1.Probe, c corev1.Container) *HealthCheck {
	if p == nil {
		return nil
	}
	h := &HealthCheck{Interval: 10 * time.Second, Timeout: time.Second, Retries: 3, StartInterval: DefaultStartInterval}
	if p.PeriodSeconds > 0 {
		h.Interval = time.Duration(p.PeriodSeconds) * time.Second
	}
	if p.TimeoutSeconds > 0 {
		h.Timeout = time.Duration(p.TimeoutSeconds) * time.Second
	}
	if p.FailureThreshold > 0 {
		h.Retries = int(p.FailureThreshold)
	}
	h.StartPeriod = time.Duration(p.InitialDelaySeconds) * time.Second
	switch {
	case p.Exec != nil && len(p.Exec.Command) > 0:
		h.Test = append([]string{"CMD"}, p.Exec.Command...)
	case p.HTTPGet != nil:
		path := p.HTTPGet.Path
		if path == "" {
			path = "/"
		}
		host := p.HTTPGet.Host
		if host == "" {
			host = "localhost"
		}
		port, err := probePort(p.HTTPGet.Port, c)
		if err != nil {
			return nil
		}
		h.Test = []string{"CMD-SHELL", fmt.Sprintf("wget -q -O /dev/null http://%s:%d%s || exit 1", host, port, path)}
	case p.TCPSocket != nil:
		port, err := probePort(p.TCPSocket.Port, c)
		if err != nil {
			return nil
		}
		h.Test = []string{"CMD-SHELL", fmt.Sprintf("nc -z localhost %d || exit 1", port)}
	default:
		return nil
	}
	return h
}

// kubeUnsupported names the pod and container settings podstack ignores.
func kubeUnsupported(spec corev1.PodSpec, c corev1.Container) []string {
	var out []string
	add := func(cond bool, key string) {
		if cond {
			out = append(out, key)
		}
	}
	add(len(spec.NodeSelector) > 0, "nodeSelector")
	add(spec.Affinity != nil, "affinity")
	add(len(spec.Tolerations) > 0, "tolerations")
	add(spec.ServiceAccountName != "", "serviceAccountName")
	add(len(spec.ImagePullSecrets) > 0, "imagePullSecrets")
	add(spec.SecurityContext != nil && spec.SecurityContext.FSGroup != nil, "securityContext.fsGroup")
	add(spec.ShareProcessNamespace != nil && *spec.ShareProcessNamespace, "shareProcessNamespace")
	add(c.Lifecycle != nil, "lifecycle")
	add(len(c.VolumeDevices) > 0, "volumeDevices")
	return out
}

// podDependencies applies the depends-on annotation of one pod.
func (l *kubeLoader) podDependencies(d *kubeDoc, podName, annotation string, podServices map[string][]string, podNames []string) {
	if strings.TrimSpace(annotation) == "" {
		return
	}
	line := d.pos.lineOfKey(DependsOnAnnotation)
	if line == 0 {
		line = d.line
	}
	pos := Position{File: d.file, Line: line}
	for _, entry := range strings.Split(annotation, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		target, cond, _ := strings.Cut(entry, ":")
		condition := ConditionStarted
		switch cond {
		case "", "started":
		case "healthy":
			condition = ConditionHealthy
		case "completed":
			condition = ConditionCompleted
		default:
			l.problems = append(l.problems, Problem{Position: pos, Service: podName,
				Message: fmt.Sprintf("%s: unknown condition %q for pod %q", DependsOnAnnotation, cond, target),
				Fix:     "use POD, POD:started, POD:healthy or POD:completed"})
			continue
		}
		services, ok := podServices[target]
		if !ok {
			p := Problem{Position: pos, Service: podName,
				Message: fmt.Sprintf("%s names pod %q, which is not defined", DependsOnAnnotation, target)}
			if s := closest(target, podNames); s != "" {
				p.Fix = fmt.Sprintf("did you mean %q?", s)
			}
			l.problems = append(l.problems, p)
			continue
		}
		var deps []string
		for _, svc := range services {
			if l.s.Services[svc].InitContainer {
				continue
			}
			if condition == ConditionHealthy && l.s.Services[svc].Health == nil {
				continue
			}
			deps = append(deps, svc)
		}
		if len(deps) == 0 {
			l.problems = append(l.problems, Problem{Position: pos, Service: podName,
				Message: fmt.Sprintf("waits for pod %q to be healthy, but none of its containers has a probe", target),
				Fix:     "add a readinessProbe to a container of " + target + ", or use " + target + ":started"})
			continue
		}
		for _, svc := range podServices[podName] {
			s := l.s.Services[svc]
			if s.DependsOn == nil {
				s.DependsOn = map[string]Dependency{}
			}
			for _, dep := range deps {
				s.DependsOn[dep] = Dependency{Condition: condition, Required: true}
			}
		}
	}
}
