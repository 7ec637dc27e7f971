//go:build unix

package loadgen

import (
	"syscall"
	"time"
)

// fileLimit is the soft limit on open files (Go raises it to the hard limit
// at start), so a run that needs more sockets can fail up front with a
// clear message instead of thousands of dial errors.
func fileLimit() int64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return int64(l.Cur)
}

// selfCPU is the CPU time (user + system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
