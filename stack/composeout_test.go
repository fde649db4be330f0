package stack

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/podstack/podstack/internal/testcorpus"
)

// comparable clears what differs between a stack and the same stack read
// back from its compose rendering without changing what it means: where it
// was read from, the environment it was read for (a name that labels
// objects, given again by --env) and the load's own findings.
func comparable(s *Stack) *Stack {
	c := *s
	c.Files, c.WorkingDir, c.EnvFiles, c.Warnings, c.Placeholders, c.RunProblems = nil, "", nil, nil, nil, nil
	c.Format, c.Environment = "", ""
	c.scrub = nil
	if s.Networks != nil {
		c.Networks = map[string]*Network{}
		for k, n := range s.Networks {
			v := *n
			v.Source = Position{}
			c.Networks[k] = &v
		}
	}
	clear := func(m map[string]*Service) map[string]*Service {
		out := map[string]*Service{}
		for k, svc := range m {
			v := *svc
			v.Source, v.Unsupported, v.Keys = Position{}, nil, nil
			out[k] = &v
		}
		return out
	}
	c.Services = clear(s.Services)
	if s.Disabled != nil {
		c.Disabled = clear(s.Disabled)
	}
	return &c
}

// roundTrip renders s as compose (format), loads the rendering again with
// the same profiles and fails when the two stacks differ.
func roundTrip(t *testing.T, s *Stack, format string, adjust func(*Stack), profiles ...string) []byte {
	t.Helper()
	data, err := s.MarshalCompose(format)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	path := filepath.Join(t.TempDir(), "compose."+format)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := Load(context.Background(), LoadOptions{Files: []string{path}, Profiles: profiles, Environ: noEnv})
	if err != nil {
		t.Fatalf("the rendering does not load: %v\n%s", err, data)
	}
	want, got := comparable(s), comparable(back)
	if adjust != nil {
		adjust(want)
	}
	if !reflect.DeepEqual(want, got) {
		w, _ := json.MarshalIndent(want, "", " ")
		g, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("read back differently:\n%s\nwant:\n%s\ngot:\n%s", diffLines(string(w), string(g)), w, data)
	}
	return data
}

