package chat

import (
	"encoding/json"
	"time"
)

// Server-to-client WebSocket events of the shell contract. They are encoded
// once per event, not once per recipient, and travel through the broker as
// ready bytes.

type messageFrame struct {
	Type    string      `json:"type"`
	Message MessageView `json:"message"`
}

type statusFrame struct {
	Type         string `json:"type"`
	DialogID     string `json:"dialog_id"`
	UserID       string `json:"user_id"`
	DeliveredSeq int64  `json:"delivered_seq"`
	ReadSeq      int64  `json:"read_seq"`
}

type typingFrame struct {
	Type     string `json:"type"`
	DialogID string `json:"dialog_id"`
	UserID   string `json:"user_id"`
}

type presenceFrame struct {
	Type     string     `json:"type"`
	UserID   string     `json:"user_id"`
	Online   bool       `json:"online"`
	LastSeen *time.Time `json:"last_seen"`
}

type dialogFrame struct {
	Type   string     `json:"type"`
	Dialog DialogView `json:"dialog"`
}

// encodeFrame marshals a frame built from our own types, which cannot
// fail; a failure is a programming error.
func encodeFrame(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("chat: encode frame: " + err.Error())
	}
	return b
}

// emptyArray is the attachments of a message that has none.
var emptyArray = json.RawMessage("[]")

// viewOf renders a stored message for clients.
func viewOf(m Message, status MessageStatus) MessageView {
	v := MessageView{
		ID:          MessageID(m.DialogID, m.Seq),
		DialogID:    FormatID(m.DialogID),
		Seq:         m.Seq,
		SenderID:    FormatID(m.SenderID),
		ClientID:    m.ClientID,
		Text:        m.Text,
		Attachments: m.Attachments,
		CreatedAt:   m.CreatedAt.UTC(),
		Status:      status,
	}
	if len(v.Attachments) == 0 {
		v.Attachments = emptyArray
	}
	if !m.EditedAt.IsZero() {
		t := m.EditedAt.UTC()
		v.EditedAt = &t
	}
	if !m.DeletedAt.IsZero() {
		v.Deleted = true
		v.Text = ""
		v.Attachments = emptyArray
	}
	return v
}

// statusOf derives a message's status as its sender sees it: read once any
// other member has read it, delivered once any has received it.
func statusOf(m Message, members []Member) MessageStatus {
	st := StatusSent
	for _, mb := range members {
		if mb.UserID == m.SenderID {
			continue
		}
		if mb.ReadSeq >= m.Seq {
			return StatusRead
		}
		if mb.DeliveredSeq >= m.Seq {
			st = StatusDelivered
		}
	}
	return st
}
