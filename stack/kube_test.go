package stack

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestKubeConversion(t *testing.T) {
	s, err := Load(context.Background(), LoadOptions{Files: []string{"testdata/valid-kube-multi.yaml"}, ProjectName: "shop",
		Environ: func() []string { return []string{"APP_VERSION=2.1"} }})
	if err != nil {
		t.Fatal(err)
	}
	if s.Format != FormatKube || s.Name != "shop" {
		t.Fatalf("format %s name %s", s.Format, s.Name)
	}
	db := s.Services["db"]
	if db.Image != "postgres:16" || db.Pod != "database" || db.Replicas != 1 {
		t.Errorf("db: image %s pod %s replicas %d", db.Image, db.Pod, db.Replicas)
	}
	if db.Environment["POSTGRES_PASSWORD"] != "s3cret" {
		t.Errorf("secretKeyRef not resolved: %v", db.Environment)
	}
	if h := db.Health; h == nil || !reflect.DeepEqual(h.Test, []string{"CMD", "pg_isready", "-U", "postgres"}) ||
		h.Interval != 2*time.Second || h.Retries != 5 || h.Timeout != time.Second {
		t.Errorf("readinessProbe -> healthcheck: %+v", db.Health)
	}
	if len(db.Mounts) != 1 || db.Mounts[0].Type != MountVolume || db.Mounts[0].Source != "dbdata" {
		t.Errorf("pvc mount %+v", db.Mounts)
	}
	if v := s.Volumes["dbdata"]; v == nil || v.Size != "2Gi" || v.Name != "shop_dbdata" {
		t.Errorf("volume %+v", v)
	}
	if db.Labels["tier"] != "db" || db.Restart != "always" {
		t.Errorf("labels %v restart %q", db.Labels, db.Restart)
	}

	app := s.Services["app"]
	if app.Image != "app:2.1" || app.Replicas != 2 || app.Pod != "web" {
		t.Errorf("app: image %s replicas %d pod %s", app.Image, app.Replicas, app.Pod)
	}
	if !reflect.DeepEqual(app.Command, []string{"--port", "8080"}) || app.Entrypoint != nil {
		t.Errorf("args -> command: %v / %v", app.Command, app.Entrypoint)
	}
	if app.Environment["LOG_LEVEL"] != "debug" {
		t.Errorf("envFrom: %v", app.Environment)
	}
	if !reflect.DeepEqual(app.Ports, []Port{{Target: 8080, Published: 18080, Protocol: "tcp"}}) {
		t.Errorf("ports %+v", app.Ports)
	}
	if h := app.Health; h == nil || h.Test[0] != "CMD-SHELL" || !strings.Contains(h.Test[1], "http://localhost:8080/healthz") {
		t.Errorf("httpGet probe: %+v", app.Health)
	}
	if len(app.Configs) != 1 || app.Configs[0].Target != "/etc/app/app.conf" || s.Configs[app.Configs[0].Source].Content != "listen 8080\n" {
		t.Errorf("configMap volume: %+v", app.Configs)
	}
	if d := app.DependsOn["migrate"]; d.Condition != ConditionCompleted {
		t.Errorf("init container dependency: %+v", app.DependsOn)
	}
	if d := app.DependsOn["db"]; d.Condition != ConditionHealthy {
		t.Errorf("depends-on annotation: %+v", app.DependsOn)
	}
	if m := s.Services["migrate"]; !m.InitContainer || !reflect.DeepEqual(m.Entrypoint, []string{"/app/migrate"}) {
		t.Errorf("init container %+v", m)
	}
	if h := s.Services["proxy"].Health; h == nil || !strings.Contains(h.Test[1], "nc -z localhost 80") {
		t.Errorf("tcpSocket startupProbe: %+v", h)
	}
	if _, ok := s.Services["proxy"].DependsOn["db"]; !ok {
		t.Errorf("every container of the annotated pod waits: %+v", s.Services["proxy"].DependsOn)
	}
}

