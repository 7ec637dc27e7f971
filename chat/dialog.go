package chat

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// DialogKind tells direct (two people) from group dialogs.
type DialogKind string

// Dialog kinds.
const (
	KindDirect DialogKind = "direct"
	KindGroup  DialogKind = "group"
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
type Member struct {
	DialogID     int64
	UserID       int64
	DeliveredSeq int64
	ReadSeq      int64
	JoinedAt     time.Time
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
	dialogID, err1 := strconv.ParseInt(d, 10, 64)
	seq, err2 := strconv.ParseInt(q, 10, 64)
	if err1 != nil || err2 != nil || dialogID <= 0 || seq <= 0 {
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

// MessageStore keeps dialogs, members and messages. sqlstore implements it
// for SQLite and MySQL; both pass chattest.TestMessageStore.
type MessageStore interface {
	// DirectDialog returns the direct dialog of users a and b about
	// subject ("" for none), creating it with both as members when there is
	// none; created says which. (a, b) and (b, a) are the same dialog.
	DirectDialog(ctx context.Context, a, b int64, subject string, now time.Time) (d Dialog, created bool, err error)
	// Dialog returns one dialog.
	Dialog(ctx context.Context, id int64) (Dialog, error)
	// Members returns a dialog's members (ErrNotFound for no dialog).
	Members(ctx context.Context, dialogID int64) ([]Member, error)
	// MembersOf returns the members of the dialogs, in any order; dialogs
	// that do not exist contribute none.
	MembersOf(ctx context.Context, dialogIDs []int64) ([]Member, error)
	// Dialogs lists the dialogs userID is a member of, most recently
	// updated first, strictly after the cursor, at most limit.
	Dialogs(ctx context.Context, userID int64, after DialogCursor, limit int) ([]DialogEntry, error)
	// Commit stores a batch in one transaction: it assigns each new
	// message the next seq of its dialog (two nodes committing into one
	// dialog at once still produce 1, 2, 3), de-duplicates on (sender,
	// client_id) against the database and within the batch, raises each
	// sender's own watermarks to its new message, and applies the receipts.
	// Membership is the caller's to check. On error nothing is stored.
	Commit(ctx context.Context, b *Batch) error
	// Messages returns up to limit messages of a dialog with seq < before
	// (before <= 0: the newest), in ascending seq order.
	Messages(ctx context.Context, dialogID, before int64, limit int) ([]Message, error)
	// MessagesAfter returns up to limit messages with seq > after, in
	// ascending seq order, for resuming after a gap.
	MessagesAfter(ctx context.Context, dialogID, after int64, limit int) ([]Message, error)
	// EditMessage replaces the text of a message sent by senderID that is
	// not deleted (ErrNotFound otherwise) and returns it.
	EditMessage(ctx context.Context, dialogID, seq, senderID int64, text string, now time.Time) (Message, error)
	// DeleteMessage drops the content of a message sent by senderID,
	// keeping its seq, and returns it; deleting twice is not an error.
	DeleteMessage(ctx context.Context, dialogID, seq, senderID int64, now time.Time) (Message, error)
	// Users returns the users with the ids that exist, in any order.
	Users(ctx context.Context, ids []int64) ([]User, error)
	// Watchers returns who may see userID's presence: the members of the
	// dialogs userID is in and the users who have userID's number in their
	// address book, userID excluded.
	Watchers(ctx context.Context, userID int64) ([]int64, error)
	// DialogVersion returns a token that changes whenever the dialog's
	// messages, its members' watermarks or its members' profiles change, so
	// a screen of it can be revalidated without reading its messages.
	// ErrNotFound for no dialog.
	DialogVersion(ctx context.Context, dialogID int64) (string, error)
	// DialogsVersion returns a token that changes whenever anything in
	// userID's dialog list changes: a dialog added, or any change
	// DialogVersion sees in one of them.
	DialogsVersion(ctx context.Context, userID int64) (string, error)
	// TouchLastSeen records when a user was last connected.
	TouchLastSeen(ctx context.Context, userID int64, at time.Time) error
}
