package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// WAL checkpoints off the writer (SQLite only).
//
// In WAL mode a commit appends pages to the -wal file; a checkpoint copies
// them back into the database file and fsyncs it. SQLite's default runs a
// checkpoint inside the commit that takes the WAL past 1,000 pages, on the
// writer's own connection: under load that was a fifth of the single
// writer's CPU, and every few batches one commit (and every send queued
// behind it) stalled for the whole copy (docs/benchmarks.md, "WAL
// checkpoints beside the writer").
//
// So a checkpointer goroutine with a connection of its own runs PASSIVE
// checkpoints (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html) as soon
// as writes happen, at most one per checkpointSpacing. PASSIVE takes no lock
// the writer needs: the writer keeps appending while pages are copied, and
// the copy and the database fsync run on another core.
//
// The writer keeps its automatic checkpoint, at walRestartPages instead of
// 1,000: the WAL file is rewound to its start only by a writer that finds
// every frame already copied, which a checkpointer running beside a busy
// writer rarely leaves it. When the WAL reaches walRestartPages, the
// writer's own checkpoint finds nearly everything copied by the
// checkpointer, copies the few pages left, and the next transaction
// starts the WAL over; so the file stays bounded (about walRestartPages
// pages) and the writer's share of the work stays small. If the
// checkpointer cannot keep up, the writer's checkpoint does the rest, as
// before.
const (
	// checkpointSpacing is the least time between two background
	// checkpoints: each fsyncs the WAL and the database file, so they
	// are spaced rather than run after every commit.
	checkpointSpacing = 20 * time.Millisecond
	// walRestartPages is the writer's wal_autocheckpoint, in pages (4 KiB
	// each by default: 16 MiB of WAL).
	walRestartPages = 4000
)

// checkpointer runs PASSIVE checkpoints on its own connection whenever
// wrote has been called since its last one.
type checkpointer struct {
	db   *sql.DB
	kick chan struct{} // cap 1: a write happened since the last checkpoint
	stop chan struct{}
	done sync.WaitGroup
	log  *slog.Logger
	// runs counts the checkpoints that succeeded; backfilled is the last
	// one's count of WAL frames copied into the database file (since the
	// WAL last started over).
	runs, backfilled atomic.Int64
}

// openCheckpointer opens path with a connection of its own (not query_only:
// a checkpoint writes the database file) and starts the goroutine.
func openCheckpointer(path string, log *slog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{db: db, log: log, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	c.done.Go(c.run)
	return c, nil
}

// wrote tells the checkpointer that a write committed. It never blocks.
func (c *checkpointer) wrote() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	last := time.Time{}
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		if wait := checkpointSpacing - time.Since(last); wait > 0 {
			select {
			case <-c.stop:
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		c.checkpoint()
	}
}

// checkpoint runs one PASSIVE checkpoint. Its result row is (busy, frames
// in the WAL, frames copied); PASSIVE never waits, so busy is 0, and
// copied may trail the WAL when readers still need older frames (the next
// run continues).
func (c *checkpointer) checkpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var busy, log, copied int64
	err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &copied)
	if err != nil {
		// The writer's own checkpoint at walRestartPages still bounds the
		// WAL; the next kick tries again.
		c.log.Warn("sqlstore: background WAL checkpoint failed", "err", err)
		return
	}
	c.runs.Add(1)
	c.backfilled.Store(copied)
}

// close stops the goroutine and closes the connection.
func (c *checkpointer) close() error {
	close(c.stop)
	c.done.Wait()
	return c.db.Close()
}
