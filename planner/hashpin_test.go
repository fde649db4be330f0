package planner

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/podstack/podstack/stack"
)

// pinnedServices are representative services, from the smallest to one
// with every field set, with strings that encoding/json escapes.
func pinnedServices() (*stack.Stack, []*stack.Service, map[string]*Pod) {
	grace := 45 * time.Second
	mode := uint32(0o440)
	full := &stack.Service{
		Name: "full", Image: "registry.example/app:2.1", PullPolicy: "always",
		Build:      &stack.Build{Context: "/src/app", Dockerfile: "Dockerfile.dev", Args: map[string]string{"B": "2", "A": "1"}, Target: "prod", Labels: map[string]string{"l": "v"}, NoCache: true, Pull: true, Digest: "d1"},
		Entrypoint: []string{"/bin/sh", "-c"},
		Command:    []string{"echo <hi> & 'bye'", "tab\there", "é ü \u2028 \x01"},
		WorkingDir: "/app", User: "1000:1000",
		Environment: map[string]string{"URL": "http://x/?a=1&b=2", "EMPTY": "", "QUOTE": `say "hi" \ now`, "Z": "last"},
		Labels:      map[string]string{"com.example.team": "core"},
		Hostname:    "full-host", ContainerName: "full-1",
		Ports:      []stack.Port{{Target: 80, Published: 8080, Protocol: "tcp"}, {Target: 53, Protocol: "udp", HostIP: "127.0.0.1", Ephemeral: true, Name: "dns"}},
		Expose:     []uint16{9000, 9001},
		Networks:   map[string]*stack.ServiceNetwork{"front": {Aliases: []string{"a1", "a2"}, IPv4Address: "10.0.0.5", MACAddress: "02:42:ac:11:00:02"}, "back": nil},
		ExtraHosts: []string{"db:10.0.0.9"}, DNS: []string{"1.1.1.1"},
		Mounts: []stack.Mount{{Type: stack.MountVolume, Source: "data", Target: "/data", ReadOnly: true, SubPath: "sub"},
			{Type: stack.MountBind, Source: "/srv/conf", Target: "/conf", SELinux: "Z"}, {Type: stack.MountTmpfs, Target: "/tmp", TmpfsSize: 1 << 20}},
		Secrets:   []stack.FileRef{{Source: "token", Target: "/run/secrets/token", UID: "1", GID: "2", Mode: &mode}},
		Configs:   []stack.FileRef{{Source: "conf", Target: "/etc/app.conf"}},
		Health:    &stack.HealthCheck{Test: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}, Interval: 10 * time.Second, Timeout: 2 * time.Second, StartPeriod: time.Minute, StartInterval: time.Second, Retries: 5},
		DependsOn: map[string]stack.Dependency{"db": {Condition: stack.ConditionHealthy, Required: true}},
		Restart:   "on-failure:3", StopSignal: "SIGINT", StopGracePeriod: &grace,
		Resources: stack.Resources{CPUs: 1.5, MemoryBytes: 512 << 20, CPUsReservation: 0.25, MemoryReservation: 1 << 20, Pids: 100, CPUShares: 512, CPUSet: "0-1"},
		Replicas:  3, DeployMode: "replicated",
		Init: true, Tty: true, StdinOpen: true, Privileged: true, ReadOnly: true,
		CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"},
		Ulimits: map[string]stack.Ulimit{"nofile": {Soft: 1024, Hard: 4096}, "nproc": {Soft: 64, Hard: 64}},
		Sysctls: map[string]string{"net.core.somaxconn": "1024"}, Devices: []string{"/dev/fuse"},
		PID: "host", IPC: "shareable", UsernsMode: "keep-id", SecurityOpt: []string{"no-new-privileges"},
		ShmSize: 64 << 20, GroupAdd: []string{"wheel"}, DNSSearch: []string{"example.com"}, DNSOptions: []string{"ndots:2"},
		OomScoreAdj: -500, Logging: &stack.Logging{Driver: "k8s-file", Options: map[string]string{"max-size": "10m"}},
		Profiles: []string{"debug"}, Pod: "group", InitContainer: true,
		Develop: &stack.Develop{}, Keys: []string{"image"}, Unsupported: []string{"x"}, Source: stack.Position{File: "compose.yaml", Line: 3},
	}
	s := &stack.Stack{Name: "pin", Services: map[string]*stack.Service{
		"min":     {Name: "min", Image: "busybox", Replicas: 1},
		"built":   {Name: "built", Build: &stack.Build{Context: "."}, Entrypoint: []string{}, Health: &stack.HealthCheck{}, Replicas: 1},
		"tiny":    {Name: "tiny", Image: "alpine", Resources: stack.Resources{CPUs: 1e-7}, Replicas: 0, StopGracePeriod: new(time.Duration)},
		"full":    full,
		"alone":   {Name: "alone", Image: "nginx", Ports: []stack.Port{{Target: 80, Published: 80, Protocol: "tcp"}}, Replicas: 1},
		"unicode": {Name: "unicode", Image: "busybox", Environment: map[string]string{"GREETING": "héllo wörld ✓", "BAD": "\xff\xfe"}, Replicas: 1},
	},
		Volumes: map[string]*stack.Volume{"data": {Key: "data", Name: "pin_data"}},
		Secrets: map[string]*stack.Secret{"token": {Key: "token", Name: "pin_token", File: "/s/token", Digest: "sha256:abc"}},
		Configs: map[string]*stack.Config{"conf": {Key: "conf", Name: "pin_conf", Content: "x=1", Digest: "sha256:def"}},
	}
	shared := &Pod{Key: "group", Name: "pin-group", Services: []string{"full", "min"}, Infra: true,
		Ports:    []stack.Port{{Target: 80, Published: 8080, Protocol: "tcp"}, {Target: 81, Protocol: "tcp"}},
		Hostname: "group", AddHosts: []string{"full:127.0.0.1", "min:127.0.0.1"},
		Networks:  map[string][]string{"pin_front": {"full", "group", "min"}, "pin_back": {"full"}},
		Addresses: map[string]Address{"pin_front": {IPv4: "10.0.0.5", MAC: "02:42:ac:11:00:02"}},
		DNS:       []string{"1.1.1.1"}, DNSSearch: []string{"example.com"}, DNSOptions: []string{"ndots:2"}}
	alone := &Pod{Key: "alone", Name: "pin-alone", Services: []string{"alone"},
		Ports: []stack.Port{{Target: 80, Published: 80, Protocol: "tcp"}}, Networks: map[string][]string{"pin_default": {"alone"}}}
	host := &Pod{Key: "tiny", Name: "pin-tiny", Services: []string{"tiny"}, NetworkMode: "host"}
	for _, p := range []*Pod{shared, alone, host} {
		p.Hash = podHash(p)
	}
	pods := map[string]*Pod{"full": shared, "min": shared, "alone": alone, "tiny": host}
	var svcs []*stack.Service
	for _, name := range s.ServiceNames() {
		svcs = append(svcs, s.Services[name])
	}
	return s, svcs, pods
}

