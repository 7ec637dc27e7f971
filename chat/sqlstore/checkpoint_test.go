package sqlstore

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// TestCheckpointsBesideWriter writes three times the writer's checkpoint
// threshold in pages of messages and checks that the background checkpointer copied WAL
// frames into the database on its own connection, that the WAL file
// stayed bounded (the writer's own checkpoint at its threshold still lets it
// start over), and that every message is there.
func TestCheckpointsBesideWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	s := openStore(t, SQLite, path)
	ctx := t.Context()
	now := time.Now()
	a, _, d := directPair(t, s, "+79994000001", "+79994000002", now)
	// The writer is one connection, so the pragma holds for its life: a
	// lower threshold than walRestartPages keeps the test small.
	const restart = 500
	if _, err := s.w.ExecContext(ctx, "PRAGMA wal_autocheckpoint = "+strconv.Itoa(restart)); err != nil {
		t.Fatal(err)
	}
	// 75 batches of 20 messages of 3.5 KB, each message on a page of its
	// own: the WAL would reach three times the threshold if it never
	// started over.
	text := strings.Repeat("ж", 1750)
	const batches, perBatch = 75, 20
	maxWAL := int64(0)
	for i := range batches {
		batch := &chat.Batch{Appends: make([]chat.Append, perBatch)}
		for j := range batch.Appends {
			batch.Appends[j] = chat.Append{Msg: chat.Message{DialogID: d.ID, SenderID: a.ID,
				ClientID: strconv.Itoa(i*perBatch + j), Text: text, CreatedAt: now}}
		}
		if err := s.Commit(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path + "-wal"); err == nil {
			maxWAL = max(maxWAL, fi.Size())
		}
	}
	// The checkpointer runs after writes, at most every checkpointSpacing.
	deadline := time.Now().Add(10 * time.Second)
	for s.ckpt.runs.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(checkpointSpacing)
	}
	if s.ckpt.runs.Load() == 0 {
		t.Fatal("no background checkpoint ran")
	}
	if s.ckpt.backfilled.Load() == 0 {
		t.Error("the background checkpoints copied no frames")
	}
	// A WAL frame is a page plus a 24-byte header. Allow a few batches
	// past the threshold.
	const frame = 4096 + 24
	t.Logf("WAL at most %d frames; %d background checkpoints", maxWAL/frame, s.ckpt.runs.Load())
	if limit := int64(restart+100) * frame; maxWAL > limit {
		t.Errorf("WAL grew to %d bytes (%d frames), want at most %d frames", maxWAL, maxWAL/frame, limit/frame)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE dialog_id = ?`, d.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != batches*perBatch {
		t.Errorf("%d messages stored, want %d", n, batches*perBatch)
	}
}

// directPair makes two users by phone number and the direct dialog
// between them.
func directPair(t *testing.T, s *Store, phoneA, phoneB string, now time.Time) (a, b chat.User, d chat.Dialog) {
	t.Helper()
	ctx := t.Context()
	a, _, err := s.UpsertUser(ctx, phoneA, now)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err = s.UpsertUser(ctx, phoneB, now)
	if err != nil {
		t.Fatal(err)
	}
	if d, _, err = s.DirectDialog(ctx, a.ID, b.ID, "", now); err != nil {
		t.Fatal(err)
	}
	return a, b, d
}
