package stack

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAliasBombIsRefusedCheaply: a 471-byte file of nested anchors expands
// to 43 million nodes. It is refused, naming the alias that passes the
// limit, with a few megabytes allocated instead of gigabytes.
func TestAliasBombIsRefusedCheaply(t *testing.T) {
	for _, name := range []string{"invalid-alias-bomb.yaml", "invalid-kube-alias-bomb.yaml"} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Load(context.Background(), LoadOptions{Files: []string{filepath.Join("testdata", name)}, Environ: noEnv})
			runtime.ReadMemStats(&after)
			if err == nil || !IsInvalid(err) || !strings.Contains(err.Error(), "YAML aliases expand to more than") {
				t.Fatalf("err = %v, want the alias limit problem", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 20<<20 {
				t.Errorf("refusing the file allocated %d MB, want under 20", alloc>>20)
			}
		})
	}
}

// TestAliasThatContainsItself: YAML lets an alias point into its own
// anchor; the value would never end.
func TestAliasThatContainsItself(t *testing.T) {
	path := writeTemp(t, "compose.yaml", "services:\n  web:\n    image: x\n    command: &c [a, *c]\n")
	_, err := Load(context.Background(), LoadOptions{Files: []string{path}, Environ: noEnv})
	if err == nil || !strings.Contains(err.Error(), "compose.yaml:4: YAML alias *c refers to a node that contains it") {
		t.Fatalf("err = %v", err)
	}
}

// TestLimitsLeaveRealStacksAlone: anchors used as compose intends (shared
// blocks) and a large plain file load; a file with more nodes than the
// limit, and one larger than MaxFileBytes, are refused with a reason.
func TestLimitsLeaveRealStacksAlone(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-common: &common\n  image: busybox\n  environment: {A: '1', B: '2'}\n  labels: [a, b, c]\nservices:\n")
	for i := 0; i < 300; i++ {
		b.WriteString("  s" + strconv.Itoa(i) + ":\n    <<: *common\n")
	}
	s, err := Load(context.Background(), LoadOptions{Files: []string{writeTemp(t, "compose.yaml", b.String())}, Environ: noEnv})
	if err != nil || len(s.Services) != 300 {
		t.Fatalf("300 services sharing an anchor: %v", err)
	}

	b.Reset()
	b.WriteString("services:\n  web:\n    image: x\n    command: [")
	b.WriteString(strings.Repeat("x,", MaxYAMLNodes))
	b.WriteString("x]\n")
	_, err = Load(context.Background(), LoadOptions{Files: []string{writeTemp(t, "big.yaml", b.String())}, Environ: noEnv})
	if err == nil || !strings.Contains(err.Error(), "big.yaml:4: the file has more than 250000 YAML nodes") {
		t.Errorf("err = %v", err)
	}

	huge := strings.Repeat("# a comment line that makes the file long\n", MaxFileBytes/40)
	_, err = Load(context.Background(), LoadOptions{Files: []string{writeTemp(t, "huge.yaml", huge)}, Environ: noEnv})
	if err == nil || !IsInvalid(err) || !strings.Contains(err.Error(), "huge.yaml: the stack file is larger than 4 MiB") {
		t.Errorf("err = %v", err)
	}
	_, err = Load(context.Background(), LoadOptions{Files: []string{"-"}, Stdin: strings.NewReader(huge), Environ: noEnv})
	if err == nil || !strings.Contains(err.Error(), "stdin: the stack file is larger than 4 MiB") {
		t.Errorf("stdin: err = %v", err)
	}
}

// TestLoadHonoursItsContext: reading a FIFO nobody writes to, or a stdin
// that never ends, blocks; cancelling the context ends the load at once.
func TestLoadHonoursItsContext(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "compose.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	never, w := io.Pipe()
	defer w.Close()
	for name, opts := range map[string]LoadOptions{
		"fifo":  {Files: []string{fifo}, Environ: noEnv},
		"stdin": {Files: []string{"-"}, WorkingDir: dir, Stdin: never, Environ: noEnv},
		"env file fifo": {Files: []string{writeTemp(t, "c.yaml", "services: {a: {image: x}}\n")},
			EnvFiles: []string{fifo}, Environ: noEnv},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := Load(ctx, opts)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want the context's error", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Load did not return after its context ended")
			}
		})
	}
	// Unblock the FIFO readers left behind.
	if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
		f.Close()
	}
}

// cancelAfter is a context that cancels itself on its n-th Err call, to
// stop a load at each of its checkpoints in turn.
type cancelAfter struct {
	context.Context
	cancel context.CancelFunc
	n      int
}

func (c *cancelAfter) Err() error {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return c.Context.Err()
}

// TestEveryLoadStageReturnsCancellation: cancelled at any checkpoint, Load
// returns context.Canceled: never a problem list, never a stack.
func TestEveryLoadStageReturnsCancellation(t *testing.T) {
	for _, path := range []string{"testdata/valid-full.yaml", "testdata/valid-kube-multi.yaml"} {
		stages := 0
		for n := 1; ; n++ {
			ctx, cancel := context.WithCancel(context.Background())
			s, err := Load(&cancelAfter{Context: ctx, cancel: cancel, n: n}, LoadOptions{Files: []string{path}, Environ: noEnv})
			cancel()
			if err == nil && s != nil {
				break
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s cancelled at checkpoint %d: err = %v, want context.Canceled", path, n, err)
			}
			stages++
			if n > 100 {
				t.Fatalf("%s: Load never finished", path)
			}
		}
		if stages < 3 {
			t.Errorf("%s: only %d checkpoints; want at least reading, environment and loading", path, stages)
		}
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestComposeGoPanicsAreProblems: compose-go v2.16 asserts a ulimit is an
// int and panics on a float (048 reads as one): found by FuzzLoadCompose.
// The usual spellings are refused at their line before compose-go runs;
// any other panic in compose-go is a problem naming the file, not a crash.
func TestComposeGoPanicsAreProblems(t *testing.T) {
	for _, c := range []struct{ value, want string }{
		{"048", `stdin:6: service "b": ulimit e: soft must be a whole number, got "048"`},
		{"5.0", `stdin:6: service "b": ulimit e: soft must be a whole number, got "5.0"`},
		{"!!float 5", "stdin: compose-go, which reads compose files, failed on this stack: interface conversion"},
	} {
		in := "services:\n b:\n    image: x\n    ulimits:\n      e:\n        soft: " + c.value + "\n        hard: 100\n"
		_, err := Load(context.Background(), LoadOptions{Files: []string{"-"}, WorkingDir: t.TempDir(), Stdin: strings.NewReader(in), Environ: noEnv})
		if err == nil || !IsInvalid(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("soft: %s: err = %v, want %q", c.value, err, c.want)
		}
	}
}
