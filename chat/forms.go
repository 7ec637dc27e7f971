package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// FormSubmission is what a client submitted to a form collection, kept
// with its author and the business dialog it was posted to.
type FormSubmission struct {
	ID         int64
	Collection string
	AuthorID   int64
	Data       json.RawMessage
	DialogID   int64
	CreatedAt  time.Time
}

// FormSubmissionView is a submission in the wire form.
type FormSubmissionView struct {
	ID         string          `json:"id"`
	Collection string          `json:"collection"`
	AuthorID   string          `json:"author_id"`
	Data       json.RawMessage `json:"data"`
	DialogID   string          `json:"dialog_id"`
	CreatedAt  time.Time       `json:"created_at"`
}

// View returns the submission's wire form.
func (f FormSubmission) View() FormSubmissionView {
	return FormSubmissionView{ID: FormatID(f.ID), Collection: f.Collection, AuthorID: FormatID(f.AuthorID),
		Data: f.Data, DialogID: FormatID(f.DialogID), CreatedAt: f.CreatedAt.UTC()}
}

// FormReceipt answers a submission: what was stored and the card message
// that carries it into the author's dialog with the business.
type FormReceipt struct {
	ID         string      `json:"id"`
	Collection string      `json:"collection"`
	DialogID   string      `json:"dialog_id"`
	Message    MessageView `json:"message"`
}

// FormStore keeps form submissions.
type FormStore interface {
	// CreateSubmission stores a submission under the next id (ids grow
	// with time) and returns it with the id.
	CreateSubmission(ctx context.Context, f FormSubmission) (FormSubmission, error)
	// Submissions pages a form's submissions backwards from before (0:
	// the newest), at most limit.
	Submissions(ctx context.Context, collection string, before int64, limit int) ([]FormSubmission, error)
}

// Form errors.
var ErrNoForm = &Error{Kind: KindNotFound, Code: "no_form", Message: "No such form."}

// limitFormsPerUser bounds the submissions (and so the card messages and
// webhooks) one account causes.
var limitFormsPerUser = Limit{Rate: 20, Period: time.Hour, Burst: 5}

// CardKind is the kind of a card in a message's stored attachments: not a
// file but structured data shells draw as a card (MessageView.Card).
const CardKind = "card"

