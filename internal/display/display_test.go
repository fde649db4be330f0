package display

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podstack/podstack/planner"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func events() []planner.Event {
	return []planner.Event{
		{Time: t0, StepID: 1, Kind: planner.StepCreatePod, Resource: "demo-web", Status: planner.StatusWorking, Text: "Creating"},
		{Time: t0, StepID: 1, Kind: planner.StepCreatePod, Resource: "demo-web", Status: planner.StatusDone, Text: "Created", Elapsed: 300 * time.Millisecond},
		{Time: t0, StepID: 2, Kind: planner.StepStartContainer, Resource: "demo-db-1", Service: "db", Status: planner.StatusFailed, Text: "Failed", Detail: "port in use\nmore", Elapsed: 2 * time.Second},
	}
}

func TestNewPicksMode(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		mode string
		tty  bool
		env  map[string]string
		want string
	}{
		{"auto", true, nil, "*display.tty"},
		{"auto", false, nil, "*display.plain"},
		{"auto", true, map[string]string{"NO_COLOR": "1"}, "*display.plain"},
		{"auto", true, map[string]string{"TERM": "dumb"}, "*display.plain"},
		{"json", true, nil, "*display.jsonR"},
		{"quiet", false, nil, "*display.quiet"},
	}
	for _, c := range cases {
		r, err := New(c.mode, &bytes.Buffer{}, c.tty, env(c.env))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmtType(r); got != c.want {
			t.Errorf("%s tty=%v env=%v: %s, want %s", c.mode, c.tty, c.env, got, c.want)
		}
		r.Close()
	}
	if _, err := New("fancy", &bytes.Buffer{}, false, nil); err == nil || !strings.Contains(err.Error(), "auto, tty, plain, json, quiet") {
		t.Errorf("unknown mode: %v", err)
	}
}

func fmtType(v any) string {
	switch v.(type) {
	case *tty:
		return "*display.tty"
	case *plain:
		return "*display.plain"
	case *jsonR:
		return "*display.jsonR"
	case *quiet:
		return "*display.quiet"
	}
	return "?"
}

func render(mode string) string {
	var b bytes.Buffer
	r, _ := New(mode, &b, mode == "tty", func(string) string { return "" })
	for _, e := range events() {
		r.Emit(e)
	}
	r.Close()
	return b.String()
}

