package e2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a buffer two goroutines may use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWatch: `stack watch` brings the stack up and then, as files change on
// the host, syncs them into the running container (sync), syncs and
// restarts (sync+restart), and builds the image again and recreates the
// service (rebuild). Ctrl-C stops watching and leaves the services running.
func TestWatch(t *testing.T) {
	parallel(t)
	p := project(t, "watch")
	image := "localhost/" + p + "-built:latest"
	t.Cleanup(func() { exec.Command("podman", "--url", podURL, "rmi", "-f", image).Run() })
	dir := writeStack(t, map[string]string{
		"compose.yaml": `services:
  web:
    image: localhost/busybox:test
    command: ["sleep", "3600"]
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
          ignore: [scratch/]
  api:
    image: localhost/busybox:test
    command: ["sh", "-c", "cp /conf/app.ini /tmp/seen-at-start; sleep 3600"]
    develop:
      watch:
        - path: ./conf
          action: sync+restart
          target: /conf
          initial_sync: true
  built:
    build: ./app
    image: ` + image + `
    command: ["sleep", "3600"]
    develop:
      watch:
        - path: ./app/greeting
          action: rebuild
`,
		"src/index.html":  "v1",
		"conf/app.ini":    "mode=one",
		"app/Dockerfile":  "FROM localhost/busybox:test\nCOPY greeting /greeting\n",
		"app/greeting":    "hello",
		"src/scratch/tmp": "never synced",
	})
	cmd := exec.Command(stackBin, "-p", p, "--progress", "plain", "watch")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "STACK_URL=" + podURL}
	errPipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(errPipe)
		once := sync.Once{}
		for sc.Scan() {
			stderr.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), "Watch enabled") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	stopped := false
	stop := func() int {
		stopped = true
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("watch still running 30s after Ctrl-C:\n%s", stderr.String())
		}
		return cmd.ProcessState.ExitCode()
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	select {
	case <-ready:
	case <-time.After(3 * time.Minute):
		t.Fatalf("watch never said it was watching:\n%s", stderr.String())
	}

	// cat reads a file in the service's container ("" when it cannot).
	cat := func(service, path string) string {
		r := runStack(t, dir, "-p", p, "exec", "-T", service, "cat", path)
		return r.stdout
	}
	within := func(what string, ok func() bool) {
		t.Helper()
		if !eventually(60*time.Second, 300*time.Millisecond, ok) {
			t.Fatalf("%s: not within 60s; watch said:\n%s", what, stderr.String())
		}
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// initial_sync put the file in before the watch began (asked again
	// only because one exec can fail on a loaded rootless service: seen in
	// CI, cat answered nothing once).
	within("initial sync of /conf/app.ini", func() bool { return cat("api", "/conf/app.ini") == "mode=one" })

	// sync: a changed file, a new one in a new directory, an ignored one.
	write("src/index.html", "v2")
	os.MkdirAll(filepath.Join(dir, "src/pages"), 0o755)
	write("src/pages/about.html", "about")
	write("src/scratch/tmp", "changed, still never synced")
	within("sync of index.html", func() bool { return cat("web", "/app/index.html") == "v2" })
	within("sync of a new directory", func() bool { return cat("web", "/app/pages/about.html") == "about" })
	if got := cat("web", "/app/scratch/tmp"); got != "" {
		t.Errorf("an ignored file was synced: %q", got)
	}
	os.Remove(filepath.Join(dir, "src/index.html"))
	within("removal of index.html", func() bool {
		return runStack(t, dir, "-p", p, "exec", "-T", "web", "test", "-e", "/app/index.html").code == 1
	})

	// sync+restart: the restarted process starts with the new file.
	before := inspect(t, p+"-api-1").State.StartedAt
	write("conf/app.ini", "mode=two")
	within("restart after sync", func() bool {
		return inspect(t, p+"-api-1").State.StartedAt.After(before) && cat("api", "/tmp/seen-at-start") == "mode=two"
	})

	// rebuild: a new image, and the service recreated from it.
	builtID := inspect(t, p+"-built-1").ID
	write("app/greeting", "bonjour")
	within("rebuild", func() bool { return cat("built", "/greeting") == "bonjour" })
	if inspect(t, p+"-built-1").ID == builtID {
		t.Errorf("built was not recreated")
	}

	if code := stop(); code != 130 {
		t.Errorf("exit %d after Ctrl-C, want 130:\n%s", code, stderr.String())
	}
	for _, svc := range []string{"web", "api", "built"} {
		if st := inspect(t, p+"-"+svc+"-1").State; !st.Running {
			t.Errorf("%s is %s after watch ended: watch must leave the services running", svc, st.Status)
		}
	}
	for _, want := range []string{"Watching ./src for web: sync -> /app", "Syncing web: ./src/index.html", "Restarting api", "Rebuilding built"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("watch did not say %q:\n%s", want, stderr.String())
		}
	}
}
