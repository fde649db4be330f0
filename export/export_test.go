package export

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/podstack/podstack/internal/testcorpus"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

var update = flag.Bool("update", false, "rewrite golden files")

func load(t *testing.T, file, env string) (*stack.Stack, []*planner.Pod) {
	t.Helper()
	s, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{file}, Environment: env, Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := planner.Group(s, "")
	if err != nil {
		t.Fatal(err)
	}
	return s, pods
}

func yamlOf(t *testing.T, r *Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteYAML(&b); err != nil {
		t.Fatal(err)
	}
	if ps := Check(b.Bytes()); len(ps) > 0 {
		t.Fatalf("export does not pass the strict check:\n%s\n%s", FormatProblems(ps), b.String())
	}
	return b.String()
}

// golden compares with testdata/<name>.golden. Absolute paths of this
// checkout (bind mounts resolve to them) are replaced first, so the files do
// not depend on where the repository and shared/ sit.
func golden(t *testing.T, name, got string) {
	t.Helper()
	if repo, err := filepath.Abs(".."); err == nil {
		got = strings.ReplaceAll(got, repo, "$REPO")
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		os.WriteFile(path, []byte(got), 0o644)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./export -update creates it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test ./export -update rewrites it)\n--- got\n%s", path, got)
	}
}

// TestGoldenExports: the examples and every awesome-compose file export to
// Kubernetes YAML that decodes strictly and validates.
func TestGoldenExports(t *testing.T) {
	files := map[string]string{
		"webstack": "../examples/webstack/compose.yaml",
		"demo":     "../examples/demo/compose.yaml",
		"kube-pod": "../examples/kube-pod/pod.yaml",
	}
	for _, f := range testcorpus.AwesomeCompose(t) {
		files["corpus/"+testcorpus.Project(f)] = f
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s, pods := load(t, files[name], "")
			for _, typ := range []string{"pod", "deployment"} {
				r, err := Kube(s, pods, KubeOptions{Type: typ})
				if err != nil {
					t.Fatal(err)
				}
				golden(t, name+"."+typ, yamlOf(t, r))
			}
			c, err := Convert(s, pods)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".convert", yamlOf(t, c))
		})
	}
}

func objects[T any](r *Result) []T {
	var out []T
	for _, o := range r.Objects {
		if x, ok := o.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

func TestProbes(t *testing.T) {
	s, pods := load(t, "../examples/demo/compose.yaml", "")
	r, err := Kube(s, pods, KubeOptions{Type: "pod"})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, p := range objects[*corev1.Pod](r) {
		for _, c := range p.Spec.Containers {
			switch c.Name {
			case "db": // CMD
				if got := strings.Join(c.LivenessProbe.Exec.Command, " "); got != "test -f /tmp/ready" {
					t.Errorf("CMD probe %q", got)
				}
			case "api": // CMD-SHELL
				cmd := c.LivenessProbe.Exec.Command
				if len(cmd) != 3 || cmd[0] != "/bin/sh" || cmd[1] != "-c" || !strings.Contains(cmd[2], "wget") {
					t.Errorf("CMD-SHELL probe %q", cmd)
				}
				if c.ReadinessProbe == nil || c.LivenessProbe.TimeoutSeconds != 2 || c.LivenessProbe.PeriodSeconds != 1 {
					t.Errorf("probe timing %+v", c.LivenessProbe)
				}
			default:
				continue
			}
			checked++
		}
	}
	if checked != 2 {
		t.Errorf("checked the probes of %d containers, want db and api", checked)
	}
}

func TestSecretsOnlyInSecrets(t *testing.T) {
	s, pods := load(t, "../examples/webstack/compose.yaml", "prod")
	s.Services["app"].Environment["API_TOKEN"] = "tok-9f8e7d"
	r, err := Kube(s, pods, KubeOptions{Type: "deployment"})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"tok-9f8e7d", "example-password-change-me"}
	var inSecret int
	text := yamlOf(t, r)
	docs := strings.Split(text, "---\n")
	for _, d := range docs {
		for _, sec := range secrets {
			if strings.Contains(d, sec) {
				if !strings.Contains(d, "kind: Secret") {
					t.Errorf("secret value %q outside a Secret:\n%s", sec, d)
				}
				inSecret++
			}
		}
	}
	if inSecret != 2 {
		t.Errorf("secret values found %d times, want once each", inSecret)
	}
}

func TestDeploymentSelectorAndEnvironments(t *testing.T) {
	dev, devPods := load(t, "../examples/webstack/compose.yaml", "")
	prod, prodPods := load(t, "../examples/webstack/compose.yaml", "prod")
	rd, _ := Kube(dev, devPods, KubeOptions{Type: "deployment"})
	rp, _ := Kube(prod, prodPods, KubeOptions{Type: "deployment"})
	find := func(r *Result, name string) *appsv1.Deployment {
		for _, d := range objects[*appsv1.Deployment](r) {
			if d.Name == name {
				return d
			}
		}
		t.Fatalf("no deployment %s", name)
		return nil
	}
	for _, d := range objects[*appsv1.Deployment](rp) {
		for k, v := range d.Spec.Selector.MatchLabels {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("%s: selector %s=%s not in template labels", d.Name, k, v)
			}
		}
		if d.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
			t.Errorf("%s restartPolicy %s", d.Name, d.Spec.Template.Spec.RestartPolicy)
		}
	}
	if a, b := *find(rd, "app").Spec.Replicas, *find(rp, "app").Spec.Replicas; a != 1 || b != 3 {
		t.Errorf("app replicas dev %d prod %d, want 1 and 3 (compose.prod.yaml)", a, b)
	}
	if a, b := find(rd, "app").Spec.Template.Spec.Containers[0].Image, find(rp, "app").Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(a, ":dev") || !strings.HasSuffix(b, ":2.4.1") {
		t.Errorf("app image dev %s prod %s (from .env and .env.prod)", a, b)
	}
	cm := func(r *Result) *corev1.ConfigMap { return objects[*corev1.ConfigMap](r)[0] }
	if cm(rd).Data["app.LOG_LEVEL"] != "debug" || cm(rp).Data["app.LOG_LEVEL"] != "warn" || cm(rp).Name != "webstack-prod-env" {
		t.Errorf("config values dev %v prod %v", cm(rd).Data, cm(rp).Data)
	}
	if cm(rp).Labels["podstack.io/environment"] != "prod" {
		t.Errorf("environment label %v", cm(rp).Labels)
	}
}

