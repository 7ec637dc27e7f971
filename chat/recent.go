package chat

import (
	"cmp"
	"container/list"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// The recent-changes cache: what Sync serves from memory when a device
// comes back after a short gap (a reconnect storm after a node restart,
// a phone that lost signal), instead of reading every dialog's tail from
// the database.
//
// The node keeps, per dialog it commits to, its latest messages in their
// latest state, filled by the writes that pass through this node's store
// (recentStore: Commit, EditMessage, DeleteMessage, SetMessagePreview).
// A dialog's entry promises two things: every seq from lo to lastSeq is
// held, and every message whose latest change is after c0 is held. Every
// change takes the dialog's next change number, so the entry applies a
// change only if it is the one after lastChange; a gap (a change made on
// another node, or by a write this cache does not see, or applied out of
// order) drops the entry, and the next insertion starts a new one. Sync
// uses an entry only when its lastSeq and lastChange equal the counters it
// read from the database for the request, so the cache answers exactly
// what the database would, or not at all.
const (
	// DefaultSyncCacheBytes bounds the cache node-wide (messages counted
	// by their text, attachments, entities and preview plus a fixed
	// overhead); whole dialogs are evicted least recently written first.
	DefaultSyncCacheBytes = 32 << 20
	// syncCachePerDialog is how many messages a dialog keeps: a gap of
	// up to this many messages is served from memory.
	syncCachePerDialog = 64
	// syncSlots bounds the sync reads a node runs at once (a slot is held
	// while a page is read, never while it is written to a slow client):
	// a reconnect storm queues its reads instead of running thousands
	// together, so the node keeps answering the sockets that stayed.
	syncSlots = 16
	// messageOverhead is what a cached message costs besides its bytes.
	messageOverhead = 256
)

type recentCache struct {
	mu       sync.Mutex
	dialogs  map[int64]*recentDialog
	order    *list.List // of *recentDialog, most recently written first
	bytes    int
	maxBytes int
}

type recentDialog struct {
	id                  int64
	lo, c0              int64
	lastSeq, lastChange int64
	msgs                map[int64]Message // by seq
	bytes               int
	elem                *list.Element
}

func newRecentCache(maxBytes int) *recentCache {
	if maxBytes <= 0 {
		return nil
	}
	return &recentCache{dialogs: map[int64]*recentDialog{}, order: list.New(), maxBytes: maxBytes}
}

func messageBytes(m Message) int {
	return messageOverhead + len(m.Text) + len(m.ClientID) + len(m.Attachments) + len(m.Entities) + len(m.Preview) + len(m.Digest)
}

// apply records m, the new latest state of a message, made by change
// m.Change; insert says it is a new message (seq lastSeq+1).
func (rc *recentCache) apply(m Message, insert bool) {
	if rc == nil {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	d := rc.dialogs[m.DialogID]
	if d != nil && m.Change <= d.lastChange {
		return // a change already applied (a delete of a deleted message)
	}
	if d != nil && (m.Change != d.lastChange+1 || insert && m.Seq != d.lastSeq+1) {
		rc.drop(d)
		d = nil
	}
	if d == nil {
		if !insert {
			return
		}
		d = &recentDialog{id: m.DialogID, lo: m.Seq, c0: m.Change - 1, lastSeq: m.Seq - 1, lastChange: m.Change - 1, msgs: map[int64]Message{}}
		d.elem = rc.order.PushFront(d)
		rc.dialogs[d.id] = d
	} else {
		rc.order.MoveToFront(d.elem)
	}
	if old, ok := d.msgs[m.Seq]; ok {
		d.bytes -= messageBytes(old)
		rc.bytes -= messageBytes(old)
	}
	d.msgs[m.Seq] = m
	n := messageBytes(m)
	d.bytes += n
	rc.bytes += n
	d.lastChange = m.Change
	if insert {
		d.lastSeq = m.Seq
	}
	for len(d.msgs) > syncCachePerDialog {
		rc.evictOldest(d)
	}
	for rc.bytes > rc.maxBytes && rc.order.Len() > 0 {
		rc.drop(rc.order.Back().Value.(*recentDialog))
	}
}

// evictOldest removes d's message with the lowest seq, narrowing what d
// promises.
func (rc *recentCache) evictOldest(d *recentDialog) {
	first := true
	var seq int64
	for s := range d.msgs {
		if first || s < seq {
			first, seq = false, s
		}
	}
	m := d.msgs[seq]
	delete(d.msgs, seq)
	n := messageBytes(m)
	d.bytes -= n
	rc.bytes -= n
	d.lo = max(d.lo, seq+1)
	d.c0 = max(d.c0, m.Change)
}

func (rc *recentCache) drop(d *recentDialog) {
	rc.order.Remove(d.elem)
	delete(rc.dialogs, d.id)
	rc.bytes -= d.bytes
}

// read answers w from memory when the dialog's entry stands exactly at
// the counters lastSeq and lastChange and covers w: what
// MessageStore.Resume answers for w. ok false: read the database.
func (rc *recentCache) read(w ResumeWindow, lastSeq, lastChange int64) (msgs []Message, ok bool) {
	if rc == nil {
		return nil, false
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	d := rc.dialogs[w.DialogID]
	if d == nil || d.lastSeq != lastSeq || d.lastChange != lastChange {
		return nil, false
	}
	msgs = []Message{}
	if w.ByChange {
		if w.At < d.c0 {
			return nil, false
		}
		for _, m := range d.msgs {
			if m.Change > w.At {
				msgs = append(msgs, m)
			}
		}
		slices.SortFunc(msgs, func(a, b Message) int { return cmp.Compare(a.Change, b.Change) })
	} else {
		if w.At+1 < d.lo && w.At < d.lastSeq {
			return nil, false
		}
		for seq := w.At + 1; seq <= d.lastSeq && len(msgs) < w.Limit; seq++ {
			msgs = append(msgs, d.msgs[seq])
		}
	}
	if len(msgs) > w.Limit {
		msgs = msgs[:w.Limit]
	}
	return msgs, true
}

// SyncCacheStats counts the sync windows (one dialog of one sync page)
// served from this node's recent-changes cache and those read from the
// database (all of them when the cache is off), since the start.
func (s *Service) SyncCacheStats() (hits, misses int64) {
	return s.syncCached.Load(), s.syncRead.Load()
}

// recentStore is the Store with the writes that make changes feeding the
// recent-changes cache after they commit.
type recentStore struct {
	Store
	rc *recentCache
}

func (s *recentStore) Commit(ctx context.Context, b *Batch) error {
	if err := s.Store.Commit(ctx, b); err != nil {
		return err
	}
	for _, a := range b.Appends {
		if !a.Dup {
			s.rc.apply(a.Msg, true)
		}
	}
	return nil
}

func (s *recentStore) EditMessage(ctx context.Context, dialogID, seq, senderID int64, text string, now time.Time) (Message, error) {
	m, err := s.Store.EditMessage(ctx, dialogID, seq, senderID, text, now)
	if err == nil {
		s.rc.apply(m, false)
	}
	return m, err
}

func (s *recentStore) DeleteMessage(ctx context.Context, dialogID, seq, senderID int64, now time.Time) (Message, error) {
	m, err := s.Store.DeleteMessage(ctx, dialogID, seq, senderID, now)
	if err == nil {
		// The row keeps neither attachments nor preview (the returned
		// message carries them for the caller to clean up).
		row := m
		row.Attachments, row.Preview, row.Digest = nil, nil, nil
		s.rc.apply(row, false)
	}
	return m, err
}

func (s *recentStore) SetMessagePreview(ctx context.Context, dialogID, seq int64, preview json.RawMessage, image *Upload) (Message, error) {
	m, err := s.Store.SetMessagePreview(ctx, dialogID, seq, preview, image)
	if err == nil {
		s.rc.apply(m, false)
	}
	return m, err
}

// CommitParallelism passes the store's (ParallelCommitter) on.
func (s *recentStore) CommitParallelism() int {
	if p, ok := s.Store.(ParallelCommitter); ok {
		return p.CommitParallelism()
	}
	return 1
}

// syncSlot waits for one of the node's sync read slots; release it with
// the returned func.
func (s *Service) syncSlot(ctx context.Context) (func(), error) {
	select {
	case s.syncSlots <- struct{}{}:
		return func() { <-s.syncSlots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
