package stack

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

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
// sorted: what compose-go decoded, whatever podstack knows of it. A key is
// set where its value in the service's JSON (as compose-go marshals it) is
// not empty; it looks at the fields by reflection and marshals a field only
// where reflection cannot tell (a value with its own MarshalJSON, a
// struct): a JSON round trip of every service cost a 1000-service stack
// 5 MB.
func setKeys(svc types.ServiceConfig) []string {
	var out []string
	v := reflect.ValueOf(&svc).Elem()
	for _, k := range serviceFields() {
		if !jsonEmpty(k, v.FieldByIndex(k.index)) {
			out = append(out, k.name)
		}
	}
	if svc.Deploy != nil {
		d := reflect.ValueOf(svc.Deploy).Elem()
		for _, k := range deployFields() {
			if !jsonEmpty(k, d.FieldByIndex(k.index)) {
				out = append(out, "deploy."+k.name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// The JSON keys of a service and of its deploy section, found once.
var (
	serviceFields = sync.OnceValue(func() []structKey {
		return structKeys(reflect.TypeFor[types.ServiceConfig](), nil, func(name string) bool { return !strings.HasPrefix(name, "x-") })
	})
	deployFields = sync.OnceValue(func() []structKey {
		return structKeys(reflect.TypeFor[types.DeployConfig](), nil, func(string) bool { return true })
	})
)

// structKey is one key of a struct's JSON object, as encoding/json names it.
type structKey struct {
	name                string
	index               []int
	omitempty, omitzero bool
}

// structKeys lists the exported fields of struct type t whose JSON names
// keep accepts, with untagged embedded structs flattened, as encoding/json
// does.
func structKeys(t reflect.Type, index []int, keep func(string) bool) []structKey {
	var out []structKey
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		at := append(append([]int(nil), index...), i)
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			out = append(out, structKeys(sf.Type, at, keep)...)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if keep(name) {
			out = append(out, structKey{name: name, index: at,
				omitempty: strings.Contains(opts, "omitempty"), omitzero: strings.Contains(opts, "omitzero")})
		}
	}
	return out
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

// jsonEmpty reports whether field f's JSON value v is absent or empty
// (isEmpty).
func jsonEmpty(f structKey, v reflect.Value) bool {
	if f.omitzero && v.IsZero() {
		return true
	}
	// omitempty leaves out what encoding/json calls empty, before any
	// MarshalJSON of the type is asked.
	switch v.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		if f.omitempty && v.IsZero() {
			return true
		}
	case reflect.Array:
		if f.omitempty && v.Len() == 0 {
			return true
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		if v.IsNil() {
			return true // null, or omitted
		}
	}
	if v.Type().Implements(jsonMarshaler) || reflect.PointerTo(v.Type()).Implements(jsonMarshaler) || v.Kind() == reflect.Struct {
		return marshalsEmpty(v)
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return jsonEmpty(structKey{}, v.Elem())
	case reflect.Slice, reflect.Map, reflect.Array:
		return v.Len() == 0 // [] or {}; anything in them is not empty
	}
	return v.IsZero()
}

// marshalsEmpty decides by marshalling v itself.
func marshalsEmpty(v reflect.Value) bool {
	var data []byte
	var err error
	if v.CanAddr() {
		data, err = json.Marshal(v.Addr().Interface())
	} else {
		data, err = json.Marshal(v.Interface())
	}
	if err != nil {
		return true
	}
	var x any
	return json.Unmarshal(data, &x) != nil || isEmpty(x)
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

// knownServiceKeys is for "did you mean" suggestions: every key the table
// of service keys lists.
var knownServiceKeys = func() []string {
	var keys []string
	for k := range ServiceKeys {
		if !strings.HasPrefix(k, "deploy.") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}()

// warnUnsupported adds a warning for every key a service sets that
// podstack does not carry out, at the position where gives: the loader
// warns, so every command that loads says so, once, and before anything
// runs.
func (s *Stack) warnUnsupported(where func(svc *Service, key string) Position) {
	for _, name := range s.ServiceNames() {
		svc := s.Services[name]
		for _, key := range svc.Unsupported {
			s.Warnings = append(s.Warnings, Warning{Position: where(svc, key), Service: name,
				Message: key + " is not supported by podstack and is ignored"})
		}
	}
}

// unsupported lists what svc sets that `stack up` does not carry out: keys
// the table says Podman does not carry, and podman-compose's own x-podman
// extensions (named rather than ignored like any other x- key).
func unsupported(svc types.ServiceConfig, keys []string) []string {
	out := (&Service{Keys: keys}).NotCarried(PodmanKeys)
	for k := range svc.Extensions {
		if strings.HasPrefix(k, "x-podman") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
