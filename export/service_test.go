package export

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestServicesForWhatOthersReach: compose services reach each other by
// name on the container port, with or without ports:. Kubernetes needs a
// Service for that: one per pod others reach (or that publishes), on the
// container ports (and the published ones), from ports, expose or the
// local image's exposed ports; a member of a shared pod that others name
// gets its own. Where no port is known, a warning names the dependents.
func TestServicesForWhatOthersReach(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compose.yaml")
	os.WriteFile(path, []byte(`name: reach
services:
  web:
    image: nginx
    ports: ["8080:80"]
    depends_on: [api, metrics]
  api:
    image: api
    expose: ["9000"]
    depends_on: [db, cache]
  metrics:
    image: prom
    x-pod: api
  db:
    image: localhost/pg:test
  cache:
    image: redis
  lonely:
    image: tool
`), 0o644)
	s, pods := load(t, path, "")
	imagePorts := func(image string) ([]string, bool) {
		if image == "localhost/pg:test" {
			return []string{"5432/tcp"}, true
		}
		return nil, false
	}
	r, err := Kube(s, pods, KubeOptions{ImagePorts: imagePorts})
	if err != nil {
		t.Fatal(err)
	}
	yamlOf(t, r)
	got := map[string]string{}
	for _, svc := range objects[*corev1.Service](r) {
		var ports []string
		for _, p := range svc.Spec.Ports {
			ports = append(ports, p.Name+":"+p.TargetPort.String())
		}
		sort.Strings(ports)
		got[svc.Name] = svc.Spec.Selector["app.kubernetes.io/name"] + " " + strings.Join(ports, ",")
	}
	want := map[string]string{
		"web":     "web tcp-8080:80,tcp-80:80",
		"api":     "api tcp-9000:9000",
		"metrics": "api tcp-9000:9000",
		"db":      "db tcp-5432:5432",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("Service %s: %q, want %q", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Services %v, want only %v (none for cache: no port known; none for lonely: nobody reaches it)", got, want)
	}
	warnings := strings.Join(r.Warnings, "\n")
	if !strings.Contains(warnings, "service cache: api depends on it, but no port is known") {
		t.Errorf("no warning naming cache's dependents:\n%s", warnings)
	}
	if strings.Contains(warnings, "lonely") || strings.Contains(warnings, "service db:") {
		t.Errorf("warned about a service that needs no Service or has one:\n%s", warnings)
	}
}
