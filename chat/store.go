package chat

import (
	"context"
	"time"
)

// The storage the Service needs, one interface per aggregate, so a test or
// a new backend can provide one aggregate at a time. sqlstore.Store
// implements them all for SQLite and MySQL and passes the shared suites
// (chattest.TestStore, chattest.TestMessageStore). Every method is one
// transaction. Not-found conditions are reported as an error for which
// errors.Is(err, ErrNotFound) holds; driver errors are translated at the
// store boundary (a duplicate key is ErrConflict).

// AccountStore keeps users: their phone, profile, role and last seen.
type AccountStore interface {
	// UpsertUser returns the user with the phone, creating it (with role
	// user) when there is none; created says which.
	UpsertUser(ctx context.Context, phone string, now time.Time) (u User, created bool, err error)
	User(ctx context.Context, id int64) (User, error)
	// Users returns the users with the ids that exist, in any order.
	Users(ctx context.Context, ids []int64) ([]User, error)
	UpdateProfile(ctx context.Context, id int64, upd ProfileUpdate) (User, error)
	// SetRole gives the user with the E.164 phone a role (ErrNotFound when
	// no user has it).
	SetRole(ctx context.Context, phone string, role Role) (User, error)
	// SetAvatar sets the user's avatar key and returns the user and the key
	// it replaced ("" when none), so the caller can delete the old files.
	SetAvatar(ctx context.Context, id int64, key string) (u User, old string, err error)
	// SetTimeZone stores the IANA zone a shell of the user last sent; it
	// writes only when the zone differs from the stored one.
	SetTimeZone(ctx context.Context, id int64, tz string) error
	// TouchLastSeen records when users were last connected, all in one
	// transaction (the Service gathers disconnects and writes them
	// together). A time only ever moves a user's last seen forward;
	// unknown users are skipped.
	TouchLastSeen(ctx context.Context, seen map[int64]time.Time) error
}

// SessionStore keeps login codes and sessions.
type SessionStore interface {
	// PutOTP stores a new code for otp.Phone, replacing any earlier one and
	// its attempt count.
	PutOTP(ctx context.Context, otp OTP) error
	// TakeOTPAttempt counts one verification attempt against the phone's
	// code and returns the code as it is after the increment, so concurrent
	// guesses can never exceed the attempt limit.
	TakeOTPAttempt(ctx context.Context, phone string) (OTP, error)
	// DeleteOTP removes the phone's code (after a successful login).
	DeleteOTP(ctx context.Context, phone string) error

	// CreateSession stores a new session (a login).
	CreateSession(ctx context.Context, s Session) error
	// SessionByAccess finds the live session whose access token has the hash
	// and has not expired at now, with its user's role; a blocked user's
	// sessions are not found.
	SessionByAccess(ctx context.Context, accessHash []byte, now time.Time) (Session, Role, error)
	// RotateSession exchanges the refresh token with the hash for next,
	// which inherits the user and family of the session it replaces. A
	// refresh token that was already rotated revokes the whole family and
	// reports ErrTokenReused together with that reused session (so the
	// caller knows whose family ended); an unknown, revoked or expired one
	// ErrInvalidToken.
	RotateSession(ctx context.Context, refreshHash []byte, next Session, now time.Time) (Session, error)
	// RevokeFamily ends every session of the family (logout).
	RevokeFamily(ctx context.Context, family int64, now time.Time) error
	// RevokeUserSessions ends every session of the user (a block, a role
	// change). A user with none is no error.
	RevokeUserSessions(ctx context.Context, userID int64, now time.Time) error
}

// ContactStore keeps address books. Contacts are kept by phone, so a
// number that registers later appears in its owners' lists.
type ContactStore interface {
	// SyncContacts adds the E.164 phones to owner's address book and returns
	// the registered users among them, the owner excluded. A sync that would
	// make the book hold more than MaxAddressBook numbers stores nothing and
	// reports ErrAddressBookFull; the check and the writes are one
	// transaction, so concurrent syncs cannot overfill a book together.
	SyncContacts(ctx context.Context, owner int64, phones []string) ([]User, error)
	// CountNewContacts returns how many of the distinct non-empty phones are
	// not in owner's address book yet, and how many numbers the book holds,
	// so that a sync can be weighed before anything is written.
	CountNewContacts(ctx context.Context, owner int64, phones []string) (fresh, size int, err error)
	// Contacts returns the registered users in owner's address book whose
	// name contains query (case-insensitive; all when query is empty),
	// ordered by name, at most limit.
	Contacts(ctx context.Context, owner int64, query string, limit int) ([]User, error)
	// KnowsPhone reports whether phone is in owner's address book.
	KnowsPhone(ctx context.Context, owner int64, phone string) (bool, error)
}

