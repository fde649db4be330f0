package export

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// TestConvertServiceNamesResolve: podman kube play registers a pod's name
// in DNS and nothing else of it, so a converted pod is named
// <service>.<project> and every pod searches the <project> domain: the
// service's own name resolves under kube play as under stack up, and two
// converted projects keep apart (pods and claims carry the project).
func TestConvertServiceNamesResolve(t *testing.T) {
	s, pods := load(t, "../examples/demo/compose.yaml", "")
	r, err := Convert(s, pods)
	if err != nil {
		t.Fatal(err)
	}
	yamlOf(t, r)
	got := map[string]*corev1.Pod{}
	for _, p := range objects[*corev1.Pod](r) {
		got[p.Name] = p
	}
	for _, key := range []string{"db", "cache", "api", "web", "migrate"} {
		p := got[key+".demo"]
		if p == nil {
			t.Fatalf("no pod %s.demo (have %v)", key, keysOf(got))
		}
		if p.Spec.Hostname != key {
			t.Errorf("pod %s: hostname %q, want %q", p.Name, p.Spec.Hostname, key)
		}
		if p.Spec.DNSConfig == nil || strings.Join(p.Spec.DNSConfig.Searches, ",") != "demo" {
			t.Errorf("pod %s: dnsConfig %+v, want searches [demo]", p.Name, p.Spec.DNSConfig)
		}
		if p.Annotations[stack.ProjectAnnotation] != "demo" {
			t.Errorf("pod %s: annotations %v lack the project", p.Name, p.Annotations)
		}
	}
	if dep := got["api.demo"].Annotations[stack.DependsOnAnnotation]; dep != "cache.demo:healthy, db.demo:healthy, migrate.demo:completed" {
		t.Errorf("api depends-on %q", dep)
	}
	claims := objects[*corev1.PersistentVolumeClaim](r)
	if len(claims) != 1 || claims[0].Name != "demo-shared" {
		t.Errorf("claims %v, want demo-shared", claims)
	}
}

// TestConvertRoundTripModel: compose -> convert -> load the Pod YAML from a
// directory with another name gives the same project, services, ports,
// pods and volume keys as the compose file.
func TestConvertRoundTripModel(t *testing.T) {
	for _, file := range []string{"../examples/demo/compose.yaml", "../examples/webstack/compose.yaml", "testdata/credentials/compose.yaml"} {
		t.Run(filepath.Base(filepath.Dir(file)), func(t *testing.T) {
			s, pods := load(t, file, "")
			r, err := Convert(s, pods)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "elsewhere", "pods.yaml")
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, []byte(yamlOf(t, r)), 0o644); err != nil {
				t.Fatal(err)
			}
			back, err := stack.Load(context.Background(), stack.LoadOptions{Files: []string{path}, Environ: func() []string { return nil }})
			if err != nil {
				t.Fatal(err)
			}
			if back.Name != s.Name {
				t.Errorf("project %q, want %q", back.Name, s.Name)
			}
			if a, b := strings.Join(back.ServiceNames(), ","), strings.Join(s.ServiceNames(), ","); a != b {
				t.Errorf("services %s, want %s", a, b)
			}
			for name, svc := range s.Services {
				if b := back.Services[name]; b != nil && portList(b) != portList(svc) {
					t.Errorf("%s: ports %s, want %s", name, portList(b), portList(svc))
				}
			}
			backPods, err := planner.Group(back, "")
			if err != nil {
				t.Fatal(err)
			}
			if a, b := podNames(backPods), podNames(pods); a != b {
				t.Errorf("pods %s, want %s", a, b)
			}
			if a, b := strings.Join(sortedKeys(back.Volumes), ","), strings.Join(sortedKeys(s.Volumes), ","); a != b {
				t.Errorf("volumes %s, want %s", a, b)
			}
			for k, v := range back.Volumes {
				if v.Name != s.Volumes[k].Name {
					t.Errorf("volume %s named %s, want %s", k, v.Name, s.Volumes[k].Name)
				}
			}
		})
	}
}

// portList is a service's published ports, then every port it listens on
// (published or not, ports or expose: Kubernetes has containerPorts only).
func portList(svc *stack.Service) string {
	var out, listens []string
	for _, p := range svc.Ports {
		if p.Published != 0 || p.Ephemeral {
			out = append(out, p.HostIP+":"+strconv.Itoa(int(p.Published))+":"+strconv.Itoa(int(p.Target))+"/"+p.Protocol)
		}
		listens = append(listens, strconv.Itoa(int(p.Target))+"/"+p.Protocol)
	}
	for _, x := range svc.Expose {
		listens = append(listens, strconv.Itoa(int(x))+"/tcp")
	}
	sort.Strings(out)
	sort.Strings(listens)
	return strings.Join(out, " ") + " listening on " + strings.Join(listens, " ")
}

