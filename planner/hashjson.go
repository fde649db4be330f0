package planner

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/podstack/podstack/stack"
)

// The configuration hashes are sha256 of encoding/json's bytes for the
// structs in hash.go. Running containers and pods carry them in a label,
// so those bytes may never change; encoding/json's reflection, though,
// was a quarter of planning a large stack. The functions here append
// exactly the bytes encoding/json writes for those structs, field by
// field, without reflection. The tests hold them to encoding/json (the
// definitions, referenceContainerHash and referencePodHash) over pinned
// hash values (TestConfigHashValuesArePinned), services and pods filled at
// random through reflection, so that a field added to stack.Service and
// not written here fails (TestConfigHashOfRandomServices), the test
// stacks, the corpus and a generated stack (TestContainerHashIsStable),
// and every plan FuzzPlan makes.

// appendJSONString appends s as encoding/json writes a string (with its
// default HTML escaping). Plain ASCII is copied; anything else is left to
// encoding/json, so its escaping rules are never restated here.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			q, err := json.Marshal(s)
			if err != nil {
				panic("planner: hash input does not marshal: " + err.Error())
			}
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSON are the bytes encoding/json writes as they are in a string
// (HTML-escaping, as json.Marshal does): printable ASCII but for '"',
// '\\', '<', '>' and '&'.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// appendDuration appends d as d.String() writes it, without allocating for
// whole seconds below 100 hours, which healthcheck timings nearly always are.
func appendDuration(b []byte, d time.Duration) []byte {
	if d < 0 || d%time.Second != 0 || d >= 100*time.Hour {
		return append(b, d.String()...)
	}
	secs := int64(d / time.Second)
	h, m, sec := secs/3600, secs/60%60, secs%60
	if h > 0 {
		b = strconv.AppendInt(b, h, 10)
		b = append(b, 'h')
	}
	if h > 0 || m > 0 {
		b = strconv.AppendInt(b, m, 10)
		b = append(b, 'm')
	}
	b = strconv.AppendInt(b, sec, 10)
	return append(b, 's')
}

// appendJSONFloat appends f as encoding/json writes a float64.
func appendJSONFloat(b []byte, f float64) []byte {
	if abs := math.Abs(f); f == 0 || (abs >= 1e-6 && abs < 1e21) {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	q, err := json.Marshal(f) // exponent form, NaN and infinities
	if err != nil {
		panic("planner: hash input does not marshal: " + err.Error())
	}
	return append(b, q...)
}

// appendJSONStrings appends a []string: null when nil.
func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// sortedMapKeys returns m's keys in encoding/json's order (byte order),
// without allocating for the one- and two-key maps most are.
func sortedMapKeys[V any](m map[string]V, scratch *[2]string) []string {
	var keys []string
	if len(m) <= len(scratch) {
		keys = scratch[:0]
	} else {
		keys = make([]string, 0, len(m))
	}
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) == 2 {
		if keys[1] < keys[0] {
			keys[0], keys[1] = keys[1], keys[0]
		}
	} else {
		slices.Sort(keys)
	}
	return keys
}

// appendJSONMap appends a map with string keys, each value written by
// value; null when nil.
func appendJSONMap[V any](b []byte, m map[string]V, value func([]byte, V) []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var scratch [2]string
	b = append(b, '{')
	for i, k := range sortedMapKeys(m, &scratch) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = value(b, m[k])
	}
	return append(b, '}')
}

// jsonObject writes an object's fields, the comma before all but the first.
type jsonObject struct {
	b     []byte
	first bool
}

func openObject(b []byte) jsonObject { return jsonObject{b: append(b, '{'), first: true} }

func (o *jsonObject) key(name string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = append(o.b, '"')
	o.b = append(o.b, name...)
	o.b = append(o.b, '"', ':')
}

func (o *jsonObject) str(name, v string) {
	o.key(name)
	o.b = appendJSONString(o.b, v)
}

// duration writes d as a string, as d.String() has it (no character of
// which encoding/json escapes).
func (o *jsonObject) duration(name string, d time.Duration) {
	o.key(name)
	o.b = append(o.b, '"')
	o.b = appendDuration(o.b, d)
	o.b = append(o.b, '"')
}

func (o *jsonObject) strOmit(name, v string) {
	if v != "" {
		o.str(name, v)
	}
}

func (o *jsonObject) int(name string, v int64) {
	o.key(name)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *jsonObject) intOmit(name string, v int64) {
	if v != 0 {
		o.int(name, v)
	}
}

func (o *jsonObject) floatOmit(name string, v float64) {
	if v != 0 {
		o.key(name)
		o.b = appendJSONFloat(o.b, v)
	}
}

func (o *jsonObject) bool(name string, v bool) {
	o.key(name)
	o.b = strconv.AppendBool(o.b, v)
}

func (o *jsonObject) boolOmit(name string, v bool) {
	if v {
		o.bool(name, v)
	}
}

func (o *jsonObject) stringsOmit(name string, v []string) {
	if len(v) > 0 {
		o.key(name)
		o.b = appendJSONStrings(o.b, v)
	}
}