func TestKubeKeepVars(t *testing.T) {
	s, err := Load(context.Background(), LoadOptions{Files: []string{"testdata/valid-kube-multi.yaml"}, KeepVars: true, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Services["app"].Image; got != "app:${APP_VERSION:-latest}" {
		t.Errorf("--keep-vars image %q", got)
	}
}

func TestKubeExample(t *testing.T) {
	s, err := Load(context.Background(), LoadOptions{Files: []string{"../examples/kube-pod/pod.yaml"},
		Environ: func() []string { return []string{"APP_VERSION=1.4"} }})
	if err != nil {
		t.Fatal(err)
	}
	if s.Services["app"] == nil || !strings.HasSuffix(s.Services["app"].Image, ":1.4") {
		t.Errorf("APP_VERSION not substituted: %+v", s.Services["app"])
	}
	if !strings.Contains(s.Services["app"].Environment["DATABASE_URL"], "postgres://") {
		t.Errorf("DATABASE_URL from .env not substituted: %v", s.Services["app"].Environment)
	}
}

// TestKubeProcessSettings: hostPID, hostIPC and allowPrivilegeEscalation
// false come back as pid/ipc host and no-new-privileges, so export and
// re-import agree.
func TestKubeProcessSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pod.yaml")
	err := os.WriteFile(path, []byte(`apiVersion: v1
kind: Pod
metadata: {name: agent}
spec:
  hostPID: true
  hostIPC: true
  containers:
    - name: agent
      image: agent:1
      securityContext: {allowPrivilegeEscalation: false}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(context.Background(), LoadOptions{Files: []string{path}, Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	a := s.Services["agent"]
	if a.PID != "host" || a.IPC != "host" || !reflect.DeepEqual(a.SecurityOpt, []string{"no-new-privileges:true"}) {
		t.Errorf("pid %q ipc %q security_opt %v", a.PID, a.IPC, a.SecurityOpt)
	}
}

// TestKubeNamedProbePort: a probe may name a containerPort; the
// healthcheck probes its number (it used to probe "localhost:http").
func TestKubeNamedProbePort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pod.yaml")
	os.WriteFile(path, []byte(`apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
    - name: app
      image: nginx
      ports: [{name: http, containerPort: 8080}]
      readinessProbe:
        httpGet: {path: /ready, port: http}
`), 0o644)
	s, err := Load(context.Background(), LoadOptions{Files: []string{path}, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if h := s.Services["app"].Health; h == nil || !strings.Contains(h.Test[1], "http://localhost:8080/ready") {
		t.Errorf("healthcheck %+v, want it to probe port 8080", h)
	}
}

// TestKubeVariablesInTypedFields: ${VAR} in a number or boolean field of
// Kubernetes input, quoted or not, is substituted before the document is
// typed; a value that is no number is refused at its line, quoting the
// source text and never a credential's value.
func TestKubeVariablesInTypedFields(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o644)
		return path
	}
	ok := write("ok.yaml", `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
    - name: app
      image: nginx
      tty: ${TTY:-true}
      ports:
        - containerPort: 80
          hostPort: ${WEB_PORT:-18120}
        - containerPort: "${OTHER:-81}"
          hostPort: "${WEB2:-18121}"
      readinessProbe:
        tcpSocket: {port: "${PROBE:-80}"}
`)
	s, err := Load(context.Background(), LoadOptions{Files: []string{ok}, Environ: func() []string { return []string{"WEB2=18200"} }})
	if err != nil {
		t.Fatal(err)
	}
	app := s.Services["app"]
	want := []Port{{Target: 80, Published: 18120, Protocol: "tcp"}, {Target: 81, Published: 18200, Protocol: "tcp"}}
	if !reflect.DeepEqual(app.Ports, want) || !app.Tty || app.Health == nil || !strings.Contains(app.Health.Test[1], "localhost 80") {
		t.Errorf("ports %+v tty %v health %+v", app.Ports, app.Tty, app.Health)
	}

	bad := write("bad.yaml", `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
    - name: app
      image: nginx
      ports:
        - containerPort: 80
          hostPort: ${DB_PASS}
`)
	_, err = Load(context.Background(), LoadOptions{Files: []string{bad}, Environ: func() []string { return []string{"DB_PASS=hunter2hunter2"} }})
	if err == nil || !strings.Contains(err.Error(), `bad.yaml:10: service "web": spec.containers.0.ports.0.hostPort: must be a whole number, got string "${DB_PASS}"`) {
		t.Errorf("err = %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the credential's value: %v", err)
	}
	_, err = Load(context.Background(), LoadOptions{Files: []string{bad}, Environ: func() []string { return []string{"DB_PASS=abc"} }})
	if err == nil || !strings.Contains(err.Error(), `bad.yaml:10:`) || strings.Contains(err.Error(), `"abc"`) {
		t.Errorf("err = %v", err)
	}
}

// TestKubeTypeErrorInEmbeddedStruct: a type error below an embedded struct
// (a probe's exec, in ProbeHandler) is found at its line like any other.
func TestKubeTypeErrorInEmbeddedStruct(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pod.yaml")
	os.WriteFile(path, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: x\n      readinessProbe:\n        exec:\n          command: [true]\n"), 0o644)
	_, err := Load(context.Background(), LoadOptions{Files: []string{path}, Environ: noEnv})
	if err == nil || !strings.Contains(err.Error(), `pod.yaml:10: service "p": spec.containers.0.readinessProbe.exec.command.0: must be a string, got bool`) {
		t.Errorf("err = %v", err)
	}
}
