package e2e

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestStopIgnoringSIGTERMOneGracePerLevel: containers that ignore SIGTERM
// (sleep as PID 1) cost their grace period each, so a stop must not wait
// for one after another: the services of one dependency level stop
// together, and each level only after the one that depends on it. Shown by
// the steps' own times (their spans overlap, or follow), not a wall clock.
func TestStopIgnoringSIGTERMOneGracePerLevel(t *testing.T) {
	parallel(t)
	p := project(t, "sigterm")
	svc := func(name, deps string) string {
		s := "  " + name + ":\n    image: localhost/busybox:test\n    command: [\"/bin/sleep\", \"3600\"]\n    stop_grace_period: 1s\n"
		if deps != "" {
			s += "    depends_on: [" + deps + "]\n"
		}
		return s
	}
	dir := writeStack(t, map[string]string{"compose.yaml": "services:\n" + svc("a", "") + svc("b", "") + svc("c", "a") + svc("d", "a, b")})
	mustStack(t, dir, "-p", p, "up", "-d")

	r := mustStack(t, dir, "-p", p, "stop", "--progress", "json")
	type span struct{ start, end time.Time }
	spans := map[string]*span{}
	sc := bufio.NewScanner(strings.NewReader(r.stderr))
	for sc.Scan() {
		var e struct {
			Time     time.Time `json:"time"`
			Kind     string    `json:"kind"`
			Resource string    `json:"resource"`
			Status   string    `json:"status"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Kind != "StopContainer" {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(e.Resource, p+"-"), "-1")
		if spans[name] == nil {
			spans[name] = &span{}
		}
		switch e.Status {
		case "working":
			spans[name].start = e.Time
		case "done":
			spans[name].end = e.Time
		}
	}
	for _, n := range []string{"a", "b", "c", "d"} {
		if s := spans[n]; s == nil || s.start.IsZero() || s.end.IsZero() {
			t.Fatalf("no complete StopContainer step for %s in:\n%s", n, r.stderr)
		}
	}
	overlap := func(x, y string) {
		if !(spans[x].start.Before(spans[y].end) && spans[y].start.Before(spans[x].end)) {
			t.Errorf("%s and %s, of one level, stopped one after the other: %v-%v, %v-%v", x, y,
				spans[x].start, spans[x].end, spans[y].start, spans[y].end)
		}
	}
	after := func(x, y string) {
		if spans[x].start.Before(spans[y].end) {
			t.Errorf("%s began to stop before %s, which depends on it, had stopped", x, y)
		}
	}
	overlap("c", "d")
	overlap("a", "b")
	after("a", "c")
	after("a", "d")
	after("b", "d")
	// They did ignore SIGTERM: the grace period ran out and they were killed.
	for _, n := range []string{"a", "b", "c", "d"} {
		if code := strings.TrimSpace(podman(t, "inspect", "--format", "{{.State.ExitCode}}", p+"-"+n+"-1")); code != "137" {
			t.Errorf("%s exited %s, want 137 (killed after its grace period)", n, code)
		}
	}
}
