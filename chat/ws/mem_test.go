package ws

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Environment of the idle-memory measurement. It is off by default: it
// opens thousands of sockets. Run it with
//
//	KOROBKA_WS_IDLE=10000 go test -run TestIdleMemory -v ./chat/ws/
const (
	idleEnv    = "KOROBKA_WS_IDLE"     // how many idle connections to hold
	idleURLEnv = "KOROBKA_WS_IDLE_URL" // set in the client process only
)

// TestIdleMemory reports what an idle connection costs the server: it
// starts a client process (this test binary again, running
// TestIdleMemoryClient) that opens N connections of N users and holds them,
// and measures this process's RSS and Go memory before and after. Clients
// live in another process so their memory is not counted. It asserts
// nothing: the numbers are for the report.
func TestIdleMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(idleEnv))
	if n <= 0 || os.Getenv(idleURLEnv) != "" {
		t.Skip("set " + idleEnv + "=N to measure N idle connections")
	}
	e := newEnv(t, Config{})
	before := measure()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleMemoryClient$", "-test.v")
	cmd.Env = append(os.Environ(), idleURLEnv+"="+e.url)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewScanner(stdout)
	ready := false
	for out.Scan() {
		if out.Text() == "ready" {
			ready = true
			break
		}
		t.Log("client:", out.Text())
	}
	if !ready {
		cmd.Wait()
		t.Fatalf("client process failed: %s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	waitFor(t, "the connections to register", func() bool { return e.g.Stats().Connections == n })
	time.Sleep(time.Second) // let the handshakes' garbage become garbage
	after := measure()

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("client process: %v: %s", err, stderr.String())
	}
	waitFor(t, "the connections to close", func() bool { return e.g.Stats().Connections == 0 })

	per := func(a, b uint64) string { return fmt.Sprintf("%.1f KiB", (float64(b)-float64(a))/float64(n)/1024) }
	t.Logf("%d idle connections, per connection: RSS %s, Go heap in use %s, goroutine stacks %s, Go runtime total (Sys) %s",
		n, per(before.rss, after.rss), per(before.heap, after.heap), per(before.stack, after.stack), per(before.sys, after.sys))
}

type memSample struct{ rss, heap, stack, sys uint64 }

// measure collects garbage, returns freed pages to the OS and samples.
func measure() memSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{rss: rss(), heap: ms.HeapInuse, stack: ms.StackInuse, sys: ms.Sys - ms.HeapReleased}
}

// rss is this process's resident set size from /proc (0 elsewhere).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			kb, _ := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestIdleMemoryClient is the client process of TestIdleMemory: it holds
// N connections until its stdin closes.
func TestIdleMemoryClient(t *testing.T) {
	url := os.Getenv(idleURLEnv)
	n, _ := strconv.Atoi(os.Getenv(idleEnv))
	if url == "" || n <= 0 {
		t.Skip("run by TestIdleMemory")
	}
	d := websocket.Dialer{ReadBufferSize: 256, WriteBufferSize: 256, HandshakeTimeout: 30 * time.Second}
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	const workers = 16
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				ws, _, err := d.Dial(url+"?access_token=user-"+strconv.Itoa(i+1), nil)
				if err != nil {
					errs <- err
					return
				}
				conns[i] = ws
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Answer pings while idle, as a real client would.
	for _, ws := range conns {
		go func() {
			for {
				if _, _, err := ws.NextReader(); err != nil {
					return
				}
			}
		}()
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, ws := range conns {
		ws.Close()
	}
}
