package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// EventType names a server event; it is the "type" of the event's
// WebSocket frame (docs/api.md, "Server → client").
type EventType string

// Server event types.
const (
	EventMessage  EventType = "message"  // a new, edited or deleted message
	EventStatus   EventType = "status"   // a member's delivered/read watermarks moved
	EventTyping   EventType = "typing"   // a member is typing
	EventPresence EventType = "presence" // a user came online or went offline
	EventDialog   EventType = "dialog"   // a dialog was created or changed
)

// Event is a server event of the shell contract, defined once: the Service
// builds it, EncodeEvent turns it into the frame that the brokers carry and
// the gateway writes to clients unchanged, and DecodeEvent reads it back
// for the consumers that act on events (live patches, the load generator).
// Which fields are set depends on Type:
//
//	message:  Message
//	status:   DialogID, UserID, DeliveredSeq, ReadSeq
//	typing:   DialogID, UserID
//	presence: UserID, Online, LastSeen (nil while online or never seen)
//	dialog:   Dialog
type Event struct {
	Type         EventType
	Message      *MessageView
	Dialog       *DialogView
	DialogID     int64
	UserID       int64
	DeliveredSeq int64
	ReadSeq      int64
	Online       bool
	LastSeen     *time.Time
}

// The frames' wire forms, one per type, so every frame carries exactly
// the fields its type documents.
type (
	messageFrame struct {
		Type    EventType    `json:"type"`
		Message *MessageView `json:"message"`
	}
	statusFrame struct {
		Type         EventType `json:"type"`
		DialogID     string    `json:"dialog_id"`
		UserID       string    `json:"user_id"`
		DeliveredSeq int64     `json:"delivered_seq"`
		ReadSeq      int64     `json:"read_seq"`
	}
	typingFrame struct {
		Type     EventType `json:"type"`
		DialogID string    `json:"dialog_id"`
		UserID   string    `json:"user_id"`
	}
	presenceFrame struct {
		Type     EventType  `json:"type"`
		UserID   string     `json:"user_id"`
		Online   bool       `json:"online"`
		LastSeen *time.Time `json:"last_seen"`
	}
	dialogFrame struct {
		Type   EventType   `json:"type"`
		Dialog *DialogView `json:"dialog"`
	}
)

// EncodeEvent returns e's WebSocket frame. Events are built by the Service
// from its own types, so encoding cannot fail short of a programming error
// (an unknown type, a missing payload), which panics.
func EncodeEvent(e Event) []byte {
	var v any
	switch e.Type {
	case EventMessage:
		v = messageFrame{e.Type, e.Message}
	case EventStatus:
		v = statusFrame{e.Type, FormatID(e.DialogID), FormatID(e.UserID), e.DeliveredSeq, e.ReadSeq}
	case EventTyping:
		v = typingFrame{e.Type, FormatID(e.DialogID), FormatID(e.UserID)}
	case EventPresence:
		v = presenceFrame{e.Type, FormatID(e.UserID), e.Online, e.LastSeen}
	case EventDialog:
		v = dialogFrame{e.Type, e.Dialog}
	}
	if v == nil || e.Type == EventMessage && e.Message == nil || e.Type == EventDialog && e.Dialog == nil {
		panic(fmt.Sprintf("chat: encode event: malformed %q event", e.Type))
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic("chat: encode event: " + err.Error())
	}
	return b
}

// EventFrame is every field of every event frame, so a frame is decoded in
// one pass whatever its type. A transport that reads frames of its own
// beside events (a client reading replies and errors too) embeds it in its
// frame struct, decodes once, and calls Event when Type is an event's.
type EventFrame struct {
	Type         EventType    `json:"type"`
	Message      *MessageView `json:"message"`
	Dialog       *DialogView  `json:"dialog"`
	DialogID     string       `json:"dialog_id"`
	UserID       string       `json:"user_id"`
	DeliveredSeq int64        `json:"delivered_seq"`
	ReadSeq      int64        `json:"read_seq"`
	Online       bool         `json:"online"`
	LastSeen     *time.Time   `json:"last_seen"`
}

// ErrNotEvent is returned by DecodeEvent for a frame that is not a server
// event of a known type (a reply, an error, a patch, or a type a newer
// server added).
var ErrNotEvent = errors.New("chat: not a known server event")

