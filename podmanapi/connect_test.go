package podmanapi

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCandidatesOrder(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "containers.conf")
	os.WriteFile(conf, []byte(`[engine]
active_service = "prod"
[engine.service_destinations.prod]
uri = "ssh://core@prod.example/run/podman/podman.sock"
identity = "/keys/prod"
[engine.service_destinations.dev]
uri = "unix:///dev.sock"
`), 0o644)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	c := Candidates(ConnectOptions{URL: "tcp://flag:8080", Getenv: env(map[string]string{"CONTAINER_HOST": "unix:///env.sock"}), ConfigPaths: []string{conf}})
	if len(c) != 1 || c[0].URL != "tcp://flag:8080" || c[0].Source != "--url" {
		t.Errorf("--url must win alone: %+v", c)
	}
	c = Candidates(ConnectOptions{Getenv: env(map[string]string{"CONTAINER_HOST": "unix:///env.sock", "CONTAINER_SSHKEY": "/k"}), ConfigPaths: []string{conf}})
	if len(c) != 1 || c[0].URL != "unix:///env.sock" || c[0].Identity != "/k" {
		t.Errorf("CONTAINER_HOST must win over containers.conf: %+v", c)
	}
	c = Candidates(ConnectOptions{Getenv: env(nil), ConfigPaths: []string{conf}})
	if len(c) < 2 || c[0].URL != "ssh://core@prod.example/run/podman/podman.sock" || c[0].Identity != "/keys/prod" ||
		!strings.Contains(c[0].Source, `"prod"`) {
		t.Errorf("containers.conf active service first: %+v", c)
	}
	if last := c[len(c)-1]; last.URL != "unix:///run/podman/podman.sock" {
		t.Errorf("the rootful socket comes last: %+v", c)
	}
	c = Candidates(ConnectOptions{Getenv: env(nil), ConfigPaths: []string{filepath.Join(dir, "missing.conf")}})
	if c[0].URL == "ssh://core@prod.example/run/podman/podman.sock" {
		t.Errorf("no conf file, yet its service was used: %+v", c)
	}
}

func TestConnectExplicitURLFailsClearly(t *testing.T) {
	_, err := Connect(t.Context(), ConnectOptions{URL: "unix:///nonexistent/podman.sock", Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "unix:///nonexistent/podman.sock") || !strings.Contains(err.Error(), "--url") {
		t.Errorf("err = %v", err)
	}
}

// TestConnectRefusesOldService: a service announcing an API older than 4.0
// is refused with a message that names it and the version needed, and no
// temporary service is started in its place.
func TestConnectRefusesOldService(t *testing.T) {
	for _, announced := range []string{"3.4.4", "1.40"} {
		t.Run(announced, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Libpod-API-Version", announced)
				w.Header().Set("API-Version", "1.40")
				w.Write([]byte("OK"))
			}))
			defer srv.Close()
			url := "tcp://" + strings.TrimPrefix(srv.URL, "http://")
			_, err := Connect(t.Context(), ConnectOptions{URL: url, Getenv: func(string) string { return "" }})
			if err == nil {
				t.Fatal("connected to a service announcing API " + announced)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			if strings.Contains(err.Error(), "no Podman service answers") {
				t.Errorf("an old service answered; the error must not say none did: %v", err)
			}
			for _, want := range []string{url, MinAPIVersion, "too old"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not name %q: %v", want, err)
				}
			}
		})
	}
}