func (o *jsonObject) stringMapOmit(name string, m map[string]string) {
	if len(m) > 0 {
		o.key(name)
		o.b = appendJSONMap(o.b, m, appendJSONString)
	}
}

func (o *jsonObject) close() []byte { return append(o.b, '}') }

// appendHashedService appends the JSON of svc as containerHash hashes it:
// stack.Service's MarshalJSON of the service with the fields the hash
// clears (replicas, deploy mode, profiles, depends_on, pull policy,
// develop, the build's no_cache and pull) cleared.
// networks are svc.Networks, sorted by key.
func appendHashedService(b []byte, svc *stack.Service, networks []serviceNetwork) []byte {
	o := openObject(b)
	o.str("name", svc.Name)
	o.strOmit("image", svc.Image)
	if svc.Build != nil {
		o.key("build")
		o.b = appendHashedBuild(o.b, svc.Build)
	}
	o.stringsOmit("entrypoint", svc.Entrypoint)
	o.stringsOmit("command", svc.Command)
	o.strOmit("workingDir", svc.WorkingDir)
	o.strOmit("user", svc.User)
	o.stringMapOmit("environment", svc.Environment)
	o.stringMapOmit("labels", svc.Labels)
	o.strOmit("hostname", svc.Hostname)
	o.strOmit("containerName", svc.ContainerName)
	if len(svc.Ports) > 0 {
		o.key("ports")
		o.b = appendJSONPorts(o.b, svc.Ports)
	}
	if len(svc.Expose) > 0 {
		o.key("expose")
		o.b = append(o.b, '[')
		for i, p := range svc.Expose {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = strconv.AppendUint(o.b, uint64(p), 10)
		}
		o.b = append(o.b, ']')
	}
	o.strOmit("networkMode", svc.NetworkMode)
	if len(svc.Networks) > 0 {
		o.key("networks")
		o.b = append(o.b, '{')
		for i, n := range networks {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = appendJSONString(o.b, n.key)
			o.b = append(o.b, ':')
			o.b = appendServiceNetwork(o.b, n.ServiceNetwork)
		}
		o.b = append(o.b, '}')
	}
	o.stringsOmit("extraHosts", svc.ExtraHosts)
	o.stringsOmit("dns", svc.DNS)
	if len(svc.Mounts) > 0 {
		o.key("mounts")
		o.b = append(o.b, '[')
		for i := range svc.Mounts {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = appendMount(o.b, &svc.Mounts[i])
		}
		o.b = append(o.b, ']')
	}
	if len(svc.Secrets) > 0 {
		o.key("secrets")
		o.b = appendFileRefs(o.b, svc.Secrets)
	}
	if len(svc.Configs) > 0 {
		o.key("configs")
		o.b = appendFileRefs(o.b, svc.Configs)
	}
	if svc.Health != nil {
		o.key("healthcheck")
		o.b = appendHealthCheck(o.b, svc.Health)
	}
	// dependsOn: cleared
	o.strOmit("restart", string(svc.Restart))
	o.strOmit("stopSignal", svc.StopSignal)
	// stopGracePeriod: MarshalJSON writes it last, as a duration string.
	o.key("resources")
	o.b = appendResources(o.b, &svc.Resources)
	o.int("replicas", 0) // cleared
	// deployMode: cleared
	o.boolOmit("init", svc.Init)
	o.boolOmit("tty", svc.Tty)
	o.boolOmit("stdinOpen", svc.StdinOpen)
	o.boolOmit("privileged", svc.Privileged)
	o.boolOmit("readOnly", svc.ReadOnly)
	o.stringsOmit("capAdd", svc.CapAdd)
	o.stringsOmit("capDrop", svc.CapDrop)
	if len(svc.Ulimits) > 0 {
		o.key("ulimits")
		o.b = appendJSONMap(o.b, svc.Ulimits, appendJSONUlimit)
	}
	o.stringMapOmit("sysctls", svc.Sysctls)
	o.stringsOmit("devices", svc.Devices)
	o.strOmit("pid", svc.PID)
	o.strOmit("ipc", svc.IPC)
	o.strOmit("usernsMode", svc.UsernsMode)
	o.stringsOmit("securityOpt", svc.SecurityOpt)
	o.intOmit("shmSize", svc.ShmSize)
	o.stringsOmit("groupAdd", svc.GroupAdd)
	o.stringsOmit("dnsSearch", svc.DNSSearch)
	o.stringsOmit("dnsOptions", svc.DNSOptions)
	o.intOmit("oomScoreAdj", int64(svc.OomScoreAdj))
	if svc.Logging != nil {
		o.key("logging")
		l := openObject(o.b)
		l.strOmit("driver", svc.Logging.Driver)
		l.stringMapOmit("options", svc.Logging.Options)
		o.b = l.close()
	}
	// profiles: cleared
	o.strOmit("pod", svc.Pod)
	o.boolOmit("initContainer", svc.InitContainer)
	// develop: cleared
	if svc.StopGracePeriod != nil {
		o.duration("stopGracePeriod", *svc.StopGracePeriod)
	}
	return o.close()
}

