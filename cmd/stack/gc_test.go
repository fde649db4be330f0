package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestCollectsLessOften: the command runs with a garbage collector that
// lets the heap grow further than Go's default before collecting (set by
// internal/gcpercent as it starts), unless GOGC says otherwise.
func TestCollectsLessOften(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set: the user's choice wins")
	}
	old := debug.SetGCPercent(100)
	debug.SetGCPercent(old)
	if old <= 100 {
		t.Errorf("GC percent %d, Go's default: is internal/gcpercent imported by main?", old)
	}
}
