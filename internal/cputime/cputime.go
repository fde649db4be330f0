// Package cputime reports the CPU time a benchmark's operations take. On a
// shared machine wall time also measures the neighbours: CPU time (user and
// system, every thread of the process, the garbage collector included)
// counts only the work done.
package cputime

import (
	"syscall"
	"testing"
	"time"
)

// Used returns the CPU time the process has used so far.
func Used() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Report adds a cpu-ms/op metric to b: the CPU time used since start,
// divided by b.N. Call it after the benchmark's loop.
func Report(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(Used()-start)/float64(b.N)/1e6, "cpu-ms/op")
	}
}
