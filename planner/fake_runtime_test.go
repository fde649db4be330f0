package planner

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/podstack/podstack/stack"
)

// call is one recorded Runtime call.
type call struct {
	op, name   string
	start, end time.Time
}

// fakeRuntime is an in-memory Runtime: it records calls with their times,
// and can inject errors, delays, health sequences, exit codes and logs.
type fakeRuntime struct {
	mu      sync.Mutex
	calls   []call
	errs    map[string]error         // "op name" -> error
	delays  map[string]time.Duration // "op name" -> real delay
	health  map[string][]string      // name -> statuses, one per probe (last repeats)
	probes  map[string]int
	exit    map[string]int
	logs    map[string]string
	running int
	maxRun  int
}

func newFake() *fakeRuntime {
	return &fakeRuntime{errs: map[string]error{}, delays: map[string]time.Duration{}, health: map[string][]string{},
		probes: map[string]int{}, exit: map[string]int{}, logs: map[string]string{}}
}

func (f *fakeRuntime) do(ctx context.Context, op, name string) error {
	f.mu.Lock()
	f.running++
	if f.running > f.maxRun {
		f.maxRun = f.running
	}
	c := call{op: op, name: name, start: time.Now()}
	d := f.delays[op+" "+name]
	err := f.errs[op+" "+name]
	f.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	f.mu.Lock()
	f.running--
	c.end = time.Now()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	return err
}

func (f *fakeRuntime) PullImage(ctx context.Context, ref, policy string, out io.Writer) error {
	fmt.Fprintf(out, "%s", f.logs["pull "+ref])
	return f.do(ctx, "pull", ref)
}
func (f *fakeRuntime) BuildImage(ctx context.Context, ref string, b *stack.Build, out io.Writer) error {
	fmt.Fprintf(out, "%s", f.logs["build "+ref])
	return f.do(ctx, "build", ref)
}
func (f *fakeRuntime) PushImage(ctx context.Context, ref string, out io.Writer) error {
	return f.do(ctx, "push", ref)
}
func (f *fakeRuntime) RemoveImage(ctx context.Context, ref string) error {
	return f.do(ctx, "remove-image", ref)
}
func (f *fakeRuntime) CreateNetwork(ctx context.Context, n *stack.Network, l map[string]string) error {
	return f.do(ctx, "create-network", n.Name)
}
func (f *fakeRuntime) CreateVolume(ctx context.Context, v *stack.Volume, l map[string]string) error {
	return f.do(ctx, "create-volume", v.Name)
}
func (f *fakeRuntime) CreateSecret(ctx context.Context, sec *SecretSpec, s *stack.Stack, l map[string]string) error {
	return f.do(ctx, "create-secret", sec.Name)
}
func (f *fakeRuntime) RemoveSecret(ctx context.Context, name string) error {
	return f.do(ctx, "rm-secret", name)
}
func (f *fakeRuntime) CreateDirectory(ctx context.Context, path string) error {
	return f.do(ctx, "mkdir", path)
}
func (f *fakeRuntime) CreatePod(ctx context.Context, p *Pod, s *stack.Stack) error {
	return f.do(ctx, "create-pod", p.Name)
}
func (f *fakeRuntime) CreateContainer(ctx context.Context, c *Container, p *Pod, s *stack.Stack) error {
	return f.do(ctx, "create", c.Name)
}
func (f *fakeRuntime) StartContainer(ctx context.Context, name string) error {
	return f.do(ctx, "start", name)
}
func (f *fakeRuntime) RunHealthCheck(ctx context.Context, name string) (string, error) {
	if err := f.do(ctx, "probe", name); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	seq := f.health[name]
	if len(seq) == 0 {
		return "healthy", nil
	}
	i := f.probes[name]
	f.probes[name]++
	if i >= len(seq) {
		i = len(seq) - 1
	}
	if seq[i] == "exited" {
		return "", fmt.Errorf("healthcheck %s: %w", name, ErrNotRunning)
	}
	return seq[i], nil
}
func (f *fakeRuntime) WaitExit(ctx context.Context, name string) (int, error) {
	if err := f.do(ctx, "wait-exit", name); err != nil {
		return -1, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exit[name], nil
}
func (f *fakeRuntime) StopContainer(ctx context.Context, name string, timeout time.Duration) error {
	return f.do(ctx, "stop", name)
}
func (f *fakeRuntime) RemoveContainer(ctx context.Context, name string, volumes bool) error {
	return f.do(ctx, "rm", name)
}
func (f *fakeRuntime) RemovePod(ctx context.Context, name string) error {
	return f.do(ctx, "rm-pod", name)
}
func (f *fakeRuntime) RemoveVolume(ctx context.Context, name string) error {
	return f.do(ctx, "rm-volume", name)
}
func (f *fakeRuntime) RemoveNetwork(ctx context.Context, name string) error {
	return f.do(ctx, "rm-network", name)
}
func (f *fakeRuntime) Logs(ctx context.Context, name string, tail int, w io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines := strings.Split(strings.TrimRight(f.logs[name], "\n"), "\n")
	if len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n")+"\n")
	return err
}

// ops lists the recorded "op name" calls in completion order.
func (f *fakeRuntime) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.op+" "+c.name)
	}
	return out
}

func (f *fakeRuntime) find(op, name string) (call, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c.op == op && c.name == name {
			return c, true
		}
	}
	return call{}, false
}

// fakeClock advances only when the executor sleeps: health-check intervals
// cost no real time in tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}
