package display

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/podstack/podstack/planner"
)

// Renderer is a planner.Events sink that must be closed to flush its output.
type Renderer interface {
	planner.Events
	Close()
}

// Modes are the --progress values.
var Modes = []string{"auto", "tty", "plain", "json", "quiet"}

// New returns the renderer for mode. auto picks tty on a terminal unless
// NO_COLOR is set or TERM is dumb, else plain.
func New(mode string, w io.Writer, isTerminal bool, getenv func(string) string) (Renderer, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if mode == "" || mode == "auto" {
		mode = "plain"
		if isTerminal && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb" {
			mode = "tty"
		}
	}
	switch mode {
	case "tty":
		return newTTY(w, time.Now), nil
	case "plain":
		return &plain{w: w}, nil
	case "json":
		return &jsonR{enc: json.NewEncoder(w)}, nil
	case "quiet":
		return &quiet{w: w}, nil
	}
	return nil, fmt.Errorf("invalid --progress %q: must be one of %s", mode, strings.Join(Modes, ", "))
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func kindOf(e planner.Event) string {
	if e.Object != "" {
		return e.Object
	}
	switch e.Kind {
	case planner.StepCreatePod, planner.StepRemovePod:
		return "Pod"
	case planner.StepCreateVolume, planner.StepRemoveVolume:
		return "Volume"
	case planner.StepCreateNetwork, planner.StepRemoveNetwork:
		return "Network"
	case planner.StepPullImage, planner.StepBuildImage, planner.StepPushImage, planner.StepRemoveImage:
		return "Image"
	case "":
		return ""
	}
	return "Container"
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// outputLine is how a line of a step's output (planner.StatusOutput: a
// build's, a pull's) is shown: prefixed with its service, as compose
// prefixes logs, or with the image when no service is named.
func outputLine(e planner.Event) string {
	who := e.Service
	if who == "" {
		who = e.Resource
	}
	return who + " | " + e.Text
}

// plain prints one line per event, for logs and pipes.
type plain struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *plain) Emit(e planner.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Status == planner.StatusOutput {
		fmt.Fprintln(p.w, outputLine(e))
		return
	}
	line := fmt.Sprintf("%s %s %s", kindOf(e), e.Resource, e.Text)
	if e.Elapsed > 0 && e.Status != planner.StatusWorking {
		line += " " + seconds(e.Elapsed)
	}
	if e.Detail != "" {
		line += ": " + e.Detail
	}
	fmt.Fprintln(p.w, strings.TrimSpace(line))
}

func (p *plain) Close() {}

// jsonR prints one JSON object per event.
type jsonR struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (j *jsonR) Emit(e planner.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(e)
}

func (j *jsonR) Close() {}

// quiet prints failures only: a failed step's last lines of output first
// (a build's error means little without them).
type quiet struct {
	mu     sync.Mutex
	w      io.Writer
	output map[int][]string // step -> its last lines of output
}

// quietOutputLines is how much of a failed step's output quiet keeps.
const quietOutputLines = 30

func (q *quiet) Emit(e planner.Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch e.Status {
	case planner.StatusOutput:
		if q.output == nil {
			q.output = map[int][]string{}
		}
		lines := append(q.output[e.StepID], outputLine(e))
		if len(lines) > quietOutputLines {
			lines = lines[len(lines)-quietOutputLines:]
		}
		q.output[e.StepID] = lines
	case planner.StatusFailed:
		for _, line := range q.output[e.StepID] {
			fmt.Fprintln(q.w, line)
		}
		fmt.Fprintf(q.w, "%s %s %s: %s\n", kindOf(e), e.Resource, e.Text, e.Detail)
	case planner.StatusDone:
		delete(q.output, e.StepID)
	}
}

func (q *quiet) Close() {}

// tty keeps one live line per resource and redraws them in place, like
// docker compose: a spinner while working, ✔ done, ✘ failed, ! warning.
type tty struct {
	mu      sync.Mutex
	w       io.Writer
	now     func() time.Time
	lines   []*ttyLine
	byKey   map[string]*ttyLine
	drawn   int
	frame   int
	stop    chan struct{}
	done    chan struct{}
	started time.Time
}

type ttyLine struct {
	kind, resource, text, detail string
	status                       planner.Status
	start                        time.Time
	elapsed                      time.Duration
}

func newTTY(w io.Writer, now func() time.Time) *tty {
	t := &tty{w: w, now: now, byKey: map[string]*ttyLine{}, stop: make(chan struct{}), done: make(chan struct{}), started: now()}
	go func() {
		defer close(t.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tick.C:
				t.mu.Lock()
				t.frame++
				t.draw()
				t.mu.Unlock()
			}
		}
	}()
	return t
}

func (t *tty) Emit(e planner.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Status == planner.StatusOutput {
		// Output scrolls above the live lines: clear them, print the
		// line, draw them again below it. Nothing of it is lost when the
		// step succeeds.
		if t.drawn > 0 {
			fmt.Fprintf(t.w, "\x1b[%dA\x1b[J", t.drawn)
			t.drawn = 0
		}
		fmt.Fprintf(t.w, "%s\n", outputLine(e))
		t.draw()
		return
	}
	key := kindOf(e) + " " + e.Resource
	l := t.byKey[key]
	if l == nil {
		l = &ttyLine{kind: kindOf(e), resource: e.Resource, start: t.now()}
		t.byKey[key] = l
		t.lines = append(t.lines, l)
	}
	l.status, l.text, l.detail = e.Status, e.Text, e.Detail
	if e.Status == planner.StatusWorking {
		l.start = t.now()
		l.elapsed = 0
	} else {
		l.elapsed = e.Elapsed
		if l.elapsed == 0 {
			l.elapsed = t.now().Sub(l.start)
		}
	}
	t.draw()
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// draw moves the cursor up over the previous frame and rewrites it.
func (t *tty) draw() {
	var b strings.Builder
	if t.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", t.drawn)
	}
	width := 0
	for _, l := range t.lines {
		if n := len(l.kind) + 1 + len(l.resource); n > width {
			width = n
		}
	}
	for _, l := range t.lines {
		icon := spinner[t.frame%len(spinner)]
		el := t.now().Sub(l.start)
		switch l.status {
		case planner.StatusDone:
			icon, el = "\x1b[32m✔\x1b[0m", l.elapsed
		case planner.StatusFailed:
			icon, el = "\x1b[31m✘\x1b[0m", l.elapsed
		case planner.StatusWarning:
			icon, el = "\x1b[33m!\x1b[0m", l.elapsed
		case planner.StatusSkipped, planner.StatusInfo:
			icon, el = "-", l.elapsed
		}
		name := l.kind + " " + l.resource
		text := l.text
		if l.detail != "" && l.status == planner.StatusFailed {
			text += ": " + firstLine(l.detail)
		}
		fmt.Fprintf(&b, "\x1b[2K %s %-*s  %-30s %6s\n", icon, width, name, text, seconds(el))
	}
	t.drawn = len(t.lines)
	io.WriteString(t.w, b.String())
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Close stops the redraw ticker and draws the final frame.
func (t *tty) Close() {
	close(t.stop)
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	t.draw()
}

// DryRun marks every event r renders as one that did not happen: its kind
// reads "DRY-RUN Container", as docker compose prefixes its dry-run lines.
func DryRun(r Renderer) Renderer { return dryRun{r} }

type dryRun struct{ Renderer }

func (d dryRun) Emit(e planner.Event) {
	e.Object = "DRY-RUN " + kindOf(e)
	d.Renderer.Emit(e)
}
