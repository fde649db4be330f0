package lock

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func opts(dir, project, command string) Options {
	return Options{Dir: dir, Service: "unix-uid-0", Project: project, Command: command, Poll: 10 * time.Millisecond}
}

func TestSecondAcquireWaitsThenGets(t *testing.T) {
	dir := t.TempDir()
	first, err := Acquire(context.Background(), opts(dir, "demo", "up"))
	if err != nil {
		t.Fatal(err)
	}
	var told Holder
	got := make(chan error, 1)
	go func() {
		o := opts(dir, "demo", "down")
		o.OnWait = func(h Holder) { told = h }
		l, err := Acquire(context.Background(), o)
		if err == nil {
			l.Release()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second Acquire returned while the first held the lock: %v", err)
	case <-time.After(150 * time.Millisecond):
	}
	first.Release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second Acquire did not get the lock once it was released")
	}
	if told.PID != os.Getpid() || told.Command != "up" {
		t.Errorf("the waiter was told %+v, want this pid running up", told)
	}
}

func TestNoWaitAndTimeoutNameTheHolder(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(context.Background(), opts(dir, "demo", "up"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	o := opts(dir, "demo", "down")
	o.NoWait = true
	_, err = Acquire(context.Background(), o)
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.PID != os.Getpid() || !strings.Contains(err.Error(), "stack up") {
		t.Fatalf("--no-wait-lock: %v", err)
	}
	o = opts(dir, "demo", "down")
	o.Timeout = 50 * time.Millisecond
	if _, err = Acquire(context.Background(), o); !errors.As(err, &held) || held.Waited < 50*time.Millisecond {
		t.Fatalf("timeout: %v", err)
	}
	// Other projects and other services are not blocked.
	other, err := Acquire(context.Background(), Options{Dir: dir, Service: "unix-uid-0", Project: "other", NoWait: true})
	if err != nil {
		t.Fatalf("another project: %v", err)
	}
	other.Release()
	if o, err := Acquire(context.Background(), Options{Dir: dir, Service: "unix-uid-1000", Project: "demo", NoWait: true}); err != nil {
		t.Fatalf("the same project on another service: %v", err)
	} else {
		o.Release()
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	dir := t.TempDir()
	l, _ := Acquire(context.Background(), opts(dir, "demo", "up"))
	defer l.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Acquire(ctx, opts(dir, "demo", "up")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

// TestKilledHolderReleases: the kernel drops an flock with its holder, so
// a `kill -9`ed command never leaves its project locked.
func TestKilledHolderReleases(t *testing.T) {
	if os.Getenv("LOCK_HELPER_DIR") != "" {
		l, err := Acquire(context.Background(), opts(os.Getenv("LOCK_HELPER_DIR"), "demo", "up"))
		if err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		_ = l
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestKilledHolderReleases$")
	cmd.Env = append(os.Environ(), "LOCK_HELPER_DIR="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("helper: %q %v", buf, err)
	}
	o := opts(dir, "demo", "down")
	o.NoWait = true
	if _, err := Acquire(context.Background(), o); err == nil {
		t.Fatal("the helper's lock is not held")
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(context.Background(), o)
	if err != nil {
		t.Fatalf("the lock outlived its killed holder: %v", err)
	}
	// The next holder learns that the killed one never finished: what it
	// asked of Podman may still be under way.
	if h := l.Interrupted(); h == nil || h.PID != cmd.Process.Pid || h.Command != "up" {
		t.Errorf("Interrupted() = %+v, want the killed holder (pid %d, up)", h, cmd.Process.Pid)
	}
	// Abandoned (taken ahead of need, not used): the next holder still
	// learns of the killed one.
	l.Abandon()
	if l, err = Acquire(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if h := l.Interrupted(); h == nil || h.PID != cmd.Process.Pid {
		t.Errorf("after Abandon, Interrupted() = %+v, want the killed holder (pid %d)", h, cmd.Process.Pid)
	}
	l.Release()
	// A holder that released cleanly is not reported.
	l, err = Acquire(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if h := l.Interrupted(); h != nil {
		t.Errorf("after a clean release, Interrupted() = %+v", h)
	}
	l.Release()
}

func TestSharedDirectoryAndFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "locks")
	l, err := Acquire(context.Background(), opts(dir, "demo", "up"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	st, _ := os.Stat(dir)
	if st.Mode()&os.ModeSticky == 0 || st.Mode().Perm() != 0o777 {
		t.Errorf("lock directory mode %v: others cannot lock there", st.Mode())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.lock"))
	if len(files) != 1 {
		t.Fatalf("lock files %v", files)
	}
	if st, _ := os.Stat(files[0]); st.Mode().Perm() != 0o666 {
		t.Errorf("lock file mode %v: other users cannot record themselves", st.Mode())
	}
	// A symlink planted where a lock file would go is not followed.
	target := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(target, []byte("keep"), 0o600)
	os.Symlink(target, path(dir, "unix-uid-0", "evil"))
	if _, err := Acquire(context.Background(), opts(dir, "evil", "up")); err == nil {
		t.Error("a symlinked lock file was followed")
	}
	if data, _ := os.ReadFile(target); string(data) != "keep" {
		t.Errorf("the symlink target was written: %q", data)
	}
}

func TestServiceKey(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "podman.sock")
	os.WriteFile(sock, nil, 0o600)
	uid := os.Getuid()
	if got := ServiceKey("unix://" + sock); got != "unix-uid-"+itoa(uid) {
		t.Errorf("local socket key %q", got)
	}
	if a, b := ServiceKey("ssh://core@host/run/podman/podman.sock"), ServiceKey("tcp://host:8080"); a == b {
		t.Errorf("remote services share a key: %q", a)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
