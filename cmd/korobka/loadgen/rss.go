package loadgen

import (
	"bufio"
	"bytes"
	"context"
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
