package export

import (
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// Convert turns a compose project into Kubernetes Pod YAML that both
// `stack up -f pods.yaml` and `podman kube play pods.yaml` run: a Pod per
// planner pod with host ports (kube play publishes hostPort), plain
// environment values inline and credentials in a Secret, healthchecks as liveness probes (kube play runs them as
// healthchecks), claims named after the volumes, and the depends-on
// annotation. A file secret is mounted from its file on this host (as
// compose binds it), never copied into the output. Load the stack with
// KeepVars to keep ${VAR} placeholders.
func Convert(s *stack.Stack, pods []*planner.Pod) (*Result, error) {
	r, err := Kube(s, pods, KubeOptions{Type: "pod", HostPorts: true, InlineEnv: true})
	if err != nil {
		return nil, err
	}
	for _, o := range r.Objects {
		if o.GetObjectKind().GroupVersionKind().Kind == "Secret" {
			r.Warnings = append(r.Warnings, "the pods read credentials from a Secret in the same file: podman kube play reads it "+
				"from Podman 4.4 on (4.3 fails on it: podman issue 16269); stack up -f reads it with any Podman")
			break
		}
	}
	return r, nil
}
