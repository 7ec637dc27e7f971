package chat

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Operators answer clients as the business account: the client sees the
// business's name on every answer; operators (and admins) see, through the
// audit log, which of them sent each one (action operator.reply on the
// dialog) and who a dialog is assigned to (the latest dialog.assign).
// Canned answers are documents of the canned_answers collection an
// operator sends with one tap.

// CannedAnswersCollection is the collection of canned answers: documents
// with a "text" (and an optional "title" for the operator's list).
const CannedAnswersCollection = "canned_answers"

// OperatorDialog is one of the business's dialogs as operators see it.
type OperatorDialog struct {
	DialogView
	// AssigneeID is the operator the dialog is assigned to ("" for none).
	AssigneeID string `json:"assignee_id"`
}

// OperatorPage is a page of the business's dialogs.
type OperatorPage struct {
	Dialogs    []OperatorDialog `json:"dialogs"`
	NextCursor string           `json:"next_cursor"`
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
// each with its assignee.
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
	for i, d := range page.Dialogs {
		a, err := s.assignee(ctx, d.ID)
		if err != nil {
			return OperatorPage{}, err
		}
		out.Dialogs[i] = OperatorDialog{DialogView: d, AssigneeID: a}
	}
	return out, nil
}

// assignee is the operator of the dialog's latest assignment.
func (s *Service) assignee(ctx context.Context, dialogID string) (string, error) {
	es, err := s.store.Audit(ctx, AuditFilter{Action: "dialog.assign", TargetType: "dialog", TargetID: dialogID}, 1)
	if err != nil || len(es) == 0 {
		return "", err
	}
	var d struct {
		OperatorID string `json:"operator_id"`
	}
	json.Unmarshal(es[0].Details, &d)
	return d.OperatorID, nil
}

// AssignDialog assigns one of the business's dialogs to an operator (or an
// admin), replacing any earlier assignment. Operators and admins may.
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
	if errors.Is(err, ErrNotFound) || err == nil && op.Role != RoleOperator && op.Role != RoleAdmin {
		return OperatorDialog{}, ErrNotOperator
	}
	if err != nil {
		return OperatorDialog{}, err
	}
	if err := s.audit(ctx, p, "dialog.assign", "dialog", d.ID, map[string]string{"operator_id": FormatID(operatorID)}); err != nil {
		return OperatorDialog{}, err
	}
	return OperatorDialog{DialogView: d, AssigneeID: FormatID(operatorID)}, nil
}

// OperatorSend sends a message as the business into one of its dialogs and
// records which operator sent it (operator.reply). A retry with the same
// client_id is the same message and is recorded once.
func (s *Service) OperatorSend(ctx context.Context, p Principal, req SendRequest) (MessageView, bool, error) {
	bp, err := s.asBusiness(p)
	if err != nil {
		return MessageView{}, false, err
	}
	m, created, err := s.Send(ctx, bp, 0, req)
	if err != nil || !created {
		return m, created, err
	}
	if err := s.audit(ctx, p, "operator.reply", "dialog", m.DialogID, map[string]string{"message_id": m.ID}); err != nil {
		s.log.WarnContext(ctx, "operator reply not recorded", "message", m.ID, "err", err)
	}
	return m, true, nil
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

// OperatorReplies lists who answered in one of the business's dialogs,
// newest first (operators and admins).
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
	es, err := s.store.Audit(ctx, AuditFilter{Action: "operator.reply", TargetType: "dialog", TargetID: FormatID(dialogID)}, limit)
	if err != nil {
		return nil, err
	}
	out := make([]OperatorReply, 0, len(es))
	for _, e := range es {
		var d struct {
			MessageID string `json:"message_id"`
		}
		json.Unmarshal(e.Details, &d)
		out = append(out, OperatorReply{MessageID: d.MessageID, OperatorID: FormatID(e.ActorID), At: e.At})
	}
	return out, nil
}

// OperatorHistory pages the messages of one of the business's dialogs for
// operators and admins, as History does for a member.
func (s *Service) OperatorHistory(ctx context.Context, p Principal, dialogID, before int64, limit int) ([]MessageView, error) {
	bp, err := s.asBusiness(p)
	if err != nil {
		return nil, err
	}
	return s.History(ctx, bp, dialogID, before, limit)
}
