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
// annotation. Load the stack with KeepVars to keep ${VAR} placeholders.
func Convert(s *stack.Stack, pods []*planner.Pod) (*Result, error) {
	return Kube(s, pods, KubeOptions{Type: "pod", HostPorts: true, InlineEnv: true})
}