func appendHashedBuild(b []byte, bd *stack.Build) []byte {
	o := openObject(b)
	o.str("context", bd.Context)
	o.strOmit("dockerfile", bd.Dockerfile)
	o.stringMapOmit("args", bd.Args)
	o.strOmit("target", bd.Target)
	o.stringMapOmit("labels", bd.Labels)
	// noCache, pull: cleared
	o.strOmit("dockerfileInline", bd.DockerfileInline)
	o.stringMapOmit("additionalContexts", bd.AdditionalContexts)
	if len(bd.Ulimits) > 0 {
		o.key("ulimits")
		o.b = appendJSONMap(o.b, bd.Ulimits, appendJSONUlimit)
	}
	o.intOmit("shmSize", bd.ShmSize)
	o.stringsOmit("extraHosts", bd.ExtraHosts)
	o.strOmit("network", bd.Network)
	o.stringsOmit("cacheFrom", bd.CacheFrom)
	o.stringsOmit("tags", bd.Tags)
	o.strOmit("platform", bd.Platform)
	if len(bd.Secrets) > 0 {
		o.key("secrets")
		o.b = append(o.b, '[')
		for i := range bd.Secrets {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			sec := &bd.Secrets[i]
			s := openObject(o.b)
			s.str("id", sec.ID)
			s.str("source", sec.Source)
			s.strOmit("file", sec.File)
			s.strOmit("environment", sec.Environment)
			// content: never hashed
			o.b = s.close()
		}
		o.b = append(o.b, ']')
	}
	return o.close()
}

func appendJSONUlimit(b []byte, u stack.Ulimit) []byte {
	o := openObject(b)
	o.int("soft", u.Soft)
	o.int("hard", u.Hard)
	return o.close()
}

// appendJSONPorts appends a []stack.Port: null when nil.
func appendJSONPorts(b []byte, ports []stack.Port) []byte {
	if ports == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range ports {
		if i > 0 {
			b = append(b, ',')
		}
		p := &ports[i]
		o := openObject(b)
		o.int("target", int64(p.Target))
		o.intOmit("published", int64(p.Published))
		o.boolOmit("ephemeral", p.Ephemeral)
		o.strOmit("hostIP", p.HostIP)
		o.str("protocol", p.Protocol)
		o.strOmit("name", p.Name)
		b = o.close()
	}
	return append(b, ']')
}

func appendServiceNetwork(b []byte, n *stack.ServiceNetwork) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	o := openObject(b)
	o.stringsOmit("aliases", n.Aliases)
	o.strOmit("ipv4Address", n.IPv4Address)
	o.strOmit("ipv6Address", n.IPv6Address)
	o.strOmit("macAddress", n.MACAddress)
	o.strOmit("interfaceName", n.InterfaceName)
	return o.close()
}

func appendMount(b []byte, m *stack.Mount) []byte {
	o := openObject(b)
	o.str("type", string(m.Type))
	o.strOmit("source", m.Source)
	o.str("target", m.Target)
	o.boolOmit("readOnly", m.ReadOnly)
	o.strOmit("selinux", m.SELinux)
	o.strOmit("subPath", m.SubPath)
	o.intOmit("tmpfsSize", m.TmpfsSize)
	return o.close()
}

func appendFileRefs(b []byte, refs []stack.FileRef) []byte {
	b = append(b, '[')
	for i := range refs {
		if i > 0 {
			b = append(b, ',')
		}
		r := &refs[i]
		o := openObject(b)
		o.str("source", r.Source)
		o.str("target", r.Target)
		o.strOmit("uid", r.UID)
		o.strOmit("gid", r.GID)
		if r.Mode != nil {
			o.int("mode", int64(*r.Mode))
		}
		b = o.close()
	}
	return append(b, ']')
}

// appendHealthCheck appends what stack.HealthCheck's MarshalJSON writes.
func appendHealthCheck(b []byte, h *stack.HealthCheck) []byte {
	o := openObject(b)
	o.key("test")
	o.b = appendJSONStrings(o.b, h.Test)
	o.duration("interval", h.Interval)
	o.duration("timeout", h.Timeout)
	o.duration("startPeriod", h.StartPeriod)
	if h.StartInterval > 0 {
		o.duration("startInterval", h.StartInterval)
	}
	o.int("retries", int64(h.Retries))
	return o.close()
}

func appendResources(b []byte, r *stack.Resources) []byte {
	o := openObject(b)
	o.floatOmit("cpus", r.CPUs)
	o.intOmit("memoryBytes", r.MemoryBytes)
	o.floatOmit("cpusReservation", r.CPUsReservation)
	o.intOmit("memoryReservation", r.MemoryReservation)
	o.intOmit("pids", r.Pids)
	o.intOmit("cpuShares", r.CPUShares)
	o.strOmit("cpuSet", r.CPUSet)
	return o.close()
}

// appendHashedSecret appends a *stack.Secret as encoding/json writes it.
func appendHashedSecret(b []byte, s *stack.Secret) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	o := openObject(b)
	o.str("key", s.Key)
	o.str("name", s.Name)
	o.strOmit("file", s.File)
	o.strOmit("environment", s.Environment)
	o.boolOmit("external", s.External)
	return o.close()
}
