package podmanapi

import (
	"errors"
	"testing"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/errorhandling"
	"github.com/containers/podman/v5/pkg/specgen"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

func testStack() (*stack.Stack, *planner.Pod, *planner.Pod) {
	grace := 3 * time.Second
	s := &stack.Stack{Name: "t",
		Volumes:  map[string]*stack.Volume{"data": {Key: "data", Name: "t_data"}},
		Networks: map[string]*stack.Network{"default": {Key: "default", Name: "t_default"}},
		Services: map[string]*stack.Service{
			"web": {Name: "web", Image: "nginx", Replicas: 1, Ports: []stack.Port{{Target: 80, Published: 8080, Protocol: "tcp"}},
				Health:  &stack.HealthCheck{Test: []string{"CMD-SHELL", "true"}, Interval: 2 * time.Second, Timeout: 3 * time.Second, Retries: 4},
				Restart: "on-failure:5", StopGracePeriod: &grace, StopSignal: "SIGQUIT",
				Resources: stack.Resources{CPUs: 0.5, MemoryBytes: 64 << 20, Pids: 100},
				Mounts: []stack.Mount{
					{Type: stack.MountVolume, Source: "data", Target: "/data"},
					{Type: stack.MountBind, Source: "/srv/www", Target: "/www", ReadOnly: true, SELinux: "Z"},
					{Type: stack.MountTmpfs, Target: "/run", TmpfsSize: 1 << 20},
				},
				Unsupported: []string{"logging"},
			},
		},
	}
	solo := &planner.Pod{Key: "web", Name: "t-web", Services: []string{"web"}, Ports: s.Services["web"].Ports, Hostname: "web",
		Networks: map[string][]string{"t_default": {"web"}}, Labels: map[string]string{"io.podstack.project": "t"}}
	shared := &planner.Pod{Key: "app", Name: "t-app", Services: []string{"a", "web"}, Ports: s.Services["web"].Ports, Hostname: "app",
		AddHosts: []string{"a:127.0.0.1", "web:127.0.0.1"}, Networks: map[string][]string{"t_default": {"a", "app", "web"}}, Infra: true}
	return s, solo, shared
}

func TestPodSpec(t *testing.T) {
	s, solo, shared := testStack()
	g := podSpec(solo, s)
	if !g.NoInfra || len(g.PortMappings) != 0 {
		t.Errorf("single-service pod: NoInfra %v ports %v (the container carries them)", g.NoInfra, g.PortMappings)
	}
	g = podSpec(shared, s)
	if g.NoInfra || len(g.PortMappings) != 1 || g.PortMappings[0].HostPort != 8080 || g.Hostname != "app" ||
		len(g.HostAdd) != 2 || len(g.Networks["t_default"].Aliases) != 3 {
		t.Errorf("shared pod spec: %+v", g)
	}
}

func TestContainerSpec(t *testing.T) {
	s, solo, shared := testStack()
	c := &planner.Container{Name: "t-web-1", Service: "web", Spec: s.Services["web"], Labels: map[string]string{"io.podstack.project": "t"}}
	var warnings []string
	g, err := containerSpec(c, solo, s, "nginx", nil, func(m string) { warnings = append(warnings, m) })
	if err != nil {
		t.Fatal(err)
	}
	if g.Pod != "t-web" || len(g.PortMappings) != 1 || g.Networks["t_default"].Aliases[0] != "web" || g.Hostname != "web" {
		t.Errorf("infra-less pod: the container must carry ports and aliases: pod %q ports %v nets %v", g.Pod, g.PortMappings, g.Networks)
	}
	h := g.HealthConfig
	if h == nil || h.Interval != 2*time.Second || h.Timeout != 3*time.Second || h.Retries != 4 {
		t.Errorf("health %+v", h)
	}
	if g.RestartPolicy != define.RestartPolicyOnFailure || g.RestartRetries == nil || *g.RestartRetries != 5 {
		t.Errorf("restart %q %v", g.RestartPolicy, g.RestartRetries)
	}
	if g.StopTimeout == nil || *g.StopTimeout != 3 || g.StopSignal == nil || int(*g.StopSignal) != 3 {
		t.Errorf("stop %v %v", g.StopTimeout, g.StopSignal)
	}
	r := g.ResourceLimits
	if r == nil || *r.CPU.Quota != 50000 || *r.CPU.Period != 100000 || *r.Memory.Limit != 64<<20 || r.Pids.Limit != 100 {
		t.Errorf("resources %+v", r)
	}
	if len(g.Volumes) != 1 || g.Volumes[0].Name != "t_data" || g.Volumes[0].Dest != "/data" {
		t.Errorf("named volume %+v", g.Volumes)
	}
	if len(g.Mounts) != 2 || g.Mounts[0].Source != "/srv/www" || g.Mounts[0].Options[1] != "ro" || g.Mounts[0].Options[2] != "Z" ||
		g.Mounts[1].Type != "tmpfs" || g.Mounts[1].Options[3] != "size=1048576" {
		t.Errorf("mounts %+v", g.Mounts)
	}
	// The loader warns about unsupported keys (every command shows it,
	// once); creating the container must not say it a second time.
	if len(warnings) != 0 {
		t.Errorf("warnings %v, want none", warnings)
	}

	g, _ = containerSpec(c, shared, s, "nginx", nil, func(string) {})
	if len(g.PortMappings) != 0 || g.Networks != nil || g.Pod != "t-app" {
		t.Errorf("in a shared pod the pod carries the network: %v %v", g.PortMappings, g.Networks)
	}
	s.Services["web"].Restart = "sometimes"
	if _, err := containerSpec(c, solo, s, "nginx", nil, func(string) {}); err == nil {
		t.Error("bad restart policy accepted")
	}
}

func TestMapErr(t *testing.T) {
	cases := []struct {
		in   error
		want error
	}{
		{&errorhandling.ErrorModel{Because: "no such container", ResponseCode: 404}, ErrNotFound},
		{&errorhandling.ErrorModel{Because: "that name is already in use", ResponseCode: 500}, ErrExists},
		{&errorhandling.ErrorModel{Because: "container state improper", ResponseCode: 500}, ErrNotRunning},
		{&errorhandling.ErrorModel{Because: "x", ResponseCode: 409}, ErrConflict},
		{&errorhandling.PodConflictErrorModel{Errs: []string{"port in use"}}, ErrConflict},
	}
	for _, c := range cases {
		if got := mapErr(c.in); !errors.Is(got, c.want) {
			t.Errorf("mapErr(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if !errors.Is(ErrNotRunning, planner.ErrNotRunning) {
		t.Error("ErrNotRunning must be the planner's, so waits fail fast")
	}
}

// TestPortMappings: a compose port without a host port is published on one
// Podman picks (HostPort 0); a kube containerPort without hostPort is not
// published at all.
func TestPortMappings(t *testing.T) {
	got := portMappings([]stack.Port{
		{Target: 80, Published: 8080, Protocol: "tcp"},
		{Target: 81, Ephemeral: true, Protocol: "udp", HostIP: "127.0.0.1"},
		{Target: 82, Protocol: "tcp"},
	})
	if len(got) != 2 {
		t.Fatalf("%d mappings, want 2: %+v", len(got), got)
	}
	if got[0].HostPort != 8080 || got[0].ContainerPort != 80 {
		t.Errorf("fixed: %+v", got[0])
	}
	if got[1].HostPort != 0 || got[1].ContainerPort != 81 || got[1].Protocol != "udp" || got[1].HostIP != "127.0.0.1" {
		t.Errorf("ephemeral: %+v", got[1])
	}
}

// TestPodSpecBridgeMode: a pod with an infra container on networks asks for
// bridge mode, which rootless Podman does not default to (it refuses the
// networks otherwise: "networks and static ip/mac address can only be used
// with Bridge mode networking"); host and none keep their own modes.
func TestPodSpecBridgeMode(t *testing.T) {
	s, _, shared := testStack()
	if g := podSpec(shared, s); g.NetNS.NSMode != specgen.Bridge || len(g.Networks) != 1 {
		t.Errorf("pod on networks: netns %q, networks %v; want bridge", g.NetNS.NSMode, g.Networks)
	}
	for mode, want := range map[string]specgen.NamespaceMode{"host": specgen.Host, "none": specgen.NoNetwork} {
		p := *shared
		p.NetworkMode = mode
		if g := podSpec(&p, s); g.NetNS.NSMode != want || g.Networks != nil {
			t.Errorf("network_mode %s: netns %q, networks %v", mode, g.NetNS.NSMode, g.Networks)
		}
	}
}
