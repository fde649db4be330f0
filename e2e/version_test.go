package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	parallel(t)
	want := strings.TrimSpace(podman(t, "version", "--format", "{{.Server.Version}}"))

	r := mustStack(t, "", "version", "--format", "json")
	var v struct {
		Client struct{ Version, GoVersion, OS, Arch string }
		Server *struct{ Version, APIVersion, URL string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if v.Client.Version == "" || !strings.HasPrefix(v.Client.GoVersion, "go") {
		t.Errorf("client part: %+v", v.Client)
	}
	if v.Server == nil || v.Server.Version != want || v.Server.URL != podURL {
		t.Fatalf("server %+v, want version %s at %s", v.Server, want, podURL)
	}

	r = mustStack(t, "", "version")
	if !strings.Contains(r.stdout, "Version:     "+want) || !strings.Contains(r.stdout, podURL) {
		t.Errorf("plain version does not show the server:\n%s", r.stdout)
	}

	r = runStack(t, "", "version", "--url", "unix:///nonexistent/podman.sock")
	if r.code != 1 || !strings.Contains(r.stdout, "Client:") || !strings.Contains(r.stderr, "unix:///nonexistent/podman.sock") {
		t.Errorf("unreachable service: want exit 1, the client part, and the URL in the error:\n%s", r)
	}
}