// TestConfigHashValuesArePinned: the configuration hashes of
// representative services and pods are the ones released stacks carry in
// their labels. A change here recreates every user's containers on
// upgrade: never update these values to make the test pass.
func TestConfigHashValuesArePinned(t *testing.T) {
	s, svcs, pods := pinnedServices()
	want := map[string]string{
		"service alone":   "232fbfbe313cc079ea3c6fbe34b95b9e",
		"service built":   "0ff2a086b1a0414947edb9589cc362d9",
		"service full":    "f5bc4a7e4aef1277de452a0ae5c99296",
		"service min":     "3bab329666f2b82d30c5c2df85e67920",
		"service tiny":    "a57dfcf225856cce30a3116a8d0b4cc7",
		"service unicode": "0837394b40e1ea2f712b624279c34192",
		"pod pin-alone":   "20c9e47477ff190e634078103c266637",
		"pod pin-group":   "607028a94ba0d9e95b31b17501db0831",
		"pod pin-tiny":    "44469599888900f89f5c4c7429d43505",
	}
	got := map[string]string{}
	for _, svc := range svcs {
		got["service "+svc.Name] = containerHash(s, svc, pods[svc.Name])
		if ref := referenceContainerHash(s, svc, pods[svc.Name]); ref != got["service "+svc.Name] {
			t.Errorf("service %s: hash %s, the definition gives %s", svc.Name, got["service "+svc.Name], ref)
		}
	}
	for _, p := range pods {
		got["pod "+p.Name] = p.Hash
		if ref := referencePodHash(p); ref != p.Hash {
			t.Errorf("pod %s: hash %s, the definition gives %s", p.Name, p.Hash, ref)
		}
	}
	for k, v := range got {
		if want[k] != v {
			t.Errorf("%s: hash %s, pinned %s", k, v, want[k])
		}
	}
	if len(want) != len(got) {
		t.Errorf("%d hashes pinned, %d computed", len(want), len(got))
	}
}

