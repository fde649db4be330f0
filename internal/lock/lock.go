package lock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// DirEnv overrides the directory lock files live in.
const DirEnv = "PODSTACK_LOCK_DIR"

// Holder says who holds a lock, for the message a waiting command prints.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	User    string    `json:"user,omitempty"`
	Since   time.Time `json:"since"`
}

func (h Holder) String() string {
	if h.PID == 0 {
		return "another stack command"
	}
	s := fmt.Sprintf("`stack %s` (pid %d", h.Command, h.PID)
	if h.User != "" {
		s += ", user " + h.User
	}
	if !h.Since.IsZero() {
		s += ", since " + h.Since.Format(time.TimeOnly)
	}
	return s + ")"
}

// HeldError is returned when the lock is held and the caller would not
// (or no longer) wait.
type HeldError struct {
	Project string
	Holder  Holder
	Waited  time.Duration
}

func (e *HeldError) Error() string {
	msg := fmt.Sprintf("project %q is locked by %s", e.Project, e.Holder)
	if e.Waited > 0 {
		msg += fmt.Sprintf(" (waited %s)", e.Waited.Round(time.Second))
	}
	return msg + "; run again when it has finished, or wait for it (drop --no-wait-lock, raise --lock-timeout)"
}

// Options tune Acquire.
type Options struct {
	// Dir holds the lock files; "" means Dir().
	Dir string
	// Service identifies the Podman service (see ServiceKey).
	Service string
	// Project is the stack's project name.
	Project string
	// Command is the subcommand taking the lock ("up", "down", ...).
	Command string
	// NoWait fails at once when the lock is held.
	NoWait bool
	// Timeout bounds the wait; 0 waits until ctx ends.
	Timeout time.Duration
	// OnWait is called once, with the holder, when the lock is held and
	// the caller waits for it.
	OnWait func(Holder)
	// Poll is how often a waiting Acquire tries again (default 100ms).
	Poll time.Duration
}

// Lock is a held project lock.
type Lock struct {
	f *os.File
	// left is the record of a holder that never released the lock: its
	// process died holding it (kill -9, a crash, power loss).
	left *Holder
}

// Interrupted is the holder before this one when that holder died with the
// lock instead of releasing it, else nil. Requests such a run had sent may
// still be under way in the service (a stop waits out its grace period).
func (l *Lock) Interrupted() *Holder {
	if l == nil {
		return nil
	}
	return l.left
}

// Dir is where lock files live: one directory for every user of this
// host, so rootful and rootless commands on one service meet there.
func Dir() string {
	if d := os.Getenv(DirEnv); d != "" {
		return d
	}
	if st, err := os.Stat("/run/lock"); err == nil && st.IsDir() {
		return "/run/lock/podstack"
	}
	return filepath.Join(os.TempDir(), "podstack-locks")
}