// UploadStore keeps the records of uploads (their bytes are in a
// FileStore) and their life: unattached, claimed by a send (attaching),
// attached to a stored message, deleted (files to remove).
type UploadStore interface {
	// CreateUpload stores a new upload (its files are already written),
	// in the state u.State ("" is unattached) with its claim fields.
	CreateUpload(ctx context.Context, u Upload) error
	// Upload returns the upload with the id, whoever owns it (ErrNotFound
	// when there is none); callers check the owner.
	Upload(ctx context.Context, id int64) (Upload, error)
	// ClaimUpload gives owner's upload id to the message (dialogID, owner,
	// clientID): an unattached upload becomes attaching with that claim
	// and at now; one already claimed by that same message (a retried
	// send) is left as it is. ok is false, and u the upload as it is,
	// when another message has it or it is deleted. ErrNotFound when owner
	// has no upload with the id.
	ClaimUpload(ctx context.Context, id, owner, dialogID int64, clientID string, now time.Time) (u Upload, ok bool, err error)
	// ExpireUploads moves to deleted at most limit uploads that lost
	// their purpose by cutoff: unattached ones created before it, and
	// attaching ones claimed before it whose message does not exist, is
	// deleted or does not list them; an attaching one whose message lists
	// it becomes attached. It returns how many it looked at, so a caller
	// repeats while that is limit.
	ExpireUploads(ctx context.Context, cutoff time.Time, limit int) (int, error)
	// DeletedUploads returns at most limit uploads in state deleted,
	// among ids unless ids is nil.
	DeletedUploads(ctx context.Context, ids []int64, limit int) ([]Upload, error)
	// PurgeUploads removes the rows of the uploads with the ids that are
	// in state deleted (their files are gone).
	PurgeUploads(ctx context.Context, ids []int64) error
	// DialogMedia returns up to limit uploads of kind claimed by messages
	// of the dialog that exist and are not deleted, with their messages
	// (Listed: the message lists the upload), by (AttachedAt, ID)
	// descending after the cursor (the zero cursor: the newest). It walks
	// the index uploads_gallery, so a page costs about its length.
	DialogMedia(ctx context.Context, dialogID int64, kind string, after DialogCursor, limit int) ([]MediaEntry, error)
}

// DialogStore keeps dialogs and their members.
type DialogStore interface {
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
	// updated first, strictly after the cursor, at most limit, each with
	// userID's membership and its newest message.
	Dialogs(ctx context.Context, userID int64, after DialogCursor, limit int) ([]DialogEntry, error)
	// UserDialogs returns the entries of the dialogs with the ids that
	// userID is a member of, as Dialogs does (membership and newest
	// message), in any order; the others are left out.
	UserDialogs(ctx context.Context, userID int64, dialogIDs []int64) ([]DialogEntry, error)
	// Memberships is UserDialogs without the newest messages: the dialogs'
	// counters and userID's watermarks, for resuming.
	Memberships(ctx context.Context, userID int64, dialogIDs []int64) ([]DialogEntry, error)
	// FormerMember returns userID's ended membership of a group
	// (removed or left); ErrNotFound when there is none (a member, or
	// never one).
	FormerMember(ctx context.Context, dialogID, userID int64) (FormerMember, error)
	// FormerDialogs lists the groups userID was removed from or left,
	// most recently ended first (the cursor's UpdatedAt is EndedAt),
	// strictly after the cursor, at most limit, each with Former set and
	// the message at its EndSeq as LastMessage.
	FormerDialogs(ctx context.Context, userID int64, after DialogCursor, limit int) ([]DialogEntry, error)
	// FormerEntries is FormerDialogs for the dialogs with the ids (any
	// order; others left out); withLast reads the last message too.
	FormerEntries(ctx context.Context, userID int64, dialogIDs []int64, withLast bool) ([]DialogEntry, error)
	// DialogVersion returns a token that changes whenever the dialog's
	// messages, its members' watermarks or its members' profiles change, so
	// a screen of it can be revalidated without reading its messages.
	// ErrNotFound for no dialog.
	DialogVersion(ctx context.Context, dialogID int64) (string, error)
	// DialogsVersion returns a token that changes whenever anything in
	// userID's dialog list changes (the groups they were removed from or
	// left included): a dialog added, or any change
	// DialogVersion sees in one of them.
	DialogsVersion(ctx context.Context, userID int64) (string, error)
	// Watchers returns who sees userID's presence, in ascending order:
	// the users W other than userID for whom shares(userID, W) and
	// shares(W, userID) both hold, where shares(X, Y) is
	//   X's setting is everybody, and Y's number is in X's address book
	//   or X and Y both wrote in a direct dialog of theirs; or
	//   X's setting is contacts, and Y's number is in X's address book.
	// (nobody shares with no one.) See PresenceSetting.
	Watchers(ctx context.Context, userID int64) ([]int64, error)
	// WatchersOf is Watchers of many users in one query per
	// MaxWatchersOf of them: each user's watchers, in ascending order;
	// users without watchers (and unknown ones) are absent from the map.
	WatchersOf(ctx context.Context, userIDs []int64) (map[int64][]int64, error)
	// Watches reports whether viewer is one of userID's Watchers.
	Watches(ctx context.Context, viewer, userID int64) (bool, error)
}

