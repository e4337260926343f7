// Package cputime reads the process's CPU time, user and system, over all its threads: the
// figure the benchmarks report per operation as cpu-ns/op beside wall-clock ns/op. On the
// project's shared machines the run queue inflates wall time far more than CPU time, so the
// interleaved A/B comparisons of docs/performance.md are read in cpu-ns/op. It imports nothing of
// the project, so any package's tests may use it.
package cputime

import (
	"syscall"
	"time"
)

// Now is the CPU time the process has used so far (0 when getrusage fails).
func Now() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
