package planner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/podstack/podstack/stack"
)

// wait carries out a Wait step. Podman on a host without systemd never runs
// healthchecks by itself, so a service_healthy wait drives them: one probe
// at once, then one per interval (start_interval during start_period),
// until healthy, unhealthy (Podman applies retries), the wait timeout or
// cancellation.
func (e *executor) wait(ctx context.Context, st *Step) (string, error) {
	switch st.Condition {
	case stack.ConditionHealthy:
		return e.waitHealthy(ctx, st)
	case stack.ConditionCompleted:
		code, err := e.waitExit(ctx, st)
		if err != nil {
			return "", err
		}
		if code != 0 {
			return "", e.waitFailure(ctx, st, fmt.Sprintf("exited with code %d", code))
		}
		return "Exited 0", nil
	default:
		// The start step before this one has already succeeded.
		return "Running", nil
	}
}

func (e *executor) waitExit(ctx context.Context, st *Step) (int, error) {
	if e.opts.WaitTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.opts.WaitTimeout)
		defer cancel()
	}
	code, err := e.rt.WaitExit(ctx, st.Target)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return 0, e.waitFailure(context.WithoutCancel(ctx), st, fmt.Sprintf("did not complete within %s", e.opts.WaitTimeout))
	}
	return code, err
}

func (e *executor) waitHealthy(ctx context.Context, st *Step) (string, error) {
	h := st.Health
	if h == nil {
		return "", fmt.Errorf("service %q has no healthcheck to wait for", st.Service)
	}
	start := e.opts.Now()
	probes := 0
	for {
		status, err := e.rt.RunHealthCheck(ctx, st.Target)
		probes++
		if err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			if errors.Is(err, ErrNotRunning) {
				return "", e.waitFailure(ctx, st, "stopped before it became healthy: "+err.Error())
			}
			return "", err
		}
		switch status {
		case "healthy":
			return "Healthy", nil
		case "unhealthy":
			return "", e.waitFailure(ctx, st, fmt.Sprintf("is unhealthy after %d probes", probes))
		}
		interval := h.Interval
		if h.StartPeriod > 0 && h.StartInterval > 0 && e.opts.Now().Sub(start) < h.StartPeriod {
			interval = h.StartInterval
		}
		if e.opts.WaitTimeout > 0 && e.opts.Now().Sub(start)+interval > e.opts.WaitTimeout {
			// Sleep out the rest of the budget, probe once more, then give up.
			rest := e.opts.WaitTimeout - e.opts.Now().Sub(start)
			if rest > 0 {
				select {
				case <-ctx.Done():
					return "", ctx.Err()
				case <-e.opts.Sleep(rest):
				}
				if status, err := e.rt.RunHealthCheck(ctx, st.Target); err == nil && status == "healthy" {
					return "Healthy", nil
				}
			}
			return "", e.waitFailure(ctx, st, fmt.Sprintf("did not become healthy within %s (%d probes)", e.opts.WaitTimeout, probes))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-e.opts.Sleep(interval):
		}
	}
}

// waitFailure explains a failed wait with the container's last log lines.
func (e *executor) waitFailure(ctx context.Context, st *Step, what string) error {
	msg := fmt.Sprintf("service %q %s (waiting until %s)", st.Service, what, conditionWord(st.Condition))
	var buf bytes.Buffer
	if err := e.rt.Logs(ctx, st.Target, e.opts.LogLines, &buf); err == nil {
		lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
		if len(lines) > e.opts.LogLines {
			lines = lines[len(lines)-e.opts.LogLines:]
		}
		if len(lines) > 0 && lines[0] != "" {
			msg += fmt.Sprintf("; last %d log lines of %s:\n    %s", len(lines), st.Target, strings.Join(lines, "\n    "))
		} else {
			msg += fmt.Sprintf("; %s logged nothing", st.Target)
		}
	}
	return errors.New(msg)
}
