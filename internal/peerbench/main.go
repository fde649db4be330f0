package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "rest":
		err = restMain(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "burn":
		err = burnMain(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "plot":
		err = plotMain(os.Args[2:])
	default:
		err = benchMain(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peerbench:", err)
		os.Exit(1)
	}
}

// row is one line of the comparison.
type row struct {
	ID    string
	Title string
	Shape shape
	// Op is what is timed: "updown" (up then down), "up" (up alone; down
	// after, untimed), "down" (down alone; up before, untimed) or "noop"
	// (up of a stack already up, brought up once before the rounds).
	Op string
	// Linear rows are drawn in the plot, by their number of services.
	Linear bool
}

var allRows = []row{
	{ID: "chain8", Title: "8 services, health-gated chain: up + down", Shape: shape{"chain", 8}, Op: "updown"},
	{ID: "up40", Title: "40 independent services: up alone", Shape: shape{"flat", 40}, Op: "up"},
	{ID: "noop8", Title: "no-op `up` of a running 8-service stack", Shape: shape{"chain", 8}, Op: "noop"},
	{ID: "noop200", Title: "no-op `up` of a running 200-service stack", Shape: shape{"flat", 200}, Op: "noop"},
	{ID: "sigterm8", Title: "down of 8 services that ignore SIGTERM, 2 dependency levels (2 s grace)", Shape: shape{"levels", 8}, Op: "down"},
	{ID: "updown10", Title: "10 independent services: up + down", Shape: shape{"flat", 10}, Op: "updown", Linear: true},
	{ID: "updown40", Title: "40 independent services: up + down", Shape: shape{"flat", 40}, Op: "updown", Linear: true},
	{ID: "updown100", Title: "100 independent services: up + down", Shape: shape{"flat", 100}, Op: "updown", Linear: true},
	{ID: "updown200", Title: "200 independent services: up + down", Shape: shape{"flat", 200}, Op: "updown", Linear: true},
}

var tools = []string{"stack", "rest", "kube"}

// runner runs the tools against one service.
type runner struct {
	service string
	stack   string
	self    string
	dir     string
	id      string

	mu      sync.Mutex
	created map[string]func() // cleanups of what exists now, by project
}

func benchMain(args []string) error {
	fs := flag.NewFlagSet("peerbench", flag.ContinueOnError)
	service := fs.String("url", os.Getenv("STACK_URL"), "Podman service URL (unix:// or tcp://)")
	stackBin := fs.String("stack", "bin/stack", "the stack binary")
	rounds := fs.Int("rounds", 3, "samples per tool and row (the median is reported)")
	rowList := fs.String("rows", "", "comma-separated row IDs (default: all)")
	modes := fs.String("modes", "quiet,busy", "passes: quiet (as the machine is), busy (one core kept busy by a CPU burner)")
	out := fs.String("out", "", "directory to write results.json, results.md and linearity.svg into")
	count := fs.Bool("count", true, "count each tool's API requests for the 40-service up, through a counting proxy")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *service == "" {
		return errors.New("no Podman service: pass -url or set STACK_URL")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bin, err := filepath.Abs(*stackBin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "peerbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r := &runner{service: *service, stack: bin, self: self, dir: dir, id: fmt.Sprintf("pb%d", os.Getpid()%100000), created: map[string]func(){}}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "peerbench: interrupted; removing what it created")
		r.cleanupAll()
		os.Exit(130)
	}()
	defer r.cleanupAll()

	rows := allRows
	if *rowList != "" {
		rows = nil
		for _, id := range strings.Split(*rowList, ",") {
			i := slices.IndexFunc(allRows, func(r row) bool { return r.ID == id })
			if i < 0 {
				return fmt.Errorf("no row %q", id)
			}
			rows = append(rows, allRows[i])
		}
	}
	rep := report{Machine: r.machine(), Rounds: *rounds}
	fmt.Fprintf(os.Stderr, "peerbench: %s\n", rep.Machine)
	if *count {
		rep.Requests, err = r.countRequests(row{ID: "count40", Shape: shape{"flat", 40}})
		if err != nil {
			return err
		}
		printRequests(os.Stdout, rep.Requests, 40)
	}
	for _, mode := range strings.Split(*modes, ",") {
		p, err := r.pass(mode, rows, *rounds)
		if err != nil {
			return err
		}
		rep.Passes = append(rep.Passes, p)
		p.print(os.Stdout)
		// Written after every pass: a run stopped in the next one (they
		// take long) keeps what it measured.
		if *out != "" {
			if err := rep.write(*out); err != nil {
				return err
			}
		}
	}
	return nil
}

// pass runs every row in one mode: quiet, or busy with one core burnt.
func (r *runner) pass(mode string, rows []row, rounds int) (pass, error) {
	p := pass{Mode: mode, Start: time.Now().UTC().Format(time.RFC3339), LoadBefore: loadavg()}
	switch mode {
	case "quiet":
	case "busy":
		stop, err := r.burn()
		if err != nil {
			return p, err
		}
		defer stop()
	default:
		return p, fmt.Errorf("unknown mode %q (quiet or busy)", mode)
	}
	for _, rw := range rows {
		p.Results = append(p.Results, r.row(mode, rw, rounds)...)
	}
	p.LoadAfter = loadavg()
	return p, nil
}

// row measures one row: every round runs each tool once, in an order that
// rotates from round to round.
func (r *runner) row(mode string, rw row, rounds int) []result {
	names := tools
	if rw.Op == "noop" {
		names = []string{"stack", "rest"} // kube play refuses to play Pods that exist
	}
	res := map[string]*result{}
	for _, t := range names {
		res[t] = &result{Row: rw.ID, Title: rw.Title, Services: rw.Shape.N, Linear: rw.Linear, Tool: t}
	}
	if rw.Op == "noop" {
		for _, t := range names {
			if err := r.op(t, rw, "up"); err != nil {
				res[t].Err = err.Error()
			}
		}
	}
	for round := 0; round < rounds; round++ {
		for k := range names {
			t := names[(round+k)%len(names)]
			if res[t].Err != "" {
				continue
			}
			d, err := r.sample(t, rw)
			if err != nil {
				res[t].Err = err.Error()
				r.cleanup(r.project(t, rw))
				continue
			}
			res[t].Samples = append(res[t].Samples, d.Seconds())
			fmt.Fprintf(os.Stderr, "  %-5s %-9s %-5s round %d: %7.3f s (load %s)\n", mode, rw.ID, t, round+1, d.Seconds(), loadavg())
		}
	}
	for _, t := range names {
		r.cleanup(r.project(t, rw))
	}
	var out []result
	for _, t := range names {
		res[t].Median = median(res[t].Samples)
		out = append(out, *res[t])
	}
	return out
}

// sample times one run of rw's operation by tool t.
func (r *runner) sample(t string, rw row) (time.Duration, error) {
	switch rw.Op {
	case "updown":
		t0 := time.Now()
		if err := r.op(t, rw, "up"); err != nil {
			return 0, err
		}
		if err := r.op(t, rw, "down"); err != nil {
			return 0, err
		}
		return time.Since(t0), nil
	case "up":
		t0 := time.Now()
		if err := r.op(t, rw, "up"); err != nil {
			return 0, err
		}
		d := time.Since(t0)
		return d, r.op(t, rw, "down")
	case "down":
		if err := r.op(t, rw, "up"); err != nil {
			return 0, err
		}
		t0 := time.Now()
		err := r.op(t, rw, "down")
		return time.Since(t0), err
	case "noop":
		t0 := time.Now()
		err := r.op(t, rw, "noop")
		return time.Since(t0), err
	}
	return 0, fmt.Errorf("unknown op %q", rw.Op)
}

// project is the name tool t's objects of row rw carry.
func (r *runner) project(t string, rw row) string {
	return fmt.Sprintf("%s-%s-%s", r.id, rw.ID, t)
}

// files writes the row's stack and Pod files (once) and returns their
// directory.
func (r *runner) files(t string, rw row) (string, error) {
	d := filepath.Join(r.dir, r.project(t, rw))
	if _, err := os.Stat(d); err == nil {
		return d, nil
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(d, "compose.yaml"), []byte(rw.Shape.compose()), 0o644); err != nil {
		return "", err
	}
	return d, os.WriteFile(filepath.Join(d, "pods.yaml"), []byte(rw.Shape.kube(r.project(t, rw))), 0o644)
}

// op runs one operation ("up", "down" or "noop") of tool t as a process.
func (r *runner) op(t string, rw row, op string) error {
	d, err := r.files(t, rw)
	if err != nil {
		return err
	}
	p := r.project(t, rw)
	var cmd *exec.Cmd
	switch t {
	case "stack":
		args := []string{"-p", p, "--progress", "quiet"}
		switch op {
		case "up", "noop":
			args = append(args, "up", "-d")
		case "down":
			args = append(args, "down")
		}
		cmd = exec.Command(r.stack, args...)
	case "rest":
		cmd = exec.Command(r.self, "rest", "-url", r.service, "-project", p, "-shape", rw.Shape.Kind, "-n", fmt.Sprint(rw.Shape.N), op)
	case "kube":
		verb := "play"
		if op == "down" {
			verb = "down"
		}
		cmd = exec.Command("podman", "--url", r.service, "kube", verb, "pods.yaml")
	}
	cmd.Dir = d
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "STACK_URL=" + r.service}
	if op != "down" {
		r.track(p, func() { r.cleanupTool(t, rw) })
	}
	var outBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &outBuf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s %s: %v\n%s", t, op, rw.ID, err, tail(outBuf.String()))
	}
	if op == "down" {
		r.untrack(p)
	}
	return nil
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

func (r *runner) track(project string, cleanup func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created[project] = cleanup
}

func (r *runner) untrack(project string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.created, project)
}

