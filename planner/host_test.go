package planner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/podstack/podstack/stack"
)

const privilegedStack = `name: priv
services:
  db:
    image: postgres
  web:
    image: nginx
    ports: ["80:8080", "8443:443"]
    depends_on: [db]
  tool:
    image: busybox
    ports: ["22:22"]
`

// TestHostRefusesPrivilegedPorts: on a host that cannot bind ports below
// 1024 (rootless Podman), every such port of the services to start is a
// problem before anything is created, naming the service and the fix.
func TestHostRefusesPrivilegedPorts(t *testing.T) {
	s := load(t, writeCompose(t, privilegedStack))
	rootless := Host{Mode: "rootless Podman 4.3.1", UnprivilegedPortStart: 1024}

	_, err := Reconcile(s, &ObservedState{Host: rootless}, Options{})
	var problems stack.Problems
	if !errors.As(err, &problems) || len(problems) != 2 {
		t.Fatalf("want a problem for web's 80 and tool's 22, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{`"web"`, "host port 80", "rootless Podman 4.3.1 cannot bind", `"8080:8080"`,
		"net.ipv4.ip_unprivileged_port_start=80", `"tool"`, "host port 22"} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems lack %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "8443") {
		t.Errorf("8443 is not privileged:\n%s", msg)
	}

	// Only the services this run starts count.
	if _, err := Reconcile(s, &ObservedState{Host: rootless}, Options{Services: []string{"db"}}); err != nil {
		t.Errorf("up db alone: %v", err)
	}
	// A lowered ip_unprivileged_port_start, or a rootful host, allows them.
	if _, err := Reconcile(s, &ObservedState{Host: Host{Mode: "rootless Podman 5.8.6", UnprivilegedPortStart: 22}}, Options{}); err != nil {
		t.Errorf("ip_unprivileged_port_start=22: %v", err)
	}
	if _, err := Reconcile(s, &ObservedState{}, Options{}); err != nil {
		t.Errorf("rootful: %v", err)
	}
}

// hostBackend is a Backend over the fake runtime that can describe its host.
type hostBackend struct {
	*fakeRuntime
	host  Host
	asked int
}

func (b *hostBackend) Observe(ctx context.Context, project string, look *Lookup) (*ObservedState, error) {
	return &ObservedState{Images: look.Images}, nil
}

func (b *hostBackend) Host(ctx context.Context) (Host, error) {
	b.asked++
	return b.host, nil
}

// TestUpAsksTheHostOnlyWhenNeeded: Up describes the host only for a stack
// that publishes a port below 1024, and refuses it before any call that
// creates something.
func TestUpAsksTheHostOnlyWhenNeeded(t *testing.T) {
	b := &hostBackend{fakeRuntime: newFake(), host: Host{Mode: "rootless Podman 4.3.1", UnprivilegedPortStart: 1024}}
	plain := load(t, writeCompose(t, "name: plain\nservices:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n"))
	if _, err := Up(context.Background(), b, plain, Options{}, UpOptions{}, ExecOptions{}, NoEvents); err != nil {
		t.Fatal(err)
	}
	if b.asked != 0 {
		t.Errorf("asked the host %d times for a stack without privileged ports", b.asked)
	}

	b = &hostBackend{fakeRuntime: newFake(), host: b.host}
	if _, err := Up(context.Background(), b, load(t, writeCompose(t, privilegedStack)), Options{}, UpOptions{}, ExecOptions{}, NoEvents); err == nil {
		t.Fatal("up of privileged ports on a rootless host succeeded")
	}
	if b.asked != 1 || len(b.calls) != 0 {
		t.Errorf("asked the host %d times; runtime calls before the refusal: %v", b.asked, b.calls)
	}
}
