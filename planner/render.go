package planner

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// String is the plan's stable text form, one line per step:
//
//	#3 CreateContainer demo-web-1 (service web, pod demo-web) <- #1 #2: no existing container
//
// Golden tests and `stack plan --format text` use it.
func (p *Plan) String() string {
	var b strings.Builder
	for _, st := range p.Steps {
		b.WriteString(st.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// String renders one step as in Plan.String.
func (st *Step) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s", st.ID, st.Kind, st.Target)
	var where []string
	if st.Service != "" {
		where = append(where, "service "+st.Service)
	}
	if st.Pod != "" && st.Pod != st.Target {
		where = append(where, "pod "+st.Pod)
	}
	if st.Condition != "" {
		where = append(where, "until "+string(st.Condition))
	}
	if st.Optional {
		where = append(where, "optional")
	}
	if len(where) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(where, ", "))
	}
	if len(st.Deps) > 0 {
		b.WriteString(" <-")
		for _, d := range st.Deps {
			fmt.Fprintf(&b, " #%d", d)
		}
	}
	if st.Cause != "" {
		b.WriteString(": " + st.Cause)
	}
	return b.String()
}

// WriteTable prints the plan as aligned columns for people.
func (p *Plan) WriteTable(w io.Writer) error {
	if len(p.Steps) == 0 {
		_, err := fmt.Fprintf(w, "Nothing to do: project %s is up to date.\n", p.Project)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tACTION\tTARGET\tSERVICE\tAFTER\tCAUSE")
	for _, st := range p.Steps {
		after := make([]string, len(st.Deps))
		for i, d := range st.Deps {
			after[i] = fmt.Sprintf("#%d", d)
		}
		action := string(st.Kind)
		if st.Kind == StepWait {
			action += " " + strings.TrimPrefix(string(st.Condition), "service_")
		}
		fmt.Fprintf(tw, "#%d\t%s\t%s\t%s\t%s\t%s\n", st.ID, action, st.Target, st.Service, strings.Join(after, ","), st.Cause)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var path []string
	for _, st := range p.CriticalPath() {
		path = append(path, fmt.Sprintf("#%d", st.ID))
	}
	_, err := fmt.Fprintf(w, "\n%d steps, %d change the system; critical path: %s\n", len(p.Steps), p.Mutating(), strings.Join(path, " -> "))
	return err
}

// JSON is the plan as indented JSON: project, steps (with deps and causes),
// pods and containers.
func (p *Plan) JSON() ([]byte, error) {
	q := *p
	if q.Steps == nil {
		q.Steps = []*Step{}
	}
	if q.Pods == nil {
		q.Pods = []*Pod{}
	}
	if q.Containers == nil {
		q.Containers = []*Container{}
	}
	return json.MarshalIndent(&q, "", "  ")
}

// Mutating counts the steps that change the system (all but waits).
func (p *Plan) Mutating() int {
	n := 0
	for _, st := range p.Steps {
		if st.Kind.Mutating() {
			n++
		}
	}
	return n
}

// stepWeight estimates a step's cost for the critical path: waiting for
// health dominates a start, which costs more than a create; pulls and
// builds cost most.
func stepWeight(st *Step) int {
	switch st.Kind {
	case StepBuildImage:
		return 30
	case StepPullImage, StepPushImage:
		return 20
	case StepWait:
		switch st.Condition {
		case "service_healthy":
			return 10
		case "service_completed_successfully":
			return 5
		}
		return 1
	case StepStartContainer, StepStopContainer:
		return 3
	case StepCreateContainer, StepCreatePod:
		return 2
	}
	return 1
}

// CriticalPath is the heaviest chain of dependent steps (see stepWeight):
// the part of the plan no parallelism can shorten.
func (p *Plan) CriticalPath() []*Step {
	byID := map[int]*Step{}
	for _, st := range p.Steps {
		byID[st.ID] = st
	}
	cost := map[int]int{}
	prev := map[int]int{}
	best := 0
	for _, st := range p.Steps { // IDs are a topological order
		c := stepWeight(st)
		for _, d := range st.Deps {
			if cost[d]+stepWeight(st) > c {
				c, prev[st.ID] = cost[d]+stepWeight(st), d
			}
		}
		cost[st.ID] = c
		if best == 0 || c > cost[best] {
			best = st.ID
		}
	}
	var path []*Step
	for id := best; id != 0; id = prev[id] {
		path = append([]*Step{byID[id]}, path...)
	}
	return path
}
