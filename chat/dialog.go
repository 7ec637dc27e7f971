package chat

import (
	"bytes"
	"crypto/sha256"
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
//
// LastChange is the newest number of the dialog's change order: every
// change to the dialog (a new message, an edit, a delete; member changes
// with groups) takes the next number, 1, 2, 3..., assigned under the same
// lock as seqs. A device that holds every change up to some number resumes
// from it (Message.Change, Service.Sync) and hears of edits and deletes it
// missed, each message once, in its latest state.
type Dialog struct {
	ID            int64
	Kind          DialogKind
	Title         string // groups only; a direct dialog is titled by the partner
	Avatar        string // groups only
	Subject       string // optional: what a marketplace dialog is about ("listing:42")
	CreatedBy     int64
	LastSeq       int64
	LastChange    int64
	CreatedAt     time.Time
	LastMessageAt time.Time // zero while the dialog has no message
	// HistoryVisible says whether members added to a group later see the
	// messages from before they joined (groups only; group.go).
	HistoryVisible bool
	// MediaGen is the dialog's media generation: it grows with every
	// removal from a group, and media URLs are signed with it (MediaScope),
	// so a removed member's URLs stop working at once.
	MediaGen int64
	// PinnedSeq is the seq of the pinned message, 0 for none.
	PinnedSeq int64
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
// DeliveredSeq and neither exceeds the dialog's LastSeq.
//
// Uncounted is how many messages after ReadSeq do not count as unread:
// the deleted ones and the system messages of groups. It is
// kept with the messages: a delete adds one for every member whose ReadSeq
// is below the message, and a read that moves ReadSeq past some of them
// takes them off. Together with LastSeq it makes the unread count O(1)
// (Unread) without counting messages.
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
	Uncounted    int64
	JoinedAt     time.Time
	MutedUntil   time.Time
	PushedSeq    int64
	// Role is the member's role in a group (group.go); GroupMember in a
	// direct dialog. VisibleFrom is the first seq the member may read (0:
	// all); JoinedSeq the dialog's LastSeq when they joined, so their
	// watermarks count only for later messages (ticks, readers).
	Role        GroupRole
	VisibleFrom int64
	JoinedSeq   int64
}

// Unread is how many messages of d the member has not read: the visible
// messages after ReadSeq. Those are all from others, since a member's own
// message raises their ReadSeq to it (sending implies having read what came
// before), so no message of their own is ever after their ReadSeq.
func (m Member) Unread(d Dialog) int64 {
	return max(d.LastSeq-m.ReadSeq-m.Uncounted, 0)
}

// CountsAsUnread reports whether a message counts towards the unread count
// of the members who have not read it: every visible message does; a
// deleted one does not, nor does a system message of a group (group.go).
// The store keeps Member.Uncounted
// by the same rule (sqlstore: uncountedWhere).
func CountsAsUnread(m Message) bool { return m.DeletedAt.IsZero() && m.System == nil }

// Message is one message as stored. It is identified by (DialogID, Seq);
// ClientID is the sender's idempotency key, scoped to the dialog:
// (DialogID, SenderID, ClientID) is unique, so a retried send yields the
// stored message, whenever it comes, and the same key in another dialog is
// another message.
//
// Change is the dialog's change number of the message's latest change: its
// creation, its last edit or its deletion (see Dialog.LastChange). Digest
// is PayloadDigest of what the sender sent under ClientID, so a retry can
// be told from a different message under the same key; nil for messages
// stored before digests were kept and for deleted messages, whose content
// (and anything derived from it) is gone.
type Message struct {
	DialogID    int64
	Seq         int64
	Change      int64
	SenderID    int64
	ClientID    string
	Text        string
	Attachments json.RawMessage // a JSON array of attachments with media keys, never URLs (upload.go); nil means none
	Digest      []byte          // of the payload, for idempotency (Send); nil once deleted
	CreatedAt   time.Time
	EditedAt    time.Time // zero when never edited
	DeletedAt   time.Time // zero unless deleted; a deleted message keeps its seq and loses its content
	// System is the event a group's system message records (nil for
	// people's messages); such a message has no text and counts as
	// nobody's unread.
	System *SystemEvent
	// ReplyTo is the seq of the message this one answers (0: none).
	ReplyTo int64
	// Entities are spans of Text (mentions) as a JSON array; nil for none.
	Entities json.RawMessage
	// Preview is the link preview the message's first link got (JSON,
	// preview.go; its image by media key), nil while it has none. From a
	// delete, the preview it removed.
	Preview json.RawMessage

	// replied is the message ReplyTo names, read by the send, so the new
	// message's event quotes it without another read (never stored).
	replied *Message
}

// PayloadDigest is the fingerprint of a send's payload for idempotency:
// the first 16 bytes of SHA-256 over the cleaned text and the ids of the
// uploads the send names, in order (a later reply_to or forward goes in
// here too). It hashes what the client sent, not what was stored: an
// upload attached a second time is stored as a copy with an id of its own,
// and a retry must still match.
func PayloadDigest(text string, uploadIDs []string) []byte {
	h := sha256.New()
	h.Write([]byte("korobka/send/v1\x00"))
	h.Write([]byte(text))
	for _, id := range uploadIDs {
		h.Write([]byte{0})
		h.Write([]byte(id))
	}
	return h.Sum(nil)[:16]
}

// attachmentIDs lists the ids of a stored attachments array (nil when there
// are none or it does not parse).
func attachmentIDs(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var atts []struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &atts) != nil {
		return nil
	}
	ids := make([]string, len(atts))
	for i, a := range atts {
		ids[i] = a.ID
	}
	return ids
}

