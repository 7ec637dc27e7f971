package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// readRSS reads a process's resident set from /proc (Linux only), in bytes.
func readRSS(pid int) (int64, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/status"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("server RSS: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			break
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("server RSS: no VmRSS line in %s", path)
}

// settledRSS waits, then reads twice half a wait apart and keeps the
// second reading: the server allocates lazily after a handshake (buffers,
// goroutine stacks growing on first frame), so an immediate reading
// undercounts.
func settledRSS(ctx context.Context, pid int, wait time.Duration) (int64, error) {
	if err := sleep(ctx, wait); err != nil {
		return 0, err
	}
	if _, err := readRSS(pid); err != nil {
		return 0, err
	}
	if err := sleep(ctx, wait/2); err != nil {
		return 0, err
	}
	return readRSS(pid)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// clockTick is the unit of the CPU times in /proc/PID/stat: USER_HZ, which
// Linux fixes at 100 for user space on every architecture.
const clockTick = 10 * time.Millisecond

// readCPU reads the CPU time (user + system) a process has used from
// /proc (Linux only).
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis. utime and stime are fields 14 and
	// 15 of the line, so 12 and 13 after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("server CPU: malformed stat line")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 14 {
		return 0, errors.New("server CPU: short stat line")
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("server CPU: malformed stat line")
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// cpuSample is the CPU used so far by the server (when its pid is known)
// and by this process.
type cpuSample struct {
	server, self time.Duration
	serverOK     bool
}

func sampleCPU(pid int) cpuSample {
	s := cpuSample{self: selfCPU()}
	if pid > 0 {
		var err error
		s.server, err = readCPU(pid)
		s.serverOK = err == nil
	}
	return s
}
