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

// MessageView is a message in the wire form of the shell contract.
type MessageView struct {
	ID          string          `json:"id"`
	DialogID    string          `json:"dialog_id"`
	Seq         int64           `json:"seq"`
	SenderID    string          `json:"sender_id"`
	ClientID    string          `json:"client_id"`
	Text        string          `json:"text"`
	Attachments json.RawMessage `json:"attachments"`
	CreatedAt   time.Time       `json:"created_at"`
	EditedAt    *time.Time      `json:"edited_at,omitempty"`
	Deleted     bool            `json:"deleted,omitempty"`
	Status      MessageStatus   `json:"status"`
}

// SendRequest is a new message from a client, over REST or the WebSocket.
type SendRequest struct {
	DialogID    int64
	ClientID    string
	Text        string
	Attachments json.RawMessage // absent, or an array of {"upload_id"}
}

// SyncResult answers a resume: the messages the client missed, in seq order
// per dialog, and the seq it now holds in each dialog it asked about. More
// says some dialog had more than one round may carry: sync again from
// Synced.
type SyncResult struct {
	Messages []MessageView
	Synced   map[string]int64
	More     bool
}
