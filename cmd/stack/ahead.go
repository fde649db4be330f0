package main

import (
	"context"
	"sync"

	"github.com/podstack/podstack/internal/lock"
	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/podmanapi"
	"github.com/podstack/podstack/stack"
)

// ahead is what `up` starts while its stack loads: the connection to the
// service and, once the loader knows the project's name (before
// compose-go reads the files), the project's lock and the listing of its
// containers. Loading is most of a short run's own time and that listing
// most of its wait, so a no-op `up` costs about the longer of the two
// rather than their sum. Nothing started here changes anything, and all
// of it is dropped unless the loaded stack has the name guessed; where
// the lock is held, `up` takes it the usual way (waiting), and where a run
// died holding it, `up` settles what that run left before it lists.
type ahead struct {
	g         *globalOptions
	ctx       context.Context
	lockAhead bool

	dialed chan struct{} // closed once c, err are set
	c      *podmanapi.Client
	err    error

	mu      sync.Mutex
	project string
	locked  chan struct{} // closed once the lock attempt is over; nil before onName
	lock    *lock.Lock    // held, with the listing started under it
	taken   bool          // the lock went to the project's first lock for up
	handed  bool          // client returned c
}

// startAhead starts connecting and, with lockAhead, has loadOption take
// the lock and list once the name is known (not for --dry-run, which
// takes no lock). Where no service answers, client leaves it to connect,
// which may start a temporary one: that happens only once the stack has
// loaded.
func (g *globalOptions) startAhead(ctx context.Context, lockAhead bool) *ahead {
	a := &ahead{g: g, ctx: ctx, dialed: make(chan struct{}), lockAhead: lockAhead}
	go func() {
		defer close(a.dialed)
		a.c, a.err = g.dial(ctx, true)
	}()
	return a
}

// loadOption makes the loader tell a the project's name.
func (a *ahead) loadOption(o *stack.LoadOptions) {
	if a.lockAhead {
		o.OnProjectName = a.onName
	}
}

// onName starts taking the lock and listing for project; only the first
// name a load announces counts.
func (a *ahead) onName(project string) {
	locked := make(chan struct{})
	a.mu.Lock()
	if a.locked != nil {
		a.mu.Unlock()
		return
	}
	a.project, a.locked = project, locked
	a.mu.Unlock()
	go func() {
		defer close(locked)
		<-a.dialed
		if a.err != nil {
			return
		}
		o := a.g.lockOptions(a.c, project, "up")
		o.NoWait, o.Timeout = true, 0 // held: up takes it the usual way
		l, err := lock.Acquire(a.ctx, o)
		if err != nil {
			return
		}
		// After a run that died holding the lock, what it asked of Podman
		// may still be under way: nothing is listed before up has settled
		// it (adopt), and the lock is kept for that.
		if l.Interrupted() == nil {
			a.c.PrefetchContainers(a.ctx, project)
		}
		a.mu.Lock()
		a.lock = l
		a.mu.Unlock()
	}()
}

// client is the connection made ahead or, where that found no service,
// a new one (see globalOptions.connect).
func (a *ahead) client() (*podmanapi.Client, error) {
	<-a.dialed
	if a.err != nil {
		return a.g.connect(a.ctx)
	}
	a.mu.Lock()
	a.handed = true
	a.mu.Unlock()
	return a.c, nil
}

// adopt hands p's first lock for `up` the lock taken ahead, with the
// listing made under it, when p is the project guessed (settling first
// after an interrupted holder, as the usual lock does); its release
// forgets a listing no observation took. Otherwise close abandons it.
func (a *ahead) adopt(p *ops.Project, c *podmanapi.Client) {
	a.mu.Lock()
	locked := a.locked
	a.mu.Unlock()
	if locked == nil {
		return
	}
	<-locked
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lock == nil || a.project != p.Name || c != a.c || p.Lock == nil {
		return
	}
	l, usual := a.lock, p.Lock
	p.Lock = func(ctx context.Context, command string) (func(), error) {
		a.mu.Lock()
		first := !a.taken && command == "up"
		a.taken = a.taken || first
		a.mu.Unlock()
		if !first {
			return usual(ctx, command)
		}
		return settled(ctx, p, l, func() { c.DropPrefetch(); l.Release() })
	}
}

// close releases what was started ahead and not taken over: the lock and
// its listing where no lock for up took them, the connection where client
// did not return it.
func (a *ahead) close() {
	<-a.dialed
	a.mu.Lock()
	locked := a.locked
	a.mu.Unlock()
	if locked != nil {
		<-locked
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lock != nil && !a.taken {
		a.c.DropPrefetch()
		a.lock.Abandon() // an interrupted holder's record stays for the next run
	}
	if a.c != nil && !a.handed {
		a.c.Close()
	}
}