// SamePayload reports whether m, found under a send's idempotency key, was
// stored from the payload with the given digest: a retry of that send.
// A message stored before digests were kept is compared by a digest of its
// content when it was never edited; an edited or deleted one without a
// digest cannot be compared and counts as the same, as it always did.
func (m Message) SamePayload(digest []byte) bool {
	d := m.Digest
	if d == nil {
		if !m.EditedAt.IsZero() || !m.DeletedAt.IsZero() {
			return true
		}
		d = PayloadDigest(m.Text, attachmentIDs(m.Attachments))
	}
	return bytes.Equal(d, digest)
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
//
// Former is set when the user is no longer a member of the group (removed
// or left): Self then holds only DialogID, UserID and VisibleFrom, and
// LastMessage is the message at Former.EndSeq, the last they may read.
type DialogEntry struct {
	Dialog      Dialog
	Self        Member
	LastMessage *Message
	Former      *FormerMember
}

// Why a membership of a group ended (FormerMember.Reason).
const (
	EndRemoved = "removed"
	EndLeft    = "left"
)

// FormerMember is a user removed from a group or who left it: they keep
// the history they could read up to EndSeq (the dialog's last seq after
// the system messages of their removal), from VisibleFrom, and nothing
// after it; no media of the dialog at all. Adding them again ends it.
type FormerMember struct {
	DialogID    int64
	UserID      int64
	VisibleFrom int64
	EndSeq      int64
	EndedAt     time.Time
	Reason      string // EndRemoved or EndLeft
	// Title is the group's title when the membership ended, what the
	// former member is shown instead of a later one ("": not recorded,
	// the current title).
	Title string
	// EndChange is the change number of the message at EndSeq (the last
	// system message of their removal): a message changed after it (an
	// edit, a delete, a late link preview) is withheld from them, since
	// its content is from after their removal. 0: unknown, nothing
	// withheld by change.
	EndChange int64
}

// DialogCursor is a position in a dialog list, ordered by UpdatedAt then ID,
// both descending. The zero cursor is the start.
type DialogCursor struct {
	UpdatedAt time.Time
	ID        int64
}

// Append asks Commit to store one new message. Msg carries DialogID,
// SenderID, ClientID, Text, Attachments, Digest and CreatedAt; Commit fills
// Seq and Change. When the sender already stored a message with the same
// ClientID in the dialog (or an earlier append of the batch has the key),
// Commit puts that message in Msg and sets Dup instead; whether it is a
// retry or a different message is the caller's to tell (SamePayload).
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

	// WantSenders asks Commit for Senders (groups: the Service tells only
	// them and the reader, docs/api.md "Receipts and ticks in groups").
	WantSenders bool

	Result  Member
	Changed bool
	// Senders, when WantSenders and Changed, are the distinct senders of
	// the messages whose status the move changed (those it passed: after
	// the old read watermark when it moved, else after the old delivered
	// one, up to the new delivered one), in ascending order; AllSenders
	// instead when that span is over MaxSenderScan messages (tell every
	// member).
	Senders    []int64
	AllSenders bool
}

// MaxSenderScan bounds the messages a receipt's Senders are read from;
// past it the status event goes to every member.
const MaxSenderScan = 1000

// Batch is what one Commit writes in one transaction: group commit, so that
// durability costs one fsync per batch instead of one per message.
type Batch struct {
	Appends  []Append
	Receipts []Receipt
}
