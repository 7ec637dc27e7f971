package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/korobka/korobka/chat"
)

// CreateGroup inserts an empty group dialog and applies edit to it in the
// same transaction, so a group is never seen without its members and its
// first system messages.
func (s *Store) CreateGroup(ctx context.Context, creator int64, now time.Time, edit func(*chat.GroupEdit) error) (chat.GroupEdit, error) {
	var out chat.GroupEdit
	err := s.write(ctx, "create group", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO dialogs (kind, title, avatar, subject, created_by, direct_key, last_seq, created_at, updated_at, history_visible)
			 VALUES (?, '', '', '', ?, NULL, 0, ?, ?, 1)`,
			string(chat.DialogGroup), creator, s.ts(now), s.ts(now))
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		d, err := scanDialog(tx.QueryRowContext(ctx, `SELECT `+dialogCols+` FROM dialogs WHERE id = ?`, id))
		if err != nil {
			return err
		}
		out, err = s.applyGroupEdit(ctx, tx, d, creator, now, true, edit)
		return err
	})
	return out, err
}

// EditGroup locks the group's row (which orders the edit with Commit, edits
// and deletes, all of which lock it first) and then its members', and
// applies edit. A direct dialog is chat.ErrNotGroup.
func (s *Store) EditGroup(ctx context.Context, dialogID, actor int64, now time.Time, edit func(*chat.GroupEdit) error) (chat.GroupEdit, error) {
	return s.editDialog(ctx, dialogID, actor, now, true, edit)
}

// EditDialog is EditGroup for a dialog of any kind.
func (s *Store) EditDialog(ctx context.Context, dialogID, actor int64, now time.Time, edit func(*chat.GroupEdit) error) (chat.GroupEdit, error) {
	return s.editDialog(ctx, dialogID, actor, now, false, edit)
}

func (s *Store) editDialog(ctx context.Context, dialogID, actor int64, now time.Time, groupOnly bool, edit func(*chat.GroupEdit) error) (chat.GroupEdit, error) {
	var out chat.GroupEdit
	err := s.write(ctx, "edit group", func(tx *sql.Tx) error {
		d, err := scanDialog(tx.QueryRowContext(ctx, `SELECT `+dialogCols+` FROM dialogs WHERE id = ?`+s.forUpdate(), dialogID))
		if errors.Is(err, sql.ErrNoRows) {
			return chat.ErrNotFound
		}
		if err != nil {
			return err
		}
		if groupOnly && d.Kind != chat.DialogGroup {
			return chat.ErrNotGroup
		}
		out, err = s.applyGroupEdit(ctx, tx, d, actor, now, false, edit)
		return err
	})
	return out, err
}

// applyGroupEdit reads the locked group's members, lets edit decide, and
// writes the decision:
//
//  1. the removed members' rows go;
//  2. the system messages take the next seqs and change numbers (as
//     insertions, so the change order's rule holds: see Changes) and
//     count for nobody's unread: every remaining member's uncounted grows
//     by their number, since all of them are after everyone's read_seq;
//  3. roles change;
//  4. the added members come in with their watermarks at the new last_seq
//     (nothing unread), joined_seq at the last_seq before the edit, and
//     visible_from at the first system message when the group hides its
//     history;
//  5. the dialog row takes its new title, avatar, setting, counters, a
//     new version, and a new media generation when someone was removed.
//
// created says the dialog was inserted by this transaction: it has no
// members yet, and no other transaction can see it, so its members are
// neither read before the edit nor locked after it. (On MySQL a locking
// read of a new group's absent members takes a gap lock at the end of
// members; concurrent creations then deadlocked inserting their members
// into each other's gaps.)
func (s *Store) applyGroupEdit(ctx context.Context, tx *sql.Tx, d chat.Dialog, actor int64, now time.Time, created bool, edit func(*chat.GroupEdit) error) (chat.GroupEdit, error) {
	now = now.UTC().Truncate(time.Microsecond)
	var members []chat.Member
	var err error
	if !created {
		if members, err = s.lockGroupMembers(ctx, tx, d.ID); err != nil {
			return chat.GroupEdit{}, err
		}
	}
	e := chat.GroupEdit{Dialog: d, Members: members, Actor: actor, Now: now}
	if err := edit(&e); err != nil {
		return e, err
	}
	// The decision may touch only what it is given to change.
	e.Dialog.ID, e.Dialog.Kind, e.Dialog.LastSeq, e.Dialog.LastChange, e.Dialog.MediaGen = d.ID, d.Kind, d.LastSeq, d.LastChange, d.MediaGen
	in := make(map[int64]bool, len(members))
	for _, m := range members {
		in[m.UserID] = true
	}

	// 1. removals
	var removed []int64
	for _, id := range e.Remove {
		if in[id] && !slices.Contains(removed, id) {
			removed = append(removed, id)
		}
	}
	slices.Sort(removed)
	if len(removed) > 0 {
		e.Dialog.MediaGen++ // their media URLs die with their membership
		args := []any{d.ID}
		for _, id := range removed {
			args = append(args, id)
			delete(in, id)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM members WHERE dialog_id = ? AND user_id IN (`+placeholders(len(removed))+`)`, args...); err != nil {
			return e, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM former_members WHERE dialog_id = ? AND user_id IN (`+placeholders(len(removed))+`)`, args...); err != nil {
			return e, err
		}
	}

	// 2. system messages
	seq, change := d.LastSeq, d.LastChange
	first := seq + 1
	msgs := make([]chat.Message, len(e.Events))
	fresh := make([]int, len(e.Events))
	for i := range e.Events {
		seq++
		change++
		ev := e.Events[i]
		msgs[i] = chat.Message{DialogID: d.ID, Seq: seq, Change: change, SenderID: actor,
			ClientID: fmt.Sprintf("sys-%d", seq), System: &ev, CreatedAt: now}
		fresh[i] = i
	}
	if err := s.insertMessages(ctx, tx, msgs, fresh); err != nil {
		return e, err
	}
	if len(msgs) > 0 && len(in) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE members SET uncounted = uncounted + ? WHERE dialog_id = ?`, len(msgs), d.ID); err != nil {
			return e, err
		}
	}

	// The removed keep the history up to the last system message of
	// this edit (their removal), from where they could read it.
	if len(removed) > 0 {
		args := make([]any, 0, 6*len(removed))
		for _, id := range removed {
			reason := chat.EndRemoved
			if id == actor {
				reason = chat.EndLeft
			}
			var from int64
			for _, m := range members {
				if m.UserID == id {
					from = m.VisibleFrom
				}
			}
			args = append(args, d.ID, id, from, seq, s.ts(now), reason, d.Title)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO former_members (`+formerCols+`) VALUES `+
			tuples(len(removed), "(?, ?, ?, ?, ?, ?, ?)"), args...); err != nil {
			return e, err
		}
	}

	// 3. roles of members already in
	ids := make([]int64, 0, len(e.Roles))
	for id := range e.Roles {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if !in[id] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE members SET role = ? WHERE dialog_id = ? AND user_id = ?`,
			string(e.Roles[id]), d.ID, id); err != nil {
			return e, err
		}
	}

	// 4. additions
	var added []int64
	for _, id := range e.Add {
		if !in[id] && !slices.Contains(added, id) {
			added = append(added, id)
		}
	}
	var visible int64
	if !e.Dialog.HistoryVisible && d.LastSeq > 0 {
		visible = first
	}
	for chunk := range slices.Chunk(added, commitChunk) {
		args := make([]any, 0, 8*len(chunk))
		for _, id := range chunk {
			role := e.Roles[id]
			if role == "" {
				role = chat.GroupMember
			}
			args = append(args, d.ID, id, seq, seq, s.ts(now), string(role), visible, d.LastSeq)
			in[id] = true
		}
		// A former member added again is a member again.
		del := []any{d.ID}
		for _, id := range chunk {
			del = append(del, id)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM former_members WHERE dialog_id = ? AND user_id IN (`+placeholders(len(chunk))+`)`, del...); err != nil {
			return e, err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO members (dialog_id, user_id, delivered_seq, read_seq, joined_at, role, visible_from, joined_seq) VALUES `+
				tuples(len(chunk), "(?, ?, ?, ?, ?, ?, ?, ?)"), args...); err != nil {
			return e, err
		}
	}

	// 5. the dialog
	hv := 0
	if e.Dialog.HistoryVisible {
		hv = 1
	}
	lastAt := d.LastMessageAt
	if len(msgs) > 0 {
		lastAt = now
	}
	updated := chat.Dialog{CreatedAt: d.CreatedAt, LastMessageAt: lastAt}.UpdatedAt()
	if _, err := tx.ExecContext(ctx, `UPDATE dialogs SET title = ?, avatar = ?, history_visible = ?, media_gen = ?, pinned_seq = ?, last_seq = ?, last_change = ?,
		last_message_at = ?, updated_at = ?, version = version + 1 WHERE id = ?`,
		e.Dialog.Title, e.Dialog.Avatar, hv, e.Dialog.MediaGen, max(e.Dialog.PinnedSeq, 0), seq, change, s.nullTS(lastAt), s.ts(updated), d.ID); err != nil {
		return e, err
	}
	if e.Dialog.Avatar != d.Avatar {
		e.OldAvatar = d.Avatar
	}
	e.Dialog.LastSeq, e.Dialog.LastChange, e.Dialog.LastMessageAt = seq, change, lastAt
	e.Messages = msgs
	if created {
		e.Members, err = s.groupMembers(ctx, tx, d.ID)
	} else {
		e.Members, err = s.lockGroupMembers(ctx, tx, d.ID)
	}
	if err != nil {
		return e, err
	}
	return e, nil
}

