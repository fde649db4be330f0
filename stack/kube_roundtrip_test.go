package stack

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestKubeProjectAnnotations: a file that stack convert or export kube wrote
// gives back its project, pod keys and volume keys, whatever directory it
// is loaded from; -p and COMPOSE_PROJECT_NAME still win.
func TestKubeProjectAnnotations(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "elsewhere")
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, "pods.yaml")
	os.WriteFile(path, []byte(`apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: my-app-db-data
  annotations: {podstack.io/volume: db_data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata:
  name: db.my-app
  annotations: {podstack.io/project: my_app, podstack.io/pod: db}
spec:
  containers:
  - name: db
    image: postgres
    volumeMounts: [{name: data, mountPath: /var/lib/data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: my-app-db-data}
---
apiVersion: v1
kind: Pod
metadata:
  name: web.my-app
  annotations: {podstack.io/project: my_app, podstack.io/pod: web, podstack.io/depends-on: db.my-app}
spec:
  containers:
  - {name: web, image: nginx}
`), 0o644)
	load := func(project string, environ ...string) *Stack {
		t.Helper()
		s, err := Load(context.Background(), LoadOptions{Files: []string{path}, ProjectName: project, Environ: func() []string { return environ }})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := load("")
	if s.Name != "my_app" {
		t.Errorf("project %q, want my_app (the annotation, not the directory)", s.Name)
	}
	if s.Services["db"].Pod != "db" || s.Services["web"].Pod != "web" {
		t.Errorf("pod keys %q %q, want db and web", s.Services["db"].Pod, s.Services["web"].Pod)
	}
	if v := s.Volumes["db_data"]; v == nil || v.Name != "my_app_db_data" || s.Services["db"].Mounts[0].Source != "db_data" {
		t.Errorf("volumes %v, mount %+v", s.Volumes, s.Services["db"].Mounts)
	}
	if _, ok := s.Services["web"].DependsOn["db"]; !ok {
		t.Errorf("depends-on lost: %v", s.Services["web"].DependsOn)
	}
	if n := load("other").Name; n != "other" {
		t.Errorf("-p other gives %q", n)
	}
	if n := load("", "COMPOSE_PROJECT_NAME=envname").Name; n != "envname" {
		t.Errorf("COMPOSE_PROJECT_NAME gives %q", n)
	}
}
