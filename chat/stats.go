package chat

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// dailyStats gathers what the admin's stats count on this node — the users
// active each UTC day, the messages stored, the pushes sent — and writes it
// every statsInterval (and when the stats are read), so that counting costs
// the hot paths a map update, never a database write. Each node writes its
// own rows (AdminStore.AddDailyCounts by node), so nodes never contend for
// one row. What a node counted in its last interval before a crash is
// lost: the figures are for reading trends, not for billing.
type dailyStats struct {
	store AdminStore
	node  string
	log   *slog.Logger
	now   func() time.Time

	mu sync.Mutex
	// day is the UTC day (yyyymmdd) whose actives marked holds.
	day    int
	marked map[int64]bool       // users whose activity today was written (or is pending)
	active map[int][]int64      // per day, users to write as active
	counts map[DayCounter]int64 // counted, not yet written
	// flushing serialises flushes, so two never write the same counts.
	flushing sync.Mutex
}

// statsInterval is how often a node writes what it counted.
const statsInterval = 10 * time.Second

// maxMarked bounds the users one node remembers as marked today; past it
// the set starts again (a user is then marked twice, which is harmless).
const maxMarked = 1_000_000

func newDailyStats(store AdminStore, node string, log *slog.Logger, now func() time.Time) *dailyStats {
	return &dailyStats{store: store, node: node, log: log, now: now,
		marked: map[int64]bool{}, active: map[int][]int64{}, counts: map[DayCounter]int64{}}
}

// active notes that the user made an authenticated request now.
func (d *dailyStats) activeNow(userID int64) {
	day := DayNumber(d.now())
	d.mu.Lock()
	defer d.mu.Unlock()
	if day != d.day || len(d.marked) >= maxMarked {
		d.day, d.marked = day, map[int64]bool{}
	}
	if !d.marked[userID] {
		d.marked[userID] = true
		d.active[day] = append(d.active[day], userID)
	}
}

// add counts n of counter today.
func (d *dailyStats) add(counter string, n int64) {
	if n == 0 {
		return
	}
	k := DayCounter{Day: DayNumber(d.now()), Counter: counter}
	d.mu.Lock()
	d.counts[k] += n
	d.mu.Unlock()
}

// flush writes what was counted. What fails to be written is counted
// again for the next flush.
func (d *dailyStats) flush(ctx context.Context) error {
	d.flushing.Lock()
	defer d.flushing.Unlock()
	d.mu.Lock()
	active, counts := d.active, d.counts
	d.active, d.counts = map[int][]int64{}, map[DayCounter]int64{}
	d.mu.Unlock()
	var firstErr error
	for day, ids := range active {
		if err := d.store.MarkActive(ctx, day, ids); err != nil {
			firstErr = err
			d.mu.Lock()
			d.active[day] = append(d.active[day], ids...)
			d.mu.Unlock()
		}
	}
	if len(counts) > 0 {
		if err := d.store.AddDailyCounts(ctx, d.node, counts); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			d.mu.Lock()
			for k, v := range counts {
				d.counts[k] += v
			}
			d.mu.Unlock()
		}
	}
	return firstErr
}

// run flushes every statsInterval until ctx ends, then once more.
func (d *dailyStats) run(ctx context.Context) {
	t := time.NewTicker(statsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := d.flush(fctx); err != nil {
				d.log.Warn("stats not written at shutdown", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := d.flush(ctx); err != nil && ctx.Err() == nil {
				d.log.WarnContext(ctx, "stats not written; kept for the next try", "err", err)
			}
		}
	}
}

// statsPushMetrics passes the push pipeline's counts on and counts the
// pushes sent for the stats.
type statsPushMetrics struct {
	PushMetrics
	stats *dailyStats
}

func (m statsPushMetrics) Sent(p Platform) {
	m.PushMetrics.Sent(p)
	m.stats.add(CounterPushes, 1)
}
