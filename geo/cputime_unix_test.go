//go:build unix

package geo_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used so far. Benchmarks
// report it per operation besides the wall time, which on a shared
// machine also counts the time other processes held the core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