// ServiceKey identifies a Podman service for locking. A local socket is
// keyed by its owner: every rootful socket of the host serves root's
// storage, and each rootless user's serves theirs. A remote service is
// keyed by its address.
func ServiceKey(serviceURL string) string {
	u, err := url.Parse(serviceURL)
	if err == nil && u.Scheme == "unix" {
		path := u.Path
		if path == "" {
			path = u.Opaque
		}
		if st, err := os.Stat(path); err == nil {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				return "unix-uid-" + strconv.FormatUint(uint64(sys.Uid), 10)
			}
		}
		return "unix:" + filepath.Clean(path)
	}
	return serviceURL
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]`)

// path is the lock file of a project on a service.
func path(dir, service, project string) string {
	sum := sha256.Sum256([]byte(service + "\x00" + project))
	name := unsafeChars.ReplaceAllString(project, "_")
	if len(name) > 64 {
		name = name[:64]
	}
	return filepath.Join(dir, name+"-"+hex.EncodeToString(sum[:6])+".lock")
}

// Acquire takes the project's lock, waiting for another holder unless
// opts.NoWait, until opts.Timeout or ctx ends. The lock is released by
// Release, or by the kernel when the process exits.
func Acquire(ctx context.Context, opts Options) (*Lock, error) {
	dir := opts.Dir
	if dir == "" {
		dir = Dir()
	}
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	f, err := openLockFile(path(dir, opts.Service, opts.Project))
	if err != nil {
		return nil, err
	}
	start := time.Now()
	poll := opts.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	var deadline <-chan time.Time
	if opts.Timeout > 0 {
		t := time.NewTimer(opts.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			l := &Lock{f: f}
			if h := readHolder(f); h.PID != 0 && h.PID != os.Getpid() {
				l.left = &h
			}
			l.record(opts.Command)
			return l, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock project %s: %w", opts.Project, err)
		}
		holder := readHolder(f)
		if opts.NoWait {
			f.Close()
			return nil, &HeldError{Project: opts.Project, Holder: holder}
		}
		if !told && opts.OnWait != nil {
			opts.OnWait(holder)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-deadline:
			f.Close()
			return nil, &HeldError{Project: opts.Project, Holder: holder, Waited: time.Since(start)}
		case <-time.After(poll):
		}
	}
}

// Release gives the lock up. It is safe to call on a nil Lock and twice.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// A clean release clears the holder record: a record found by the next
	// holder means this process died with the lock (see Interrupted).
	f.Truncate(0)
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return f.Close()
}

// Abandon gives the lock up as though it had not been taken: where the
// holder before died with it (Interrupted), that record is put back, so
// the next holder still learns of it and settles what it left. For a
// caller that took the lock ahead of need and does not use it.
func (l *Lock) Abandon() error {
	if l == nil || l.f == nil {
		return nil
	}
	if l.left == nil {
		return l.Release()
	}
	f := l.f
	l.f = nil
	data, _ := json.Marshal(*l.left)
	if f.Truncate(0) == nil {
		f.WriteAt(append(data, '\n'), 0)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return f.Close()
}

// ensureDir makes the shared lock directory, world-writable with the
// sticky bit (like /tmp), so every user of the host can lock in it.
func ensureDir(dir string) error {
	st, err := os.Lstat(dir)
	if err == nil {
		if !st.IsDir() {
			return fmt.Errorf("lock directory %s is not a directory (set %s)", dir, DirEnv)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create lock directory %s: %w (set %s to a writable directory)", dir, err, DirEnv)
	}
	os.Chmod(dir, os.ModeSticky|0o777) // best effort: others may need to lock here
	return nil
}

// openLockFile opens (creating) a lock file without following symlinks.
// It is opened read-write where the mode allows, to record the holder;
// read-only is enough to lock.
func openLockFile(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o666)
	if err == nil {
		os.Chmod(p, 0o666) // the umask may have narrowed it; other users lock it too
		return f, nil
	}
	if errors.Is(err, os.ErrPermission) {
		if f, err2 := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0); err2 == nil {
			return f, nil
		}
	}
	return nil, fmt.Errorf("open lock file %s: %w (set %s to a writable directory)", p, err, DirEnv)
}

// record writes who holds the lock into its file, for waiters to read.
func (l *Lock) record(command string) {
	h := Holder{PID: os.Getpid(), Command: command, Since: time.Now()}
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	}
	data, _ := json.Marshal(h)
	if err := l.f.Truncate(0); err != nil {
		l.left = nil // opened read-only: no record of ours will be cleared either
		return       // waiters will see "another stack command"
	}
	l.f.WriteAt(append(data, '\n'), 0)
}

// readHolder reads the holder record; a zero Holder when there is none
// (yet) or it cannot be read.
func readHolder(f *os.File) Holder {
	var h Holder
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 4096))
	if err != nil || len(data) == 0 {
		return h
	}
	if json.Unmarshal(data, &h) != nil {
		return Holder{}
	}
	return h
}
