// Package gcpercent makes the stack command's garbage collector run less
// often: a command lives for a moment, and at Go's defaults a no-op `up`
// spent about a quarter of its CPU time collecting garbage it would drop on
// exit anyway (three collections before main even starts).
//
// main imports it for its init. Packages initialise in import-path order
// as far as their imports allow, so this one, needing only os and
// runtime/debug, runs before the big initialisations of the dependencies
// (the JSON schema compiler, the Kubernetes scheme) that used to trigger
// collections.
package gcpercent

import (
	"os"
	"runtime/debug"
)

// Percent lets the heap grow to five times what is live before a
// collection; MemoryLimit makes the collector work harder above it, so a
// huge stack costs CPU rather than memory.
const (
	Percent     = 400
	MemoryLimit = 512 << 20
)

func init() {
	// GOGC and GOMEMLIMIT, when set, are the user's choice.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}
