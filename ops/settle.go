package ops

import (
	"context"
	"time"

	"github.com/podstack/podstack/planner"
)

// maxSettle bounds SettleAfterInterrupted's wait.
const maxSettle = 30 * time.Second

// SettleWait is how long requests of a run that died holding the
// project's lock may still take in the Podman service: a stop it sent
// waits out the longest grace period of the stack's services before it
// kills (stop_grace_period, else Podman's default), plus a second for the
// rest. Without the stack file, Podman's default.
func (p *Project) SettleWait() time.Duration {
	longest := planner.DefaultStopTimeout
	if p.Stack != nil {
		longest = 0
		for _, svc := range p.Stack.Services {
			longest = max(longest, planner.StopTimeout(svc, 0))
		}
	}
	return min(longest+time.Second, maxSettle)
}

// SettleAfterInterrupted waits, before a command looks at the project,
// for what a run that died with the project's lock (who) had asked of the
// Podman service to end. The service finishes requests whose client is
// gone: a stop sent by a `stack up` killed mid-recreate kills its
// container a grace period later, after a next run that looked at once
// saw it running and left it so. Waiting first lets the first run after a
// kill converge.
func (p *Project) SettleAfterInterrupted(ctx context.Context, who string) error {
	wait := p.SettleWait()
	p.say("%s ended without finishing its work on project %q: waiting %s for what it asked of Podman to end", who, p.Name, wait.Round(time.Millisecond))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
