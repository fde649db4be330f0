package planner

import (
	"context"
	"strings"
	"testing"

	"github.com/podstack/podstack/stack"
)

func TestValidationRules(t *testing.T) {
	cases := []struct {
		name, compose string
		policy        Policy
		want          []string
	}{
		{"port clash in a pod", `services:
  a: {image: x, expose: ["80"], x-pod: p}
  b: {image: x, ports: ["8080:80"], x-pod: p}`, "", []string{`"a" and "b" share pod v-p and all listen on container port 80/tcp`}},
		{"port clash only when grouped", `services:
  a: {image: x, expose: ["80"]}
  b: {image: x, expose: ["80"]}`, PolicyProject, []string{`share pod v-pod and all listen on container port 80/tcp`}},
		{"host port twice", `services:
  a: {image: x, ports: ["8080:80"]}
  b: {image: x, ports: ["8080:81"]}`, "", []string{`service "b": publishes host port 8080/tcp, which "a" publishes too`}},
		{"static address with replicas", `services:
  a: {image: x, scale: 2, networks: {default: {ipv4_address: 10.5.0.9}}}
networks:
  default: {ipam: {config: [{subnet: 10.5.0.0/24}]}}`, "", []string{`has 2 replicas but a static address on network "default"`}},
		{"two static addresses in one pod", `services:
  a: {image: x, x-pod: p, networks: {default: {ipv4_address: 10.5.0.9}}}
  b: {image: x, x-pod: p, networks: {default: {ipv4_address: 10.5.0.10}}}
networks:
  default: {ipam: {config: [{subnet: 10.5.0.0/24}]}}`, "", []string{`shares pod "p" with "a" and both set a static address on network "default"`}},
		{"addresses that do not parse", `services:
  a: {image: x, networks: {n: {ipv4_address: 10.5.1.9, mac_address: "zz:01"}}}
networks:
  n: {ipam: {config: [{subnet: 10.5.0.0/24, gateway: nope}]}}`, "", []string{
			`ipv4_address 10.5.1.9 is outside the subnets of network "n"`, `"zz:01" is not a MAC address`, `network "n": gateway "nope" is not an IP address`}},
		{"container_name as docker allows it", `services:
  a: {image: x, container_name: my_custom.run-1}`, "", []string{}},
		{"container_name Podman refuses", `services:
  a: {image: x, container_name: "-bad/name"}`, "", []string{`container_name "-bad/name" is not a valid container name`}},
		{"cycle", `services:
  api: {image: x, depends_on: [db]}
  db: {image: x, depends_on: [cache]}
  cache: {image: x, depends_on: [api]}`, "", []string{"dependency cycle: api -> db -> cache -> api"}},
		{"disabled dependency", `services:
  api: {image: x, depends_on: [db]}
  db: {image: x, profiles: [data]}`, "", []string{`depends on service "db", which is disabled by its profiles (data)`, "--profile data"}},
		{"healthy without healthcheck", `services:
  api: {image: x, depends_on: {db: {condition: service_healthy}}}
  db: {image: x}`, "", []string{`waits for "db" to be healthy (service_healthy), but "db" has no healthcheck`}},
		{"name not a DNS label", `services:
  Web_Server.v2: {image: x}`, "", []string{}},
		{"name too long", `services:
  this-service-name-is-far-too-long-to-be-a-dns-label-for-podman-pods: {image: x}`, "", []string{"is not a valid DNS label", "at most 63"}},
		{"pod named like a container", `services:
  web: {image: x}
  web-1: {image: x}`, "", []string{`container name "v-web-1" collides with the pod of service "web-1"`}},
		{"network_mode with ports", `services:
  app: {image: x}
  side: {image: x, network_mode: "service:app", ports: ["9000:9000"]}`, "", []string{`service "side": publishes ports but shares the network namespace of "app"`}},
		{"network_mode across x-pods", `services:
  app: {image: x, x-pod: one}
  side: {image: x, network_mode: "service:app", x-pod: two}`, "", []string{`x-pod "two" conflicts with network_mode service:app, which is in x-pod "one"`}},
		{"container_name with replicas", `services:
  web: {image: x, container_name: fixed, deploy: {replicas: 2}}`, "", []string{`sets container_name "fixed" but has 2 replicas`}},
		{"replicas with a fixed host port", `services:
  web: {image: x, ports: ["8080:80"], deploy: {replicas: 2}}`, "", []string{"has 2 replicas but publishes fixed host port 8080"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := load(t, writeCompose(t, "name: v\n"+tc.compose+"\n"))
			pods, err := Group(s, tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			err = Validate(s, pods)
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("normalized names should be valid: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no problem found")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), "compose.yaml:") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

// TestValidationReportsAll: several problems come back together, and
// Reconcile refuses to plan a stack that has any.
func TestValidationReportsAll(t *testing.T) {
	s := load(t, writeCompose(t, `name: v
services:
  a: {image: x, ports: ["80:80"], depends_on: [b]}
  b: {image: x, ports: ["80:80"], depends_on: [a]}
`))
	_, err := Reconcile(s, nil, Options{})
	if err == nil || !strings.Contains(err.Error(), "2 problems") {
		t.Fatalf("want 2 problems, got %v", err)
	}
}

// TestValidateDefinitionLeavesHostPortsApart: one host port published twice
// and replicas with a fixed host port only matter where ports are bound:
// ValidateDefinition returns them apart, Validate still refuses them.
func TestValidateDefinitionLeavesHostPortsApart(t *testing.T) {
	s := load(t, writeCompose(t, `name: v
services:
  a: {image: x, ports: ["8080:80"]}
  b: {image: x, ports: ["8080:81"], deploy: {replicas: 2}}
  c: {image: x, depends_on: [nope]}
`))
	pods, err := Group(s, "")
	if err != nil {
		t.Fatal(err)
	}
	host, err := ValidateDefinition(s, pods)
	if err == nil || !strings.Contains(err.Error(), `undefined service "nope"`) || strings.Contains(err.Error(), "8080") {
		t.Errorf("definition problems: %v", err)
	}
	if len(host) != 2 || !strings.Contains(host.Error(), `publishes host port 8080/tcp, which "a" publishes too`) ||
		!strings.Contains(host.Error(), "has 2 replicas but publishes fixed host port 8080") {
		t.Errorf("host problems: %v", host)
	}
	if err := Validate(s, pods); err == nil || !strings.Contains(err.Error(), "3 problems") {
		t.Errorf("Validate must still refuse all three: %v", err)
	}
}

// TestFilesCheckedBeforeRunning: a secret or config file an enabled
// service uses that does not exist is found before
// anything is created; the stack still loads, so down and ps work on it.
func TestFilesCheckedBeforeRunning(t *testing.T) {
	path := writeCompose(t, `name: v
services:
  a:
    image: x
    secrets: [s]
    configs: [c]
  off:
    image: x
    profiles: [later]
    secrets: [only_off]
secrets:
  s:
    file: ./s.txt
  only_off:
    file: ./nope.txt
configs:
  c:
    file: ./c.conf
`)
	s := load(t, path)
	pods, err := Group(s, "")
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(s, pods)
	if err == nil || !stack.IsInvalid(err) {
		t.Fatalf("err = %v, want problems", err)
	}
	for _, w := range []string{
		`compose.yaml:13: secret "s": cannot read its file`, "s.txt: no such file (fix: create the file",
		`compose.yaml:18: config "c": cannot read its file`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "only_off") {
		t.Errorf("a secret only a disabled service uses is reported:\n%v", err)
	}
}

// TestValidationShowsNoCredential: a bad value a credential variable
// brought in is shown as its ${NAME}, never as the value.
func TestValidationShowsNoCredential(t *testing.T) {
	path := writeCompose(t, "name: v\nservices:\n  a: {image: x, networks: {default: {ipv4_address: '${DB_PASS}'}}}\n")
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{path}, Environ: func() []string { return []string{"DB_PASS=S3cr3tValue"} }})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := Group(s, "")
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(s, pods)
	if err == nil || strings.Contains(err.Error(), "S3cr3t") || !strings.Contains(err.Error(), `"${DB_PASS}" is not an IP address`) {
		t.Errorf("err = %v", err)
	}
}
