package stack

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Carried says where a compose service key is carried out: by `stack up` on
// Podman, by the Kubernetes export (and convert), and by the Quadlet export.
// Each is "" where the key is carried (a carrier may still warn about a
// value it cannot express), else the reason it is not, for the warning; a
// reason of "-" has nothing more to say than "not carried".
type Carried struct {
	Podman  string
	Kube    string
	Quadlet string
}

// notCarried is a reason with nothing to add.
const notCarried = "-"

// ServiceKeys is THE table of compose service keys (deploy's as
// "deploy.KEY"): the loader's "not supported" warnings and every export's
// "not exported" warnings are derived from it, so a key is added, or found
// missing, in one place. A key the table does not list is carried nowhere
// and so named in every warning: a new compose key can never be dropped
// silently.
var ServiceKeys = map[string]Carried{
	// Carried everywhere.
	"name": {}, "image": {}, "pull_policy": {}, "entrypoint": {}, "command": {}, "working_dir": {}, "user": {},
	"environment": {}, "env_file": {}, "labels": {}, "label_file": {}, "ports": {}, "expose": {},
	"network_mode": {}, "networks": {}, "volumes": {}, "tmpfs": {}, "healthcheck": {}, "depends_on": {},
	"restart": {}, "stop_grace_period": {}, "deploy": {}, "mem_limit": {}, "mem_reservation": {}, "cpus": {},
	"scale": {}, "tty": {}, "stdin_open": {}, "privileged": {}, "read_only": {}, "cap_add": {}, "cap_drop": {},
	"sysctls": {}, "profiles": {}, "links": {}, "extends": {}, "pid": {}, "ipc": {}, "security_opt": {},
	"group_add":       {},
	"deploy.replicas": {}, "deploy.resources": {}, "deploy.restart_policy": {}, "deploy.mode": {},

	// Carried by stack up; not by every export.
	"build":          {}, // the exports name the image to build and push (a warning says so)
	"hostname":       {Quadlet: "a pod member cannot set it: the pod's hostname is the pod's"},
	"container_name": {Kube: "Kubernetes names containers itself"},
	"extra_hosts":    {Quadlet: "a pod member cannot set it: hosts are the pod's"},
	"dns":            {Quadlet: "a pod member cannot set it: DNS is the pod's"},
	"dns_search":     {Quadlet: "a pod member cannot set it: DNS is the pod's"},
	"dns_opt":        {Quadlet: "a pod member cannot set it: DNS is the pod's"},
	"secrets":        {Quadlet: "Quadlet needs the Podman secrets made first (podman secret create)"},
	"configs":        {Quadlet: "Quadlet needs the Podman secrets made first (podman secret create)"},
	"init":           {Kube: "Kubernetes runs no init process per container"},
	"stop_signal":    {Kube: "lifecycle.stopSignal is alpha, off by default: SIGTERM is sent"},
	"pids_limit":     {Kube: "Kubernetes limits PIDs per node, not per container"},
	"ulimits":        {Kube: "Kubernetes has no per-container rlimits"},
	"devices":        {Kube: notCarried},
	"mac_address":    {}, // a static address: the exports warn by value, as for ipv4_address
	"userns_mode":    {Kube: notCarried},
	"shm_size":       {Kube: notCarried},
	"oom_score_adj":  {Kube: notCarried},
	"logging":        {Kube: "the cluster collects logs"},
	"cpu_shares":     {Kube: "set deploy.resources.reservations.cpus for a request"},
	"cpuset":         {Kube: "CPU pinning is the node's CPU manager's"},
	// attach only decides whether an attached `stack up` follows the
	// service's logs: there is nothing to run or export.
	"attach": {},
	// develop is what `stack watch` does while a developer edits files.
	"develop": {Kube: "it is stack watch's, for development", Quadlet: "it is stack watch's, for development"},
}

