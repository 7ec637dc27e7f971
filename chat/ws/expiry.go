package ws

import (
	"container/heap"
	"time"
)

// expiryHeap orders the connections by when their access token expires,
// soonest first, so the sweep looks only at the ones due. Each connection
// is in it at most once and knows its index, so a closed connection is
// taken out at once (nothing keeps it alive) and a fresh token moves it.
type expiryHeap []*conn

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expAt < h[j].expAt }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].expIdx, h[j].expIdx = i, j
}

func (h *expiryHeap) Push(x any) {
	c := x.(*conn)
	c.expIdx = len(*h)
	*h = append(*h, c)
}

func (h *expiryHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.expIdx = -1
	return c
}

// track sets when c's access token expires; a zero time means never (it
// is taken out of the sweep).
func (g *Gateway) track(c *conn, at time.Time) {
	g.expMu.Lock()
	defer g.expMu.Unlock()
	if at.IsZero() {
		if c.expIdx >= 0 {
			heap.Remove(&g.expiry, c.expIdx)
		}
		return
	}
	c.expAt = at.UnixNano()
	if c.expIdx >= 0 {
		heap.Fix(&g.expiry, c.expIdx)
		return
	}
	heap.Push(&g.expiry, c)
}

// untrack takes c out of the sweep.
func (g *Gateway) untrack(c *conn) {
	g.track(c, time.Time{})
}

// expired takes out and returns the connections whose token has expired
// at now.
func (g *Gateway) expired(now time.Time) []*conn {
	t := now.UnixNano()
	g.expMu.Lock()
	defer g.expMu.Unlock()
	var due []*conn
	for len(g.expiry) > 0 && g.expiry[0].expAt <= t {
		due = append(due, heap.Pop(&g.expiry).(*conn))
	}
	return due
}
