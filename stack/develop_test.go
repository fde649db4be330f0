package stack

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadText(t *testing.T, text string) (*Stack, string, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(context.Background(), LoadOptions{Files: []string{path}, Environ: noEnv})
	return s, dir, err
}

// TestDevelopWatch: develop.watch loads into the model with absolute host
// paths, and is no longer reported as unsupported.
func TestDevelopWatch(t *testing.T) {
	s, dir, err := loadText(t, `services:
  web:
    build: ./web
    develop:
      watch:
        - path: ./web/src
          action: sync
          target: /app/src
          ignore: [node_modules/]
          initial_sync: true
        - path: ./web/conf
          action: sync+restart
          target: etc/app
        - path: ./web/package.json
          action: rebuild
        - path: ./web/hooks
          action: sync+exec
          target: /hooks
          exec:
            command: ["sh", "-c", "touch /reloaded"]
            user: root
            environment: {MODE: dev}
`)
	if err != nil {
		t.Fatal(err)
	}
	web := s.Services["web"]
	if len(web.Unsupported) != 0 {
		t.Errorf("unsupported %v: develop is carried now", web.Unsupported)
	}
	if web.Develop == nil {
		t.Fatal("no develop section")
	}
	want := []WatchRule{
		{Path: filepath.Join(dir, "web/src"), Action: WatchSync, Target: "/app/src", Ignore: []string{"node_modules/"}, InitialSync: true},
		{Path: filepath.Join(dir, "web/conf"), Action: WatchSyncRestart, Target: "/etc/app"},
		{Path: filepath.Join(dir, "web/package.json"), Action: WatchRebuild},
		{Path: filepath.Join(dir, "web/hooks"), Action: WatchSyncExec, Target: "/hooks",
			Exec: &WatchExec{Command: []string{"sh", "-c", "touch /reloaded"}, User: "root", Environment: map[string]string{"MODE": "dev"}}},
	}
	if !reflect.DeepEqual(web.Develop.Watch, want) {
		t.Errorf("watch rules\n got %+v\nwant %+v", web.Develop.Watch, want)
	}
}

// TestDevelopWatchProblems: rules that could never work are load errors
// that name the line, all at once.
func TestDevelopWatchProblems(t *testing.T) {
	_, _, err := loadText(t, `services:
  web:
    image: busybox
    develop:
      watch:
        - path: ./src
          action: sync
        - path: ./package.json
          action: rebuild
        - path: ./hooks
          action: sync+exec
          target: /hooks
`)
	if err == nil {
		t.Fatal("loaded")
	}
	msg := err.Error()
	for _, want := range []string{
		`compose.yaml:6: service "web": watch action sync has no target`,
		`compose.yaml:9: service "web": watch action rebuild needs a build: section`,
		`compose.yaml:10: service "web": watch action sync+exec has no exec.command`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}
