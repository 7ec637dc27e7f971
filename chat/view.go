package chat

import (
	"encoding/json"
	"time"
)

// MessageStatus is a message's progress as its sender sees it.
type MessageStatus string

// Message statuses, derived from the other members' watermarks.
const (
	StatusSent      MessageStatus = "sent"
	StatusDelivered MessageStatus = "delivered"
	StatusRead      MessageStatus = "read"
)

// MessageView is a message in the wire form of the shell contract. Change
// is the dialog's change number of the message's latest change
// (Dialog.LastChange): of two copies of one message a shell keeps the one
// with the higher Change, and a `sync` with `since` resumes from it.
type MessageView struct {
	ID          string          `json:"id"`
	DialogID    string          `json:"dialog_id"`
	Seq         int64           `json:"seq"`
	Change      int64           `json:"change"`
	SenderID    string          `json:"sender_id"`
	ClientID    string          `json:"client_id"`
	Text        string          `json:"text"`
	Attachments json.RawMessage `json:"attachments"`
	CreatedAt   time.Time       `json:"created_at"`
	EditedAt    *time.Time      `json:"edited_at,omitempty"`
	Deleted     bool            `json:"deleted,omitempty"`
	Status      MessageStatus   `json:"status"`
	// ReadBy is how many members other than the sender have read the
	// message ("read by N" in groups; GET .../readers lists them).
	ReadBy int `json:"read_by"`
	// System is the structured event of a group's system message (its
	// Text is empty); shells render it in the reader's language.
	System *SystemEvent `json:"system,omitempty"`
	// Preview is the card of the message's first link, once fetched
	// (a later change of the message); absent without one.
	Preview *LinkPreview `json:"preview,omitempty"`
	// ReplyTo quotes the message this one answers, as it is now.
	ReplyTo *ReplyView `json:"reply_to,omitempty"`
	// Entities are the mentions in Text (mention.go).
	Entities json.RawMessage `json:"entities,omitempty"`
	// Card is structured data the message carries, drawn as a card above
	// its text (a form's submission: {"type":"form",...}); absent on
	// plain messages. Only the server makes cards.
	Card json.RawMessage `json:"card,omitempty"`
}

// SendRequest is a new message from a client, over REST or the WebSocket.
type SendRequest struct {
	DialogID    int64
	ClientID    string
	Text        string
	Attachments json.RawMessage // absent, or an array of {"upload_id"}
	// NoPreview opts the message out of a link preview ("preview":
	// false). It is not part of the payload digest.
	NoPreview bool
	// ReplyTo is the seq of the message answered (0: none); Entities the
	// mentions in Text (mention.go).
	ReplyTo  int64
	Entities json.RawMessage
}

// SyncRequest is a resume after a gap, per dialog in one of two forms.
// Seqs is the form shells have always sent (the WebSocket sync frame's
// "dialogs"): the last seq the device holds, and it gets the messages
// after it. Since is the change form ("since"): the change cursor the
// device holds, and it gets every message changed after it (new, edited or
// deleted), once each in its latest state, in change order. A dialog is in
// at most one of the two.
type SyncRequest struct {
	Seqs  map[int64]int64
	Since map[int64]int64
}

// SyncResult ends a resume (the messages themselves are streamed to the
// caller's emit as they are read). Synced is the seq held now in each dialog
// asked in the seq form; Since the cursor to resume from next time in each
// dialog asked in the change form. More says the request's cap was
// reached before every dialog was caught up: sync again from Synced and
// Since.
type SyncResult struct {
	Synced map[string]int64
	Since  map[string]int64
	More   bool
}

// ResumeWindow is one dialog's part of a batched resume read
// (MessageStore.Resume): up to Limit messages after At, a seq, or with
// ByChange a change number.
type ResumeWindow struct {
	DialogID int64
	ByChange bool
	At       int64
	Limit    int
}