// MaxWatchersOf is how many users one WatchersOf query covers; more are
// read in several queries.
const MaxWatchersOf = 256

// MessageStore keeps messages and receipts.
type MessageStore interface {
	// Commit stores a batch in one transaction: it assigns each new
	// message the next seq and the next change number of its dialog (two
	// nodes committing into one dialog at once still produce 1, 2, 3),
	// de-duplicates on (dialog, sender, client_id) against the database and
	// within the batch, raises each sender's own watermarks to its new
	// message, and applies the receipts, keeping Member.Uncounted exact as
	// read watermarks move. Membership is the caller's to check. On error
	// nothing is stored.
	Commit(ctx context.Context, b *Batch) error
	// Messages returns up to limit messages of a dialog with seq < before
	// (before <= 0: the newest), in ascending seq order.
	Messages(ctx context.Context, dialogID, before int64, limit int) ([]Message, error)
	// MessagesAfter returns up to limit messages with seq > after, in
	// ascending seq order, for resuming after a gap.
	MessagesAfter(ctx context.Context, dialogID, after int64, limit int) ([]Message, error)
	// Changes returns up to limit messages whose latest change is after
	// the change number since, in ascending change order: each changed
	// message once, as it is now.
	Changes(ctx context.Context, dialogID, since int64, limit int) ([]Message, error)
	// Resume answers windows of distinct dialogs at once, in one read
	// snapshot and a fixed number of queries (not one per dialog): for
	// each window what MessagesAfter (by seq) or Changes (ByChange)
	// answers for it alone, in the order of windows.
	Resume(ctx context.Context, windows []ResumeWindow) ([][]Message, error)
	// EditMessage replaces the text of a message sent by senderID that is
	// not deleted (ErrNotFound otherwise), gives it the dialog's next
	// change number and returns it.
	EditMessage(ctx context.Context, dialogID, seq, senderID int64, text string, now time.Time) (Message, error)
	// DeleteMessage drops the content of a message sent by senderID (0:
	// by anyone, for a group admin the Service checked; never a system
	// message)
	// (text, attachments and the payload digest), keeping its seq, gives
	// it the dialog's next change number, takes it out of the unread
	// counts, and in the same transaction moves the uploads the message
	// claimed (UploadStore.ClaimUpload) to deleted. It returns the message
	// with the attachments it removed in Attachments, so the caller can
	// remove their files after the commit (nil when it was deleted
	// before); deleting twice is not an error and changes nothing.
	DeleteMessage(ctx context.Context, dialogID, seq, senderID int64, now time.Time) (Message, error)
}

// Store is every aggregate in one database, as the Service is given it.
type Store interface {
	AccountStore
	SessionStore
	ContactStore
	UploadStore
	DialogStore
	GroupStore
	MessageStore
	ContentStore
	CollectionStore
	FormStore
	APIKeyStore
	WebhookStore
	AuditStore
	AdminStore
	BroadcastStore
	ScreenStore
	DeviceStore
	PushStore
	PreviewStore
	OperatorStore
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error
}
