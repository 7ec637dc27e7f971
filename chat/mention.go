package chat

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Mentions and replies (docs/api.md, "Mentions and replies"), in groups
// and direct dialogs alike.
//
// A mention is a span of the text that starts with "@" and names a member
// of the dialog: {"type":"mention","offset","length","user_id"}, offset
// and length in UTF-16 code units of the cleaned text (what JavaScript,
// Swift's NSString and Kotlin count). A reply names the seq of a message
// of the same dialog the sender may read; views carry a quoted preview of
// it as it is now.

// MaxEntities bounds the spans of one message.
const MaxEntities = 50

// replyPreviewLen is the characters of a replied message a preview keeps.
const replyPreviewLen = 100

// Entity is one span of a message's text.
type Entity struct {
	Type   string `json:"type"`
	Offset int    `json:"offset"`
	Length int    `json:"length"`
	UserID string `json:"user_id"`
}

// ReplyView is the quoted preview of the message a message answers: its
// seq and sender, and its text cut to 100 characters ("" for a deleted
// message, which says deleted, or for one that is only attachments).
type ReplyView struct {
	Seq      int64  `json:"seq"`
	SenderID string `json:"sender_id"`
	Text     string `json:"text"`
	Deleted  bool   `json:"deleted,omitempty"`
}

// Errors of mentions and replies.
var (
	ErrInvalidEntities = &Error{Kind: KindInvalid, Code: "invalid_entities", Message: "entities are at most 50 mentions: spans of the text that start with @, do not overlap and name members of the dialog."}
	ErrInvalidReply    = &Error{Kind: KindInvalid, Code: "invalid_reply", Message: "reply_to is the seq of a message of this dialog you can read."}
)

// checkEntities validates a send's entities against its cleaned text and
// the dialog's members, and returns them re-encoded (nil for none).
func checkEntities(raw json.RawMessage, text string, members []int64) (json.RawMessage, error) {
	if a := strings.TrimSpace(string(raw)); a == "" || a == "null" || a == "[]" {
		return nil, nil
	}
	var ents []Entity
	if err := json.Unmarshal(raw, &ents); err != nil || len(ents) > MaxEntities {
		return nil, ErrInvalidEntities
	}
	units := utf16.Encode([]rune(text))
	slices.SortFunc(ents, func(a, b Entity) int { return a.Offset - b.Offset })
	end := 0
	for _, e := range ents {
		if e.Type != "mention" || e.Offset < end || e.Length < 2 || e.Offset+e.Length > len(units) {
			return nil, ErrInvalidEntities
		}
		span := string(utf16.Decode(units[e.Offset : e.Offset+e.Length]))
		if !strings.HasPrefix(span, "@") || !utf8.ValidString(span) || strings.ContainsRune(span, utf8.RuneError) {
			return nil, ErrInvalidEntities
		}
		id, err := ParseID(e.UserID)
		if err != nil || !slices.Contains(members, id) {
			return nil, ErrInvalidEntities
		}
		end = e.Offset + e.Length
	}
	return json.Marshal(ents)
}

// replyTarget reads the message a send answers, which must be one the
// sender may read (from their VisibleFrom on) and not a system message.
func (s *Service) replyTarget(ctx context.Context, p Principal, dialogID, seq int64) (*Message, error) {
	if seq == 0 {
		return nil, nil
	}
	from, err := s.members.VisibleFrom(ctx, p, dialogID)
	if err != nil {
		return nil, err
	}
	if seq < 0 || seq < from {
		return nil, ErrInvalidReply
	}
	msgs, err := s.store.MessagesAfter(ctx, dialogID, seq-1, 1)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 || msgs[0].Seq != seq || msgs[0].System != nil {
		return nil, ErrInvalidReply
	}
	return &msgs[0], nil
}

// replyView is the preview of m.
func replyView(m Message) *ReplyView {
	v := &ReplyView{Seq: m.Seq, SenderID: FormatID(m.SenderID)}
	if !m.DeletedAt.IsZero() {
		v.Deleted = true
		return v
	}
	v.Text = cutChars(m.Text, replyPreviewLen)
	return v
}

// cutChars keeps the first n runes of s (previews need no grapheme
// precision beyond not splitting a code point).
func cutChars(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

// withReplies fills the reply previews of views from the dialog's
// messages they answer, read in one query.
func (s *Service) withReplies(ctx context.Context, dialogID int64, msgs []Message, out []MessageView) error {
	var seqs []int64
	for _, m := range msgs {
		if m.ReplyTo > 0 && m.DeletedAt.IsZero() {
			seqs = append(seqs, m.ReplyTo)
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	found, err := s.store.MessagesBySeq(ctx, dialogID, seqs)
	if err != nil {
		return err
	}
	bySeq := make(map[int64]Message, len(found))
	for _, m := range found {
		bySeq[m.Seq] = m
	}
	for i, m := range msgs {
		if r, ok := bySeq[m.ReplyTo]; ok && m.DeletedAt.IsZero() {
			out[i].ReplyTo = replyView(r)
		}
	}
	return nil
}

// syncViews renders a sync page of several dialogs (pages[i] is
// windows[i]'s) as their members see them, with the messages replied to:
// one query for every reply of the page (MessagesAt), none without any.
func (s *Service) syncViews(ctx context.Context, pages [][]Message, windows []ResumeWindow, members map[int64][]Member) ([][]MessageView, error) {
	var keys []MessageKey
	for _, page := range pages {
		for _, m := range page {
			if m.ReplyTo > 0 && m.DeletedAt.IsZero() {
				keys = append(keys, MessageKey{DialogID: m.DialogID, Seq: m.ReplyTo})
			}
		}
	}
	var replied map[MessageKey]Message
	if len(keys) > 0 {
		found, err := s.store.MessagesAt(ctx, keys)
		if err != nil {
			return nil, err
		}
		replied = make(map[MessageKey]Message, len(found))
		for _, m := range found {
			replied[MessageKey{DialogID: m.DialogID, Seq: m.Seq}] = m
		}
	}
	out := make([][]MessageView, len(pages))
	for w, page := range pages {
		views := make([]MessageView, len(page))
		for i, m := range page {
			views[i] = s.viewAmong(m, members[windows[w].DialogID])
			if r, ok := replied[MessageKey{DialogID: m.DialogID, Seq: m.ReplyTo}]; ok && m.ReplyTo > 0 && m.DeletedAt.IsZero() {
				views[i].ReplyTo = replyView(r)
			}
		}
		out[w] = views
	}
	return out, nil
}