// diffLines names the first lines where a and b differ.
func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
			if len(out) > 16 {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestComposeRoundTripCorpus: every awesome-compose project, rendered as
// compose YAML and as JSON, loads again to the same stack.
func TestComposeRoundTripCorpus(t *testing.T) {
	for _, f := range testcorpus.AwesomeCompose(t) {
		t.Run(testcorpus.Project(f), func(t *testing.T) {
			s, err := Load(context.Background(), LoadOptions{Files: []string{f}, Environ: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, s, "yaml", nil)
			roundTrip(t, s, "json", nil)
		})
	}
}

// TestComposeRoundTripExamples: the examples, each environment, and a
// stack that uses every key the model carries, load again to the same
// stack from their compose rendering.
func TestComposeRoundTripExamples(t *testing.T) {
	// Compose puts every service on a network, the project's default one
	// unless it names others; Kubernetes pods use Podman's. And a container
	// port published nowhere is compose's expose. These are the changes a
	// Kubernetes stack goes through as compose.
	kubeNetworks := func(s *Stack) {
		for _, svc := range s.Services {
			ports := svc.Ports[:0]
			for _, p := range svc.Ports {
				if p.Published == 0 && !p.Ephemeral {
					svc.Expose = append(svc.Expose, p.Target)
				} else {
					ports = append(ports, p)
				}
			}
			svc.Ports = ports
			if len(svc.Ports) == 0 {
				svc.Ports = nil
			}
			if svc.NetworkMode == "" && len(svc.Networks) == 0 {
				svc.Networks = map[string]*ServiceNetwork{"default": {}}
				if s.Networks == nil {
					s.Networks = map[string]*Network{}
				}
				s.Networks["default"] = &Network{Key: "default", Name: s.Name + "_default"}
			}
		}
	}
	cases := []struct {
		name   string
		opts   LoadOptions
		adjust func(*Stack)
	}{
		{"demo", LoadOptions{Files: []string{"../examples/demo/compose.yaml"}}, nil},
		{"webstack", LoadOptions{Files: []string{"../examples/webstack/compose.yaml"}}, nil},
		{"webstack-prod", LoadOptions{Files: []string{"../examples/webstack/compose.yaml"}, Environment: "prod"}, nil},
		{"webstack-profiles", LoadOptions{Files: []string{"../examples/webstack/compose.yaml"}, Profiles: []string{"*"}}, nil},
		{"kube-pod", LoadOptions{Files: []string{"../examples/kube-pod/pod.yaml"}}, kubeNetworks},
		{"valid-full", LoadOptions{Files: []string{"testdata/valid-full.yaml"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Environ = noEnv
			s, err := Load(context.Background(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, s, "yaml", tc.adjust, tc.opts.Profiles...)
		})
	}
}

// everyKey uses every service and top-level key the model carries that
// the examples and valid-full.yaml leave out.
const everyKey = `name: every
services:
  app:
    build:
      context: ./app
      dockerfile: Containerfile
      args: {VERSION: "1.2"}
      target: prod
      labels: {org.example.tier: app}
    image: localhost/every-app
    pull_policy: build
    entrypoint: []
    command: ["serve", "--port", "80"]
    working_dir: /srv
    user: "1000:1000"
    labels: {team: core}
    hostname: app-host
    ports: ["80", {target: 443, published: "8443", host_ip: 127.0.0.1, protocol: tcp, name: https}]
    networks:
      front:
        aliases: [www]
        ipv4_address: 10.89.7.10
        mac_address: "02:42:ac:11:00:02"
        interface_name: eth7
      back: {}
    extra_hosts: ["db.local:10.0.0.2", "v6.local=::1"]
    dns: [10.0.0.53]
    dns_search: [example.com]
    dns_opt: [ndots:2]
    volumes:
      - {type: volume, source: data, target: /data, volume: {subpath: sub}}
      - {type: tmpfs, target: /scratch, tmpfs: {size: 1048576}}
      - /anonymous
    secrets: [{source: token, target: api_token, uid: "1000", gid: "1000", mode: 0400}]
    configs: [{source: settings, target: /etc/app.ini}, inline]
    healthcheck:
      test: ["CMD", "true"]
      interval: 7s
      timeout: 3s
      retries: 4
      start_period: 2s
      start_interval: 1s
    stop_signal: SIGINT
    cpus: 1.5
    mem_limit: 1g
    pids_limit: 100
    cpu_shares: 512
    cpuset: "0"
    init: true
    tty: true
    stdin_open: true
    read_only: true
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 64}
    sysctls: {net.core.somaxconn: "1024"}
    devices: ["/dev/null:/dev/mynull:rwm"]
    ipc: shareable
    security_opt: [no-new-privileges]
    shm_size: 64m
    group_add: [audio]
    oom_score_adj: 100
    logging: {driver: k8s-file, options: {max-size: 10m}}
    profiles: [full]
    scale: 0
    deploy: {mode: replicated}
    develop:
      watch:
        - {path: ./app/src, action: sync+exec, target: /srv, ignore: ["*.tmp"], include: ["*.py"], initial_sync: true,
           exec: {command: [kill, -HUP, "1"], user: root, working_dir: /, environment: {A: b}}}
  side:
    image: busybox
    network_mode: service:app
    pid: service:app
    userns_mode: keep-id
    privileged: true
    restart: unless-stopped
  one:
    image: busybox
    network_mode: none
volumes:
  data: {driver: local, driver_opts: {type: tmpfs, device: tmpfs}, labels: {a: b}, x-size: 5Gi}
  outside: {external: true, name: shared-data}
networks:
  front:
    driver: bridge
    driver_opts: {mtu: "1400"}
    internal: true
    enable_ipv6: true
    labels: {zone: dmz}
    ipam: {driver: default, config: [{subnet: 10.89.7.0/24, gateway: 10.89.7.1, ip_range: 10.89.7.0/25}]}
  back: {}
  theirs: {external: true}
secrets:
  token: {environment: API_TOKEN}
configs:
  settings: {file: ./settings.ini}
  inline: {content: "a=1\nb=$$HOME"}
x-podstack:
  secret-env: [API_KEY]
  plain-env: [PUBLIC_KEY]
`

// TestComposeRoundTripEveryKey: a stack using every key the model carries
// (with its profile on and off) loads again to the same stack.
func TestComposeRoundTripEveryKey(t *testing.T) {
	for _, profiles := range [][]string{nil, {"full"}} {
		dir := t.TempDir()
		path := filepath.Join(dir, "compose.yaml")
		os.WriteFile(path, []byte(everyKey), 0o644)
		os.WriteFile(filepath.Join(dir, "settings.ini"), []byte("x=1"), 0o644)
		s, err := Load(context.Background(), LoadOptions{Files: []string{path}, Profiles: profiles, Environ: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		if profiles != nil && len(s.Services["app"].Unsupported) > 0 {
			t.Errorf("the stack uses keys the model does not carry: %v", s.Services["app"].Unsupported)
		}
		roundTrip(t, s, "yaml", nil, profiles...)
		roundTrip(t, s, "json", nil, profiles...)
	}
}

// TestComposeRenderingEscapesDollars: a literal $ in a resolved value is
// written $$, so that compose does not read it as a variable.
func TestComposeRenderingEscapesDollars(t *testing.T) {
	s, _, err := loadText(t, `name: cash
services:
  app:
    image: busybox
    environment:
      PRICE: "$$5"
    healthcheck:
      test: ["CMD-SHELL", "test $$HOME = /root"]
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Services["app"].Environment["PRICE"]; got != "$5" {
		t.Fatalf("loaded %q", got)
	}
	data := roundTrip(t, s, "yaml", nil)
	if !strings.Contains(string(data), "$$5") {
		t.Errorf("not escaped:\n%s", data)
	}
}

// TestComposeRenderingKeepsVars: with KeepVars (config --no-interpolate)
// the ${VAR} expressions come back in the rendering.
func TestComposeRenderingKeepsVars(t *testing.T) {
	s, err := Load(context.Background(), LoadOptions{Files: []string{"../examples/webstack/compose.yaml"}, KeepVars: true, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	data, err := s.MarshalCompose("yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image: docker.io/library/nginx:${NGINX_TAG:-1.27}", `published: "${WEB_PORT:-8080}"`, `LOG_LEVEL: "${LOG_LEVEL:-debug}"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("rendering lacks %q:\n%s", want, data)
		}
	}
}