// SubmitForm takes a submission to a form collection from the caller:
// cleaned by the text policy and checked against the collection's schema
// (400 schema_mismatch with the path, nothing stored), stored with its
// author, and posted into the author's dialog with the business as a card
// message (text: the form's title and fields, card: the data) that the
// operators answer. Then form.submitted goes to the webhooks.
func (s *Service) SubmitForm(ctx context.Context, p Principal, name string, raw json.RawMessage) (FormReceipt, error) {
	if !ValidCollectionName(name) {
		return FormReceipt{}, ErrNoForm
	}
	if len(raw) > MaxContentDocLen {
		return FormReceipt{}, Errorf(KindTooLarge, "body_too_large", "A form is at most %d bytes of JSON.", MaxContentDocLen)
	}
	c, err := s.store.Collection(ctx, name)
	if err != nil || !c.Form {
		if err == nil || ErrorOf(err).Kind == KindNotFound {
			return FormReceipt{}, ErrNoForm
		}
		return FormReceipt{}, err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return FormReceipt{}, Errorf(KindInvalid, "invalid_json", "The form is not JSON.")
	}
	fields, ok := v.(map[string]any)
	if !ok {
		return FormReceipt{}, Errorf(KindInvalid, "invalid_json", "The body must be a JSON object.")
	}
	clean, err := CleanContent(fields)
	if err != nil {
		return FormReceipt{}, &Error{Kind: KindInvalid, Code: "invalid_text", Message: err.Error(), Err: err}
	}
	data, err := json.Marshal(clean)
	if err != nil {
		return FormReceipt{}, err
	}
	sch, err := s.schemaOf(c)
	if err != nil {
		return FormReceipt{}, err
	}
	if err := ValidateDocument(sch, data); err != nil {
		return FormReceipt{}, err
	}
	if err := s.allow(ctx, "form:user:"+FormatID(p.UserID), limitFormsPerUser); err != nil {
		return FormReceipt{}, err
	}
	d, _, err := s.OpenBusinessDialog(ctx, p, "")
	if err != nil {
		return FormReceipt{}, err
	}
	dialogID, err := ParseID(d.ID)
	if err != nil {
		return FormReceipt{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	sub, err := s.store.CreateSubmission(ctx, FormSubmission{Collection: name, AuthorID: p.UserID, Data: data, DialogID: dialogID, CreatedAt: now})
	if err != nil {
		return FormReceipt{}, err
	}
	card := formCard{Type: "form", Form: name, Title: c.Title, SubmissionID: FormatID(sub.ID), Fields: data}
	text := formText(c, clean.(map[string]any))
	m, err := s.postCard(ctx, p, dialogID, "form-"+FormatID(sub.ID), text, FormatID(sub.ID), card)
	if err != nil {
		return FormReceipt{}, err
	}
	s.emitWebhook(ctx, EventFormSubmitted, map[string]any{"submission": sub.View(), "message": m})
	return FormReceipt{ID: FormatID(sub.ID), Collection: name, DialogID: d.ID, Message: m}, nil
}

// FormSubmissions pages a form's submissions, newest first, for operators
// (the orders clients sent are their work; each is also a card in its
// dialog) and admins.
func (s *Service) FormSubmissions(ctx context.Context, p Principal, name string, before int64, limit int) ([]FormSubmissionView, error) {
	if err := requireRole(p, RoleOperator, RoleAdmin); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	if _, err := s.collection(ctx, name); err != nil {
		return nil, err
	}
	subs, err := s.store.Submissions(ctx, name, before, limit)
	if err != nil {
		return nil, err
	}
	out := make([]FormSubmissionView, len(subs))
	for i, f := range subs {
		out[i] = f.View()
	}
	return out, nil
}

// formCard is the card a form's message carries.
type formCard struct {
	Type         string          `json:"type"` // "form"
	Form         string          `json:"form"`
	Title        string          `json:"title"`
	SubmissionID string          `json:"submission_id"`
	Fields       json.RawMessage `json:"fields"`
}

// formText is a form's card as text, for shells that draw no cards and
// for pushes: the form's title, then "label: value" per field with a
// plain value, in the order of the schema's properties (labels are their
// titles).
func formText(c Collection, fields map[string]any) string {
	var b strings.Builder
	b.WriteString(c.Title)
	if c.Title == "" {
		b.WriteString(c.Name)
	}
	labels, order := schemaProperties(c.Schema)
	for k := range fields {
		if _, ok := labels[k]; !ok {
			order = append(order, k)
			labels[k] = k
		}
	}
	for _, k := range order {
		v, ok := fields[k]
		if !ok {
			continue
		}
		var val string
		switch x := v.(type) {
		case string:
			val = x
		case json.Number, bool:
			val = fmt.Sprint(x)
		default:
			continue
		}
		if val == "" {
			continue
		}
		if r := []rune(val); len(r) > 300 {
			val = string(r[:300]) + "…"
		}
		b.WriteString("\n" + labels[k] + ": " + val)
	}
	text, err := cleanText(b.String())
	if err != nil {
		return c.Name
	}
	return text
}

// schemaProperties reads the top-level properties of a schema in their
// order, with their titles (the name when untitled).
func schemaProperties(schema json.RawMessage) (map[string]string, []string) {
	labels := map[string]string{}
	var order []string
	var top map[string]json.RawMessage
	if json.Unmarshal(schema, &top) != nil || top["properties"] == nil {
		return labels, order
	}
	dec := json.NewDecoder(bytes.NewReader(top["properties"]))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return labels, order
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		k, _ := t.(string)
		var prop struct {
			Title string `json:"title"`
		}
		if err := dec.Decode(&prop); err != nil {
			break
		}
		labels[k] = k
		if prop.Title != "" {
			labels[k] = prop.Title
		}
		order = append(order, k)
	}
	return labels, order
}

// postCard sends a message with a card from p into a dialog p is in,
// bypassing uploads: the card is stored among the attachments (kind
// card) and shown as the message's card. clientID makes a retry the same
// message.
func (s *Service) postCard(ctx context.Context, p Principal, dialogID int64, clientID, text, cardID string, card any) (MessageView, error) {
	members, err := s.members.Check(ctx, p, dialogID)
	if err != nil {
		return MessageView{}, err
	}
	raw, err := json.Marshal(card)
	if err != nil {
		return MessageView{}, err
	}
	att, err := json.Marshal([]storedAttachment{{ID: cardID, Kind: CardKind, Name: "card", Card: raw}})
	if err != nil {
		return MessageView{}, err
	}
	app := &Append{Msg: Message{
		DialogID:    dialogID,
		SenderID:    p.UserID,
		ClientID:    clientID,
		Text:        text,
		Attachments: att,
		Digest:      PayloadDigest(text, []string{CardKind + ":" + cardID}),
		CreatedAt:   s.now().UTC().Truncate(time.Microsecond),
	}}
	if err := s.commitAndWait(ctx, &job{app: app, members: members}); err != nil {
		return MessageView{}, err
	}
	return s.view(app.Msg, StatusSent), nil
}
