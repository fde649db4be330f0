package planner

import (
	"os"
	"strings"
	"testing"
)

// TestXPodNamingAServiceJoinsItsPod: x-pod naming another service means "put
// me in that service's pod", not a second pod of the same name.
func TestXPodNamingAServiceJoinsItsPod(t *testing.T) {
	cases := []struct {
		name, compose string
		want          map[string][]string // pod key -> members
	}{
		{"sidecar of a service", `services:
  app: {image: x}
  logger: {image: x, x-pod: app}
  db: {image: x}`, map[string][]string{"app": {"app", "logger"}, "db": {"db"}}},
		{"service that is itself in a named pod", `services:
  app: {image: x, x-pod: front}
  proxy: {image: x, x-pod: front}
  logger: {image: x, x-pod: app}`, map[string][]string{"front": {"app", "logger", "proxy"}}},
		{"two sidecars", `services:
  app: {image: x}
  a: {image: x, x-pod: app}
  b: {image: x, x-pod: app}`, map[string][]string{"app": {"a", "app", "b"}}},
		{"x-pod loop stays one pod", `services:
  a: {image: x, x-pod: b}
  b: {image: x, x-pod: a}`, map[string][]string{"a": {"a", "b"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := load(t, writeCompose(t, "name: v\n"+tc.compose+"\n"))
			pods, err := Group(s, "")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, p := range pods {
				got[p.Key] = p.Services
				if p.Name != Name("v", p.Key) {
					t.Errorf("pod %s named %s", p.Key, p.Name)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("pods %v, want %v", got, tc.want)
			}
			for k, members := range tc.want {
				if strings.Join(got[k], ",") != strings.Join(members, ",") {
					t.Errorf("pod %s has %v, want %v (all: %v)", k, got[k], members, got)
				}
			}
			if err := Validate(s, pods); err != nil {
				t.Errorf("valid stack refused: %v", err)
			}
		})
	}
}

// TestPodCarriesMembersDNSAndHosts: dns, dns_search, dns_opt and
// extra_hosts are the pod's (Podman sets them for the network namespace),
// so the plan holds them and a change recreates the pod.
func TestPodCarriesMembersDNSAndHosts(t *testing.T) {
	const file = `name: d
services:
  web:
    image: x
    x-pod: app
    dns: [10.0.0.53]
    dns_search: [corp.example]
    extra_hosts: ["db.internal:10.0.0.5"]
  side:
    image: x
    x-pod: app
    dns_opt: [ndots:1]
`
	path := writeCompose(t, file)
	pods, err := Group(load(t, path), PolicyAuto)
	if err != nil {
		t.Fatal(err)
	}
	p := pods[0]
	if strings.Join(p.DNS, ",") != "10.0.0.53" || strings.Join(p.DNSSearch, ",") != "corp.example" ||
		strings.Join(p.DNSOptions, ",") != "ndots:1" || !strings.Contains(strings.Join(p.AddHosts, ","), "db.internal:10.0.0.5") {
		t.Errorf("pod %+v", p)
	}
	first := reconcile(t, load(t, path), nil, Options{})
	os.WriteFile(path, []byte(strings.Replace(file, "10.0.0.53", "10.0.0.54", 1)), 0o644)
	p2 := reconcile(t, load(t, path), applied(first), Options{})
	if got := strings.Join(mutations(p2), "; "); !strings.Contains(got, "RemovePod d-app") {
		t.Errorf("a dns change keeps the pod: %s", got)
	}
}