func TestNameCollisions(t *testing.T) {
	s, pods := load(t, "../examples/demo/compose.yaml", "")
	s.Services["db_"] = s.Services["db"]
	pods = append(pods, &planner.Pod{Key: "db_", Name: "demo-db_", Services: []string{"db_"}})
	if _, err := Kube(s, pods, KubeOptions{}); err == nil || !strings.Contains(err.Error(), `both "db" and "db_" normalize to it`) {
		t.Errorf("err = %v", err)
	}
}

var unitRef = regexp.MustCompile(`(?m)^(Pod|Requires|After|Volume|Network)=([^:\s]+\.(pod|service|volume|network))`)

// TestQuadlet: golden units for the webstack, and every reference between
// units points at a generated unit.
func TestQuadlet(t *testing.T) {
	for _, name := range []string{"webstack", "demo"} {
		s, pods := load(t, "../examples/"+name+"/compose.yaml", "")
		files, _, err := Quadlet(s, pods)
		if err != nil {
			t.Fatal(err)
		}
		var all strings.Builder
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			all.WriteString("### " + n + "\n" + string(files[n].Data))
			for _, m := range unitRef.FindAllStringSubmatch(string(files[n].Data), -1) {
				ref := m[2]
				if strings.HasSuffix(ref, ".service") {
					ref = strings.TrimSuffix(ref, ".service") + ".container"
				}
				if _, ok := files[ref]; !ok {
					t.Errorf("%s: %s=%s refers to no generated unit", n, m[1], m[2])
				}
			}
		}
		golden(t, "quadlet-"+name, all.String())
		if !strings.Contains(string(files["webstack-db.container"].Data), "Notify=healthy") && name == "webstack" {
			t.Error("db has healthy dependents but no Notify=healthy")
		}
	}
}

// TestQuadletNetworkSettings: ipam pools, driver options, internal and
// IPv6 reach the .network unit; static addresses are named as not exported.
func TestQuadletNetworkSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compose.yaml")
	os.WriteFile(path, []byte(`name: q
services:
  web:
    image: nginx
    networks:
      back: {ipv4_address: 172.28.5.9}
networks:
  back:
    internal: true
    enable_ipv6: true
    driver_opts: {mtu: "1400"}
    ipam:
      config:
        - {subnet: 172.28.0.0/16, gateway: 172.28.0.1, ip_range: 172.28.5.0/24}
`), 0o644)
	s, pods := load(t, path, "")
	files, warnings, err := Quadlet(s, pods)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(files["q-net-back.network"].Data)
	for _, want := range []string{"NetworkName=q_back\n", "Internal=true\n", "IPv6=true\n", "Subnet=172.28.0.0/16\n",
		"Gateway=172.28.0.1\n", "IPRange=172.28.5.0/24\n", "Options=mtu=1400\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("network unit lacks %q:\n%s", want, unit)
		}
	}
	if !strings.Contains(strings.Join(warnings, "\n"), "static addresses") {
		t.Errorf("no warning about the static address: %v", warnings)
	}
}

