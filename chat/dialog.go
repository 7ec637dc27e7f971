package chat

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// DialogKind tells direct (two people) from group dialogs.
type DialogKind string

// Dialog kinds.
const (
	DialogDirect DialogKind = "direct"
	DialogGroup  DialogKind = "group"
)

// Dialog is a conversation as stored. LastSeq is the seq of its newest
// message (0 when it has none); seqs are assigned 1, 2, 3... inside the
// transaction that stores each message, so they have no gaps or repeats.
type Dialog struct {
	ID            int64
	Kind          DialogKind
	Title         string // groups only; a direct dialog is titled by the partner
	Avatar        string // groups only
	Subject       string // optional: what a marketplace dialog is about ("listing:42")
	CreatedBy     int64
	LastSeq       int64
	CreatedAt     time.Time
	LastMessageAt time.Time // zero while the dialog has no message
}

// UpdatedAt is when the dialog last changed, for ordering dialog lists.
func (d Dialog) UpdatedAt() time.Time {
	if d.LastMessageAt.After(d.CreatedAt) {
		return d.LastMessageAt
	}
	return d.CreatedAt
}

// Member is one user's place in a dialog. Receipts are watermarks here, not
// rows per message: everything up to DeliveredSeq reached one of the user's
// devices, everything up to ReadSeq was read. ReadSeq never exceeds
// DeliveredSeq and neither exceeds the dialog's LastSeq. A member's own
// messages count as read, so the unread count is LastSeq - ReadSeq.
//
// MutedUntil is when the member's mute of the dialog ends (zero: not
// muted; MutedForever: until unmuted): no pushes for its messages while it
// lasts. PushedSeq is the highest seq a push alert was sent to the member
// for since they last read past it (0: none may be shown).
type Member struct {
	DialogID     int64
	UserID       int64
	DeliveredSeq int64
	ReadSeq      int64
	JoinedAt     time.Time
	MutedUntil   time.Time
	PushedSeq    int64
}

// Message is one message as stored. It is identified by (DialogID, Seq);
// ClientID is the sender's idempotency key: (SenderID, ClientID) is unique,
// so a retried send yields the stored message, whenever it comes.
type Message struct {
	DialogID    int64
	Seq         int64
	SenderID    int64
	ClientID    string
	Text        string
	Attachments json.RawMessage // a JSON array; nil means none
	CreatedAt   time.Time
	EditedAt    time.Time // zero when never edited
	DeletedAt   time.Time // zero unless deleted; a deleted message keeps its seq and loses its content
}

// MessageID is the opaque id clients see for a message.
func MessageID(dialogID, seq int64) string {
	return strconv.FormatInt(dialogID, 10) + "." + strconv.FormatInt(seq, 10)
}

// ParseMessageID reads a message id; anything malformed is ErrNotFound.
func ParseMessageID(s string) (dialogID, seq int64, err error) {
	d, q, ok := strings.Cut(s, ".")
	if !ok {
		return 0, 0, ErrNotFound
	}
	dialogID, err1 := ParseID(d)
	seq, err2 := ParseID(q)
	if err1 != nil || err2 != nil {
		return 0, 0, ErrNotFound
	}
	return dialogID, seq, nil
}

// DialogEntry is one row of a user's dialog list: the dialog, the user's
// own membership, and its newest message (nil when it has none).
type DialogEntry struct {
	Dialog      Dialog
	Self        Member
	LastMessage *Message
}

// DialogCursor is a position in a dialog list, ordered by UpdatedAt then ID,
// both descending. The zero cursor is the start.
type DialogCursor struct {
	UpdatedAt time.Time
	ID        int64
}

// Append asks Commit to store one new message. Msg carries DialogID,
// SenderID, ClientID, Text, Attachments and CreatedAt; Commit fills Seq. When
// the sender already stored a message with the same ClientID, Commit puts
// that message in Msg and sets Dup instead.
type Append struct {
	Msg Message
	Dup bool
}

// Receipt asks Commit to raise a member's watermarks to at least Delivered
// and Read (0 leaves one alone). Commit caps them at the dialog's LastSeq,
// keeps Read <= Delivered by raising Delivered, never lowers them, and puts
// the resulting watermarks in Result; Changed says whether they moved.
type Receipt struct {
	DialogID  int64
	UserID    int64
	Delivered int64
	Read      int64

	Result  Member
	Changed bool
}

// Batch is what one Commit writes in one transaction: group commit, so that
// durability costs one fsync per batch instead of one per message.
type Batch struct {
	Appends  []Append
	Receipts []Receipt
}
