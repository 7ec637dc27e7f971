package chat

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// Operators answer clients as the business account: the client sees the
// business's name on every answer; operators (and admins) see who sent
// each one (OperatorStore.RecordReply, the answered_by of the operators'
// history) and who a dialog is assigned to (OperatorStore.AssignDialog,
// the assignee of the operators' dialog list). Both are also in the audit
// log (operator.reply, dialog.assign). Canned answers are documents of the
// canned_answers collection an operator sends with one tap.

// CannedAnswersCollection is the collection of canned answers: documents
// with a "text" (and an optional "title" for the operator's list).
const CannedAnswersCollection = "canned_answers"

// DialogAssignment is the operator (or admin) a dialog of the business is
// assigned to, who assigned it, and when.
type DialogAssignment struct {
	DialogID   int64
	OperatorID int64
	AssignedBy int64
	AssignedAt time.Time
}

// ReplyRecord is who answered one message the business sent: the message
// (DialogID, Seq) and the operator who sent it.
type ReplyRecord struct {
	DialogID   int64
	Seq        int64
	OperatorID int64
	At         time.Time
}

// OperatorStore keeps the operators' side of the business's dialogs:
// assignments (one per dialog) and who answered each message.
type OperatorStore interface {
	// AssignDialog makes a the dialog's assignment, replacing any earlier
	// one, and returns the one it replaced (ok false for none).
	// ErrNotFound when the dialog does not exist.
	AssignDialog(ctx context.Context, a DialogAssignment) (prev DialogAssignment, ok bool, err error)
	// Assignments returns the assignments of those of the dialogs that
	// have one, in any order.
	Assignments(ctx context.Context, dialogIDs []int64) ([]DialogAssignment, error)
	// RecordReply records who answered the message (r.DialogID, r.Seq).
	// A message keeps its first record: recording it again (a retried
	// send) changes nothing and is no error.
	RecordReply(ctx context.Context, r ReplyRecord) error
	// RepliesOf returns the records of the dialog's messages among seqs,
	// in any order; messages without one are left out.
	RepliesOf(ctx context.Context, dialogID int64, seqs []int64) ([]ReplyRecord, error)
	// Replies returns the dialog's records with a seq below before (0:
	// from the newest), newest first, at most limit.
	Replies(ctx context.Context, dialogID, before int64, limit int) ([]ReplyRecord, error)
}

// OperatorDialog is one of the business's dialogs as operators see it.
type OperatorDialog struct {
	DialogView
	// AssigneeID is the operator the dialog is assigned to ("" for none),
	// AssigneeName their name, AssignedAt since when.
	AssigneeID   string     `json:"assignee_id"`
	AssigneeName string     `json:"assignee_name,omitempty"`
	AssignedAt   *time.Time `json:"assigned_at,omitempty"`
}

// OperatorPage is a page of the business's dialogs.
type OperatorPage struct {
	Dialogs    []OperatorDialog `json:"dialogs"`
	NextCursor string           `json:"next_cursor"`
}

// OperatorMessage is a message as operators see it: the client's view
// and, on the business's answers an operator sent, who sent it.
type OperatorMessage struct {
	MessageView
	// AnsweredBy is the operator who sent this answer of the business
	// ("" for messages no operator sent: the client's, a bot's, a
	// broadcast), AnsweredByName their name.
	AnsweredBy     string `json:"answered_by,omitempty"`
	AnsweredByName string `json:"answered_by_name,omitempty"`
}

// OperatorReply is who answered a message of the business.
type OperatorReply struct {
	MessageID  string    `json:"message_id"`
	OperatorID string    `json:"operator_id"`
	At         time.Time `json:"at"`
}

// ErrNotOperator answers an assignment to a user who is not an operator or
// an admin.
var ErrNotOperator = &Error{Kind: KindInvalid, Code: "not_operator", Message: "Assign dialogs to operators or admins only."}

// asBusiness is the principal an operator acts as.
func (s *Service) asBusiness(p Principal) (Principal, error) {
	if err := requireRole(p, RoleOperator, RoleAdmin); err != nil {
		return Principal{}, err
	}
	id, err := s.businessID()
	if err != nil {
		return Principal{}, err
	}
	return Principal{UserID: id, Role: RoleUser}, nil
}