// TestKubeProcessSettings: pid/ipc host and no-new-privileges have
// Kubernetes equivalents; the settings without one are named in warnings.
func TestKubeProcessSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compose.yaml")
	os.WriteFile(path, []byte(`name: k
services:
  agent:
    image: agent
    pid: host
    ipc: host
    security_opt: ["no-new-privileges:true", "seccomp=unconfined"]
    shm_size: 64m
`), 0o644)
	s, pods := load(t, path, "")
	r, err := Kube(s, pods, KubeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := yamlOf(t, r)
	for _, want := range []string{"hostPID: true", "hostIPC: true", "allowPrivilegeEscalation: false"} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	warnings := strings.Join(r.Warnings, "\n")
	for _, want := range []string{"security_opt seccomp=unconfined is not exported", "shm_size is not exported"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
}

// TestQuadletPodmanArgs: settings without a .container key go to
// PodmanArgs, quoted for Quadlet's word splitting; what a pod member cannot
// set is named in one warning per service.
func TestQuadletPodmanArgs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compose.yaml")
	os.WriteFile(path, []byte(`name: q
services:
  web: {image: nginx, user: "101", pid: host, cap_add: [NET_ADMIN], security_opt: ["label=type:my t"], shm_size: 64m}
  plain: {image: nginx}
  helper: {image: nginx, extra_hosts: ["db:10.0.0.5"], ipc: "service:web"}
`), 0o644)
	s, pods := load(t, path, "")
	files, warnings, err := Quadlet(s, pods)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(warnings, "\n")
	if strings.Contains(all, "service web") {
		t.Errorf("user, pid and cap_add have PodmanArgs: %s", all)
	}
	if strings.Contains(all, "service plain") {
		t.Errorf("plain has nothing dropped: %s", all)
	}
	if !strings.Contains(all, "service helper: not exported to Quadlet: ipc service:web, extra_hosts") {
		t.Errorf("helper's warning: %s", all)
	}
	want := `PodmanArgs=--user 101 --cap-add NET_ADMIN --pid host --security-opt "label=type:my t" --shm-size 67108864` + "\n"
	if unit := string(files["q-web.container"].Data); !strings.Contains(unit, want) {
		t.Errorf("web's unit lacks %q:\n%s", want, unit)
	}
	if unit := string(files["q-plain.container"].Data); strings.Contains(unit, "PodmanArgs") {
		t.Errorf("plain needs no PodmanArgs:\n%s", unit)
	}
}

// TestHealthcheckKeepingTheImageTest: a healthcheck with timings only
// keeps the image's test, which an export cannot see: it is named in a
// warning (it used to index the empty test and panic).
func TestHealthcheckKeepingTheImageTest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compose.yaml")
	os.WriteFile(path, []byte("name: h\nservices:\n  db:\n    image: postgres\n    healthcheck: {interval: 2s}\n"), 0o644)
	s, pods := load(t, path, "")
	r, err := Kube(s, pods, KubeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "service db: the healthcheck keeps the image's own test") {
		t.Errorf("kube warnings %q", r.Warnings)
	}
	_, warnings, err := Quadlet(s, pods)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(warnings, "\n"), "service db: the healthcheck keeps the image's own test") {
		t.Errorf("quadlet warnings %q", warnings)
	}
}

// TestNamesFromAnyProject: every generated name is a valid Kubernetes name,
// whatever the project and service names (underscores, dots, capitals,
// length), and the same input always gives the same names.
func TestNamesFromAnyProject(t *testing.T) {
	long := strings.Repeat("very_long_name", 6)
	for _, project := range []string{"my_app", "app.v2", "_x_", "9lives", long} {
		t.Run(project, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), project)
			os.MkdirAll(dir, 0o755)
			path := filepath.Join(dir, "compose.yaml")
			os.WriteFile(path, []byte(`services:
  Web_Server.v2:
    image: nginx
    environment: {A_B: c, DB_PASSWORD: hunter2hunter2}
    ports: ["8080:80"]
    volumes: [data_dir:/data]
    secrets: [api_key.txt]
    configs: [site_conf]
  `+long+`:
    image: nginx
    expose: ["81"]
    environment: {X: y}
volumes:
  data_dir: {}
secrets:
  api_key.txt: {environment: HOME}
configs:
  site_conf: {content: "x"}
`), 0o644)
			s, pods := load(t, path, "")
			for _, typ := range []string{"pod", "deployment"} {
				a, err := Kube(s, pods, KubeOptions{Type: typ})
				if err != nil {
					t.Fatalf("%s: %v", typ, err)
				}
				b, _ := Kube(s, pods, KubeOptions{Type: typ})
				if yamlOf(t, a) != yamlOf(t, b) {
					t.Errorf("%s: two exports of one stack differ", typ)
				}
			}
			c, err := Convert(s, pods)
			if err != nil {
				t.Fatal(err)
			}
			yamlOf(t, c)
		})
	}
}