// DecodeEvent reads a frame written by EncodeEvent. Ids are parsed
// strictly; a frame of another kind is ErrNotEvent.
func DecodeEvent(frame []byte) (Event, error) {
	var w EventFrame
	if err := json.Unmarshal(frame, &w); err != nil {
		return Event{}, err
	}
	return w.Event()
}

// Event checks a decoded frame and returns its event: ErrNotEvent for a
// frame of another type, an error for a malformed one.
func (w *EventFrame) Event() (Event, error) {
	e := Event{Type: w.Type}
	var err error
	switch w.Type {
	case EventMessage:
		if w.Message == nil {
			return Event{}, errors.New("chat: message event without a message")
		}
		e.Message = w.Message
	case EventDialog:
		if w.Dialog == nil {
			return Event{}, errors.New("chat: dialog event without a dialog")
		}
		e.Dialog = w.Dialog
	case EventStatus, EventTyping:
		if e.DialogID, err = ParseID(w.DialogID); err != nil {
			return Event{}, err
		}
		if e.UserID, err = ParseID(w.UserID); err != nil {
			return Event{}, err
		}
		e.DeliveredSeq, e.ReadSeq = w.DeliveredSeq, w.ReadSeq
	case EventPresence:
		if e.UserID, err = ParseID(w.UserID); err != nil {
			return Event{}, err
		}
		e.Online, e.LastSeen = w.Online, w.LastSeen
	default:
		return Event{}, ErrNotEvent
	}
	return e, nil
}

// emptyArray is the attachments of a message that has none.
var emptyArray = json.RawMessage("[]")

// viewOf renders a stored message for clients, without its attachments,
// whose URLs only Service.view can sign.
func viewOf(m Message, status MessageStatus) MessageView {
	v := MessageView{
		ID:          MessageID(m.DialogID, m.Seq),
		DialogID:    FormatID(m.DialogID),
		Seq:         m.Seq,
		Change:      m.Change,
		SenderID:    FormatID(m.SenderID),
		ClientID:    m.ClientID,
		Text:        m.Text,
		Attachments: emptyArray,
		CreatedAt:   m.CreatedAt.UTC(),
		Status:      status,
		System:      m.System,
		Entities:    m.Entities,
	}
	if m.replied != nil {
		v.ReplyTo = replyView(*m.replied)
	}
	if !m.EditedAt.IsZero() {
		t := m.EditedAt.UTC()
		v.EditedAt = &t
	}
	if !m.DeletedAt.IsZero() {
		v.Deleted = true
		v.Text = ""
		v.Entities = nil
		v.ReplyTo = nil
	}
	return v
}

// view renders a stored message for clients: viewOf, with the attachments
// of a message that is not deleted and their URLs signed for the dialog's
// members (mediaurl.go).
func (s *Service) view(m Message, status MessageStatus) MessageView {
	v := viewOf(m, status)
	if !v.Deleted && len(m.Attachments) > 0 {
		v.Attachments, v.Card = s.signAttachments(m.DialogID, m.Attachments, s.now())
	}
	if !v.Deleted && len(m.Preview) > 0 {
		v.Preview = s.signPreview(m.DialogID, m.Preview, s.now())
	}
	return v
}

// viewAmong renders a stored message with its status and read count
// from the members' current watermarks.
func (s *Service) viewAmong(m Message, members []Member) MessageView {
	st, readers := receiptsOf(m, members)
	v := s.view(m, st)
	v.ReadBy = readers
	return v
}

// statusOf derives a message's status as its sender sees it, the one tick
// rule for direct dialogs and groups alike (docs/api.md, "Groups"): read
// once any other member has read it, delivered once any has received it.
// Members who joined after the message (JoinedSeq >= its seq) do not
// count: their watermarks start past it.
func statusOf(m Message, members []Member) MessageStatus {
	st, _ := receiptsOf(m, members)
	return st
}

// receiptsOf is statusOf with the number of other members who have read
// the message (MessageView.ReadBy).
func receiptsOf(m Message, members []Member) (MessageStatus, int) {
	st, readers := StatusSent, 0
	for _, mb := range members {
		if mb.UserID == m.SenderID || mb.JoinedSeq >= m.Seq {
			continue
		}
		if mb.ReadSeq >= m.Seq {
			st = StatusRead
			readers++
		} else if mb.DeliveredSeq >= m.Seq && st == StatusSent {
			st = StatusDelivered
		}
	}
	return st, readers
}
