package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"

	"github.com/korobka/korobka/chat"
)

// Resume answers several dialogs' windows in one read snapshot and a fixed
// number of queries whatever their number: one for the windows by seq
// (a UNION ALL of one ordered, limited read per window, each along the
// primary key as MessagesAfter reads), three for the windows by change (as
// Changes, each of its three reads made once for every window). Answers
// are per window, in the order of windows; each is what MessagesAfter or
// Changes answers for the window alone. The windows name distinct dialogs.
func (s *Store) Resume(ctx context.Context, windows []chat.ResumeWindow) ([][]chat.Message, error) {
	out := make([][]chat.Message, len(windows))
	var bySeq, byChange []int
	for i, w := range windows {
		switch {
		case w.Limit <= 0:
			out[i] = []chat.Message{}
		case w.ByChange:
			byChange = append(byChange, i)
		default:
			bySeq = append(bySeq, i)
		}
	}
	if len(bySeq)+len(byChange) == 0 {
		return out, nil
	}
	err := func() error {
		tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for chunk := range slices.Chunk(bySeq, resumeChunk) {
			if err := s.resumeBySeq(ctx, tx, windows, chunk, out); err != nil {
				return err
			}
		}
		for chunk := range slices.Chunk(byChange, resumeChunk) {
			if err := s.resumeByChange(ctx, tx, windows, chunk, out); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		return nil, s.fail("resume", err)
	}
	return out, nil
}

// resumeChunk bounds the windows of one statement (each takes three
// placeholders); a sync's page names at most chat.SyncPage of them.
const resumeChunk = 200

// unionOf joins n copies of one limited subquery with UNION ALL; each is
// wrapped so that its ORDER BY and LIMIT apply to it alone (SQLite and
// MySQL both accept a derived table there).
func unionOf(n int, sub string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT * FROM (" + sub + ") AS w")
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

// byDialog splits rows read for several dialogs by dialog, each sorted by
// key (the UNION's order is not its parts' order).
func byDialog(msgs []chat.Message, key func(chat.Message) int64) map[int64][]chat.Message {
	m := map[int64][]chat.Message{}
	for _, msg := range msgs {
		m[msg.DialogID] = append(m[msg.DialogID], msg)
	}
	for _, list := range m {
		slices.SortFunc(list, func(a, b chat.Message) int { return cmpInt64(key(a), key(b)) })
	}
	return m
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Store) resumeBySeq(ctx context.Context, tx *sql.Tx, windows []chat.ResumeWindow, idx []int, out [][]chat.Message) error {
	q := s.sql.get("resumeBySeq", len(idx), func(n int) string {
		return unionOf(n, `SELECT `+messageCols+` FROM messages WHERE dialog_id = ? AND seq > ? ORDER BY seq LIMIT ?`)
	})
	args := make([]any, 0, 3*len(idx))
	for _, i := range idx {
		args = append(args, windows[i].DialogID, windows[i].At, windows[i].Limit)
	}
	msgs, err := collectMessages(tx.QueryContext(ctx, q, args...))
	if err != nil {
		return err
	}
	got := byDialog(msgs, func(m chat.Message) int64 { return m.Seq })
	for _, i := range idx {
		out[i] = nonNil(got[windows[i].DialogID])
	}
	return nil
}

// resumeByChange is Changes for several windows: the newest dialog_changes
// row at or before each window's cursor (where its insertions start), then
// the insertions and the recorded changes after it, merged by change.
func (s *Store) resumeByChange(ctx context.Context, tx *sql.Tx, windows []chat.ResumeWindow, idx []int, out [][]chat.Message) error {
	q := s.sql.get("resumeFloors", len(idx), func(n int) string {
		return unionOf(n, `SELECT dialog_id, change_seq, last_seq FROM dialog_changes
			WHERE dialog_id = ? AND change_seq <= ? ORDER BY change_seq DESC LIMIT 1`)
	})
	args := make([]any, 0, 3*len(idx))
	for _, i := range idx {
		args = append(args, windows[i].DialogID, windows[i].At)
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	from := map[int64]int64{}
	for rows.Next() {
		var d, c, last int64
		if err := rows.Scan(&d, &c, &last); err != nil {
			rows.Close()
			return err
		}
		from[d] = last - c // plus the window's cursor, below
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	ins := s.sql.get("resumeInserted", len(idx), func(n int) string {
		return unionOf(n, `SELECT `+prefixed("m", messageCols)+` FROM messages m
			LEFT JOIN dialog_changes dc ON dc.dialog_id = m.dialog_id AND dc.change_seq = m.change_seq
			WHERE m.dialog_id = ? AND m.seq > ? AND dc.dialog_id IS NULL ORDER BY m.seq LIMIT ?`)
	})
	args = args[:0]
	for _, i := range idx {
		w := windows[i]
		args = append(args, w.DialogID, w.At+from[w.DialogID], w.Limit)
	}
	inserted, err := collectMessages(tx.QueryContext(ctx, ins, args...))
	if err != nil {
		return err
	}
	chg := s.sql.get("resumeChanged", len(idx), func(n int) string {
		return unionOf(n, `SELECT `+prefixed("m", messageCols)+` FROM dialog_changes dc
			JOIN messages m ON m.dialog_id = dc.dialog_id AND m.seq = dc.seq AND m.change_seq = dc.change_seq
			WHERE dc.dialog_id = ? AND dc.change_seq > ? ORDER BY dc.change_seq LIMIT ?`)
	})
	args = args[:0]
	for _, i := range idx {
		w := windows[i]
		args = append(args, w.DialogID, w.At, w.Limit)
	}
	changed, err := collectMessages(tx.QueryContext(ctx, chg, args...))
	if err != nil {
		return err
	}
	byChange := func(m chat.Message) int64 { return m.Change }
	a, b := byDialog(inserted, byChange), byDialog(changed, byChange)
	for _, i := range idx {
		w := windows[i]
		out[i] = mergeByChange(a[w.DialogID], b[w.DialogID], w.Limit)
	}
	return nil
}

func nonNil(m []chat.Message) []chat.Message {
	if m == nil {
		return []chat.Message{}
	}
	return m
}