// OperatorDialogs pages the business's dialogs for operators and admins,
// each with its assignee (one read of the page's assignments and one of
// the assignees' names).
func (s *Service) OperatorDialogs(ctx context.Context, p Principal, cursor string, limit int) (OperatorPage, error) {
	bp, err := s.asBusiness(p)
	if err != nil {
		return OperatorPage{}, err
	}
	page, err := s.Dialogs(ctx, bp, cursor, limit)
	if err != nil {
		return OperatorPage{}, err
	}
	out := OperatorPage{Dialogs: make([]OperatorDialog, len(page.Dialogs)), NextCursor: page.NextCursor}
	ids := make([]int64, 0, len(page.Dialogs))
	for i, d := range page.Dialogs {
		out.Dialogs[i] = OperatorDialog{DialogView: d}
		if id, err := ParseID(d.ID); err == nil {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	as, err := s.store.Assignments(ctx, ids)
	if err != nil {
		return OperatorPage{}, err
	}
	byDialog := make(map[string]DialogAssignment, len(as))
	ops := make([]int64, 0, len(as))
	for _, a := range as {
		byDialog[FormatID(a.DialogID)] = a
		ops = append(ops, a.OperatorID)
	}
	names, err := s.staffNames(ctx, ops)
	if err != nil {
		return OperatorPage{}, err
	}
	for i := range out.Dialogs {
		if a, ok := byDialog[out.Dialogs[i].ID]; ok {
			at := a.AssignedAt.UTC()
			out.Dialogs[i].AssigneeID = FormatID(a.OperatorID)
			out.Dialogs[i].AssigneeName = names[a.OperatorID]
			out.Dialogs[i].AssignedAt = &at
		}
	}
	return out, nil
}

// staffNames maps user ids to their names ("" for an unnamed one).
func (s *Service) staffNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	slices.Sort(ids)
	us, err := s.store.Users(ctx, slices.Compact(ids))
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		out[u.ID] = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	return out, nil
}

// AssignDialog assigns one of the business's dialogs to an operator (or an
// admin), replacing any earlier assignment (a reassignment). Operators and
// admins may; the assignment and the one it replaced are in the audit log
// (dialog.assign).
func (s *Service) AssignDialog(ctx context.Context, p Principal, dialogID, operatorID int64) (OperatorDialog, error) {
	bp, err := s.asBusiness(p)
	if err != nil {
		return OperatorDialog{}, err
	}
	d, err := s.Dialog(ctx, bp, dialogID)
	if err != nil {
		return OperatorDialog{}, err
	}
	op, err := s.store.User(ctx, operatorID)
	if errors.Is(err, ErrNotFound) || err == nil && (op.Role != RoleOperator && op.Role != RoleAdmin || !op.BlockedAt.IsZero()) {
		return OperatorDialog{}, ErrNotOperator
	}
	if err != nil {
		return OperatorDialog{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	prev, had, err := s.store.AssignDialog(ctx, DialogAssignment{DialogID: dialogID, OperatorID: operatorID, AssignedBy: p.UserID, AssignedAt: now})
	if err != nil {
		return OperatorDialog{}, err
	}
	details := map[string]string{"operator_id": FormatID(operatorID)}
	if had {
		details["previous_operator_id"] = FormatID(prev.OperatorID)
	}
	if err := s.audit(ctx, p, "dialog.assign", "dialog", d.ID, details); err != nil {
		return OperatorDialog{}, err
	}
	return OperatorDialog{DialogView: d, AssigneeID: FormatID(operatorID),
		AssigneeName: strings.TrimSpace(op.FirstName + " " + op.LastName), AssignedAt: &now}, nil
}

// OperatorSend sends a message as the business into one of its dialogs and
// records which operator sent it (OperatorStore.RecordReply, and
// operator.reply in the audit log). A retry with the same client_id is the
// same message: it records the operator if the first attempt could not
// (the first record stays), and is audited once.
func (s *Service) OperatorSend(ctx context.Context, p Principal, req SendRequest) (MessageView, bool, error) {
	bp, err := s.asBusiness(p)
	if err != nil {
		return MessageView{}, false, err
	}
	m, created, err := s.Send(ctx, bp, 0, req)
	if err != nil {
		return m, created, err
	}
	dialogID, seq, err := ParseMessageID(m.ID)
	if err != nil {
		return MessageView{}, false, err
	}
	if err := s.store.RecordReply(ctx, ReplyRecord{DialogID: dialogID, Seq: seq, OperatorID: p.UserID,
		At: s.now().UTC().Truncate(time.Microsecond)}); err != nil {
		// The message is stored (acknowledged); the client's retry with
		// the same client_id records it.
		return MessageView{}, false, err
	}
	if created {
		if err := s.audit(ctx, p, "operator.reply", "dialog", m.DialogID, map[string]string{"message_id": m.ID}); err != nil {
			s.log.WarnContext(ctx, "operator reply not audited", "message", m.ID, "err", err)
		}
	}
	return m, created, nil
}

// SendCanned sends a canned answer (a document of canned_answers, its
// "text") as the business: the operator's one tap.
func (s *Service) SendCanned(ctx context.Context, p Principal, dialogID int64, answerID, clientID string) (MessageView, bool, error) {
	if _, err := s.asBusiness(p); err != nil {
		return MessageView{}, false, err
	}
	d, err := s.store.ContentDoc(ctx, CannedAnswersCollection, answerID)
	if err != nil || !d.Published {
		return MessageView{}, false, ErrNoDocument
	}
	var doc struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(d.Data, &doc); err != nil || doc.Text == "" {
		return MessageView{}, false, ErrNoDocument
	}
	return s.OperatorSend(ctx, p, SendRequest{DialogID: dialogID, ClientID: clientID, Text: doc.Text})
}

// CannedAnswer is one published canned answer as the operator's list shows
// it: the document id (the answer_id SendCanned takes), its title (the id
// when the document has none) and the text the client will receive.
type CannedAnswer struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// CannedAnswers lists the published canned answers with a text, in the
// collection's order (operators and admins; ErrForbidden otherwise). The
// collection is admin-edited and small; nothing else is read.
func (s *Service) CannedAnswers(ctx context.Context, p Principal) ([]CannedAnswer, error) {
	if _, err := s.asBusiness(p); err != nil {
		return nil, err
	}
	docs, err := s.store.Content(ctx, CannedAnswersCollection, true)
	if err != nil {
		return nil, err
	}
	out := make([]CannedAnswer, 0, len(docs))
	for _, d := range docs {
		var doc struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		if json.Unmarshal(d.Data, &doc) != nil || doc.Text == "" {
			continue
		}
		if doc.Title == "" {
			doc.Title = d.ID
		}
		out = append(out, CannedAnswer{ID: d.ID, Title: doc.Title, Text: doc.Text})
	}
	return out, nil
}

// OperatorReplies lists who answered in one of the business's dialogs,
// newest first (operators and admins), at most limit (DefaultPage when
// out of 1..MaxPage).
func (s *Service) OperatorReplies(ctx context.Context, p Principal, dialogID int64, limit int) ([]OperatorReply, error) {
	bp, err := s.asBusiness(p)
	if err != nil {
		return nil, err
	}
	if _, err := s.members.Check(ctx, bp, dialogID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	rs, err := s.store.Replies(ctx, dialogID, 0, limit)
	if err != nil {
		return nil, err
	}
	out := make([]OperatorReply, 0, len(rs))
	for _, r := range rs {
		out = append(out, OperatorReply{MessageID: MessageID(r.DialogID, r.Seq), OperatorID: FormatID(r.OperatorID), At: r.At.UTC()})
	}
	return out, nil
}

// OperatorHistory pages the messages of one of the business's dialogs for
// operators and admins, as History does for a member, each answer an
// operator sent with who sent it (one read of the page's records).
func (s *Service) OperatorHistory(ctx context.Context, p Principal, dialogID, before int64, limit int) ([]OperatorMessage, error) {
	bp, err := s.asBusiness(p)
	if err != nil {
		return nil, err
	}
	msgs, err := s.History(ctx, bp, dialogID, before, limit)
	if err != nil {
		return nil, err
	}
	out := make([]OperatorMessage, len(msgs))
	seqs := make([]int64, 0, len(msgs))
	for i, m := range msgs {
		out[i] = OperatorMessage{MessageView: m}
		if m.SenderID == FormatID(bp.UserID) {
			seqs = append(seqs, m.Seq)
		}
	}
	if len(seqs) == 0 {
		return out, nil
	}
	rs, err := s.store.RepliesOf(ctx, dialogID, seqs)
	if err != nil {
		return nil, err
	}
	bySeq := make(map[int64]int64, len(rs))
	ops := make([]int64, 0, len(rs))
	for _, r := range rs {
		bySeq[r.Seq] = r.OperatorID
		ops = append(ops, r.OperatorID)
	}
	names, err := s.staffNames(ctx, ops)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if op, ok := bySeq[out[i].Seq]; ok {
			out[i].AnsweredBy = FormatID(op)
			out[i].AnsweredByName = names[op]
		}
	}
	return out, nil
}
