package cluster

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/podstack/podstack/export"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// FieldManager is the server-side apply manager podstack applies as: the
// fields it owns are the fields it compares, and applying the same object
// again under it changes nothing.
const FieldManager = "podstack"

// Labels that make an object this project's. An object without all of
// them is never changed or deleted.
const (
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	LabelPartOf      = "app.kubernetes.io/part-of"
	LabelEnvironment = "podstack.io/environment"
	managedByValue   = "podstack"
)

// AnnotationConfigHash is set on a workload's pod template: a digest of
// the ConfigMap and Secret values its containers read, so a changed value
// rolls out the workloads that read it (Kubernetes restarts nothing when
// only a ConfigMap changes) and leaves the others alone.
const AnnotationConfigHash = "podstack.io/config-hash"

// Kind is an object kind podstack deploys, finds and prunes.
type Kind struct {
	Name     string
	Resource schema.GroupVersionResource
	// Workload kinds run containers: they are applied after the objects
	// they read, in dependency order, and waited for.
	Workload bool
}

// APIVersion is the group/version objects of the kind are applied as.
func (k Kind) APIVersion() string { return k.Resource.GroupVersion().String() }

// Kinds are every kind podstack deploys, in the order it applies them:
// what a workload reads comes before the workload.
var Kinds = []Kind{
	{Name: "ConfigMap", Resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}},
	{Name: "Secret", Resource: schema.GroupVersionResource{Version: "v1", Resource: "secrets"}},
	{Name: "PersistentVolumeClaim", Resource: schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}},
	{Name: "Service", Resource: schema.GroupVersionResource{Version: "v1", Resource: "services"}},
	{Name: "Job", Resource: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, Workload: true},
	{Name: "Deployment", Resource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Workload: true},
}

// KindOf finds the kind of a name ("Deployment").
func KindOf(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

func kindRank(name string) int {
	for i, k := range Kinds {
		if k.Name == name {
			return i
		}
	}
	return len(Kinds)
}

// Ref names an object in the target namespace.
type Ref struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

func (r Ref) String() string { return r.Kind + "/" + r.Name }

// RefOf is the Ref of an object.
func RefOf(o *unstructured.Unstructured) Ref { return Ref{Kind: o.GetKind(), Name: o.GetName()} }

// Target is one environment of one project in one namespace: what a run
// changes and the only objects it may touch.
type Target struct {
	Project     string `json:"project"`
	Environment string `json:"environment,omitempty"`
	Namespace   string `json:"namespace"`
}

// Selector selects the objects of the target's project and environment
// that podstack manages; without an environment, those that have none.
func (t Target) Selector() string {
	sel := []string{LabelManagedBy + "=" + managedByValue, LabelPartOf + "=" + labelValue(t.Project)}
	if t.Environment != "" {
		sel = append(sel, LabelEnvironment+"="+labelValue(t.Environment))
	} else {
		sel = append(sel, "!"+LabelEnvironment)
	}
	return strings.Join(sel, ",")
}

// Owns reports whether labels mark an object as the target's.
func (t Target) Owns(labels map[string]string) bool {
	env, hasEnv := labels[LabelEnvironment]
	return labels[LabelManagedBy] == managedByValue && labels[LabelPartOf] == labelValue(t.Project) &&
		hasEnv == (t.Environment != "") && env == labelValue(t.Environment)
}

func (t Target) String() string {
	s := "project " + t.Project
	if t.Environment != "" {
		s += ", environment " + t.Environment
	}
	return s + ", namespace " + t.Namespace
}

var invalidLabelValue = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// labelValue is how export writes a project or environment name into a
// label; Prepare checks that every object agrees, so a change in export
// cannot make podstack lose track of its objects silently.
func labelValue(s string) string {
	s = strings.Trim(invalidLabelValue.ReplaceAllString(s, "-"), "-_.")
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// Desired is what one environment of a stack wants in a namespace.
type Desired struct {
	Target   Target
	Objects  []*unstructured.Unstructured
	Warnings []string
}

// FromStack builds the objects `stack export kube` writes for the
// stack's pods (always as Deployments, in opts.Namespace) and prepares
// them for that namespace.
func FromStack(s *stack.Stack, pods []*planner.Pod, opts export.KubeOptions) (*Desired, error) {
	opts.Type, opts.HostPorts, opts.InlineEnv = "deployment", false, false
	res, err := export.Kube(s, pods, opts)
	if err != nil {
		return nil, err
	}
	d, err := Prepare(Target{Project: s.Name, Environment: s.Environment, Namespace: opts.Namespace}, res.Objects)
	if err != nil {
		return nil, err
	}
	d.Warnings = append(res.Warnings, d.Warnings...)
	return d, nil
}

// Prepare turns exported objects into what podstack applies: the
// namespace and the managed-by label are set, Secret values move from
// stringData (which the API server never stores, so it could never
// compare equal) to data, fields the API server does not keep are
// dropped, and each pod template gets the digest of the values it reads.
func Prepare(t Target, objects []runtime.Object) (*Desired, error) {
	d := &Desired{Target: t}
	seen := map[Ref]bool{}
	var problems []string
	for _, obj := range objects {
		u, err := toUnstructured(obj)
		if err != nil {
			return nil, err
		}
		ref := RefOf(u)
		if _, ok := KindOf(ref.Kind); !ok {
			problems = append(problems, fmt.Sprintf("%s: podstack does not deploy this kind", ref))
			continue
		}
		if seen[ref] {
			problems = append(problems, fmt.Sprintf("%s: declared twice", ref))
		}
		seen[ref] = true
		u.SetNamespace(t.Namespace)
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelManagedBy] = managedByValue
		u.SetLabels(labels)
		if !t.Owns(labels) {
			problems = append(problems, fmt.Sprintf("%s: labels %v do not name project %q environment %q (a podstack bug, please report it)", ref, labels, t.Project, t.Environment))
		}
		if ref.Kind == "Secret" {
			moveStringData(u)
		}
		d.Objects = append(d.Objects, u)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("cannot deploy the export:\n  %s", strings.Join(problems, "\n  "))
	}
	for _, u := range d.Objects {
		if err := addConfigHash(u, d.Objects); err != nil {
			return nil, fmt.Errorf("%s: %w", RefOf(u), err)
		}
	}
	sortObjects(d.Objects)
	return d, nil
}

// sortObjects orders objects by kind (as Kinds lists them), then name.
func sortObjects(objs []*unstructured.Unstructured) {
	sort.SliceStable(objs, func(i, j int) bool {
		ri, rj := kindRank(objs[i].GetKind()), kindRank(objs[j].GetKind())
		if ri != rj {
			return ri < rj
		}
		return objs[i].GetName() < objs[j].GetName()
	})
}

// toUnstructured converts a typed object through its JSON form and drops
// what the API server does not store as sent: status, null fields, and
// empty objects (but emptyDir: {}, which means something).
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	prune(m)
	return &unstructured.Unstructured{Object: m}, nil
}

