package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podstack/podstack/internal/stackgen"
)

// requireBinary skips under -short: these tests run the built binary on
// files alone and need no Podman.
func requireBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: runs the built binary (run make e2e)")
	}
	if stackBin == "" {
		t.Fatal("no stack binary: set STACK_BIN or run without -short")
	}
}

// TestAliasBombIsRefusedCheaply: `stack validate` of a 471-byte file of
// nested YAML anchors (43 million nodes expanded) exits 2 naming the line,
// using under 200 MB and under 1 s of CPU, measured from the process's own
// resource usage. The address space is capped at 4 GB so that a regression
// fails the test instead of exhausting the machine.
//
// Serial (as TestInterruptDuringLoadExits130): it measures the process's
// resources and time, which neighbours would inflate.
func TestAliasBombIsRefusedCheaply(t *testing.T) {
	requireBinary(t)
	for _, c := range []struct{ file, want string }{
		{"invalid-alias-bomb.yaml", "invalid-alias-bomb.yaml:8: YAML aliases expand to more than"},
		{"invalid-kube-alias-bomb.yaml", "invalid-kube-alias-bomb.yaml:12: YAML aliases expand to more than"},
	} {
		t.Run(c.file, func(t *testing.T) {
			path, err := filepath.Abs(filepath.Join("..", "stack", "testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", "-c", `ulimit -v 4000000 && exec "$0" "$@"`, stackBin, "validate", "-f", path)
			cmd.Dir = t.TempDir()
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
			cmd.Wait()
			timer.Stop()
			wall := time.Since(start)
			st := cmd.ProcessState
			ru := st.SysUsage().(*syscall.Rusage)
			rss := ru.Maxrss << 10 // KiB on Linux
			cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			t.Logf("exit %d, max RSS %d MB, CPU %v, wall %v", st.ExitCode(), rss>>20, cpu, wall)
			if st.ExitCode() != 2 || !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("exit %d, want 2 with %q; stderr:\n%.2000s", st.ExitCode(), c.want, stderr.String())
			}
			if rss > 200<<20 {
				t.Errorf("max RSS %d MB, want under 200", rss>>20)
			}
			if cpu > time.Second {
				t.Errorf("CPU time %v, want under 1s", cpu)
			}
		})
	}
}

// TestInterruptDuringLoadExits130: SIGINT while a stack is loading ends
// `stack validate` with exit 130 within seconds, whatever stage the load is
// in: waiting for stdin, or compose-go working through a 4000-service file
// (seconds on its own). The signals go at fractions of what a whole load
// of that file takes here, so that each lands inside the load however fast
// the machine (or podstack) is.
func TestInterruptDuringLoadExits130(t *testing.T) {
	requireBinary(t)
	dir := t.TempDir()
	big := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(big, stackgen.Compose(4000), 0o644); err != nil {
		t.Fatal(err)
	}
	whole := time.Now()
	cmd := exec.Command(stackBin, "validate", "-f", big)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "XDG_CACHE_HOME=" + t.TempDir()}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stack validate of the whole file: %v\n%s", err, out)
	}
	load := time.Since(whole)
	t.Logf("a whole load takes %v", load)
	interrupt := func(t *testing.T, after time.Duration, args ...string) {
		t.Helper()
		cmd := exec.Command(stackBin, args...)
		cmd.Dir = dir
		// A cache of its own: a run interrupted after compose-go's
		// validation remembers it, and the next run, skipping it, could
		// finish before its signal.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "XDG_CACHE_HOME=" + t.TempDir()}
		stdin, err := cmd.StdinPipe() // held open: "-" waits for more input
		if err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
			t.Fatalf("stack %v finished before the signal at %v (exit %d): make the load slower\n%s",
				args, after, cmd.ProcessState.ExitCode(), stderr.String())
		case <-time.After(after):
		}
		cmd.Process.Signal(syscall.SIGINT)
		sent := time.Now()
		select {
		case <-done:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-done
			t.Fatalf("stack %v ignored SIGINT for a minute", args)
		}
		t.Logf("SIGINT at %v: exit %d after %v", after, cmd.ProcessState.ExitCode(), time.Since(sent))
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Errorf("SIGINT at %v: exit %d, want 130\n%s", after, code, stderr.String())
		}
		if d := time.Since(sent); d > 5*time.Second {
			t.Errorf("SIGINT at %v: exited %v after the signal; the load must stop at once", after, d)
		}
	}
	t.Run("stdin", func(t *testing.T) {
		interrupt(t, 300*time.Millisecond, "validate", "-f", "-")
	})
	for _, percent := range []int{5, 20, 40, 60} {
		after := load * time.Duration(percent) / 100
		t.Run(fmt.Sprintf("file at %d%%", percent), func(t *testing.T) {
			interrupt(t, after, "validate", "-f", big)
		})
	}
}