// lockGroupMembers reads a dialog's members under row locks, by user id.
func (s *Store) lockGroupMembers(ctx context.Context, tx *sql.Tx, dialogID int64) ([]chat.Member, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+memberCols+` FROM members WHERE dialog_id = ? ORDER BY user_id`+s.forUpdate(), dialogID)
	return collect(rows, err, scanMember)
}

// groupMembers reads a dialog's members by user id without locking them.
func (s *Store) groupMembers(ctx context.Context, tx *sql.Tx, dialogID int64) ([]chat.Member, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+memberCols+` FROM members WHERE dialog_id = ? ORDER BY user_id`, dialogID)
	return collect(rows, err, scanMember)
}

// GroupCounts counts group memberships per user, along members_user_id.
func (s *Store) GroupCounts(ctx context.Context, userIDs []int64) (map[int64]int, error) {
	out := make(map[int64]int, len(userIDs))
	ids := slices.Clone(userIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for chunk := range slices.Chunk(ids, idChunk) {
		args := []any{string(chat.DialogGroup)}
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := s.r.QueryContext(ctx, `SELECT m.user_id, COUNT(*) FROM members m JOIN dialogs d ON d.id = m.dialog_id
			WHERE d.kind = ? AND m.user_id IN (`+placeholders(len(chunk))+`) GROUP BY m.user_id`, args...)
		if err != nil {
			return nil, s.fail("group counts", err)
		}
		for rows.Next() {
			var id int64
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return nil, s.fail("group counts", err)
			}
			out[id] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, s.fail("group counts", err)
		}
	}
	return out, nil
}

