// Package notrun keeps the list of checks a test binary could not make on
// the Podman service under test, and why (a limit of that Podman or its
// host, never a podstack failure), so that a gate on a capability says
// what it leaves out instead of skipping silently.
package notrun

import (
	"fmt"
	"io"
	"sync"
	"testing"
)

var (
	mu   sync.Mutex
	list []string
)

// Record logs in t that what was not checked, and why, and keeps it for
// Report.
func Record(t testing.TB, what string, why error) {
	t.Helper()
	t.Logf("NOT RUN: %s: %v", what, why)
	mu.Lock()
	defer mu.Unlock()
	list = append(list, fmt.Sprintf("%s: %s: %v", t.Name(), what, why))
}

// Report lists, loudly, every check recorded; nothing when there is none.
// A TestMain calls it after the tests ran.
func Report(w io.Writer) {
	mu.Lock()
	defer mu.Unlock()
	if len(list) == 0 {
		return
	}
	fmt.Fprintf(w, "\n*** NOT RUN on this Podman service, %d check(s) (limits of the service, not failures):\n", len(list))
	for _, s := range list {
		fmt.Fprintf(w, "***   %s\n", s)
	}
	fmt.Fprintln(w)
}
