package planner

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/podstack/podstack/stack"
)

// Execute walks the plan's DAG with bounded parallelism, emitting progress
// events. It makes no decisions: every step it runs is in the plan. On the
// first failure it schedules nothing new, lets running steps finish and
// returns an error naming the failed step (all failures, when several ran
// at once).
func Execute(ctx context.Context, plan *Plan, rt Runtime, events Events, opts ExecOptions) error {
	if events == nil {
		events = NoEvents
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = time.After
	}
	if opts.LogLines == 0 {
		opts.LogLines = 20
	}
	byID := map[int]*Step{}
	waiting := map[int]int{}
	dependents := map[int][]int{}
	for _, st := range plan.Steps {
		byID[st.ID] = st
		waiting[st.ID] = len(st.Deps)
		for _, d := range st.Deps {
			dependents[d] = append(dependents[d], st.ID)
		}
	}
	var ready []int
	for _, st := range plan.Steps {
		if waiting[st.ID] == 0 {
			ready = append(ready, st.ID)
		}
	}
	type result struct {
		id  int
		err error
	}
	results := make(chan result)
	running := 0
	var errs *multierror.Error
	failed := false
	e := &executor{plan: plan, rt: rt, events: events, opts: opts}

	for len(ready) > 0 || running > 0 {
		for !failed && ctx.Err() == nil && len(ready) > 0 && (opts.Parallel <= 0 || running < opts.Parallel) {
			id := ready[0]
			ready = ready[1:]
			running++
			go func(st *Step) {
				results <- result{st.ID, e.run(ctx, st)}
			}(byID[id])
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		st := byID[r.id]
		if r.err != nil {
			if st.Optional && ctx.Err() == nil {
				r.err = nil // reported as a warning by run
			} else {
				failed = true
				errs = multierror.Append(errs, fmt.Errorf("%s: %w", describeStep(st), r.err))
				continue
			}
		}
		for _, d := range dependents[r.id] {
			waiting[d]--
			if waiting[d] == 0 {
				ready = insertSorted(ready, d)
			}
		}
	}
	if errs != nil {
		errs.ErrorFormat = formatErrors
		return errs.ErrorOrNil()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return nil
}

func formatErrors(es []error) string {
	if len(es) == 1 {
		return es[0].Error()
	}
	s := fmt.Sprintf("%d steps failed:", len(es))
	for _, e := range es {
		s += "\n  " + e.Error()
	}
	return s
}

func insertSorted(list []int, id int) []int {
	i := len(list)
	for i > 0 && list[i-1] > id {
		i--
	}
	list = append(list, 0)
	copy(list[i+1:], list[i:])
	list[i] = id
	return list
}

// describeStep names a step in errors: `CreateContainer demo-api-1 (service api)`.
func describeStep(st *Step) string {
	d := fmt.Sprintf("%s %s", st.Kind, st.Target)
	if st.Service != "" {
		d += fmt.Sprintf(" (service %s)", st.Service)
	}
	return d
}

type executor struct {
	plan   *Plan
	rt     Runtime
	events Events
	opts   ExecOptions
}

// verbs are the progress words of each step kind: while working, when done.
var verbs = map[StepKind][2]string{
	StepPullImage:       {"Pulling", "Pulled"},
	StepBuildImage:      {"Building", "Built"},
	StepCreateNetwork:   {"Creating", "Created"},
	StepCreateVolume:    {"Creating", "Created"},
	StepCreateSecret:    {"Creating", "Created"},
	StepCreateDirectory: {"Creating", "Created"},
	StepUseVolume:       {"Using", "Using existing volume"},
	StepCreatePod:       {"Creating", "Created"},
	StepCreateContainer: {"Creating", "Created"},
	StepStartContainer:  {"Starting", "Started"},
	StepWait:            {"Waiting", "Ready"},
	StepStopContainer:   {"Stopping", "Stopped"},
	StepRemoveContainer: {"Removing", "Removed"},
	StepRemovePod:       {"Removing", "Removed"},
	StepRemoveVolume:    {"Removing", "Removed"},
	StepRemoveNetwork:   {"Removing", "Removed"},
	StepRemoveSecret:    {"Removing", "Removed"},
	StepRemoveImage:     {"Removing", "Removed"},
	StepPushImage:       {"Pushing", "Pushed"},
}

func (e *executor) emit(st *Step, status Status, text, detail string, elapsed time.Duration) {
	e.events.Emit(Event{Time: e.opts.Now(), StepID: st.ID, Kind: st.Kind, Resource: st.Target, Service: st.Service,
		Status: status, Text: text, Detail: detail, Elapsed: elapsed})
}

func (e *executor) run(ctx context.Context, st *Step) error {
	start := e.opts.Now()
	v := verbs[st.Kind]
	working := v[0]
	if st.Kind == StepWait {
		working = "Waiting until " + conditionWord(st.Condition)
	}
	e.emit(st, StatusWorking, working, "", 0)
	done, err := e.do(ctx, st)
	elapsed := e.opts.Now().Sub(start)
	switch {
	case err == nil && st.Kind == StepUseVolume:
		e.emit(st, StatusWarning, "Using a volume stack did not create", st.Cause, elapsed)
	case err != nil && st.Optional && ctx.Err() == nil:
		text := "Failed, going on"
		if st.Kind == StepWait {
			text = "Skipped optional dependency"
		}
		e.emit(st, StatusWarning, text, err.Error(), elapsed)
	case err != nil:
		e.emit(st, StatusFailed, "Failed", err.Error(), elapsed)
	default:
		if done == "" {
			done = v[1]
		}
		e.emit(st, StatusDone, done, "", elapsed)
	}
	return err
}

func conditionWord(c stack.Condition) string {
	switch c {
	case stack.ConditionHealthy:
		return "healthy"
	case stack.ConditionCompleted:
		return "completed"
	}
	return "running"
}

// objectLabels are the labels of networks and volumes the plan creates.
func (e *executor) objectLabels(kindLabel, key string) map[string]string {
	return Labels(e.plan.Project, e.plan.Environment, kindLabel, key)
}

// do runs one step through the runtime and returns the "done" word when it
// differs from the default.
func (e *executor) do(ctx context.Context, st *Step) (string, error) {
	rt := e.rt
	switch st.Kind {
	case StepPullImage:
		out := e.output(st)
		defer out.Close()
		return "", rt.PullImage(ctx, st.Image, st.Policy, out)
	case StepBuildImage:
		out := e.output(st)
		defer out.Close()
		return "", rt.BuildImage(ctx, st.Image, st.Build, out)
	case StepPushImage:
		out := e.output(st)
		defer out.Close()
		return "", rt.PushImage(ctx, st.Image, out)
	case StepRemoveImage:
		return "", rt.RemoveImage(ctx, st.Target)
	case StepCreateNetwork:
		return "", rt.CreateNetwork(ctx, st.Network, e.objectLabels(LabelNetwork, st.Network.Key))
	case StepCreateVolume:
		return "", rt.CreateVolume(ctx, st.Volume, e.objectLabels(LabelVolume, st.Volume.Key))
	case StepCreateSecret:
		labels := e.objectLabels(LabelSecret, st.Secret.Kind+"/"+st.Secret.Key)
		labels[LabelConfigHash] = st.Secret.Digest
		return "", rt.CreateSecret(ctx, st.Secret, e.plan.Stack, labels)
	case StepUseVolume:
		return "", nil
	case StepCreateDirectory:
		return "", rt.CreateDirectory(ctx, st.Target)
	case StepCreatePod:
		return "", rt.CreatePod(ctx, st.PodSpec, e.plan.Stack)
	case StepCreateContainer:
		return "", rt.CreateContainer(ctx, st.Container, e.podFor(st.Container), e.plan.Stack)
	case StepStartContainer:
		return "", rt.StartContainer(ctx, st.Target)
	case StepWait:
		return e.wait(ctx, st)
	case StepStopContainer:
		return "", rt.StopContainer(ctx, st.Target, st.StopTimeout)
	case StepRemoveContainer:
		return "", rt.RemoveContainer(ctx, st.Target, st.RemoveVolumes)
	case StepRemovePod:
		return "", rt.RemovePod(ctx, st.Target)
	case StepRemoveVolume:
		return "", rt.RemoveVolume(ctx, st.Target)
	case StepRemoveNetwork:
		return "", rt.RemoveNetwork(ctx, st.Target)
	case StepRemoveSecret:
		return "", rt.RemoveSecret(ctx, st.Target)
	}
	return "", fmt.Errorf("unknown step kind %q", st.Kind)
}

// output is the writer a step's output goes to: each line becomes a
// StatusOutput event of the step, so every renderer shows it as it comes,
// once, and a failure's error need not repeat it.
func (e *executor) output(st *Step) *lineWriter {
	return &lineWriter{emit: func(line string) {
		e.events.Emit(Event{Time: e.opts.Now(), StepID: st.ID, Kind: st.Kind, Resource: st.Target, Service: st.Service,
			Status: StatusOutput, Text: line})
	}}
}

// lineWriter splits what is written into lines (a carriage return ends
// one too: progress bars redraw with it) and emits the non-blank ones;
// Close emits what is left.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexAny(w.buf, "\r\n")
		if i < 0 {
			return len(p), nil
		}
		w.line(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) line(b []byte) {
	if line := strings.TrimRight(string(b), " \t"); strings.TrimSpace(line) != "" {
		w.emit(line)
	}
}

// Close emits the last, unterminated line.
func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.line(w.buf)
	w.buf = nil
	return nil
}

func (e *executor) podFor(c *Container) *Pod {
	for _, p := range e.plan.Pods {
		if p.Name == c.Pod {
			return p
		}
	}
	return nil
}