// prune removes null values and empty objects from m, recursively.
func prune(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			prune(x)
			if len(x) == 0 && k != "emptyDir" {
				delete(m, k)
			}
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					prune(em)
				}
			}
		}
	}
}

func moveStringData(u *unstructured.Unstructured) {
	sd, ok := u.Object["stringData"].(map[string]any)
	if !ok {
		return
	}
	data, _ := u.Object["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		s, _ := v.(string)
		data[k] = base64.StdEncoding.EncodeToString([]byte(s))
	}
	u.Object["data"] = data
	delete(u.Object, "stringData")
}

// podSpecPath is where a workload kind keeps its pod template.
var podSpecPath = map[string][]string{
	"Deployment": {"spec", "template"},
	"Job":        {"spec", "template"},
}

// addConfigHash annotates u's pod template with a digest of the
// ConfigMap and Secret values its containers read from objects: the keys
// it names for env, whole objects for envFrom and volumes.
func addConfigHash(u *unstructured.Unstructured, objects []*unstructured.Unstructured) error {
	path, ok := podSpecPath[u.GetKind()]
	if !ok {
		return nil
	}
	spec, ok, _ := unstructured.NestedMap(u.Object, append(path, "spec")...)
	if !ok {
		return nil
	}
	byRef := map[Ref]*unstructured.Unstructured{}
	for _, o := range objects {
		byRef[RefOf(o)] = o
	}
	var parts []string
	add := func(kind, name, key string) {
		o := byRef[Ref{Kind: kind, Name: name}]
		if o == nil {
			return // not podstack's: nothing to follow
		}
		for _, field := range []string{"data", "binaryData"} {
			values, _, _ := unstructured.NestedMap(o.Object, field)
			for _, k := range sortedKeys(values) {
				if key == "" || k == key {
					parts = append(parts, fmt.Sprintf("%s/%s/%s=%v", kind, name, k, values[k]))
				}
			}
		}
	}
	walkRefs(spec, add)
	if len(parts) == 0 {
		return nil
	}
	sort.Strings(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	annotations, _, _ := unstructured.NestedStringMap(u.Object, append(path, "metadata", "annotations")...)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationConfigHash] = hex.EncodeToString(sum[:8])
	return unstructured.SetNestedStringMap(u.Object, annotations, append(path, "metadata", "annotations")...)
}

