package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/korobka/korobka/chat"
)

// maxClientID is the longest client_id the schema keeps (VARCHAR(64)).
const maxClientID = 64

// Rows per statement in Commit. A message takes 12 placeholders, a dialog
// update 8, a member upsert 6: 500 rows stay far below SQLite's 32,766 and
// MySQL's 65,535 placeholders while a batch of hundreds is one statement.
const commitChunk = 500

// dupRetries is how many times Commit runs a batch whose insert lost a
// race on (dialog_id, sender_id, client_id) to a concurrent transaction.
// The rerun finds the winner's row and reports it as a duplicate, so one
// rerun is normally enough.
const dupRetries = 5

// uncountedWhere is the condition under which a message does not count as
// unread (chat.CountsAsUnread): members.uncounted counts the messages
// after read_seq that meet it. System messages will join it with groups.
const uncountedWhere = `(deleted_at IS NOT NULL OR system_event IS NOT NULL)`

const messageCols = `dialog_id, seq, change_seq, sender_id, client_id, text, attachments, client_digest, created_at, edited_at, deleted_at, system_event, reply_to, entities, preview`

func scanMessage(row interface{ Scan(...any) error }) (chat.Message, error) {
	var m chat.Message
	var att, digest, sys, ents, preview []byte
	var reply sql.NullInt64
	err := row.Scan(&m.DialogID, &m.Seq, &m.Change, &m.SenderID, &m.ClientID, &m.Text, &att, &digest,
		timeCol{&m.CreatedAt}, timeCol{&m.EditedAt}, timeCol{&m.DeletedAt}, &sys, &reply, &ents, &preview)
	if err != nil {
		return m, err
	}
	m.Attachments = attachments(att)
	m.Preview = attachments(preview)
	if len(digest) > 0 {
		m.Digest = digest
	}
	return m, extras(&m, sys, reply, ents)
}

// extras fills the group columns of a scanned message: its system event,
// the seq it replies to and its entities.
func extras(m *chat.Message, sys []byte, reply sql.NullInt64, ents []byte) error {
	if len(sys) > 0 {
		m.System = new(chat.SystemEvent)
		if err := json.Unmarshal(sys, m.System); err != nil {
			return fmt.Errorf("sqlstore: system event of %d.%d: %w", m.DialogID, m.Seq, err)
		}
	}
	m.ReplyTo = reply.Int64
	m.Entities = attachments(ents)
	return nil
}

// systemJSON is a system event value to store: NULL for none.
func systemJSON(e *chat.SystemEvent) (any, error) {
	if e == nil {
		return nil, nil
	}
	b, err := json.Marshal(e)
	return string(b), err
}

// nullInt is an optional number to store: NULL for 0.
func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// nullBytes is a BLOB value to store: NULL for none.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func collectMessages(rows *sql.Rows, err error) ([]chat.Message, error) {
	return collect(rows, err, scanMessage)
}

// nullJSON is an attachments value to store: NULL for none, a string
// otherwise (SQLite's STRICT TEXT column refuses a BLOB).
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// ---- reads ----

// Messages reads backwards from before along the primary key and returns
// the page in ascending order.
func (s *Store) Messages(ctx context.Context, dialogID, before int64, limit int) ([]chat.Message, error) {
	if limit <= 0 {
		return []chat.Message{}, nil
	}
	q := `SELECT ` + messageCols + ` FROM messages WHERE dialog_id = ?`
	args := []any{dialogID}
	if before > 0 {
		q += ` AND seq < ?`
		args = append(args, before)
	}
	args = append(args, limit)
	msgs, err := collectMessages(s.r.QueryContext(ctx, q+` ORDER BY seq DESC LIMIT ?`, args...))
	if err != nil {
		return nil, s.fail("messages", err)
	}
	slices.Reverse(msgs)
	return msgs, nil
}

