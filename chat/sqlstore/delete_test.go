package sqlstore

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// TestDeletedTextLeavesNoTrace: a deleted message's text is removed from
// storage, not only hidden. On SQLite the row is rewritten without it and
// secure_delete zeroes the freed bytes, so once the WAL is checkpointed the
// database file holds no copy (docs/operations.md, "Deleted messages").
func TestDeletedTextLeavesNoTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "korobka.db")
	s := openStore(t, SQLite, path)
	ctx := t.Context()
	now := time.Now()
	x, y, d := directPair(t, s, "+79990000001", "+79990000002", now)
	const short, long = "the-short-secret-4f1c", "the-long-secret-9a7e"
	longText := strings.Repeat(long+" ", 300) // spills to overflow pages
	b := &chat.Batch{Appends: []chat.Append{
		{Msg: chat.Message{DialogID: d.ID, SenderID: x.ID, ClientID: "a", Text: short, CreatedAt: now}},
		{Msg: chat.Message{DialogID: d.ID, SenderID: x.ID, ClientID: "b", Text: longText,
			Attachments: json.RawMessage(`[{"id":"1","name":"` + short + `.pdf"}]`), CreatedAt: now}},
		{Msg: chat.Message{DialogID: d.ID, SenderID: y.ID, ClientID: "c", Text: "stays", CreatedAt: now}},
	}}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	checkpointAll(t, s)
	if !fileHas(t, path, short) || !fileHas(t, path, long) {
		t.Fatal("the texts are not in the database file before the delete; the test proves nothing")
	}
	for _, seq := range []int64{1, 2} {
		if _, err := s.DeleteMessage(ctx, d.ID, seq, x.ID, now); err != nil {
			t.Fatal(err)
		}
	}
	checkpointAll(t, s)
	for _, secret := range []string{short, long} {
		if fileHas(t, path, secret) {
			t.Errorf("%q is still in the database file after the delete", secret)
		}
	}
	if !fileHas(t, path, "stays") {
		t.Error("a message that was not deleted is gone from the file")
	}
}

func fileHas(t *testing.T, path, s string) bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(data, []byte(s))
}

// checkpointAll copies the whole WAL into the database file on the
// writer. The background checkpointer may hold the checkpoint lock at that
// moment (busy, the first column of the result), so it tries again until
// a checkpoint has run in full.
func checkpointAll(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var busy, log, copied int64
		if err := s.w.QueryRowContext(t.Context(), `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &log, &copied); err != nil {
			t.Fatal(err)
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the WAL checkpoint stayed busy for 10 s")
		}
		time.Sleep(checkpointSpacing)
	}
}
