package planner

import (
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
