//go:build !unix

package loadgen

import "time"

// fileLimit is unknown off Unix; 0 skips the check.
func fileLimit() int64 { return 0 }

// selfCPU is unknown off Unix.
func selfCPU() time.Duration { return 0 }
