package sqlstore

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRowChunks checks that every batch size splits into chunks that
// cover it in order, and that on SQLite every chunk has its prepared
// statement (so a Commit parses no SQL), while MySQL keeps its chunks of
// commitChunk rows.
func TestRowChunks(t *testing.T) {
	lite := openStore(t, SQLite, filepath.Join(t.TempDir(), "k.db"))
	my := &Store{dialect: MySQL}
	for n := range 1200 {
		xs := make([]int, n)
		for i := range xs {
			xs[i] = i
		}
		for _, s := range []*Store{lite, my} {
			next, chunks := 0, 0
			for c := range rowChunks(s, xs) {
				chunks++
				for _, x := range c {
					if x != next {
						t.Fatalf("%s n=%d: chunk holds %d, want %d", s.dialect, n, x, next)
					}
					next++
				}
				if s.dialect == SQLite {
					for name := range hotStatements {
						if s.hot[hotKey{name, len(c)}] == nil {
							t.Fatalf("sqlite n=%d: no prepared %s for a chunk of %d", n, name, len(c))
						}
					}
				} else if len(c) > commitChunk {
					t.Fatalf("mysql n=%d: chunk of %d rows", n, len(c))
				}
			}
			if next != n {
				t.Fatalf("%s n=%d: chunks cover %d rows", s.dialect, n, next)
			}
			if s.dialect == MySQL && chunks != (n+commitChunk-1)/commitChunk {
				t.Fatalf("mysql n=%d: %d chunks", n, chunks)
			}
		}
	}
}

// TestMessageIndexesSQLite checks the layout 00019 leaves on SQLite: every
// message insert updates the table and one index, the idempotency key, and
// the lookups that used the dropped indexes still search that key instead
// of scanning.
func TestMessageIndexesSQLite(t *testing.T) {
	s := openStore(t, SQLite, filepath.Join(t.TempDir(), "k.db"))
	ctx := t.Context()
	rows, err := s.r.QueryContext(ctx, `SELECT name FROM pragma_index_list('messages') WHERE origin = 'c'`)
	var names []string
	for err == nil && rows.Next() {
		var n string
		err = rows.Scan(&n)
		names = append(names, n)
	}
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(names) != 1 || names[0] != "messages_dialog_sender_client" {
		t.Fatalf("messages indexes %v, want only messages_dialog_sender_client", names)
	}
	for what, q := range map[string]string{
		"dedupe lookup": `SELECT ` + messageCols + ` FROM messages WHERE (dialog_id, sender_id, client_id) IN (` + s.rowValues(2, "(?, ?, ?)") + `)`,
		"wrote in":      `SELECT 1 FROM messages x WHERE x.dialog_id = ? AND x.sender_id = ?`,
		"upload claim":  `SELECT attachments, deleted_at FROM messages WHERE sender_id = ? AND client_id = ? AND dialog_id = ?`,
	} {
		plan, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, 1, 2, "a", 3, 4, "b")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var steps []string
		for plan.Next() {
			var id, parent, unused int
			var detail string
			if err := plan.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, detail)
		}
		plan.Close()
		uses := false
		for _, d := range steps {
			if strings.Contains(d, "SCAN messages") || strings.Contains(d, "SCAN x") {
				t.Errorf("%s scans messages: %v", what, steps)
			}
			uses = uses || strings.Contains(d, "messages_dialog_sender_client")
		}
		if !uses {
			t.Errorf("%s does not use the key: %v", what, steps)
		}
	}
}

// TestCommitParallelism checks KOROBKA_COMMIT_LANES' effect: MySQL takes
// the lanes set, SQLite keeps its one writer.
func TestCommitParallelism(t *testing.T) {
	my, lite := &Store{dialect: MySQL}, &Store{dialect: SQLite}
	if n := my.CommitParallelism(); n != mysqlCommitters {
		t.Errorf("mysql default %d, want %d", n, mysqlCommitters)
	}
	my.SetCommitParallelism(3)
	lite.SetCommitParallelism(3)
	if n := my.CommitParallelism(); n != 3 {
		t.Errorf("mysql with 3 lanes set: %d", n)
	}
	if n := lite.CommitParallelism(); n != 1 {
		t.Errorf("sqlite with 3 lanes set: %d, want 1", n)
	}
}