// TestConfigHashOfRandomServices: services and pods with every field
// filled at random (through reflection, so a field added to the model is
// covered without changing this test) hash as the definitions say.
func TestConfigHashOfRandomServices(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(16, seed))
	n := 3000
	if testing.Short() {
		n = 500
	}
	for i := 0; i < n; i++ {
		var svc stack.Service
		fillRandom(rng, reflect.ValueOf(&svc).Elem(), 0)
		svc.Develop = nil // not hashed; its JSON has nothing of the container
		s := &stack.Stack{Name: randomString(rng), Services: map[string]*stack.Service{svc.Name: &svc},
			Volumes: map[string]*stack.Volume{}, Secrets: map[string]*stack.Secret{}, Configs: map[string]*stack.Config{}}
		for _, m := range svc.Mounts {
			if rng.IntN(3) > 0 {
				s.Volumes[m.Source] = &stack.Volume{Key: m.Source, Name: randomString(rng)}
			}
		}
		for _, ref := range svc.Secrets {
			if rng.IntN(3) > 0 {
				sec := &stack.Secret{}
				fillRandom(rng, reflect.ValueOf(sec).Elem(), 0)
				s.Secrets[ref.Source] = sec
			}
		}
		for _, ref := range svc.Configs {
			if rng.IntN(3) > 0 {
				cfg := &stack.Config{}
				fillRandom(rng, reflect.ValueOf(cfg).Elem(), 0)
				s.Configs[ref.Source] = cfg
			}
		}
		var pod *Pod
		if rng.IntN(4) > 0 {
			pod = &Pod{}
			fillRandom(rng, reflect.ValueOf(pod).Elem(), 0)
			if got, want := podHash(pod), referencePodHash(pod); got != want {
				t.Fatalf("seed %d: pod %#v: hash %s, want %s", seed, pod, got, want)
			}
		}
		if got, want := containerHash(s, &svc, pod), referenceContainerHash(s, &svc, pod); got != want {
			t.Fatalf("seed %d: service %#v: hash %s, want %s", seed, svc, got, want)
		}
	}
}

// randomStrings are what encoding/json treats differently: HTML, quotes,
// control characters, invalid UTF-8, the JavaScript line separators.
var randomStrings = []string{"", "a", "web", "volume", "bind", "tmpfs", "tcp", "<b>", "a&b", `"q"`, `back\slash`, "tab\t", "nl\n",
	"\x00\x1f\x7f", "unit\x1fsep", "del\x7f", "é", "✓", "\u2028\u2029", "\xff", "\xc3", "ok-1.2_3:4/5", "http://h/?a=1&b=<2>", "CMD", "CMD-SHELL"}

func randomString(rng *rand.Rand) string {
	if rng.IntN(4) == 0 {
		return fmt.Sprintf("%s%s%d", randomStrings[rng.IntN(len(randomStrings))], randomStrings[rng.IntN(len(randomStrings))], rng.IntN(100))
	}
	return randomStrings[rng.IntN(len(randomStrings))]
}

var randomFloats = []float64{0, 0.5, 1.5, -2.25, 1e-6, 1e-7, 9.99e-7, 1e20, 1e21, 1.234e25, 123456789.125, 0.1 + 0.2, 3}

// fillRandom fills v, a settable value, at random: nil, empty or full
// slices, maps and pointers.
func fillRandom(rng *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(randomString(rng))
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch rng.IntN(3) {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(rng.Int64N(100) - 20)
		default:
			v.SetInt(rng.Int64() >> (rng.IntN(64)))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rng.IntN(3) > 0 {
			v.SetUint(rng.Uint64() >> (rng.IntN(64)))
		} else {
			v.SetUint(0)
		}
	case reflect.Float32, reflect.Float64:
		v.SetFloat(randomFloats[rng.IntN(len(randomFloats))])
	case reflect.Pointer:
		if depth > 4 || rng.IntN(3) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		fillRandom(rng, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		switch n := rng.IntN(5); {
		case depth > 4 || n == 0:
			v.SetZero()
		case n == 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := 0; i < n-1; i++ {
				fillRandom(rng, s.Index(i), depth+1)
			}
			v.Set(s)
		}
	case reflect.Map:
		switch n := rng.IntN(6); {
		case depth > 4 || n == 0:
			v.SetZero()
		default:
			m := reflect.MakeMap(v.Type())
			for i := 0; i < n-1; i++ {
				k := reflect.New(v.Type().Key()).Elem()
				fillRandom(rng, k, depth+1)
				e := reflect.New(v.Type().Elem()).Elem()
				fillRandom(rng, e, depth+1)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillRandom(rng, v.Field(i), depth+1)
			}
		}
	default:
		panic("fillRandom: no rule for " + v.Type().String())
	}
}

// TestAppendDuration: appendDuration writes what time.Duration's String
// does, on the fast path (whole seconds) and off it.
func TestAppendDuration(t *testing.T) {
	ds := []time.Duration{0, 1, time.Millisecond, time.Second, 59 * time.Second, time.Minute, 61 * time.Second, time.Hour,
		time.Hour + time.Second, 99*time.Hour + 59*time.Minute + 59*time.Second, 100 * time.Hour, 1000 * time.Hour,
		-time.Second, 1500 * time.Millisecond, 1<<63 - 1, -1 << 63}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		ds = append(ds, time.Duration(rng.Int64N(400*3600))*time.Second, time.Duration(rng.Int64()>>rng.IntN(64)))
	}
	for _, d := range ds {
		if got := string(appendDuration(nil, d)); got != d.String() {
			t.Errorf("%d: %q, want %q", int64(d), got, d.String())
		}
	}
}