func TestPlain(t *testing.T) {
	want := "Pod demo-web Creating\nPod demo-web Created 0.3s\nContainer demo-db-1 Failed 2.0s: port in use\nmore\n"
	if got := render("plain"); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// An event for an object the step kind does not name (a Kubernetes
// Deployment) is shown with the kind it carries, not as a container.
func TestPlainNamesTheEventsObjectKind(t *testing.T) {
	var b bytes.Buffer
	r, _ := New("plain", &b, false, nil)
	r.Emit(planner.Event{Time: t0, StepID: 1, Kind: "Apply", Object: "Deployment", Resource: "web", Status: planner.StatusDone, Text: "Created"})
	r.Close()
	if got, want := b.String(), "Deployment web Created\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestJSON(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(render("json")), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	var e planner.Event
	if err := json.Unmarshal([]byte(lines[2]), &e); err != nil || e.Status != planner.StatusFailed || e.Resource != "demo-db-1" || e.Detail == "" {
		t.Errorf("%v %+v", err, e)
	}
}

func TestQuiet(t *testing.T) {
	if got := render("quiet"); got != "Container demo-db-1 Failed: port in use\nmore\n" {
		t.Errorf("%q", got)
	}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// TestTTYFinalFrame: one line per resource, redrawn in place, with marks.
func TestTTYFinalFrame(t *testing.T) {
	out := render("tty")
	frames := strings.Split(ansi.ReplaceAllString(out, "\x00"), "\x00")
	last := strings.Join(frames, "")
	lines := strings.Split(strings.TrimSpace(last[strings.LastIndex(last, "✔")-1:]), "\n")
	if len(lines) != 2 {
		t.Fatalf("final frame has %d lines:\n%s", len(lines), last)
	}
	if !strings.Contains(lines[0], "✔ Pod demo-web") || !strings.Contains(lines[0], "Created") || !strings.Contains(lines[0], "0.3s") {
		t.Errorf("line 1: %q", lines[0])
	}
	if !strings.Contains(lines[1], "✘ Container demo-db-1") || !strings.Contains(lines[1], "Failed: port in use") || strings.Contains(lines[1], "more") {
		t.Errorf("line 2: %q", lines[1])
	}
	if !strings.Contains(out, "\x1b[2A") {
		t.Error("frames are not redrawn in place (no cursor-up)")
	}
}

// outputEvents are a build's: two lines of output, then the step's end.
func outputEvents(end planner.Status) []planner.Event {
	ev := []planner.Event{
		{Time: t0, StepID: 1, Kind: planner.StepBuildImage, Resource: "demo-web", Service: "web", Status: planner.StatusWorking, Text: "Building"},
		{Time: t0, StepID: 1, Kind: planner.StepBuildImage, Resource: "demo-web", Service: "web", Status: planner.StatusOutput, Text: "STEP 1/2: FROM busybox"},
		{Time: t0, StepID: 1, Kind: planner.StepBuildImage, Resource: "demo-web", Service: "web", Status: planner.StatusOutput, Text: "compiling"},
	}
	last := planner.Event{Time: t0, StepID: 1, Kind: planner.StepBuildImage, Resource: "demo-web", Service: "web", Status: end, Text: "Built", Elapsed: time.Second}
	if end == planner.StatusFailed {
		last.Text, last.Detail = "Failed", "exit status 2"
	}
	return append(ev, last)
}

func renderEvents(mode string, ev []planner.Event) string {
	var b bytes.Buffer
	r, _ := New(mode, &b, mode == "tty", func(string) string { return "" })
	for _, e := range ev {
		r.Emit(e)
	}
	r.Close()
	return b.String()
}

// TestStepOutput: a build's output is shown as it comes, once, prefixed
// with its service, whether the build succeeds or fails; quiet shows it
// only with a failure; json passes it on as events.
func TestStepOutput(t *testing.T) {
	for _, end := range []planner.Status{planner.StatusDone, planner.StatusFailed} {
		plain := renderEvents("plain", outputEvents(end))
		if !strings.Contains(plain, "Image demo-web Building\nweb | STEP 1/2: FROM busybox\nweb | compiling\nImage demo-web ") {
			t.Errorf("plain, %s:\n%s", end, plain)
		}
		tty := ansi.ReplaceAllString(renderEvents("tty", outputEvents(end)), "")
		if strings.Count(tty, "web | compiling") != 1 || strings.Count(tty, "web | STEP 1/2: FROM busybox") != 1 {
			t.Errorf("tty, %s: the output is not shown exactly once:\n%s", end, tty)
		}
		quiet := renderEvents("quiet", outputEvents(end))
		if end == planner.StatusDone && quiet != "" {
			t.Errorf("quiet shows a successful build's output: %q", quiet)
		}
		if end == planner.StatusFailed && quiet != "web | STEP 1/2: FROM busybox\nweb | compiling\nImage demo-web Failed: exit status 2\n" {
			t.Errorf("quiet, failed: %q", quiet)
		}
		var n int
		for _, line := range strings.Split(strings.TrimSpace(renderEvents("json", outputEvents(end))), "\n") {
			var e planner.Event
			if json.Unmarshal([]byte(line), &e) == nil && e.Status == planner.StatusOutput {
				n++
			}
		}
		if n != 2 {
			t.Errorf("json, %s: %d output events", end, n)
		}
	}
	var b bytes.Buffer
	r, _ := New("plain", &b, false, nil)
	r.Emit(planner.Event{Time: t0, StepID: 1, Kind: planner.StepRemoveImage, Resource: "demo-web", Status: planner.StatusDone, Text: "Removed"})
	r.Emit(planner.Event{Time: t0, StepID: 2, Kind: planner.StepPushImage, Resource: "reg/web:1", Status: planner.StatusDone, Text: "Pushed"})
	if b.String() != "Image demo-web Removed\nImage reg/web:1 Pushed\n" {
		t.Errorf("image steps are not shown as images: %q", b.String())
	}
	// The live line stays below the output, redrawn after each line.
	tty := renderEvents("tty", outputEvents(planner.StatusDone))
	if !strings.Contains(tty, "\x1b[1A\x1b[J") {
		t.Errorf("tty does not clear its live lines before printing output: %q", tty)
	}
}

func TestDryRunMarksEveryLine(t *testing.T) {
	var b strings.Builder
	r, _ := New("plain", &b, false, func(string) string { return "" })
	r = DryRun(r)
	r.Emit(planner.Event{Kind: planner.StepStopContainer, Resource: "demo-web-1", Status: planner.StatusDone, Text: "Stopped"})
	r.Close()
	if got := b.String(); got != "DRY-RUN Container demo-web-1 Stopped\n" {
		t.Errorf("got %q", got)
	}
}