// CarriedBy returns where key is carried (see Carried); a key the table
// does not list is carried nowhere.
func CarriedBy(key string) Carried {
	if c, ok := ServiceKeys[key]; ok {
		return c
	}
	return Carried{Podman: notCarried, Kube: notCarried, Quadlet: notCarried}
}

// NotCarried names the keys set on the service that the target (a field of
// Carried) does not carry, each with its reason in parentheses where the
// table gives one: "init (Kubernetes runs no init process per container)".
// What the loader found unsupported beyond the table (podman-compose's
// x-podman extensions, a volume type, a Kubernetes field) is carried
// nowhere and named too.
func (s *Service) NotCarried(target func(Carried) string) []string {
	var out []string
	for _, u := range s.Unsupported {
		if !slices.Contains(s.Keys, u) {
			out = append(out, u)
		}
	}
	for _, k := range s.Keys {
		switch why := target(CarriedBy(k)); why {
		case "":
		case notCarried:
			out = append(out, k)
		default:
			out = append(out, k+" ("+why+")")
		}
	}
	return out
}

// PodmanKeys, KubeKeys and QuadletKeys pick a target's column of Carried.
func PodmanKeys(c Carried) string  { return c.Podman }
func KubeKeys(c Carried) string    { return c.Kube }
func QuadletKeys(c Carried) string { return c.Quadlet }

// modelKeys are the compose keys a service of the model sets, for input
// that is not compose (Kubernetes): the keys of what the loader filled in.
func modelKeys(s *Service) []string {
	var out []string
	add := func(key string, set bool) {
		if set {
			out = append(out, key)
		}
	}
	add("image", s.Image != "")
	add("pull_policy", s.PullPolicy != "")
	add("entrypoint", s.Entrypoint != nil)
	add("command", s.Command != nil)
	add("working_dir", s.WorkingDir != "")
	add("user", s.User != "")
	add("environment", len(s.Environment) > 0)
	add("labels", len(s.Labels) > 0)
	add("hostname", s.Hostname != "")
	add("ports", len(s.Ports) > 0)
	add("network_mode", s.NetworkMode != "")
	add("extra_hosts", len(s.ExtraHosts) > 0)
	add("dns", len(s.DNS) > 0)
	add("dns_search", len(s.DNSSearch) > 0)
	add("dns_opt", len(s.DNSOptions) > 0)
	add("volumes", len(s.Mounts) > 0)
	add("secrets", len(s.Secrets) > 0)
	add("configs", len(s.Configs) > 0)
	add("healthcheck", s.Health != nil)
	add("depends_on", len(s.DependsOn) > 0)
	add("restart", s.Restart != "")
	add("stop_grace_period", s.StopGracePeriod != nil)
	add("tty", s.Tty)
	add("stdin_open", s.StdinOpen)
	add("privileged", s.Privileged)
	add("read_only", s.ReadOnly)
	add("cap_add", len(s.CapAdd) > 0)
	add("cap_drop", len(s.CapDrop) > 0)
	add("sysctls", len(s.Sysctls) > 0)
	add("pid", s.PID != "")
	add("ipc", s.IPC != "")
	add("security_opt", len(s.SecurityOpt) > 0)
	add("group_add", len(s.GroupAdd) > 0)
	add("cpus", s.Resources.CPUs > 0)
	add("mem_limit", s.Resources.MemoryBytes > 0)
	sort.Strings(out)
	return out
}

// setKeys lists the compose keys set on svc, deploy's as "deploy.KEY",
// sorted: what compose-go decoded, whatever podstack knows of it.
func setKeys(svc types.ServiceConfig) []string {
	data, err := json.Marshal(svc)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var out []string
	for k, v := range m {
		if strings.HasPrefix(k, "x-") || isEmpty(v) {
			continue
		}
		out = append(out, k)
	}
	if d, ok := m["deploy"].(map[string]any); ok {
		for k, v := range d {
			if !isEmpty(v) {
				out = append(out, "deploy."+k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case float64:
		return x == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}
