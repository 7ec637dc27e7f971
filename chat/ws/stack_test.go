//go:build !race

// The race detector doubles the stack guard, so every goroutine of a race
// build needs 4 KiB: the stack test only means something without it.

package ws

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

// stackBytes is the memory the runtime holds for goroutine stacks, after
// collections that shrink what can be shrunk.
func stackBytes() uint64 {
	for range 5 {
		runtime.GC()
	}
	s := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// startingStack is the stack a new goroutine gets: 2 KiB, or more while
// the goroutines the last collection scanned used more on average.
func startingStack() uint64 {
	s := []metrics.Sample{{Name: "/gc/stack/starting-size:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// burnStack uses about n bytes of the stack it runs on.
//
//go:noinline
func burnStack(n int) byte {
	var pad [512]byte
	pad[n%512] = byte(n)
	if n <= 512 {
		return pad[0]
	}
	return burnStack(n-512) + pad[n%512]
}

// TestIdleReaderStackIsSmall is issue 15: an idle connection is its reader
// parked in a read, and the runtime never shrinks a parked goroutine's
// stack below twice what it uses, so a reader that once grew stays big
// for the connection's life. The reader must stay on the stack it started
// with (2 KiB here), even after the connection's requests needed a deep
// stack: they are handled on goroutines of their own.
func TestIdleReaderStackIsSmall(t *testing.T) {
	const n = 400
	// One user holds them all: room for them, and frames enough.
	e := newEnv(t, Config{MaxSocketsPerUser: 2 * n, Rate: 100 * n, Burst: 100 * n, LoopbackUnlimited: true})
	e.svc.onTyping = func() { burnStack(32 << 10) }
	before := stackBytes()
	// What the readers start on: the size before they existed, since
	// readers that use more raise it themselves.
	start := startingStack()
	for range n {
		c := e.dial(t, "tok-a1")
		c.send(`{"type":"typing","id":1,"dialog_id":"42"}`)
		c.roundTrip()
	}
	after := stackBytes()
	per := float64(after-before) / n
	t.Logf("%.0f bytes of stack per idle connection; goroutines start on %d", per, start)
	if per >= float64(2*start) {
		t.Errorf("%.0f bytes of stack per idle connection, want less than twice the %d a goroutine starts on", per, start)
	}
}
