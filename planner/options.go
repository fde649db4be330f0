package planner

import "time"

// Options tune Reconcile. The zero value plans a full `up` with the auto policy.
type Options struct {
	// Policy groups services into pods; "" means the stack's x-podstack
	// pods setting, else PolicyAuto.
	Policy Policy
	// Services limits the plan to these services (plus their dependencies
	// unless NoDeps). Empty means all.
	Services []string
	// NoDeps leaves the dependencies of Services out of the plan.
	NoDeps bool
	// ForceRecreate recreates the containers of Services (all services
	// when none is named) even when their hash matches; their
	// dependencies only when AlwaysRecreateDeps (docker compose's rule).
	ForceRecreate bool
	// AlwaysRecreateDeps recreates the dependencies of Services even when
	// their hash matches.
	AlwaysRecreateDeps bool
	// NoRecreate keeps existing containers even when their hash differs.
	NoRecreate bool
	// RemoveOrphans removes the project's objects the stack no longer declares.
	RemoveOrphans bool
	// NoStart creates but does not start containers.
	NoStart bool
	// Pull is the image policy: "missing" (default), "always" or "never".
	Pull string
	// Build builds the images of the selected services that have a build
	// section, even when current (up --build). NoBuild builds none, even
	// when missing or stale (up --no-build).
	Build, NoBuild bool
	// Scale sets services' replica counts, overriding the stack's (`up
	// --scale web=3`); 0 removes a service's containers.
	Scale map[string]int
	// OneOff plans for `stack run SERVICE`: what a one-off container of the
	// service needs (its image, networks and volumes, and its dependencies
	// started unless NoDeps) but not the service's own containers.
	OneOff string
	// Wait adds a wait step for every started service: healthy where it has
	// a healthcheck, running otherwise (`up --wait`).
	Wait bool
	// Timeout is the grace period for stopping what the plan recreates or
	// removes (`up -t`); 0 means each service's stop_grace_period.
	Timeout time.Duration
}

// DownOptions tune PlanDown.
type DownOptions struct {
	// Services limits the teardown to these services; empty means all.
	Services []string
	// Volumes also removes the project's named volumes (with a service
	// subset: only the containers' anonymous volumes).
	Volumes bool
	// RemoveOrphans also removes project objects the stack does not declare.
	RemoveOrphans bool
	// Timeout is the stop grace period; 0 means each service's own.
	Timeout time.Duration
	// StopOnly stops the containers (in reverse dependency order) and
	// removes nothing: `stack stop`, and Ctrl-C of an attached `up`.
	StopOnly bool
	// RemoveImages also removes images once the containers are gone:
	// "local" the ones built under the project's own names (services
	// without an image: name), "all" every image the services use.
	RemoveImages string
}

// ExecOptions tune Execute.
type ExecOptions struct {
	// Parallel bounds how many steps run at once; <= 0 means unlimited.
	Parallel int
	// WaitTimeout bounds every wait step; 0 means no limit.
	WaitTimeout time.Duration
	// Now and Sleep are the clock; nil means the real one. Tests pass a fake
	// so health-check intervals do not slow them down.
	Now   func() time.Time
	Sleep func(d time.Duration) <-chan time.Time
	// LogLines is how many log lines a failed wait shows (default 20).
	LogLines int
}