// MessagesAfter reads forwards from after along the primary key.
func (s *Store) MessagesAfter(ctx context.Context, dialogID, after int64, limit int) ([]chat.Message, error) {
	if limit <= 0 {
		return []chat.Message{}, nil
	}
	msgs, err := collectMessages(s.r.QueryContext(ctx,
		`SELECT `+messageCols+` FROM messages WHERE dialog_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		dialogID, after, limit))
	if err != nil {
		return nil, s.fail("messages after", err)
	}
	return msgs, nil
}

// Changes finds the messages whose latest change is after since without an
// index on change_seq, which every insert would pay for. A message's
// latest change is either its insertion or a row of dialog_changes (an
// edit or a delete; those are rare). Between two dialog_changes rows every
// change is an insertion adding one seq, so the newest row at or before
// since (its change_seq c and the dialog's last_seq L then) says the
// messages inserted up to since are seqs 1..L+(since-c) (1..since with no
// row). The answer merges, by change, the messages inserted after that seq
// whose latest change is their insertion (along the primary key) and the
// messages whose latest change is a dialog_changes row after since (along
// its primary key); each is already in change order. It reads in one
// snapshot, so a change committed between the reads cannot fall between
// the two.
func (s *Store) Changes(ctx context.Context, dialogID, since int64, limit int) ([]chat.Message, error) {
	if limit <= 0 {
		return []chat.Message{}, nil
	}
	var out []chat.Message
	err := func() error {
		tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		defer tx.Rollback()
		from := since
		var c, last int64
		err = tx.QueryRowContext(ctx, `SELECT change_seq, last_seq FROM dialog_changes
			WHERE dialog_id = ? AND change_seq <= ? ORDER BY change_seq DESC LIMIT 1`, dialogID, since).Scan(&c, &last)
		switch {
		case err == nil:
			from = last + since - c
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		inserted, err := collectMessages(tx.QueryContext(ctx, `SELECT `+prefixed("m", messageCols)+` FROM messages m
			LEFT JOIN dialog_changes dc ON dc.dialog_id = m.dialog_id AND dc.change_seq = m.change_seq
			WHERE m.dialog_id = ? AND m.seq > ? AND dc.dialog_id IS NULL ORDER BY m.seq LIMIT ?`, dialogID, from, limit))
		if err != nil {
			return err
		}
		changed, err := collectMessages(tx.QueryContext(ctx, `SELECT `+prefixed("m", messageCols)+` FROM dialog_changes dc
			JOIN messages m ON m.dialog_id = dc.dialog_id AND m.seq = dc.seq AND m.change_seq = dc.change_seq
			WHERE dc.dialog_id = ? AND dc.change_seq > ? ORDER BY dc.change_seq LIMIT ?`, dialogID, since, limit))
		if err != nil {
			return err
		}
		out = mergeByChange(inserted, changed, limit)
		return nil
	}()
	if err != nil {
		return nil, s.fail("changes", err)
	}
	return out, nil
}

// mergeByChange merges two lists sorted by Change, keeping the first limit.
func mergeByChange(a, b []chat.Message, limit int) []chat.Message {
	out := make([]chat.Message, 0, min(limit, len(a)+len(b)))
	for len(out) < limit && (len(a) > 0 || len(b) > 0) {
		if len(b) == 0 || len(a) > 0 && a[0].Change < b[0].Change {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// ---- edits ----

// EditMessage changes the text of a live message of senderID's. Another
// sender's message is reported as not found, like a missing one, so that
// the answer does not tell the two apart.
func (s *Store) EditMessage(ctx context.Context, dialogID, seq, senderID int64, text string, now time.Time) (chat.Message, error) {
	var m chat.Message
	err := s.write(ctx, "edit message", func(tx *sql.Tx) error {
		change, lastSeq, err := s.nextChange(ctx, tx, dialogID)
		if err != nil {
			return err
		}
		if m, err = s.ownMessage(ctx, tx, dialogID, seq, senderID); err != nil {
			return err
		}
		if !m.DeletedAt.IsZero() {
			return chat.ErrNotFound
		}
		m.Text, m.EditedAt, m.Change = text, now.UTC().Truncate(time.Microsecond), change
		if _, err = tx.ExecContext(ctx, `UPDATE messages SET text = ?, edited_at = ?, change_seq = ? WHERE dialog_id = ? AND seq = ?`,
			text, s.ts(now), change, dialogID, seq); err != nil {
			return err
		}
		return s.addChange(ctx, tx, dialogID, change, seq, lastSeq)
	})
	return m, err
}

// DeleteMessage empties a message of senderID's and stamps deleted_at; the
// row and its seq stay, so histories keep no holes. The text, the
// attachments and the payload digest go (the row is the message's only
// record: the change order points at it and copies nothing), its link
// preview with them (the returned message carries it), and every
// member who had not read the message counts it no more. The uploads the
// message claimed move to deleted in the same transaction, and the
// returned message carries the attachments removed from the row, so the
// caller removes their files after the commit. A message deleted before is
// returned as it is.
func (s *Store) DeleteMessage(ctx context.Context, dialogID, seq, senderID int64, now time.Time) (chat.Message, error) {
	var m chat.Message
	err := s.write(ctx, "delete message", func(tx *sql.Tx) error {
		change, lastSeq, err := s.nextChange(ctx, tx, dialogID)
		if err != nil {
			return err
		}
		if m, err = s.ownMessage(ctx, tx, dialogID, seq, senderID); err != nil || !m.DeletedAt.IsZero() {
			return err
		}
		counted := chat.CountsAsUnread(m)
		m.Text, m.Digest, m.DeletedAt, m.Change = "", nil, now.UTC().Truncate(time.Microsecond), change
		if _, err = tx.ExecContext(ctx,
			`UPDATE messages SET text = '', attachments = NULL, client_digest = NULL, preview = NULL, deleted_at = ?, change_seq = ?
			 WHERE dialog_id = ? AND seq = ?`,
			s.ts(now), change, dialogID, seq); err != nil {
			return err
		}
		if err := s.releaseUploads(ctx, tx, m); err != nil {
			return err
		}
		if counted {
			// The sender's read_seq is at or past their own message, so
			// this is everyone else who had it among their unread.
			if _, err = tx.ExecContext(ctx,
				`UPDATE members SET uncounted = uncounted + 1 WHERE dialog_id = ? AND read_seq < ?`, dialogID, seq); err != nil {
				return err
			}
		}
		return s.addChange(ctx, tx, dialogID, change, seq, lastSeq)
	})
	return m, err
}

// nextChange locks a dialog's row and returns its next change number and
// its last seq. The lock orders edits and deletes with Commit, which locks
// the dialogs it writes first too: change numbers follow commit order, and
// a read's recount of uncounted messages never races a delete.
func (s *Store) nextChange(ctx context.Context, tx *sql.Tx, dialogID int64) (change, lastSeq int64, err error) {
	err = tx.QueryRowContext(ctx, `SELECT last_change, last_seq FROM dialogs WHERE id = ?`+s.forUpdate(), dialogID).Scan(&change, &lastSeq)
	return change + 1, lastSeq, err
}

// addChange records a change that is not an insertion (see Changes) and
// makes it the dialog's newest, moving its version.
func (s *Store) addChange(ctx context.Context, tx *sql.Tx, dialogID, change, seq, lastSeq int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO dialog_changes (dialog_id, change_seq, seq, last_seq) VALUES (?, ?, ?, ?)`,
		dialogID, change, seq, lastSeq); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE dialogs SET last_change = ?, version = version + 1 WHERE id = ?`, change, dialogID)
	return err
}

// ownMessage reads a message under a row lock, or chat.ErrNotFound when it
// is missing, a system message, or someone else's (senderID 0: anyone's,
// for a group admin whose right the Service checked).
func (s *Store) ownMessage(ctx context.Context, tx *sql.Tx, dialogID, seq, senderID int64) (chat.Message, error) {
	m, err := scanMessage(tx.QueryRowContext(ctx,
		`SELECT `+messageCols+` FROM messages WHERE dialog_id = ? AND seq = ?`+s.forUpdate(), dialogID, seq))
	if err != nil {
		return chat.Message{}, err
	}
	// A system message is nobody's to change.
	if senderID != 0 && m.SenderID != senderID || m.System != nil {
		return chat.Message{}, chat.ErrNotFound
	}
	return m, nil
}

// ---- commit ----

// CommitParallelism is how many Commits the chat service runs at once:
// one on SQLite, which has one writer; several on MySQL, where batches on
// different dialogs proceed in parallel and InnoDB groups their fsyncs.
func (s *Store) CommitParallelism() int {
	if s.dialect != MySQL {
		return 1
	}
	if s.lanes > 0 {
		return s.lanes
	}
	return mysqlCommitters
}

// SetCommitParallelism sets the MySQL commit parallelism (n >= 1) for a
// database server larger or smaller than the one mysqlCommitters was
// measured on. Call it before the store is handed to chat.NewService; it
// has no effect on SQLite.
func (s *Store) SetCommitParallelism(n int) {
	s.lanes = max(n, 1)
}

// mysqlCommitters is the default MySQL commit parallelism, measured with
// the load generator on a 2-core machine running MariaDB beside the
// server (docs/benchmarks.md, "Write path", "Commit lanes on a quiet
// machine"; KOROBKA_COMMIT_LANES changes it): with MariaDB on the same
// cores, 2 lanes delivered 6,084 msg/s in the closed loop against 4,210
// with 8, and kept up with 5,000 msg/s (p99 355 ms) where 8 fell behind
// (p50 1.2 s): fewer, larger transactions pay fewer log flushes.
const mysqlCommitters = 2

// clientKey is a send's idempotency key.
type clientKey struct {
	sender, dialog int64
	client         string
}

type memberKey struct{ dialog, user int64 }

// dialogState is a locked dialog as Commit changes it. seqBefore is its
// last_seq before the batch: every message after it is new in the batch.
type dialogState struct {
	kind          string
	createdBy     int64
	lastSeq       int64
	seqBefore     int64
	lastChange    int64
	createdAt     time.Time
	lastMessageAt time.Time
	appended      bool
}

// watermarks are a member's delivered and read seqs.
type watermarks struct{ delivered, read int64 }

// committed is what one run of a batch produced; Commit copies it into the
// batch only once the transaction has committed.
type committed struct {
	msgs     []chat.Message
	dup      []bool
	receipts []chat.Member
	changed  []bool
	senders  [][]int64
	all      []bool
}

// Commit writes a batch in one transaction of a handful of statements,
// however many appends and receipts it carries:
//
//  1. lock every dialog the batch touches, in id order (so that two nodes'
//     batches cannot deadlock on them), reading their last_seq and
//     last_change;
//  2. on a rerun after a duplicate key, look up the batch's (sender_id,
//     dialog_id, client_id) keys that already exist (the first run skips
//     this);
//  3. insert the new messages with their seqs and change numbers, many
//     rows per statement;
//  4. write each appended dialog's last_seq, last_change and times in one
//     statement;
//  5. lock the member rows of the senders and of the receipts, compute the
//     new watermarks in Go and upsert the ones that moved in one statement.
//
// Unread counts cost nothing here: a member's unread is last_seq - read_seq
// - uncounted, and new messages only move last_seq. A read watermark that
// moves past deleted messages takes them off uncounted; that needs a count
// only when the member has some (uncounted > 0) and the read stops short of
// the messages before the batch, and the count walks the shorter of the
// read range and the rest.
//
// A key that already exists (a client's retry, or on MySQL a concurrent
// batch's insert) fails the insert on the unique key; the batch is then run
// again with the lookup, finding that row as a duplicate.
//
// A batch with an append to a missing dialog, or an empty or overlong
// ClientID, fails as a whole (chat.ErrNotFound, invalid_client_id): the
// caller checks these before batching. A receipt for a missing dialog or
// member is no error; it reports a zero Result and Changed false.
func (s *Store) Commit(ctx context.Context, b *chat.Batch) error {
	if len(b.Appends) == 0 && len(b.Receipts) == 0 {
		return nil
	}
	for i := range b.Appends {
		if id := b.Appends[i].Msg.ClientID; id == "" || len(id) > maxClientID {
			return s.fail("commit", chat.Errorf(chat.KindInvalid, "invalid_client_id",
				"A client_id is 1 to %d bytes.", maxClientID))
		}
	}
	var res committed
	var err error
	// Retries are rare, so the first run inserts without looking the keys
	// up; a duplicate key fails the insert, and the rerun looks them up.
	lookup := false
	for attempt := 1; ; attempt++ {
		err = s.write(ctx, "commit", func(tx *sql.Tx) error {
			var err error
			res, err = s.commit(ctx, tx, b, lookup)
			return err
		})
		if err == nil || attempt == dupRetries || !errors.Is(err, chat.ErrConflict) {
			break
		}
		lookup = true
		s.logger.DebugContext(ctx, "sqlstore: commit met a repeated client_id, rerunning with lookups", "attempt", attempt)
	}
	if err != nil {
		return err
	}
	for i := range b.Appends {
		b.Appends[i].Msg, b.Appends[i].Dup = res.msgs[i], res.dup[i]
	}
	for i := range b.Receipts {
		b.Receipts[i].Result, b.Receipts[i].Changed = res.receipts[i], res.changed[i]
		b.Receipts[i].Senders, b.Receipts[i].AllSenders = res.senders[i], res.all[i]
	}
	return nil
}

// sendersBetween reads the distinct senders of a dialog's messages with
// lo < seq <= hi along the primary key (at most chat.MaxSenderScan rows).
func (s *Store) sendersBetween(ctx context.Context, tx *sql.Tx, dialogID, lo, hi int64) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT sender_id FROM messages WHERE dialog_id = ? AND seq > ? AND seq <= ? ORDER BY sender_id`,
		dialogID, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (s *Store) commit(ctx context.Context, tx *sql.Tx, b *chat.Batch, lookup bool) (committed, error) {
	n := len(b.Appends)
	res := committed{
		msgs:     make([]chat.Message, n),
		dup:      make([]bool, n),
		receipts: make([]chat.Member, len(b.Receipts)),
		changed:  make([]bool, len(b.Receipts)),
		senders:  make([][]int64, len(b.Receipts)),
		all:      make([]bool, len(b.Receipts)),
	}
	now := s.now()

	// Normalise the new messages and find the repeats within the batch:
	// dupOf[i] is the index of the first append with i's key, or -1.
	dupOf := make([]int, n)
	first := make(map[clientKey]int, n)
	keys := make([]clientKey, 0, n)
	dialogIDs := make([]int64, 0, n+len(b.Receipts))
	for i := range b.Appends {
		m := b.Appends[i].Msg
		if m.CreatedAt.IsZero() {
			m.CreatedAt = now
		}
		m.CreatedAt = m.CreatedAt.UTC().Truncate(time.Microsecond)
		m.Seq, m.Change, m.EditedAt, m.DeletedAt = 0, 0, time.Time{}, time.Time{}
		m.Attachments = attachments(m.Attachments)
		res.msgs[i] = m
		k := clientKey{m.SenderID, m.DialogID, m.ClientID}
		if j, ok := first[k]; ok {
			dupOf[i] = j
			continue
		}
		dupOf[i] = -1
		first[k] = i
		keys = append(keys, k)
		dialogIDs = append(dialogIDs, m.DialogID)
	}
	for _, r := range b.Receipts {
		dialogIDs = append(dialogIDs, r.DialogID)
	}
	slices.Sort(dialogIDs)
	dialogIDs = slices.Compact(dialogIDs)

	// On MySQL the dialogs and the member rows the batch may move are
	// locked by one statement (one round trip fewer): the senders' rows
	// and the receipts'. A sender whose message turns out to be a
	// duplicate has its row locked for nothing, which is harmless.
	candidates := make([]memberKey, 0, len(keys)+len(b.Receipts))
	for _, k := range keys {
		candidates = append(candidates, memberKey{k.dialog, k.sender})
	}
	for _, r := range b.Receipts {
		candidates = append(candidates, memberKey{r.DialogID, r.UserID})
	}
	sortMemberKeys(candidates)
	candidates = slices.Compact(candidates)
	dialogs, locked, err := s.lockDialogsAndMembers(ctx, tx, dialogIDs, candidates)
	if err != nil {
		return res, err
	}
	if dialogs == nil {
		if dialogs, err = s.lockDialogs(ctx, tx, dialogIDs); err != nil {
			return res, err
		}
	}
	existing := map[clientKey]chat.Message{}
	if lookup {
		if existing, err = s.existingMessages(ctx, tx, keys); err != nil {
			return res, err
		}
	}

	// Assign seqs in batch order and note each sender's newest message.
	marks := make(map[memberKey]watermarks, n+len(b.Receipts))
	fresh := make([]int, 0, n)
	for i := range res.msgs {
		if dupOf[i] >= 0 {
			continue
		}
		m := &res.msgs[i]
		if old, ok := existing[clientKey{m.SenderID, m.DialogID, m.ClientID}]; ok {
			*m, res.dup[i] = old, true
			continue
		}
		d := dialogs[m.DialogID]
		if d == nil {
			return res, wrapChat(chat.ErrNotFound, errNoDialog)
		}
		d.lastSeq++
		d.lastChange++
		d.appended = true
		d.lastMessageAt = m.CreatedAt
		m.Seq, m.Change = d.lastSeq, d.lastChange
		marks[memberKey{m.DialogID, m.SenderID}] = watermarks{m.Seq, m.Seq}
		fresh = append(fresh, i)
	}
	for i, j := range dupOf {
		if j >= 0 {
			res.msgs[i], res.dup[i] = res.msgs[j], true
		}
	}
	if err := s.insertMessages(ctx, tx, res.msgs, fresh); err != nil {
		return res, err
	}
	if err := s.updateDialogs(ctx, tx, dialogIDs, dialogs); err != nil {
		return res, err
	}

	// Receipts for the same member coalesce into one target.
	wantSenders := map[memberKey]bool{}
	for _, r := range b.Receipts {
		k := memberKey{r.DialogID, r.UserID}
		w := marks[k]
		marks[k] = watermarks{max(w.delivered, r.Delivered), max(w.read, r.Read)}
		if r.WantSenders {
			wantSenders[k] = true
		}
	}
	var members []chat.Member
	if locked != nil {
		members = make([]chat.Member, 0, len(marks))
		for k := range marks {
			if m, ok := locked[k]; ok {
				members = append(members, m)
			}
		}
		slices.SortFunc(members, func(a, b chat.Member) int {
			return cmp.Or(cmp.Compare(a.DialogID, b.DialogID), cmp.Compare(a.UserID, b.UserID))
		})
	} else if members, err = s.lockMembers(ctx, tx, marks); err != nil {
		return res, err
	}
	moved := make([]chat.Member, 0, len(members))
	senders := map[memberKey][]int64{}
	allSenders := map[memberKey]bool{}
	after := make(map[memberKey]chat.Member, len(members))
	changed := make(map[memberKey]bool, len(members))
	for _, m := range members {
		k := memberKey{m.DialogID, m.UserID}
		d := dialogs[m.DialogID]
		if d == nil {
			continue // cannot happen: a member's dialog exists and is locked
		}
		want, limit := marks[k], d.lastSeq
		next := m
		next.ReadSeq = max(m.ReadSeq, min(want.read, limit))
		next.DeliveredSeq = max(m.DeliveredSeq, min(want.delivered, limit), next.ReadSeq)
		if next.ReadSeq != m.ReadSeq && m.Uncounted > 0 {
			if next.Uncounted, err = s.uncountedAfterRead(ctx, tx, m, next.ReadSeq, d.seqBefore); err != nil {
				return res, err
			}
		}
		after[k] = next
		if next != m {
			changed[k] = true
			moved = append(moved, next)
			if wantSenders[k] {
				lo := m.DeliveredSeq
				if next.ReadSeq != m.ReadSeq {
					lo = m.ReadSeq
				}
				if next.DeliveredSeq-lo > chat.MaxSenderScan {
					allSenders[k] = true
				} else if senders[k], err = s.sendersBetween(ctx, tx, m.DialogID, lo, next.DeliveredSeq); err != nil {
					return res, err
				}
			}
		}
	}
	if err := s.upsertWatermarks(ctx, tx, moved); err != nil {
		return res, err
	}
	// Every dialog whose messages or watermarks moved gets a new version;
	// updateDialogs already moved those with new messages.
	bumped := make([]int64, 0, len(moved))
	for _, m := range moved {
		if d := dialogs[m.DialogID]; d != nil && !d.appended && !slices.Contains(bumped, m.DialogID) {
			bumped = append(bumped, m.DialogID)
		}
	}
	if err := s.bumpDialogs(ctx, tx, bumped); err != nil {
		return res, err
	}
	for i, r := range b.Receipts {
		k := memberKey{r.DialogID, r.UserID}
		if m, ok := after[k]; ok {
			res.receipts[i], res.changed[i] = m, changed[k]
			res.senders[i], res.all[i] = senders[k], allSenders[k]
		} else {
			res.receipts[i] = chat.Member{DialogID: r.DialogID, UserID: r.UserID}
		}
	}
	return res, nil
}

// uncountedAfterRead is a member's uncounted once their read_seq moves to
// read: the messages that do not count among those still after it. The
// batch's new messages all count, so only the ones up to seqBefore are
// looked at, from whichever side is shorter: counting what is left after
// read, or taking off what the read passed.
func (s *Store) uncountedAfterRead(ctx context.Context, tx *sql.Tx, m chat.Member, read, seqBefore int64) (int64, error) {
	if read >= seqBefore {
		return 0, nil
	}
	if seqBefore-read <= read-m.ReadSeq {
		return s.countUncounted(ctx, tx, m.DialogID, read, seqBefore)
	}
	passed, err := s.countUncounted(ctx, tx, m.DialogID, m.ReadSeq, read)
	return max(m.Uncounted-passed, 0), err
}

// countUncounted counts the messages with lo < seq <= hi that do not count
// as unread, along the primary key.
func (s *Store) countUncounted(ctx context.Context, tx *sql.Tx, dialogID, lo, hi int64) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE dialog_id = ? AND seq > ? AND seq <= ? AND `+uncountedWhere,
		dialogID, lo, hi).Scan(&n)
	return n, err
}

// lockDialogs reads and locks the dialogs with the sorted ids. InnoDB
// takes the row locks in index order, so every batch locks in id order.
func (s *Store) lockDialogs(ctx context.Context, tx *sql.Tx, ids []int64) (map[int64]*dialogState, error) {
	dialogs := make(map[int64]*dialogState, len(ids))
	for chunk := range rowChunks(s, ids) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.queryHot(ctx, tx, "lockDialogs", len(chunk), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			d := &dialogState{}
			if err := rows.Scan(&id, &d.kind, &d.createdBy, &d.lastSeq, &d.lastChange, timeCol{&d.createdAt}, timeCol{&d.lastMessageAt}); err != nil {
				rows.Close()
				return nil, err
			}
			d.seqBefore = d.lastSeq
			dialogs[id] = d
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return dialogs, nil
}

// existingMessages finds the stored messages with any of the keys.
func (s *Store) existingMessages(ctx context.Context, tx *sql.Tx, keys []clientKey) (map[clientKey]chat.Message, error) {
	found := map[clientKey]chat.Message{}
	if len(keys) == 0 {
		return found, nil
	}
	keys = slices.Clone(keys)
	// In the order of the key's index (dialog first: 00019 on SQLite;
	// MySQL's index leads with the sender, and its planner takes the
	// tuple's columns in any order).
	slices.SortFunc(keys, func(a, b clientKey) int {
		return cmp.Or(cmp.Compare(a.dialog, b.dialog), cmp.Compare(a.sender, b.sender), strings.Compare(a.client, b.client))
	})
	for chunk := range slices.Chunk(keys, commitChunk) {
		args := make([]any, 0, 3*len(chunk))
		for _, k := range chunk {
			args = append(args, k.dialog, k.sender, k.client)
		}
		q := s.sql.get("existingMessages", len(chunk), func(n int) string {
			return `SELECT ` + messageCols + ` FROM messages WHERE (dialog_id, sender_id, client_id) IN (` +
				s.rowValues(n, "(?, ?, ?)") + `)`
		})
		msgs, err := collectMessages(tx.QueryContext(ctx, q, args...))
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			found[clientKey{m.SenderID, m.DialogID, m.ClientID}] = m
		}
	}
	return found, nil
}

// insertMessages stores msgs[i] for each i in fresh, many rows per
// statement.
func (s *Store) insertMessages(ctx context.Context, tx *sql.Tx, msgs []chat.Message, fresh []int) error {
	for chunk := range rowChunks(s, fresh) {
		args := make([]any, 0, 12*len(chunk))
		for _, i := range chunk {
			m := &msgs[i]
			sys, err := systemJSON(m.System)
			if err != nil {
				return err
			}
			args = append(args, m.DialogID, m.Seq, m.Change, m.SenderID, m.ClientID, m.Text, nullJSON(m.Attachments),
				nullBytes(m.Digest), s.ts(m.CreatedAt), sys, nullInt(m.ReplyTo), nullJSON(m.Entities))
		}
		if _, err := s.execHot(ctx, tx, "insertMessages", len(chunk), args...); err != nil {
			return err
		}
	}
	return nil
}

// updateDialogs writes the new last_seq and times of the appended dialogs,
// many rows per statement, with the upsert upsertWatermarks uses: every
// row exists and is locked, so only the update branch runs, and the insert
// values are the row's own. (A CASE id WHEN ... UPDATE costs dialogs
// squared comparisons: a quarter of a 500-message batch's time on SQLite.)
func (s *Store) updateDialogs(ctx context.Context, tx *sql.Tx, ids []int64, dialogs map[int64]*dialogState) error {
	touched := make([]int64, 0, len(ids))
	for _, id := range ids {
		if d := dialogs[id]; d != nil && d.appended {
			touched = append(touched, id)
		}
	}
	for chunk := range rowChunks(s, touched) {
		args := make([]any, 0, 8*len(chunk))
		for _, id := range chunk {
			d := dialogs[id]
			updated := chat.Dialog{CreatedAt: d.createdAt, LastMessageAt: d.lastMessageAt}.UpdatedAt()
			args = append(args, id, d.kind, d.createdBy, d.lastSeq, d.lastChange, s.ts(d.lastMessageAt), s.ts(d.createdAt), s.ts(updated))
		}
		if _, err := s.execHot(ctx, tx, "updateDialogs", len(chunk), args...); err != nil {
			return err
		}
	}
	return nil
}

// lockMembers reads and locks the member rows of the keys; keys that are
// no member are left out.
func (s *Store) lockMembers(ctx context.Context, tx *sql.Tx, marks map[memberKey]watermarks) ([]chat.Member, error) {
	keys := make([]memberKey, 0, len(marks))
	for k := range marks {
		keys = append(keys, k)
	}
	sortMemberKeys(keys)
	members := make([]chat.Member, 0, len(keys))
	for chunk := range rowChunks(s, keys) {
		args := make([]any, 0, 2*len(chunk))
		for _, k := range chunk {
			args = append(args, k.dialog, k.user)
		}
		rows, err := s.queryHot(ctx, tx, "lockMembers", len(chunk), args...)
		ms, err := collect(rows, err, scanMember)
		if err != nil {
			return nil, err
		}
		members = append(members, ms...)
	}
	return members, nil
}

// upsertWatermarks writes members' watermarks and uncounted, many rows per
// statement.
// Every row exists and is locked (lockMembers read it), so the upsert
// always takes its update branch; it is used because it is the one
// multi-row UPDATE both dialects have.
func (s *Store) upsertWatermarks(ctx context.Context, tx *sql.Tx, members []chat.Member) error {
	for chunk := range rowChunks(s, members) {
		args := make([]any, 0, 6*len(chunk))
		for _, m := range chunk {
			args = append(args, m.DialogID, m.UserID, m.DeliveredSeq, m.ReadSeq, m.Uncounted, s.ts(m.JoinedAt))
		}
		if _, err := s.execHot(ctx, tx, "upsertWatermarks", len(chunk), args...); err != nil {
			return err
		}
	}
	return nil
}

// bumpDialogs moves the version of each dialog (rows the caller has
// locked or is about to change), so a screen's ETag changes with it.
func (s *Store) bumpDialogs(ctx context.Context, tx *sql.Tx, ids []int64) error {
	for chunk := range rowChunks(s, ids) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		if _, err := s.execHot(ctx, tx, "bumpDialogs", len(chunk), args...); err != nil {
			return err
		}
	}
	return nil
}

// rowValues is the list of n rows ("(?, ?)") for a row-value IN. SQLite
// plans IN (VALUES ...) as a lookup table probed through the index; a long
// OR of ANDs instead costs its planner time per term on every statement.
func (s *Store) rowValues(n int, row string) string {
	if s.dialect == MySQL {
		return tuples(n, row)
	}
	return "VALUES " + tuples(n, row)
}

// tuples returns n copies of row joined by ", ".
func tuples(n int, row string) string {
	return strings.Repeat(row+", ", n-1) + row
}

// sqlCache keeps the text of statements whose shape depends only on a row
// count, so a busy Commit does not rebuild them for every batch.
type sqlCache struct{ m sync.Map }

type sqlKey struct {
	name string
	n    int
}

func (c *sqlCache) get(name string, n int, build func(n int) string) string {
	k := sqlKey{name, n}
	if q, ok := c.m.Load(k); ok {
		return q.(string)
	}
	q := build(n)
	c.m.Store(k, q)
	return q
}