func podNames(pods []*planner.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name+"="+strings.Join(p.Services, "+"))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func keysOf[V any](m map[string]V) []string { return sortedKeys(m) }

// TestSecretFilesAndModes: export kube copies a secret into a Secret and
// maps its mode to defaultMode; convert (which runs on this host) mounts a
// file secret from where it is, so its content never lands in pods.yaml;
// what has no field (owners; modes of host files) is warned about.
func TestSecretFilesAndModes(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("pw-file-content-77"), 0o600)
	path := filepath.Join(dir, "compose.yaml")
	os.WriteFile(path, []byte(`name: sec
services:
  db:
    image: db
    secrets: [{source: pw, target: /run/secrets/pw, mode: 0400, uid: "999"}]
    configs: [{source: conf, target: /etc/db.conf, mode: 0440}]
secrets:
  pw: {file: ./pw.txt}
configs:
  conf: {content: "max=1"}
`), 0o644)
	s, pods := load(t, path, "")
	k, err := Kube(s, pods, KubeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ky := yamlOf(t, k)
	for _, want := range []string{"defaultMode: 256", "defaultMode: 288", "secretName: sec-pw", "value: pw-file-content-77"} {
		if !strings.Contains(ky, want) {
			t.Errorf("export kube lacks %q:\n%s", want, ky)
		}
	}
	if w := strings.Join(k.Warnings, "\n"); !strings.Contains(w, "service db: secret pw: uid not exported") {
		t.Errorf("warnings: %s", w)
	}
	c, err := Convert(s, pods)
	if err != nil {
		t.Fatal(err)
	}
	cy := yamlOf(t, c)
	if strings.Contains(cy, "pw-file-content-77") || !strings.Contains(cy, "path: "+filepath.Join(dir, "pw.txt")) || !strings.Contains(cy, "type: File") {
		t.Errorf("convert must mount the secret file from the host, not copy it:\n%s", cy)
	}
	if w := strings.Join(c.Warnings, "\n"); !strings.Contains(w, "service db: secret pw: uid, mode not exported (the file is mounted from the host as it is)") {
		t.Errorf("convert warnings: %s", w)
	}
}

// TestConvertOneShotRunsOnce: a service others wait for to complete
// (service_completed_successfully) and with no restart policy of its own
// is a one-shot: its converted pod restarts it on failure only, where
// Always would run it again and again (kube play restarts a container that
// exits 0 under Always, and Kubernetes backs off a crash loop). A service
// nobody waits on keeps Always, an explicit restart its own mapping, and
// the policy is read for the pod's regular containers, not its init ones.
func TestConvertOneShotRunsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compose.yaml")
	os.WriteFile(path, []byte(`name: once
services:
  seed:
    image: localhost/busybox:test
  migrate:
    image: localhost/busybox:test
    restart: "no"
  files:
    image: localhost/busybox:test
    depends_on:
      seed: {condition: service_completed_successfully}
      migrate: {condition: service_completed_successfully}
  web:
    image: localhost/busybox:test
    restart: on-failure
  prep:
    image: localhost/busybox:test
    x-pod: shared
  app:
    image: localhost/busybox:test
    x-pod: shared
    depends_on:
      prep: {condition: service_completed_successfully}
`), 0o644)
	s, pods := load(t, path, "")
	r, err := Convert(s, pods)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]corev1.RestartPolicy{}
	for _, p := range objects[*corev1.Pod](r) {
		got[p.Name] = p.Spec.RestartPolicy
	}
	want := map[string]corev1.RestartPolicy{
		"seed.once":    corev1.RestartPolicyOnFailure,
		"migrate.once": corev1.RestartPolicyNever,
		"files.once":   corev1.RestartPolicyAlways,
		"web.once":     corev1.RestartPolicyOnFailure,
		"shared.once":  corev1.RestartPolicyAlways, // prep is its init container
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("pod %s: restartPolicy %q, want %q (all: %v)", name, got[name], w, got)
		}
	}
	if warnings := strings.Join(r.Warnings, "\n"); strings.Contains(warnings, "different restart policies") {
		t.Errorf("warned of different policies:\n%s", warnings)
	}
}