// walkRefs calls add for every ConfigMap and Secret a pod spec reads.
func walkRefs(spec map[string]any, add func(kind, name, key string)) {
	str := func(m map[string]any, f ...string) string {
		s, _, _ := unstructured.NestedString(m, f...)
		return s
	}
	for _, field := range []string{"initContainers", "containers"} {
		containers, _, _ := unstructured.NestedSlice(spec, field)
		for _, c := range containers {
			cm, _ := c.(map[string]any)
			env, _, _ := unstructured.NestedSlice(cm, "env")
			for _, e := range env {
				em, _ := e.(map[string]any)
				if ref, ok, _ := unstructured.NestedMap(em, "valueFrom", "configMapKeyRef"); ok {
					add("ConfigMap", str(ref, "name"), str(ref, "key"))
				}
				if ref, ok, _ := unstructured.NestedMap(em, "valueFrom", "secretKeyRef"); ok {
					add("Secret", str(ref, "name"), str(ref, "key"))
				}
			}
			envFrom, _, _ := unstructured.NestedSlice(cm, "envFrom")
			for _, e := range envFrom {
				em, _ := e.(map[string]any)
				if name := str(em, "configMapRef", "name"); name != "" {
					add("ConfigMap", name, "")
				}
				if name := str(em, "secretRef", "name"); name != "" {
					add("Secret", name, "")
				}
			}
		}
	}
	volumes, _, _ := unstructured.NestedSlice(spec, "volumes")
	for _, v := range volumes {
		vm, _ := v.(map[string]any)
		if name := str(vm, "configMap", "name"); name != "" {
			add("ConfigMap", name, "")
		}
		if name := str(vm, "secret", "secretName"); name != "" {
			add("Secret", name, "")
		}
		sources, _, _ := unstructured.NestedSlice(vm, "projected", "sources")
		for _, s := range sources {
			sm, _ := s.(map[string]any)
			if name := str(sm, "configMap", "name"); name != "" {
				add("ConfigMap", name, "")
			}
			if name := str(sm, "secret", "name"); name != "" {
				add("Secret", name, "")
			}
		}
	}
}

// Dependency is a workload another one waits for before it is applied.
type Dependency struct {
	Ref
	// Condition is what the dependent asked for: started, healthy or
	// completed. Kubernetes has one readiness per workload, so podstack
	// waits for the same thing in each case (Available, or Complete for a
	// Job); the condition is kept for messages.
	Condition string `json:"condition"`
}

// dependencies reads the depends-on annotation export writes on a
// workload ("db:healthy, cache") and resolves each name to a workload
// among objects.
func dependencies(u *unstructured.Unstructured, objects []*unstructured.Unstructured) ([]Dependency, []string) {
	value := u.GetAnnotations()[stack.DependsOnAnnotation]
	if value == "" {
		return nil, nil
	}
	var deps []Dependency
	var problems []string
	for _, part := range strings.Split(value, ",") {
		name, cond, _ := strings.Cut(strings.TrimSpace(part), ":")
		if name == "" {
			continue
		}
		if cond == "" {
			cond = "started"
		}
		var found *unstructured.Unstructured
		for _, o := range objects {
			if k, _ := KindOf(o.GetKind()); k.Workload && o.GetName() == name {
				found = o
				break
			}
		}
		if found == nil {
			problems = append(problems, fmt.Sprintf("%s depends on %q, which is no workload of the stack", RefOf(u), name))
			continue
		}
		deps = append(deps, Dependency{Ref: RefOf(found), Condition: cond})
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	return deps, problems
}

// reads lists the ConfigMaps, Secrets and claims a workload's pods read.
func reads(u *unstructured.Unstructured) []Ref {
	path, ok := podSpecPath[u.GetKind()]
	if !ok {
		return nil
	}
	spec, _, _ := unstructured.NestedMap(u.Object, append(path, "spec")...)
	seen := map[Ref]bool{}
	var out []Ref
	walkRefs(spec, func(kind, name, _ string) {
		r := Ref{Kind: kind, Name: name}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	})
	volumes, _, _ := unstructured.NestedSlice(spec, "volumes")
	for _, v := range volumes {
		vm, _ := v.(map[string]any)
		if name, _, _ := unstructured.NestedString(vm, "persistentVolumeClaim", "claimName"); name != "" {
			r := Ref{Kind: "PersistentVolumeClaim", Name: name}
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