func (r *runner) cleanup(project string) {
	r.mu.Lock()
	f := r.created[project]
	delete(r.created, project)
	r.mu.Unlock()
	if f != nil {
		f()
	}
}

func (r *runner) cleanupAll() {
	r.mu.Lock()
	fs := r.created
	r.created = map[string]func(){}
	r.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// cleanupTool removes what tool t made for row rw, whatever state it is in.
func (r *runner) cleanupTool(t string, rw row) {
	d := filepath.Join(r.dir, r.project(t, rw))
	p := r.project(t, rw)
	var cmd *exec.Cmd
	switch t {
	case "stack":
		cmd = exec.Command(r.stack, "-p", p, "--progress", "quiet", "down", "-t", "0")
	case "rest":
		cmd = exec.Command(r.self, "rest", "-url", r.service, "-project", p, "cleanup")
	case "kube":
		cmd = exec.Command("podman", "--url", r.service, "kube", "down", "pods.yaml")
	}
	cmd.Dir = d
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "STACK_URL=" + r.service}
	_ = cmd.Run()
}

// burn keeps one core busy with a child process (GOMAXPROCS=1, one
// spinning goroutine) until the returned function stops it; the child stops
// by itself after three hours whatever happens here.
func (r *runner) burn() (func(), error) {
	cmd := exec.Command(r.self, "burn", "-for", "3h")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}, nil
}

func burnMain(args []string) error {
	fs := flag.NewFlagSet("burn", flag.ContinueOnError)
	d := fs.Duration("for", time.Hour, "how long to burn")
	if err := fs.Parse(args); err != nil {
		return err
	}
	runtime.GOMAXPROCS(1)
	deadline := time.Now().Add(*d)
	x := 0
	for time.Now().Before(deadline) {
		for i := 0; i < 1_000_000; i++ {
			x += i
		}
	}
	_ = x
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// machine describes where the run happened.
func (r *runner) machine() machine {
	m := machine{Cores: runtime.NumCPU(), Podman: "unknown", Date: time.Now().UTC().Format("2006-01-02")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if rc, err := newREST(r.service); err == nil {
		m.Podman = rc.version()
	}
	// Without a service it still prints the client part (and exits 1).
	out, _ := exec.Command(r.stack, "version", "--format", "json", "--url", r.service).Output()
	var v struct {
		Client struct{ Version string }
	}
	if json.Unmarshal(out, &v) == nil {
		m.Stack = v.Client.Version
	}
	return m
}
