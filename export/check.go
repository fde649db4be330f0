package export

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsyaml "sigs.k8s.io/yaml"
)

// Check decodes every document of a multi-document YAML stream strictly into
// its k8s.io/api type and runs apimachinery's name and label validation.
// It returns every problem found, each naming the document, kind and name.
func Check(data []byte) []string {
	var problems []string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 1; ; i++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if err == io.EOF {
			break
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("document %d: invalid YAML: %v", i, err))
			break
		}
		doc, err := yaml.Marshal(&node)
		if err != nil {
			problems = append(problems, fmt.Sprintf("document %d: %v", i, err))
			continue
		}
		var head struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		}
		_ = node.Decode(&head)
		where := fmt.Sprintf("document %d (%s %s)", i, head.Kind, head.Metadata.Name)
		for _, p := range checkDoc(head.APIVersion, head.Kind, doc) {
			problems = append(problems, where+": "+p)
		}
	}
	return problems
}

func checkDoc(api, kind string, doc []byte) (p []string) {
	var obj interface{}
	var meta func() (string, map[string]string)
	switch {
	case kind == "Pod" && api == "v1":
		var o corev1.Pod
		obj, meta = &o, func() (string, map[string]string) { return o.Name, o.Labels }
		defer func() { p = append(p, checkPodSpec(o.Spec)...) }()
	case kind == "Deployment" && api == "apps/v1":
		var o appsv1.Deployment
		obj, meta = &o, func() (string, map[string]string) { return o.Name, o.Labels }
		defer func() {
			p = append(p, checkPodSpec(o.Spec.Template.Spec)...)
			if o.Spec.Selector == nil {
				p = append(p, "spec.selector is required")
			} else {
				for k, v := range o.Spec.Selector.MatchLabels {
					if o.Spec.Template.Labels[k] != v {
						p = append(p, fmt.Sprintf("selector %s=%s does not match the template labels", k, v))
					}
				}
			}
		}()
	case kind == "Service" && api == "v1":
		var o corev1.Service
		obj, meta = &o, func() (string, map[string]string) { return o.Name, o.Labels }
		defer func() {
			for _, pt := range o.Spec.Ports {
				if pt.Port < 1 || pt.Port > 65535 {
					p = append(p, fmt.Sprintf("port %d out of range", pt.Port))
				}
				if pt.Name != "" {
					p = append(p, prefix("port name "+pt.Name, validation.IsValidPortName(pt.Name))...)
				}
			}
		}()
	case kind == "ConfigMap" && api == "v1":
		var o corev1.ConfigMap
		obj, meta = &o, func() (string, map[string]string) { return o.Name, o.Labels }
		defer func() {
			for k := range o.Data {
				p = append(p, prefix("key "+k, validation.IsConfigMapKey(k))...)
			}
		}()
	case kind == "Secret" && api == "v1":
		var o corev1.Secret
		obj, meta = &o, func() (string, map[string]string) { return o.Name, o.Labels }
	case kind == "PersistentVolumeClaim" && api == "v1":
		var o corev1.PersistentVolumeClaim
		obj, meta = &o, func() (string, map[string]string) { return o.Name, o.Labels }
	default:
		return []string{fmt.Sprintf("unknown kind %q (apiVersion %q)", kind, api)}
	}
	if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
		return []string{"strict decode: " + err.Error()}
	}
	name, labels := meta()
	p = append(p, prefix("name "+name, validation.IsDNS1123Subdomain(name))...)
	for k, v := range labels {
		p = append(p, prefix("label key "+k, validation.IsQualifiedName(k))...)
		p = append(p, prefix("label value "+v, validation.IsValidLabelValue(v))...)
	}
	return p
}

func checkPodSpec(spec corev1.PodSpec) []string {
	var p []string
	if len(spec.Containers) == 0 {
		p = append(p, "no containers")
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		p = append(p, prefix("container name "+c.Name, validation.IsDNS1123Label(c.Name))...)
		for _, pt := range c.Ports {
			if pt.ContainerPort < 1 || pt.ContainerPort > 65535 {
				p = append(p, fmt.Sprintf("container %s: port %d out of range", c.Name, pt.ContainerPort))
			}
		}
	}
	for _, v := range spec.Volumes {
		p = append(p, prefix("volume name "+v.Name, validation.IsDNS1123Label(v.Name))...)
	}
	return p
}

func prefix(what string, errs []string) []string {
	var out []string
	for _, e := range errs {
		out = append(out, what+": "+e)
	}
	return out
}

// FormatProblems renders Check's findings one per line.
func FormatProblems(ps []string) string { return strings.Join(ps, "\n") }
