package podmanapi

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podstack/podstack/stack"
)

// buildRequest is what a fake service saw of a build request.
type buildRequest struct {
	query url.Values
	files map[string]string // the context archive's files
}

// fakeBuildService is a Podman service of the given version that answers
// every build with an image ID and records what it was sent. Listening on
// a unix socket, it is on this host (Capabilities.SameHost).
func fakeBuildService(t *testing.T, version string, unix bool) (*Client, *[]buildRequest) {
	return fakeBuildServiceAnswering(t, version, unix, []any{map[string]string{"stream": "0123456789ab\n"}})
}

// fakeBuildServiceAnswering is fakeBuildService streaming answer (Podman's
// build output lines: "stream", and "errorDetail" for a failure) to every
// build.
func fakeBuildServiceAnswering(t *testing.T, version string, unix bool, answer []any) (*Client, *[]buildRequest) {
	t.Helper()
	var seen []buildRequest
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Libpod-API-Version", version)
		w.Header().Set("API-Version", "1.41")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			w.Write([]byte("OK"))
		case strings.HasSuffix(r.URL.Path, "/build"):
			req := buildRequest{query: r.URL.Query(), files: map[string]string{}}
			if gz, err := gzip.NewReader(r.Body); err == nil {
				tr := tar.NewReader(gz)
				for h, err := tr.Next(); err == nil; h, err = tr.Next() {
					data, _ := io.ReadAll(tr)
					req.files[h.Name] = string(data)
				}
			}
			seen = append(seen, req)
			for _, line := range answer {
				json.NewEncoder(w).Encode(line)
			}
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	u := ""
	if unix {
		sock := filepath.Join(t.TempDir(), "podman.sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		srv.Listener = l
		u = "unix://" + sock
	}
	srv.Start()
	t.Cleanup(srv.Close)
	if !unix {
		u = "tcp://" + strings.TrimPrefix(srv.URL, "http://")
	}
	c, err := Connect(t.Context(), ConnectOptions{URL: u, Getenv: func(string) string { return "" }, NoEmbedded: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, &seen
}

// TestBuildImageOptions: every build key the model carries reaches Podman's
// build request as podman build's flags would send it; the inline
// Dockerfile and an environment secret's value travel in the context
// archive from temporary files that are gone afterwards.
func TestBuildImageOptions(t *testing.T) {
	c, seen := fakeBuildService(t, "4.3.1", true)
	dir := t.TempDir()
	ctxDir, extra := filepath.Join(dir, "ctx"), filepath.Join(dir, "extra")
	os.MkdirAll(ctxDir, 0o755)
	os.MkdirAll(extra, 0o755)
	secretFile := filepath.Join(dir, "secret.txt")
	os.WriteFile(secretFile, []byte("from-file"), 0o600)
	tmpBefore, _ := filepath.Glob(filepath.Join(os.TempDir(), "podstack-*"))

	b := &stack.Build{Context: ctxDir, DockerfileInline: "FROM base\nRUN inline-marker\n",
		AdditionalContexts: map[string]string{"base": "docker-image://localhost/p-lib", "extra": extra, "web": "https://example.com/src.tar"},
		Ulimits:            map[string]stack.Ulimit{"nofile": {Soft: 1024, Hard: 2048}},
		ShmSize:            64 << 20, ExtraHosts: []string{"db:10.0.0.5"}, Network: "none",
		CacheFrom: []string{"localhost/p-app:cache"}, Tags: []string{"localhost/p-app:v1"}, Platform: "linux/arm64/v8",
		Secrets: []stack.BuildSecret{{ID: "file", Source: "f", File: secretFile}, {ID: "env", Source: "e", Environment: "TOK", Content: "from-env"}},
	}
	if err := c.BuildImage(t.Context(), "localhost/p-app", b, io.Discard); err != nil {
		t.Fatal(err)
	}
	if len(*seen) != 1 {
		t.Fatalf("%d build requests, want 1", len(*seen))
	}
	req := (*seen)[0]
	q := req.query
	var contexts map[string]struct {
		IsURL, IsImage bool
		Value          string
	}
	if err := json.Unmarshal([]byte(q.Get("additionalbuildcontexts")), &contexts); err != nil {
		t.Fatalf("additionalbuildcontexts %q: %v", q.Get("additionalbuildcontexts"), err)
	}
	if c := contexts["base"]; !c.IsImage || c.Value != "localhost/p-lib" {
		t.Errorf("base context %+v, want the image localhost/p-lib", c)
	}
	if c := contexts["extra"]; c.IsImage || c.IsURL || c.Value != extra {
		t.Errorf("extra context %+v, want the directory %s", c, extra)
	}
	if c := contexts["web"]; !c.IsURL {
		t.Errorf("web context %+v, want a URL", c)
	}
	for key, want := range map[string]string{
		"ulimits": `["nofile=1024:2048"]`, "shmsize": "67108864", "extrahosts": `["db:10.0.0.5"]`,
		"networkmode": "1", // buildah's NetworkDisabled
		"cachefrom":   `["localhost/p-app"]`, "platform": "linux/arm64/v8",
	} {
		if got := q.Get(key); got != want {
			t.Errorf("query %s = %q, want %q", key, got, want)
		}
	}
	if got := q["t"]; len(got) != 2 || got[0] != "localhost/p-app" || got[1] != "localhost/p-app:v1" {
		t.Errorf("tags %q, want the image and localhost/p-app:v1", got)
	}
	var secrets []string
	json.Unmarshal([]byte(q.Get("secrets")), &secrets)
	values := map[string]string{}
	for _, sec := range secrets {
		id, src := "", ""
		for _, kv := range strings.Split(sec, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "id":
				id = v
			case "src":
				src = v
			}
		}
		values[id] = req.files[src]
	}
	if values["file"] != "from-file" || values["env"] != "from-env" {
		t.Errorf("secrets sent %q (%v), want file=from-file and env=from-env", secrets, values)
	}
	inline := false
	for name, content := range req.files {
		if strings.Contains(content, "inline-marker") {
			inline = strings.Contains(q.Get("dockerfile"), strings.TrimPrefix(name, "/"))
		}
	}
	if !inline {
		t.Errorf("the inline Dockerfile is not the archive's Dockerfile (dockerfile=%s)", q.Get("dockerfile"))
	}
	if after, _ := filepath.Glob(filepath.Join(os.TempDir(), "podstack-*")); len(after) > len(tmpBefore) {
		t.Errorf("temporary files left: %v", after)
	}

	b = &stack.Build{Context: ctxDir, Network: "host"}
	if err := c.BuildImage(t.Context(), "localhost/p-host", b, io.Discard); err != nil {
		t.Fatal(err)
	}
	q = (*seen)[1].query
	if q.Get("networkmode") != "2" || !strings.Contains(q.Get("nsoptions"), `"Name":"network","Host":true`) {
		t.Errorf("network host: networkmode %q nsoptions %q", q.Get("networkmode"), q.Get("nsoptions"))
	}
}

// TestBuildImageLocalContextRemote: a remote service before Podman 5.6
// reads a local additional context from its own file system, so the build
// fails before any request, naming the key and the version needed; Podman
// 5.6 receives it as an archive.
func TestBuildImageLocalContextRemote(t *testing.T) {
	dir := t.TempDir()
	b := &stack.Build{Context: dir, Dockerfile: "Dockerfile", AdditionalContexts: map[string]string{"extra": dir}}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)

	c, seen := fakeBuildService(t, "4.3.1", false)
	err := c.BuildImage(t.Context(), "localhost/p-app", b, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "build.additional_contexts extra") || !strings.Contains(err.Error(), "Podman 5.6") || len(*seen) != 0 {
		t.Errorf("remote 4.3.1 with a local context: err %v, %d requests", err, len(*seen))
	}
	c, seen = fakeBuildService(t, "5.6.0", false)
	if err := c.BuildImage(t.Context(), "localhost/p-app", b, io.Discard); err != nil || len(*seen) != 1 {
		t.Errorf("remote 5.6 with a local context: err %v, %d requests", err, len(*seen))
	}
}

// TestBuildRlimitRefusedSaysFix: a RUN step the host refused the rlimits
// Buildah asks for (rootful, an open-files limit of 1048576 whatever the
// service's own; a host without CAP_SYS_RESOURCE, as many containers and
// CI sandboxes are, refuses it while containers run) fails with the fix in
// the error: Podman's own error names only "exit status 1", the cause is
// in the output above it. Another failure gets no such hint.
func TestBuildRlimitRefusedSaysFix(t *testing.T) {
	step := map[string]string{"stream": "STEP 2/2: RUN true\n"}
	const why = `building at STEP "RUN true": while running runtime: exit status 1`
	failed := map[string]any{"error": why, "errorDetail": map[string]string{"message": why}}
	refused := map[string]string{"stream": `error running container: from /usr/bin/runc creating container for [/bin/sh -c true]: time="2026-12-01T04:18:25Z" level=error msg="runc create failed: unable to start container process: error during container init: error setting rlimits for ready process: error setting rlimit type 7: operation not permitted"` + "\n"}
	b := &stack.Build{Context: t.TempDir()}
	os.WriteFile(filepath.Join(b.Context, "Dockerfile"), []byte("FROM scratch\nRUN true\n"), 0o644)

	c, _ := fakeBuildServiceAnswering(t, "5.8.6", true, []any{step, refused, map[string]string{"stream": ": exit status 1\n"}, failed})
	var out strings.Builder
	err := c.BuildImage(t.Context(), "localhost/x", b, &out)
	if err == nil {
		t.Fatal("the build succeeded")
	}
	for _, want := range []string{"exit status 1", "rlimit", "build.ulimits", "default_ulimits"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !strings.Contains(out.String(), "error setting rlimit type 7") {
		t.Errorf("the output lost Podman's line:\n%s", out.String())
	}

	c, _ = fakeBuildServiceAnswering(t, "5.8.6", true, []any{step, map[string]string{"stream": "sh: false: exit 1\n"}, failed})
	if err := c.BuildImage(t.Context(), "localhost/x", b, nil); err == nil || strings.Contains(err.Error(), "ulimits") {
		t.Errorf("a step's own failure: %v", err)
	}
}