// MembersPage walks a dialog's members along the primary key.
func (s *Store) MembersPage(ctx context.Context, dialogID, after int64, limit int) ([]chat.Member, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+memberCols+` FROM members WHERE dialog_id = ? AND user_id > ? ORDER BY user_id LIMIT ?`,
		dialogID, after, max(limit, 0))
	ms, err := collect(rows, err, scanMember)
	if err != nil {
		return nil, s.fail("members page", err)
	}
	return ms, nil
}

// Readers walks a dialog's members along the primary key, keeping those
// who read seq and were in the dialog when it was sent.
func (s *Store) Readers(ctx context.Context, dialogID, seq, exclude, after int64, limit int) ([]chat.Member, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+memberCols+` FROM members
		WHERE dialog_id = ? AND user_id > ? AND read_seq >= ? AND joined_seq < ? AND user_id <> ? ORDER BY user_id LIMIT ?`,
		dialogID, after, seq, seq, exclude, max(limit, 0))
	ms, err := collect(rows, err, scanMember)
	if err != nil {
		return nil, s.fail("readers", err)
	}
	return ms, nil
}

// MessagesBySeq reads messages by primary key, in chunks.
func (s *Store) MessagesBySeq(ctx context.Context, dialogID int64, seqs []int64) ([]chat.Message, error) {
	seqs = slices.Clone(seqs)
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	out := []chat.Message{}
	for chunk := range slices.Chunk(seqs, idChunk) {
		args := []any{dialogID}
		for _, q := range chunk {
			args = append(args, q)
		}
		msgs, err := collectMessages(s.r.QueryContext(ctx,
			`SELECT `+messageCols+` FROM messages WHERE dialog_id = ? AND seq IN (`+placeholders(len(chunk))+`)`, args...))
		if err != nil {
			return nil, s.fail("messages by seq", err)
		}
		out = append(out, msgs...)
	}
	return out, nil
}
